"""Tests of stcorr.metrics.alignment on constructed cases whose value is known."""

from __future__ import annotations

import numpy as np
import pytest

from stcorr.errors import StcorrError
from stcorr.data.phases import phases_from_key_moments, progress_from_key_moments
from stcorr.metrics.alignment import (
    average_precision_at_k,
    dtw_accuracy,
    kendalls_tau,
    mean_kendalls_tau,
    phase_classification_accuracy,
    phase_progression,
)


def curve(n: int, seed: int = 0, dim: int = 6) -> np.ndarray:
    """(n, dim) embeddings along a smooth curve with distinct, well-separated frames."""
    t = np.linspace(0, 1, n)
    basis = np.stack([t, np.sin(2 * t), np.cos(3 * t)], axis=1)
    return basis @ np.random.default_rng(seed).normal(size=(3, dim))


def test_phases_follow_key_moments():
    np.testing.assert_array_equal(phases_from_key_moments(8, [2, 5]), [0, 0, 1, 1, 1, 2, 2, 2])
    np.testing.assert_array_equal(phases_from_key_moments(4, [0]), [1, 1, 1, 1])
    np.testing.assert_array_equal(phases_from_key_moments(3, []), [0, 0, 0])


@pytest.mark.parametrize("moments", [[5, 2], [2, 8], [-1], [1.5]])
def test_bad_key_moments_raise(moments):
    with pytest.raises(StcorrError):
        phases_from_key_moments(8, moments)


def test_progress_within_phase_and_video():
    np.testing.assert_allclose(progress_from_key_moments(8, [2, 5]), [0, 0.5, 0, 1 / 3, 2 / 3, 0, 1 / 3, 2 / 3])
    np.testing.assert_allclose(progress_from_key_moments(5, [2], mode="video"), [0, 0.25, 0.5, 0.75, 1])


def test_kendalls_tau_identical_and_reversed():
    emb = curve(15)
    assert kendalls_tau(emb, emb) == pytest.approx(1.0)
    assert kendalls_tau(emb, emb[::-1]) == pytest.approx(-1.0)
    assert mean_kendalls_tau([emb, emb, emb[::-1]]) == pytest.approx((1 + 1 - 1 - 1 - 1 - 1) / 6)


def test_kendalls_tau_of_a_time_warp_is_one():
    slow = curve(30)
    fast = slow[::3]
    # neighbours of the slow copy advance in steps but never go back: ties, no discordant pair
    assert kendalls_tau(fast, slow) == pytest.approx(1.0)
    assert 0.9 < kendalls_tau(slow, fast) <= 1.0


def test_separable_phases_are_classified_perfectly():
    rng = np.random.default_rng(1)
    phases = np.repeat([0, 1, 2], 20)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    train = centres[phases] + rng.normal(scale=0.3, size=(60, 2))
    val = centres[phases] + rng.normal(scale=0.3, size=(60, 2))
    accuracy = phase_classification_accuracy(train, phases, val, phases, fractions=(0.1, 0.5, 1.0), seed=0)
    assert set(accuracy) == {0.1, 0.5, 1.0}
    assert accuracy[1.0] == 1.0 and accuracy[0.5] == 1.0


def test_phase_classification_with_one_phase_in_the_subset():
    train = np.array([[0.0], [1.0], [2.0], [3.0]])
    phases = np.array([0, 0, 1, 1])
    videos = np.array([0, 0, 1, 1])
    val_phases = np.array([0, 1, 1])
    accuracy = phase_classification_accuracy(train, phases, np.zeros((3, 1)), val_phases, fractions=(0.5,),
                                             seed=3, train_video_ids=videos)
    # one of the two videos, so one phase: a constant prediction right on 1 or 2 frames of 3
    assert accuracy[0.5] in (pytest.approx(1 / 3), pytest.approx(2 / 3))


def test_linear_progress_has_r2_one():
    rng = np.random.default_rng(2)
    mixing = rng.normal(size=(1, 5))
    train_progress, val_progress = rng.random(40), rng.random(20)
    train = train_progress[:, None] @ mixing + 3.0
    val = val_progress[:, None] @ mixing + 3.0
    assert phase_progression(train, train_progress, val, val_progress) == pytest.approx(1.0)
    assert phase_progression(train, train_progress, val, rng.random(20)) < 0.5


def test_average_precision_at_k_on_a_hand_computed_case():
    # video A: one frame at 0 (phase 0); video B: frames at 1 (phase 0), 2 (phase 1), 3 (phase 0)
    emb = np.array([[0.0], [1.0], [2.0], [3.0]])
    phases = np.array([0, 0, 1, 0])
    videos = np.array(["A", "B", "B", "B"])
    result = average_precision_at_k(emb, phases, videos, ks=(1, 3), chunk=3)
    # query A0 ranks B at 1, 2, 3 -> relevant 1, 0, 1: AP@1 = 1, AP@3 = (1 + 2/3) / 2 = 5/6;
    # queries B1, B2, B3 see only A0 (phase 0): AP = 1, 0, 1 for every K.
    assert result[1] == pytest.approx((1 + 1 + 0 + 1) / 4)
    assert result[3] == pytest.approx((5 / 6 + 1 + 0 + 1) / 4)


def test_average_precision_is_one_for_phase_clusters():
    phases = np.tile(np.repeat([0, 1], 10), 3)
    videos = np.repeat([0, 1, 2], 20)
    emb = np.stack([phases * 100.0, np.arange(60) % 10], axis=1)
    assert average_precision_at_k(emb, phases, videos, ks=(5, 15)) == {5: 1.0, 15: 1.0}


def test_dtw_accuracy_identical_and_misaligned_videos():
    emb = curve(20)
    phases = phases_from_key_moments(20, [6, 13])
    assert dtw_accuracy(emb, phases, emb, phases) == 1.0
    shifted = phases_from_key_moments(20, [10, 16])
    # frames 6..9 and 13..15 of A land on same-index frames of B, which are in an earlier phase
    assert dtw_accuracy(emb, phases, emb, shifted) == pytest.approx(13 / 20)
