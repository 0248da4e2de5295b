"""T@k-PCK@alpha, the paper's metric (docs/formats.md#metric), as pure functions over arrays.

Conventions: every point is ``(t, x, y)`` in the TARGET video's native coordinates: t the 0-based
frame index at its native rate, x/y native pixels (x right, y down). A prediction ``p`` of the
true point ``q`` is correct when

    |p_t - q_t| <= k   and   ||(p_x, p_y) - (q_x, q_y)||_2 <= alpha * ref_size

where ``ref_size`` = max(w, h) of the tightest box around all keypoints (joints and objects, any
setup) of the target at frame q_t. Both bounds are inclusive. A missing prediction (NaN) is wrong.
Scores are fractions of correct correspondences over all correspondences (per point, not per pair).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

DEFAULT_KS = (1, 3, 5)
CURVE_KS = tuple(range(11))
CURVE_ALPHAS = tuple(round(0.05 + 0.025 * i, 3) for i in range(11))  # 0.05 .. 0.3


def correct_matches(pred: np.ndarray, true: np.ndarray, ref_size: np.ndarray, k: float, alpha: float = 0.1) -> np.ndarray:
    """(N,) bool: whether each predicted (t, x, y) is within k frames and alpha * ref_size pixels of the truth."""
    pred, true = np.asarray(pred, dtype=np.float64).reshape(-1, 3), np.asarray(true, dtype=np.float64).reshape(-1, 3)
    time_ok = np.abs(pred[:, 0] - true[:, 0]) <= k
    space_ok = np.hypot(pred[:, 1] - true[:, 1], pred[:, 2] - true[:, 2]) <= alpha * np.asarray(ref_size, dtype=np.float64)
    return time_ok & space_ok  # NaN compares False: a missing prediction is wrong


def pck(correct: np.ndarray) -> float:
    """Fraction of True entries; 0.0 for no entries."""
    return float(np.mean(correct)) if len(correct) else 0.0


def pck_scores(pred: np.ndarray, true: np.ndarray, ref_size: np.ndarray, ks: Sequence[int] = DEFAULT_KS, alpha: float = 0.1) -> dict:
    """{"T@k": fraction, ..., "n_points": N} over all given points."""
    scores = {f"T@{k}": pck(correct_matches(pred, true, ref_size, k, alpha)) for k in ks}
    return {**scores, "n_points": int(len(np.asarray(true).reshape(-1, 3)))}


def grouped_scores(pred, true, ref_size, groups: Sequence[str], ks: Sequence[int] = DEFAULT_KS, alpha: float = 0.1) -> dict:
    """pck_scores for each distinct group label (e.g. action, or keypoint type 'hum' / 'obj')."""
    groups = np.asarray(groups)
    pred, true, ref_size = np.asarray(pred).reshape(-1, 3), np.asarray(true).reshape(-1, 3), np.asarray(ref_size)
    return {str(g): pck_scores(pred[groups == g], true[groups == g], ref_size[groups == g], ks, alpha) for g in sorted(set(groups.tolist()))}


def pck_curves(pred, true, ref_size, alpha: float = 0.1, ks: Sequence[int] = DEFAULT_KS) -> dict:
    """T@k-PCK against k (0..10) at ``alpha``, and against alpha (0.05..0.3) for each k in ``ks``."""
    return {
        "k": list(CURVE_KS),
        "pck_vs_k": [pck(correct_matches(pred, true, ref_size, k, alpha)) for k in CURVE_KS],
        "alpha": list(CURVE_ALPHAS),
        "pck_vs_alpha": {str(k): [pck(correct_matches(pred, true, ref_size, k, a)) for a in CURVE_ALPHAS] for k in ks},
    }
