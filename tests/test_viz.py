"""The Figure-1 picture: layout, colours of keypoints and of correct and missed matches, the mp4 form."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from stcorr.data.video import Video
from stcorr.errors import StcorrError
from stcorr.viz import draw_correspondences, save_visualisation, verdict_at
from stcorr.viz.correspondence import (
    BACKGROUND,
    CORRECT_COLOUR,
    LEGEND_HEIGHT,
    MIN_LEGEND_WIDTH,
    MISS_COLOUR,
    PAD,
    ROW_GAP,
    SOURCE_COLOUR,
    _frame_scale,
    _label,
    _small_text_box,
    target_time_mapping,
)

WIDTH, HEIGHT = 80, 60
SCALE_TO = 160
SCALE = SCALE_TO / WIDTH
CELL_W, CELL_H = SCALE_TO, round(HEIGHT * SCALE)


def _frame_folder(root: Path, name: str, n: int, grey: int) -> Video:
    folder = root / "frames" / name
    folder.mkdir(parents=True)
    for i in range(n):
        Image.new("RGB", (WIDTH, HEIGHT), (grey, grey, grey)).save(folder / f"{i + 1:06d}.png")
    return Video(folder)


@pytest.fixture
def videos(tmp_path):
    return _frame_folder(tmp_path, "src", 10, 90), _frame_folder(tmp_path, "tgt", 14, 120)


def _kp(source, target, **extra):
    return {"name": None, "source": list(source), "target": list(target), "score": 1.0, **extra}


def test_layout_is_source_row_above_target_row_one_column_per_source_time(videos):
    source, target = videos
    keypoints = [_kp((t, 10, 10), (t + 1, 20, 20)) for t in (0, 2, 4, 6, 8, 9)]

    image = draw_correspondences(source, target, keypoints, max_frames=4, scale_to=SCALE_TO)

    assert image.size == (PAD + 4 * (CELL_W + PAD), LEGEND_HEIGHT + 2 * CELL_H + ROW_GAP + PAD)
    bare = draw_correspondences(source, target, keypoints, max_frames=2, scale_to=SCALE_TO, legend=False)
    assert bare.size == (PAD + 2 * (CELL_W + PAD), PAD + 2 * CELL_H + ROW_GAP + PAD)


def test_source_keypoint_has_source_colour_and_lines_tell_hits_from_misses(videos):
    source, target = videos
    hit = _kp((3, 20, 50), (5, 20, 10), truth=[5, 21, 11], correct=True)
    miss = _kp((3, 60, 50), (5, 60, 10), truth=[5, 30, 40], correct=False)

    image = np.asarray(draw_correspondences(source, target, [hit, miss], scale_to=SCALE_TO))

    top = image.shape[0] - PAD - (2 * CELL_H + ROW_GAP)
    gap_y = top + CELL_H + ROW_GAP // 2

    left = (image.shape[1] - (PAD + CELL_W + PAD)) // 2  # one column, centred under the legend

    def column_x(x):
        return left + PAD + round(x * SCALE)

    assert tuple(image[top + round(50 * SCALE), column_x(20)]) == SOURCE_COLOUR
    assert tuple(image[gap_y, column_x(20)]) == CORRECT_COLOUR
    assert tuple(image[gap_y, column_x(60)]) == MISS_COLOUR


def test_png_is_written_without_leftovers(videos, tmp_path):
    source, target = videos
    out = tmp_path / "viz" / "pair.png"

    save_visualisation(out, source, target, [_kp((1, 10, 10), (2, 12, 12))])

    assert Image.open(out).format == "PNG"
    assert sorted(p.name for p in out.parent.iterdir()) == ["pair.png"]


def test_mp4_has_one_frame_per_source_frame(videos, tmp_path):
    source, target = videos
    keypoints = [_kp((2, 10, 10), (4, 12, 12)), _kp((6, 30, 30), (12, 30, 30))]

    out = save_visualisation(tmp_path / "pair.mp4", source, target, keypoints, scale_to=SCALE_TO)

    video = Video(out)
    assert video.num_frames == source.num_frames
    assert video.size == (CELL_W, 2 * CELL_H + ROW_GAP)


def test_target_time_follows_predictions_between_keypoints_and_keeps_offset_beyond():
    mapping = target_time_mapping({2: 4, 6: 12}, num_source=10, num_target=15)

    assert mapping.tolist() == [2, 3, 4, 6, 8, 10, 12, 13, 14, 14]


def test_verdict_at_picks_one_k_and_drops_missing_predictions():
    keypoints = [
        {"target": [1, 2, 3], "correct": {"1": False, "5": True}},
        {"target": [None, None, None], "correct": {"5": False}},
    ]

    assert verdict_at(keypoints, "5") == [{"target": [1, 2, 3], "correct": True}]
    assert verdict_at(keypoints, "1")[0]["correct"] is False


def test_bad_inputs_are_user_errors(videos, tmp_path):
    source, target = videos
    with pytest.raises(StcorrError, match="png"):
        save_visualisation(tmp_path / "pair.gif", source, target, [_kp((1, 1, 1), (1, 1, 1))])
    with pytest.raises(StcorrError, match="no keypoints"):
        draw_correspondences(source, target, [])
    with pytest.raises(StcorrError, match="outside"):
        draw_correspondences(source, target, [_kp((50, 1, 1), (1, 1, 1))])


def _video_of_size(root: Path, name: str, width: int, height: int) -> Video:
    folder = root / "frames" / name
    folder.mkdir(parents=True)
    for i in range(3):
        Image.new("RGB", (width, height), (200, 200, 200)).save(folder / f"{i + 1:06d}.png")
    return Video(folder)


@pytest.mark.parametrize("size", [(1280, 720), (720, 1280), (2400, 300), (300, 2400)],
                         ids=["landscape", "portrait", "very-wide", "very-tall"])
def test_title_and_legend_fit_whatever_the_aspect_ratio(tmp_path, size):
    """`predict --viz` on one keypoint: the picture has its minimum width and nothing drawn in its margins
    (a title or legend cut off by the edge would run into them); frames keep a readable size."""
    width, height = size
    source = _video_of_size(tmp_path, "a_rather_long_source_video_name", width, height)
    target = _video_of_size(tmp_path, "target", width, height)
    keypoint = _kp((1, width / 2, height / 2), (2, width / 3, height / 3), truth=[1, 5, 5], correct=False)

    image = draw_correspondences(source, target, [keypoint, {**keypoint, "target": [0, 1, 1]}], max_frames=4)

    pixels = np.asarray(image)
    assert image.width >= MIN_LEGEND_WIDTH
    for margin in (pixels[:, : PAD - 1], pixels[:, -(PAD - 1):], pixels[: PAD - 1], pixels[-(PAD - 1):]):
        assert (margin == BACKGROUND).all()
    frame = _frame_scale(width, height, 256)
    assert min(width, height) * frame >= 64 and max(width, height) * frame <= 512


def test_a_name_too_long_for_any_line_is_shortened_not_cut(tmp_path):
    source = _video_of_size(tmp_path, "x" * 200, 720, 1280)
    image = draw_correspondences(source, source, [_kp((1, 10, 10), (1, 12, 12))])
    pixels = np.asarray(image)
    assert image.width == MIN_LEGEND_WIDTH
    assert (pixels[:, -(PAD - 1):] == BACKGROUND).all()


def test_labels_of_points_close_together_do_not_overlap():
    draw = ImageDraw.Draw(Image.new("RGB", (200, 200)))
    placed: list = []
    for name in ("head", "right_wrist", "left_wrist"):  # three points a pixel apart
        _label(draw, (50.0, 60.0), name, (255, 255, 255), placed)
    for i, a in enumerate(placed):
        for b in placed[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
    assert placed[0] == _small_text_box(draw, (50.0, 60.0), "head")  # the first stays where it was put
