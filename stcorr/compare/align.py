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
from stcorr.pose.descriptors import angle_features, at_speed, descriptor_cost, speed_ratio, with_velocities
from stcorr.pose.skeleton import JOINTS
from stcorr.pose.track import JointTrack, filled_joints

J = {name: k for k, name in enumerate(JOINTS)}
MAX_DTW_FRAMES = 1500
VELOCITY_WEIGHT = 0.3  # per frame x 30: as 0.1 per unit of video time was on a 90-frame (3 s) clip
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
    """(T, 18) descriptors: for elbows, knees, shoulders and hips the mean of the left and right
    angle and half their absolute difference, and the trunk's lean (units of pi; so invariant to
    position, size, a mirrored video and swapped left/right labels: ``pose.descriptors.angle_features``),
    then their velocities per frame at a nominal 30 frames a second (``pose.descriptors.with_velocities``:
    the person's, whatever the video's length), weighted by ``VELOCITY_WEIGHT``. NaN where a joint
    is never seen. ``world``: from the 3D world joints (the same whatever the camera's view)."""
    return with_velocities(angle_features(filled_joints(track, world=world)), VELOCITY_WEIGHT)


def at_reference_speed(reference: np.ndarray, attempt: np.ndarray, max_frames: int = MAX_DTW_FRAMES) -> np.ndarray:
    """``attempt`` (M, D) with its velocities brought to the speed of ``reference`` (N, D): the
    median slope of a first DTW path (``pose.descriptors.speed_ratio``; an attempt done 1.5 times
    slower moves 1.5 times less per frame)."""
    return at_speed(attempt, speed_ratio(_dtw_times(reference, attempt, max_frames)))


def dtw_alignment(reference: np.ndarray, attempt: np.ndarray, max_frames: int = MAX_DTW_FRAMES,
                  offset_rounds: int = OFFSET_ROUNDS) -> np.ndarray:
    """(N,) attempt frame for each reference frame: DTW on descriptors ``reference`` (N, D) and
    ``attempt`` (M, D), non-decreasing, from 0 to M - 1, the attempt's velocities at the
    reference's speed (``at_reference_speed``).

    A posture held differently all along (knees bent 15 degrees more) shifts every descriptor by
    about the same amount and would pull the path off; so after each round the median difference
    of each column along the path is taken off the attempt's, and DTW runs again."""
    attempt = at_reference_speed(reference, attempt, max_frames)
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
