"""Keypoint tracking PCK, the JHMDB protocol of the CorrFlow and contrastive-random-walk papers.

The joints labelled in the first frame are propagated through the video; every later frame t
scores each joint that is labelled both in the first frame and in frame t. A tracked joint is
correct when its distance to the labelled joint is at most ``alpha`` times the normaliser of
frame t: **max(w, h) of the tightest box around all joints labelled in frame t** (the person's
box size of the JHMDB PCK protocol), in native pixels. Reported at alpha = 0.1 and 0.2, as the
fraction of correct (joint, frame) points.
"""

from __future__ import annotations

import numpy as np

ALPHAS = (0.1, 0.2)


def box_normaliser(xy: np.ndarray, labelled: np.ndarray) -> np.ndarray:
    """(T, K, 2) joints and (T, K) labelled -> (T,) max(w, h) of each frame's labelled joints (0 if none)."""
    mask = labelled[..., None]
    high = np.where(mask, xy, -np.inf).max(axis=1)
    low = np.where(mask, xy, np.inf).min(axis=1)
    size = (high - low).max(axis=1)
    return np.where(labelled.any(axis=1), size, 0.0)


def tracking_correct(predicted: np.ndarray, truth: np.ndarray, labelled: np.ndarray,
                     alphas: tuple[float, ...] = ALPHAS) -> tuple[dict[float, np.ndarray], np.ndarray]:
    """Which tracked points are correct.

    Args:
        predicted: (T, K, 2) tracked x, y for frames 0..T-1 of a video (frame 0: the query frame).
        truth: (T, K, 2) labelled x, y.
        labelled: (T, K) bool, joint k is labelled in frame t.
    Returns:
        ({alpha: (T, K) bool correct}, (T, K) bool scored): scored points are frames t >= 1 whose
        joint is labelled in frame 0 and in frame t.
    """
    scored = labelled & labelled[0:1]
    scored[0] = False
    distance = np.linalg.norm(predicted - truth, axis=-1)
    normaliser = box_normaliser(truth, labelled)[:, None]
    return {a: scored & (distance <= a * normaliser) for a in alphas}, scored


def pck_summary(correct: dict[float, list[np.ndarray]], scored: list[np.ndarray]) -> dict:
    """Totals over videos: {"n_points", "PCK@0.1", "PCK@0.2"} (fractions; 0 points gives 0.0)."""
    n = int(sum(s.sum() for s in scored))
    out = {"n_points": n}
    for alpha, parts in correct.items():
        out[f"PCK@{alpha:g}"] = float(sum(c.sum() for c in parts) / n) if n else 0.0
    return out
