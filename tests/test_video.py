import numpy as np
import pytest

from stcorr.data.video import Video, find_video, write_video
from stcorr.errors import StcorrError

from conftest import write_frames


def test_frame_folder_is_sorted_by_number_and_read_lazily(tmp_path):
    folder = tmp_path / "v"
    write_frames(folder, 12, size=(32, 24))
    (folder / "notes.txt").write_text("ignored")
    video = Video(folder)
    assert video.num_frames == 12 and video.size == (32, 24)
    assert [p.name for p in video.frame_files][:3] == ["000001.jpg", "000002.jpg", "000003.jpg"]
    assert video.frames([0, 11]).shape == (2, 24, 32, 3)
    with pytest.raises(StcorrError, match="frame index 12 is outside the video's 12 frames"):
        video.frames([12])


def test_mp4_round_trip_through_pyav(tmp_path):
    frames = np.zeros((9, 30, 41, 3), dtype=np.uint8)
    for t in range(9):
        frames[t, :, : 4 * (t + 1)] = 200  # a bar that grows over time
    path = write_video(tmp_path / "clip.mp4", frames)
    video = Video(path)
    assert video.num_frames == 9 and video.size == (42, 30)  # odd width padded for H.264
    decoded = video.frames(range(9)).astype(int)
    assert np.abs(decoded[:, :, :41] - frames).mean() < 8


def test_bad_videos_are_one_line_errors(tmp_path):
    with pytest.raises(StcorrError, match="no such video"):
        Video(tmp_path / "absent.mp4")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 100)
    with pytest.raises(StcorrError, match="broken.mp4: cannot decode video"):
        Video(broken).num_frames
    (tmp_path / "empty").mkdir()
    with pytest.raises(StcorrError, match="frame folder holds no images"):
        Video(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "000001.jpg").write_bytes(b"nope")
    with pytest.raises(StcorrError, match="000001.jpg: cannot read image"):
        Video(tmp_path / "bad").frame(0)


def test_find_video_in_both_places(tmp_path):
    write_frames(tmp_path / "frames" / "a", 2)
    (tmp_path / "videos").mkdir()
    write_video(tmp_path / "videos" / "b.mp4", np.zeros((3, 16, 16, 3), np.uint8))
    assert find_video(tmp_path, "a").num_frames == 2
    assert find_video(tmp_path, "b").num_frames == 3
    with pytest.raises(StcorrError, match="no video named 'c'"):
        find_video(tmp_path, "c")


def test_write_video_is_all_or_nothing(tmp_path):
    """A writer that fails half-way (here: the frames run into an error) leaves neither the
    file nor a temporary behind, and an earlier file of that name stays as it was."""
    def frames_then_failure():
        yield np.zeros((16, 16, 3), np.uint8)
        yield np.zeros((16, 16, 3), np.uint8)
        raise RuntimeError("renderer failed")

    with pytest.raises(RuntimeError):
        write_video(tmp_path / "a.mp4", frames_then_failure())
    assert list(tmp_path.iterdir()) == []
    write_video(tmp_path / "a.mp4", np.zeros((3, 16, 16, 3), np.uint8))
    with pytest.raises(StcorrError, match="frame of size 8x8 in a 16x16 video"):
        write_video(tmp_path / "a.mp4", [np.zeros((16, 16, 3), np.uint8), np.zeros((8, 8, 3), np.uint8)])
    assert [p.name for p in tmp_path.iterdir()] == ["a.mp4"] and Video(tmp_path / "a.mp4").num_frames == 3


def test_a_gap_in_the_frame_numbers_is_an_error_naming_the_missing_frame(tmp_path):
    write_frames(tmp_path / "v", 8)
    (tmp_path / "v" / "000004.jpg").unlink()
    with pytest.raises(StcorrError, match=r"v: frame 000004.jpg is missing: frame numbers must be consecutive"):
        Video(tmp_path / "v")
    (tmp_path / "v" / "000005.jpg").unlink()
    with pytest.raises(StcorrError, match=r"frame 000004.jpg is missing \(and 1 more\)"):
        Video(tmp_path / "v")
    write_frames(tmp_path / "w", 3)
    for f in sorted((tmp_path / "w").glob("*.jpg"), reverse=True):  # numbers from 10: the first number is free
        f.rename(f.with_name(f"frame_{int(f.stem) + 9}.jpg"))
    assert Video(tmp_path / "w").num_frames == 3


def test_frames_of_two_sizes_are_an_error_naming_the_file(tmp_path):
    from PIL import Image

    write_frames(tmp_path / "v", 6, size=(32, 24))
    Image.new("RGB", (20, 10)).save(tmp_path / "v" / "000005.jpg")
    video = Video(tmp_path / "v")
    with pytest.raises(StcorrError, match=r"v/000005.jpg: frame 4 is 20x10, the video's first frame 32x24"):
        video.frame(0)  # every header is read before the first frame: the error comes at once
