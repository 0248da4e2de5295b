import json

import numpy as np
import pytest
from scipy.io import loadmat

from stcorr.data.datasets import open_dataset
from stcorr.data.penn import read_label_file
from stcorr.errors import StcorrError

from conftest import make_penn, write_frames, write_label_file


@pytest.mark.parametrize("coord_dtype", [np.float64, np.uint16, np.uint8])
@pytest.mark.parametrize("nframes_dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("bbox_rows", [None, 3])
def test_reader_matches_scipy_on_every_dtype_variant(tmp_path, coord_dtype, nframes_dtype, bbox_rows):
    rng = np.random.default_rng(1)
    n = 7
    x, y = rng.integers(0, 250, (n, 13)), rng.integers(0, 250, (n, 13))
    vis = rng.integers(0, 2, (n, 13))
    x[vis == 0], y[vis == 0] = 0, 0  # unlabelled joints are stored as (0, 0)
    path = tmp_path / "0042.mat"
    write_label_file(path, "tennis_serve", x, y, vis, train=-1, pose="left", coord_dtype=coord_dtype,
                     nframes_dtype=nframes_dtype, bbox_rows=bbox_rows, size=(256, 256))  # a frame that holds them
    raw = loadmat(str(path))
    assert raw["x"].dtype == coord_dtype and raw["nframes"].dtype == nframes_dtype
    labels = read_label_file(path)
    np.testing.assert_array_equal(labels.x, raw["x"].astype(float))
    np.testing.assert_array_equal(labels.y, raw["y"].astype(float))
    np.testing.assert_array_equal(labels.visible, raw["visibility"] == 1)
    assert labels.split == "val" and labels.action == "tennis_serve" and labels.view == "left"
    assert labels.num_frames == n and (labels.width, labels.height) == (256, 256)
    assert labels.bbox.shape == ((bbox_rows or n), 4)
    t = 3
    visible = {j for j in labels.joints_at(t)}
    assert len(visible) == int(vis[t].sum())


def test_label_file_missing_field_names_it(tmp_path):
    from scipy.io import savemat

    path = tmp_path / "0001.mat"
    savemat(str(path), {"action": "squat", "x": np.zeros((2, 13))})
    with pytest.raises(StcorrError, match=r"0001.mat: label file lacks field\(s\) pose, y, visibility"):
        read_label_file(path)


def test_garbage_label_file_is_one_line_error(tmp_path):
    path = tmp_path / "0001.mat"
    path.write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(StcorrError, match="0001.mat"):
        read_label_file(path)


def test_dataset_reads_key_moments_objects_and_skips_broken_videos(tiny_penn):
    (tiny_penn / "labels" / "0099.mat").write_bytes(b"broken")
    dataset = open_dataset(tiny_penn)
    assert dataset.kind == "penn"
    assert len(dataset.skipped) == 1 and "0099.mat" in dataset.skipped[0]
    assert dataset.key_moments("0001") == [2, 9]
    assert dataset.key_moments("0007") is None
    assert dataset.labels["0004"].objects == {2: {"club_head": (10.0, 11.0)}}
    assert dataset.video("0002").num_frames == 10


def test_key_moment_past_end_is_an_error_naming_the_file(tiny_penn):
    moments = json.loads((tiny_penn / "key_moments.json").read_text())
    moments["0002"] = [2, 10]  # video 0002 has 10 frames: 10 is one past the end
    (tiny_penn / "key_moments.json").write_text(json.dumps(moments))
    with pytest.raises(StcorrError, match=r"key_moments.json: video 0002: key moment 10 is past the video's end"):
        open_dataset(tiny_penn)


def test_key_moments_from_phase_files(tmp_path):
    root = make_penn(tmp_path / "p", {"0001": {"action": "bowl", "n": 10}})
    (root / "key_moments.json").unlink()
    folder = root / "penn_action_labels" / "train" / "bowl"
    folder.mkdir(parents=True)
    np.save(folder / "0001.npy", np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 2]))
    assert open_dataset(root).key_moments("0001") == [3, 7]


def test_missing_folder_and_unknown_layout(tmp_path):
    with pytest.raises(StcorrError, match="no such data folder"):
        open_dataset(tmp_path / "absent")
    with pytest.raises(StcorrError, match="not a data set"):
        open_dataset(tmp_path)


def test_missing_frames_folder_is_skipped(tmp_path):
    root = make_penn(tmp_path / "p", {"0001": {"action": "bowl", "n": 5}, "0002": {"action": "bowl", "n": 5}})
    import shutil

    shutil.rmtree(root / "frames" / "0002")
    dataset = open_dataset(root)
    assert list(dataset.labels) == ["0001"] and "frame folder missing" in dataset.skipped[0]
    write_frames(root / "frames" / "0002", 5)
    assert len(open_dataset(root).labels) == 2


def _label_file(tmp_path, **change):
    rng = np.random.default_rng(3)
    n = 6
    x, y, vis = rng.uniform(5, 60, (n, 13)), rng.uniform(5, 40, (n, 13)), np.ones((n, 13))
    path = tmp_path / "0005.mat"
    write_label_file(path, "squat", x, y, vis)  # a 64x48 frame
    from scipy.io import savemat

    fields = {k: v for k, v in loadmat(str(path)).items() if not k.startswith("__")}
    for key, edit in change.items():
        fields[key] = edit(fields[key]) if callable(edit) else edit
    savemat(str(path), fields)
    return path


def _set(at, value):
    def edit(array):
        array = np.asarray(array, dtype=np.float64).copy()
        array[at] = value
        return array
    return edit


@pytest.mark.parametrize("change, message", [
    ({"x": _set((2, 3), np.nan)}, r"visible joint \w+ of frame 2 has x = nan, not a number"),
    ({"x": _set((2, 0), 1e9)}, r"frame 2 has x = 1e\+09, far outside the 64x48 frame"),
    ({"y": _set((4, 1), -49)}, r"frame 4 has y = -49, far outside the 64x48 frame"),
    ({"visibility": _set((1, 1), 7)}, r"visibility holds 7, expected 0 \(not visible\) or 1"),
    ({"nframes": "many"}, r"field nframes is not numeric"),
    ({"nframes": np.array([[2.5]])}, r"field nframes holds \[2.5\], expected whole numbers"),
    ({"dimensions": np.zeros((0, 0))}, r"field dimensions holds 0 value\(s\), expected at least 2"),
    ({"dimensions": np.array([[0, 64, 6]])}, r"field dimensions gives a 64x0 frame"),
])
def test_bad_label_values_are_one_line_errors(tmp_path, change, message):
    with pytest.raises(StcorrError, match=message) as caught:
        read_label_file(_label_file(tmp_path, **change))
    assert "\n" not in str(caught.value) and "0005.mat" in str(caught.value)


def test_labels_may_stray_a_little_outside_the_frame(tmp_path):
    """Real annotations lie slightly outside the frame; up to one frame size beyond it is read.
    Coordinates of joints that are not visible are unused: a NaN there is read as 0."""
    path = _label_file(tmp_path, x=_set((0, 0), -64), y=_set((0, 1), 96),
                       visibility=_set((3, 2), 0))
    labels = read_label_file(path)
    assert labels.x[0, 0] == -64 and labels.y[0, 1] == 96
    path = _label_file(tmp_path, x=_set((3, 2), np.nan), visibility=_set((3, 2), 0))
    labels = read_label_file(path)
    assert labels.x[3, 2] == 0 and not labels.visible[3, 2]


def test_labels_of_more_frames_than_the_folder_skip_the_video(tmp_path):
    root = make_penn(tmp_path / "p", {"0001": {"action": "bowl", "n": 5}, "0002": {"action": "bowl", "n": 5}})
    for f in sorted((root / "frames" / "0002").glob("*.jpg"))[3:]:
        f.unlink()
    dataset = open_dataset(root)
    assert list(dataset.labels) == ["0001"]
    assert "0002.mat: labels of 5 frames, but the frame folder holds 3" in dataset.skipped[0]
    write_frames(root / "frames" / "0001", 7)  # more frames than labels: the labels cover the first 5
    assert open_dataset(root).labels["0001"].num_frames == 5


def test_object_keypoints_must_be_finite_and_inside_the_video(tmp_path):
    root = make_penn(tmp_path / "p", {"0001": {"action": "golf_swing", "n": 5}})
    (root / "object_keypoints.json").write_text('{"0001": {"1": {"club_head": [NaN, 2]}}}')
    with pytest.raises(StcorrError, match="object_keypoints.json: not valid JSON"):
        open_dataset(root)
    (root / "object_keypoints.json").write_text('{"0001": {"1": {"club_head": [1e999, 2]}}}')
    with pytest.raises(StcorrError, match=r"video 0001 frame 1 object club_head: coordinates .* are not finite"):
        open_dataset(root)
    (root / "object_keypoints.json").write_text('{"0001": {"5": {"club_head": [1, 2]}}}')
    with pytest.raises(StcorrError, match=r"video 0001: an object at frame 5, past the video's end \(5 frames\)"):
        open_dataset(root)
    (root / "object_keypoints.json").write_text('{"0001": {"4": {"club_head": [1, 2]}}}')
    assert open_dataset(root).labels["0001"].objects == {4: {"club_head": (1.0, 2.0)}}


def test_pairs_json_refuses_nan_and_deep_nesting(tmp_path):
    write_frames(tmp_path / "frames" / "a", 3)
    write_frames(tmp_path / "frames" / "b", 3)
    (tmp_path / "pairs.json").write_text('[{"source": "a", "target": "b", "correspondences": '
                                         '[{"name": "head", "source": [1, 1e999, 1], "target": [2, 1, 1]}]}]')
    with pytest.raises(StcorrError, match=r"pairs.json: record 0: each correspondence needs"):
        open_dataset(tmp_path)
    (tmp_path / "pairs.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(StcorrError, match=r"pairs.json: not valid JSON"):
        open_dataset(tmp_path)
