"""Temporal filtering of landmark tracks with their visibilities.

``side_labelling`` finds the frames whose left and right labels a detector swapped against the
frames around them (a Viterbi pass over the frames); ``stcorr.pose.cache.filtered_track``
relabels them before smoothing and gap filling.

``smooth_track(values, visibility, ...)`` takes values (T, K, D) (any per-landmark coordinates:
pixels, depth, metres; NaN where nothing was found) and visibilities (T, K), and returns both
filtered:

1. Smoothing: at each frame t, a polynomial of degree ``degree`` in time is fitted to the frames
   t - window .. t + window by least squares, each frame weighted by its visibility times a
   tricube kernel of its distance in time (a Savitzky-Golay filter whose weights are the
   visibilities: a frame where the joint was hardly seen barely moves the fit). The fit's value
   at t replaces the value; where the fit has too little support (weight below ``MIN_SUPPORT``
   or fewer frames than the polynomial needs) the value is kept.
2. Gap filling: a landmark unseen (visibility below ``min_visibility``, or NaN) for at most
   ``max_gap`` frames between two frames where it was seen takes the straight line between the
   smoothed values at those frames, and the lower of their two visibilities (so it counts as seen).
   Gaps at the start or end, or longer than ``max_gap``, are left as they are.

``window = 0`` turns smoothing off, ``max_gap = 0`` gap filling. Visibility is otherwise unchanged.
"""

from __future__ import annotations

import numpy as np

MIN_SUPPORT = 0.5  # least sum of (visibility x kernel) weights for a fit to replace a value
SWAP_COST = 0.1  # what relabelling one frame costs, in units of the person's size moved per frame


def side_labelling(xy: np.ndarray, visibility: np.ndarray, mirror: np.ndarray, limbs: np.ndarray,
                   swap_cost: float = SWAP_COST) -> np.ndarray:
    """Which frames to relabel left <-> right so that the sides stay the same from frame to frame.

    A two-state Viterbi over the frames where anything was found: a frame's labelling is kept or
    swapped (``mirror``, a permutation of the K landmarks); moving from one frame to the next costs
    the visibility-weighted mean distance of the ``limbs`` landmarks between the two labellings, in
    units of the person's size, and swapping a frame costs ``swap_cost`` more.

    Args:
        xy: (T, K, 2) positions (NaN where nothing was found); visibility: (T, K).
    Returns:
        (T,) bool: swap frame t.
    """
    found = np.flatnonzero(np.isfinite(xy[:, limbs, 0]).all(axis=1))
    swap = np.zeros(len(xy), dtype=bool)
    if len(found) < 2:
        return swap
    points = xy[found][:, limbs]  # (F, L, 2)
    mirrored = xy[found][:, mirror][:, limbs]
    seen = np.nan_to_num(visibility[found], nan=0.0)
    size = np.maximum(np.ptp(points, axis=1).max(axis=1), 1e-6)  # (F,)
    options = np.stack([points, mirrored], axis=1)  # (F, 2, L, 2)
    option_weights = np.stack([seen[:, limbs], seen[:, mirror][:, limbs]], axis=1)  # (F, 2, L)
    cost = np.array([0.0, swap_cost])
    back = np.zeros((len(found), 2), dtype=np.int64)
    for i in range(1, len(found)):
        step = np.linalg.norm(options[i - 1][:, None] - options[i][None], axis=-1)  # (2, 2, L)
        w = np.minimum(option_weights[i - 1][:, None], option_weights[i][None]) + 1e-6
        move = (step * w).sum(axis=-1) / w.sum(axis=-1) / size[i]  # (previous, current)
        total = cost[:, None] + move
        back[i] = total.argmin(axis=0)
        cost = total.min(axis=0) + np.array([0.0, swap_cost])
    state = int(cost.argmin())
    for i in range(len(found) - 1, -1, -1):
        swap[found[i]] = bool(state)
        state = back[i, state]
    return swap


def tricube(offsets: np.ndarray, window: int) -> np.ndarray:
    """Kernel weights of time offsets -window..window (all > 0)."""
    u = np.abs(offsets) / (window + 1.0)
    return (1.0 - u**3) ** 3


def weighted_polynomial_fit(values: np.ndarray, weights: np.ndarray, window: int, degree: int) -> tuple[np.ndarray, np.ndarray]:
    """Local weighted least-squares polynomial value at every frame.

    Args:
        values: (T, K, D) with no NaN where ``weights`` > 0.
        weights: (T, K) >= 0.
    Returns:
        (T, K, D) fitted values (NaN where unsupported), (T, K) bool supported.
    """
    n = values.shape[0]
    offsets = np.arange(-window, window + 1)
    kernel = tricube(offsets, window)
    powers = np.arange(degree + 1)
    gram = np.zeros(values.shape[:2] + (degree + 1, degree + 1))
    moment = np.zeros(values.shape[:2] + (degree + 1, values.shape[2]))
    support = np.zeros(values.shape[:2])
    count = np.zeros(values.shape[:2])
    for offset, k in zip(offsets, kernel):
        lo, hi = max(0, -offset), min(n, n - offset)  # frames t whose neighbour t + offset exists
        if hi <= lo:
            continue
        w = weights[lo + offset:hi + offset] * k  # (t, K)
        basis = (offset / (window + 1.0)) ** powers  # (degree + 1,)
        gram[lo:hi] += w[..., None, None] * np.outer(basis, basis)
        moment[lo:hi] += w[..., None, None] * basis[:, None] * values[lo + offset:hi + offset, :, None, :]
        support[lo:hi] += w
        count[lo:hi] += w > 0
    supported = (support >= MIN_SUPPORT) & (count >= degree + 1)
    fitted = np.full(values.shape, np.nan)
    if supported.any():
        gram_s = gram[supported] + 1e-9 * np.eye(degree + 1)
        coefficients = np.linalg.solve(gram_s, moment[supported])  # (M, degree + 1, D)
        fitted[supported] = coefficients[:, 0, :]  # the polynomial at offset 0
    return fitted, supported


def fill_gaps(values: np.ndarray, visibility: np.ndarray, seen: np.ndarray, max_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Interior gaps of at most ``max_gap`` unseen frames, filled on a line between their ends (module docstring)."""
    values, visibility = values.copy(), visibility.copy()
    for k in range(values.shape[1]):
        frames = np.flatnonzero(seen[:, k])
        for a, b in zip(frames[:-1], frames[1:]):
            if 1 < b - a <= max_gap + 1:
                fraction = (np.arange(a + 1, b) - a)[:, None] / (b - a)
                values[a + 1:b, k] = (1 - fraction) * values[a, k] + fraction * values[b, k]
                visibility[a + 1:b, k] = min(visibility[a, k], visibility[b, k])
    return values, visibility


def smooth_track(values: np.ndarray, visibility: np.ndarray, window: int, degree: int, max_gap: int,
                 min_visibility: float) -> tuple[np.ndarray, np.ndarray]:
    """Filtered (values (T, K, D), visibility (T, K)) (module docstring); inputs are not changed."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values).all(axis=2)
    weights = np.where(finite, np.nan_to_num(np.asarray(visibility, dtype=np.float64), nan=0.0), 0.0)
    out = values.copy()
    if window > 0:
        fitted, supported = weighted_polynomial_fit(np.where(finite[..., None], values, 0.0), weights, window, degree)
        replace = supported & finite
        out[replace] = fitted[replace]
    seen = finite & (weights >= min_visibility)
    if max_gap > 0:
        return fill_gaps(out, np.asarray(visibility, dtype=np.float64), seen, max_gap)
    return out, np.asarray(visibility, dtype=np.float64).copy()
