"""Temporal filtering of landmark tracks (stcorr.pose.filtering) on synthetic tracks with known noise."""

from __future__ import annotations

import numpy as np
import pytest

from stcorr.pose.filtering import smooth_track


def sine_track(n: int = 120, landmarks: int = 4) -> np.ndarray:
    """(n, landmarks, 2) smooth motion: each landmark on its own slow ellipse, in pixels."""
    t = np.arange(n)[:, None]
    phase = np.arange(landmarks)[None]
    return np.stack([100 + 30 * np.sin(t / 9.0 + phase), 80 + 20 * np.cos(t / 7.0 + phase)], axis=-1)


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(((a - b) ** 2).sum(axis=-1).mean()))


def test_smoothing_removes_much_of_white_noise():
    truth = sine_track()
    noisy = truth + np.random.default_rng(0).normal(0, 2.0, truth.shape)
    visibility = np.ones(truth.shape[:2])
    smoothed, out_visibility = smooth_track(noisy, visibility, window=3, degree=2, max_gap=0, min_visibility=0.5)
    assert rmse(smoothed, truth) < 0.7 * rmse(noisy, truth)
    np.testing.assert_array_equal(out_visibility, visibility)


def test_a_quadratic_motion_passes_unchanged():
    t = np.arange(30, dtype=np.float64)
    track = np.stack([0.3 * t**2 - 2 * t + 5, 4 * t + 1], axis=-1)[:, None, :]
    smoothed, _ = smooth_track(track, np.full((30, 1), 0.9), window=3, degree=2, max_gap=0, min_visibility=0.5)
    np.testing.assert_allclose(smoothed, track, atol=1e-6)


def test_low_visibility_outliers_are_pulled_back_and_confident_frames_kept_close():
    truth = sine_track()
    noisy = truth.copy()
    visibility = np.full(truth.shape[:2], 0.95)
    outliers = np.arange(5, 115, 10)
    noisy[outliers, 0] += 40.0  # a limb jumping away where the detector was unsure
    visibility[outliers, 0] = 0.05
    smoothed, _ = smooth_track(noisy, visibility, window=2, degree=2, max_gap=0, min_visibility=0.5)
    assert np.linalg.norm(smoothed[outliers, 0] - truth[outliers, 0], axis=-1).max() < 0.1 * 40.0
    assert rmse(smoothed, truth) < 0.15 * rmse(noisy, truth)


def test_short_gaps_are_filled_on_the_line_and_long_ones_left():
    t = np.arange(40, dtype=np.float64)
    track = np.stack([2 * t, 50 - t], axis=-1)[:, None, :]
    visibility = np.full((40, 1), 0.9)
    visibility[10, 0] = 0.6
    track[11:16] = np.nan  # nobody found in 5 frames
    visibility[11:16] = np.nan
    track[25:37] = np.nan  # 12 frames: longer than max_gap
    visibility[25:37] = np.nan
    filled, out_visibility = smooth_track(track, visibility, window=0, degree=2, max_gap=8, min_visibility=0.5)
    np.testing.assert_allclose(filled[11:16, 0], np.stack([2 * t[11:16], 50 - t[11:16]], axis=-1))
    np.testing.assert_allclose(out_visibility[11:16, 0], 0.6)  # the weaker of the two ends
    assert np.isnan(filled[25:37]).all() and np.isnan(out_visibility[25:37]).all()


def test_frames_below_min_visibility_count_as_gaps():
    truth = sine_track(30, 1)
    track = truth.copy()
    visibility = np.full((30, 1), 0.9)
    track[12:15, 0] += 25.0
    visibility[12:15, 0] = 0.1
    filled, out_visibility = smooth_track(track, visibility, window=0, degree=2, max_gap=4, min_visibility=0.5)
    line = truth[11, 0] + (np.arange(1, 4)[:, None] / 4) * (truth[15, 0] - truth[11, 0])
    np.testing.assert_allclose(filled[12:15, 0], line)
    np.testing.assert_allclose(out_visibility[12:15, 0], 0.9)


@pytest.mark.parametrize("window,max_gap", [(0, 0)])
def test_everything_off_is_the_identity(window, max_gap):
    track = sine_track(10, 2)
    track[3] = np.nan
    visibility = np.full((10, 2), 0.7)
    out, out_visibility = smooth_track(track, visibility, window=window, degree=2, max_gap=max_gap, min_visibility=0.5)
    np.testing.assert_array_equal(out, track)
    np.testing.assert_array_equal(out_visibility, visibility)


def test_frames_whose_sides_were_swapped_are_found_and_the_majority_kept():
    from stcorr.pose.filtering import side_labelling

    t = np.arange(40)[:, None]
    mirror = np.array([1, 0, 3, 2])  # landmarks 0 <-> 1 and 2 <-> 3 are left/right pairs
    x = np.array([[60.0, 40.0, 62.0, 38.0]]) + 0.3 * t  # left side at x 60, right at x 40, walking right
    y = np.array([[30.0, 30.0, 80.0, 80.0]]) + 0 * t
    track = np.stack([x, y], axis=-1)  # (40, 4, 2)
    swapped = track.copy()
    confused = [5, 6, 20, 33]
    swapped[confused] = track[confused][:, mirror]
    visibility = np.full((40, 4), 0.9)
    swapped[12] = np.nan  # nobody found in frame 12
    found = side_labelling(swapped, visibility, mirror, np.arange(4))
    assert sorted(np.flatnonzero(found)) == confused
    mostly_mirrored = track[:, mirror].copy()
    mostly_mirrored[confused] = track[confused]
    assert sorted(np.flatnonzero(side_labelling(mostly_mirrored, visibility, mirror, np.arange(4)))) == confused
