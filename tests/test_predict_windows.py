"""predict on a long target: overlapping windows instead of one coarse clip."""

import numpy as np
import pytest
import torch

from stcorr.data.video import Video
from stcorr.models.matcher import build_matcher
from stcorr.predictor import CorrespondencePredictor, target_windows

from conftest import write_frames


def test_windows_cover_the_video_half_a_window_apart():
    assert target_windows(100, 32, 8) is None  # one clip at stride 4 is fine
    windows = target_windows(1000, 32, 8)
    span = 31 * 8
    assert windows[0] == (0, span) and windows[-1] == (999 - span, 999)
    assert all(b - a == span for a, b in windows)
    assert all(0 < n[0] - w[0] <= span // 2 for w, n in zip(windows, windows[1:]))
    assert target_windows(1000, 32, None) is None


@pytest.fixture(scope="module")
def long_pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("long")
    write_frames(root / "source", 12, size=(32, 32), seed=1)
    write_frames(root / "target", 90, size=(32, 32), seed=2)
    return Video(root / "source"), Video(root / "target")


def test_each_point_keeps_its_best_scoring_window(long_pair):
    source, target = long_pair
    torch.manual_seed(0)
    matcher = build_matcher({"backbone": "r3d18", "width": 8, "blocks": [1, 1, 1, 1], "layers": [1, 2],
                             "grid": [2, 4, 4], "aggregator": "st-match"})
    points = np.array([[2, 5.0, 7.0], [9, 20.0, 25.0], [5, 30.0, 3.0]])
    windowed = CorrespondencePredictor(matcher, clip_len=8, size=32, min_stride=1, max_target_stride=2, source_window="keypoints")
    predicted, scores = windowed.predict(source, target, points)
    windows = target_windows(target.num_frames, 8, 2)
    assert len(windows) > 3
    src = windowed.source_clip(source, points)
    from stcorr.data.clips import sample_clip

    per_window = [windowed.predict_clips(src, sample_clip(target, 8, 32, key_frames=list(w)), points) for w in windows]
    best = np.argmax(np.stack([s for _, s in per_window]), axis=0)
    for k, w in enumerate(best):
        np.testing.assert_allclose(predicted[k], per_window[w][0][k])
        a, b = windows[w]
        assert a <= predicted[k, 0] <= b
    np.testing.assert_allclose(scores, np.max(np.stack([s for _, s in per_window]), axis=0))
    whole = CorrespondencePredictor(matcher, clip_len=8, size=32, min_stride=1, max_target_stride=None, source_window="keypoints")
    assert whole.predict(source, target, points)[0].shape == predicted.shape
