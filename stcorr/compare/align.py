"""Time alignment of two videos on their joints, and key moments where the motion turns.

Per frame a descriptor of the body from its joint angles (``frame_descriptors``), invariant to
where the person stands, their size in the frame, a mirrored video and swapped left/right labels,
and with the posture's constant offsets taken out (``dtw_alignment``); DTW over the whole
videos on the distances between descriptors gives a monotonic path, read as one attempt frame
per reference frame. Long videos are subsampled to at most ``max_frames`` per side for DTW
(memory O(max_frames^2)) and the path is interpolated back to every frame.
"""

from __future__ import annotations

import math

import numpy as np

from stcorr.alignment.dtw import align_frames, dtw
from stcorr.pose.angles import ANGLE_NAMES, TRUNK, angle_series
from stcorr.pose.descriptors import descriptor_cost
from stcorr.pose.skeleton import JOINTS
from stcorr.pose.track import JointTrack, filled_joints

J = {name: k for k, name in enumerate(JOINTS)}
MAX_DTW_FRAMES = 1500
VELOCITY_WEIGHT = 0.1
OFFSET_ROUNDS = 2


def normalised_joints(xy: np.ndarray) -> np.ndarray:
    """(T, 13, 2) joints centred on each frame's hip midpoint, divided by the median torso length."""
    hips = (xy[:, J["left_hip"]] + xy[:, J["right_hip"]]) / 2
    shoulders = (xy[:, J["left_shoulder"]] + xy[:, J["right_shoulder"]]) / 2
    if not np.isfinite(hips).any():
        hips = np.nanmean(xy, axis=1) if np.isfinite(xy).any() else np.zeros((len(xy), 2))
    p = xy - np.nan_to_num(hips)[:, None, :]
    torso = np.linalg.norm(shoulders - hips, axis=1)
    scale = np.nanmedian(torso) if np.isfinite(torso).any() else np.nanmedian(np.abs(p)) if np.isfinite(p).any() else 1.0
    return p / max(float(scale), 1e-9)


def frame_descriptors(track: JointTrack, world: bool = False) -> np.ndarray:
    """(T, 18) descriptors: for knees, hips, elbows and shoulders the mean of the left and right
    angle and half their absolute difference, and the trunk's lean (radians; so invariant to
    position, size, a mirrored video and swapped left/right labels), then their time derivatives
    per unit of normalised video time, weighted by ``VELOCITY_WEIGHT``. NaN where a joint is never
    seen. ``world``: from the 3D world joints (the same whatever the camera's view)."""
    angles = np.radians(angle_series(filled_joints(track, world=world)))
    columns = []
    for kind in ("knee", "hip", "elbow", "shoulder"):
        left, right = angles[:, ANGLE_NAMES.index(f"left_{kind}")], angles[:, ANGLE_NAMES.index(f"right_{kind}")]
        columns += [(left + right) / 2, np.abs(left - right) / 2]
    columns.append(angles[:, ANGLE_NAMES.index(TRUNK)])
    static = np.stack(columns, axis=1)
    velocity = np.gradient(static, axis=0) * (len(static) - 1) if len(static) > 1 else np.zeros_like(static)
    return np.concatenate([static, VELOCITY_WEIGHT * velocity], axis=1)


def dtw_alignment(reference: np.ndarray, attempt: np.ndarray, max_frames: int = MAX_DTW_FRAMES,
                  offset_rounds: int = OFFSET_ROUNDS) -> np.ndarray:
    """(N,) attempt frame for each reference frame: DTW on descriptors ``reference`` (N, D) and
    ``attempt`` (M, D), non-decreasing, from 0 to M - 1.

    A posture held differently all along (knees bent 15 degrees more) shifts every descriptor by
    about the same amount and would pull the path off; so after each round the median difference
    of each column along the path is taken off the attempt's, and DTW runs again."""
    offset = np.zeros(reference.shape[1])
    for _ in range(offset_rounds + 1):
        times = _dtw_times(reference, attempt - offset, max_frames)
        offset = column_medians(attempt[times] - reference)
    return times


def column_medians(values: np.ndarray) -> np.ndarray:
    """(D,) median of the finite entries of each column of ``values`` (K, D); 0 for a column with none."""
    out = np.zeros(values.shape[1])
    seen = np.isfinite(values).any(axis=0)
    if seen.any():
        out[seen] = np.nanmedian(values[:, seen], axis=0)
    return out


def _dtw_times(reference: np.ndarray, attempt: np.ndarray, max_frames: int) -> np.ndarray:
    n, m = len(reference), len(attempt)
    stride = max(1, math.ceil(max(n, m) / max_frames))
    ref_rows, att_rows = np.arange(0, n, stride), np.arange(0, m, stride)
    ref_rows[-1:], att_rows[-1:] = n - 1, m - 1  # keep the ends in
    _, path = dtw(descriptor_cost(reference[ref_rows], attempt[att_rows]))
    coarse = att_rows[align_frames(path, len(ref_rows))]
    mapped = np.rint(np.interp(np.arange(n), ref_rows, coarse)).astype(np.int64)
    return np.maximum.accumulate(mapped)


def uniform_alignment(n_reference: int, n_attempt: int) -> np.ndarray:
    """(N,) attempt frames spread evenly over the reference's (both videos taken as the whole motion)."""
    if n_reference == 1:
        return np.zeros(1, dtype=np.int64)
    return np.rint(np.arange(n_reference) * (n_attempt - 1) / (n_reference - 1)).astype(np.int64)


def motion_speed(track: JointTrack, smooth_sigma: float = 2.0) -> np.ndarray:
    """(T,) how fast the normalised body moves at each frame (sum over joints of their speeds)."""
    p = normalised_joints(filled_joints(track, smooth_sigma))
    if len(p) < 2:
        return np.zeros(len(p))
    speed = np.linalg.norm(np.gradient(p, axis=0), axis=2)
    return np.nansum(speed, axis=1)


def turning_points(track: JointTrack, count: int | None = None, max_count: int = 5) -> list[int]:
    """Frames where the motion turns: minima of ``motion_speed`` between faster stretches, at least
    a tenth of the video apart, the ``count`` (else up to ``max_count``) most prominent, in time order."""
    from scipy.signal import find_peaks  # scipy.signal takes seconds to import

    speed = motion_speed(track)
    n = len(speed)
    if n < 5 or not np.ptp(speed) > 0:
        return []
    troughs, found = find_peaks(-speed, prominence=0.1 * np.ptp(speed), distance=max(2, n // 10))
    keep = (troughs >= 2) & (troughs <= n - 3)
    troughs, prominence = troughs[keep], found["prominences"][keep]
    best = np.argsort(-prominence, kind="stable")[: count or max_count]
    return sorted(int(t) for t in troughs[best])
