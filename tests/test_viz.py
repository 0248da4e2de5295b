"""The Figure-1 picture: layout, colours of correct and missed matches, and the mp4 form."""

import numpy as np
from PIL import Image

from stcorr.data.video import Video
from stcorr.viz import draw_correspondences, save_visualisation, verdict_at
from stcorr.viz.correspondence import CORRECT_COLOUR, MISS_COLOUR, SOURCE_COLOUR

from conftest import write_frames


def _videos(tmp_path):
    write_frames(tmp_path / "s", 10, size=(64, 48), seed=1)
    write_frames(tmp_path / "t", 12, size=(64, 48), seed=2)
    return Video(tmp_path / "s"), Video(tmp_path / "t")


def _colour_count(image: Image.Image, colour) -> int:
    pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
    return int(np.all(pixels == np.array(colour[:3]), axis=1).sum())


def test_two_rows_one_column_per_source_frame(tmp_path):
    source, target = _videos(tmp_path)
    one = draw_correspondences(source, target, [{"name": "head", "source": [2, 10, 10], "target": [3, 12, 12], "score": 1}], scale_to=128)
    three = draw_correspondences(source, target, [
        {"name": "head", "source": [t, 10, 10], "target": [t + 1, 12, 12], "score": 1} for t in (1, 4, 7)], scale_to=128)
    assert one.width < 2 * 128 <= 3 * 128 <= three.width  # one 128-pixel column per source frame
    assert min(one.height, three.height) > 2 * 96  # the source row above the target row (128x96 frames)


def test_correct_matches_are_green_misses_red(tmp_path):
    source, target = _videos(tmp_path)
    right = [{"name": "a", "source": [2, 10, 10], "target": [3, 40, 30], "truth": [3, 40, 30], "correct": True}]
    wrong = [{"name": "a", "source": [2, 10, 10], "target": [3, 40, 30], "truth": [3, 5, 5], "correct": False}]
    green, red = draw_correspondences(source, target, right), draw_correspondences(source, target, wrong)
    assert _colour_count(green, CORRECT_COLOUR) > 50 and _colour_count(green, MISS_COLOUR) < _colour_count(red, MISS_COLOUR)
    assert _colour_count(red, MISS_COLOUR) > 50 and _colour_count(green, SOURCE_COLOUR) > 5


def test_verdict_at_picks_one_k_and_drops_missing_predictions():
    keypoints = [{"target": [1, 2, 3], "correct": {"1": False, "5": True}}, {"target": [None, None, None], "correct": {"5": False}}]
    assert verdict_at(keypoints, "5") == [{"target": [1, 2, 3], "correct": True}]
    assert verdict_at(keypoints, "1")[0]["correct"] is False


def test_png_and_mp4_outputs(tmp_path):
    source, target = _videos(tmp_path)
    kps = [{"name": "head", "source": [2, 10, 10], "target": [5, 12, 12], "score": 1.0}]
    png = save_visualisation(tmp_path / "v.png", source, target, kps)
    assert Image.open(png).size[0] > 100
    mp4 = save_visualisation(tmp_path / "v.mp4", source, target, kps)
    assert Video(mp4).num_frames == source.num_frames
