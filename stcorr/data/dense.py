"""Dense supervision: correspondences at every frame of a pair, paired by the phase of the motion.

The phase of a video is one float per frame, non-decreasing in time and comparable across the
videos of one action in one data set: two frames with the same phase show the same moment of the
motion. Frame s of the source then corresponds to the first target frame whose phase reaches the
phase of s (linearly interpolated between frames, then rounded to a whole frame), and every
keypoint annotated in both frames is a correspondence (native (t, x, y), as in ``Pair``).

Where the phase comes from:

- exact, from the generator: ``stcorr synth`` writes ``ROOT/motion_phase.json``
  ``{"NNNN": [p_0, ..., p_{n-1}]}``, the position along the action's list of keyframes (keyframe
  j at p = j, linear in time between consecutive keyframes, constant during a pause, before the
  first keyframe and after the last);
- approximate, for data with key moments only (Penn Action, or TCC phase labels): key moment i
  at p = i, linear in time between key moments; frames before the first key moment or after the
  last have no phase (NaN) and give no correspondences.

Only source frames that are the first to reach their phase are used (a frame inside a pause
or the lead-in has no unique partner). The pairs layout has no per-frame annotations: no dense
correspondences. The benchmark's metric never uses these: it scores key moments only.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from stcorr.data.penn import VideoLabels
from stcorr.data.phases import phase_between_key_moments

def video_phase(labels: VideoLabels, exact: np.ndarray | None = None) -> tuple[np.ndarray, bool]:
    """(phase (n_frames,) float64 with NaN where unknown, whether it is exact)."""
    if exact is not None and len(exact) == labels.num_frames:
        return np.asarray(exact, dtype=np.float64), True
    return phase_between_key_moments(labels.num_frames, labels.key_moments or []), False


def first_reaching(phase: np.ndarray) -> np.ndarray:
    """(n,) bool: frames whose phase is known and higher than the frame before's (or the first known)."""
    known = np.isfinite(phase)
    earlier = np.concatenate([[np.nan], phase[:-1]])
    with np.errstate(invalid="ignore"):
        return known & (~np.isfinite(earlier) | (phase > earlier))


def frame_of_phase(phase: np.ndarray, value: float) -> int | None:
    """The whole frame nearest to where ``phase`` first reaches ``value`` (linear between frames);
    None when it never does, or when its first known frame is already past ``value`` (the video
    starts later in the motion)."""
    with np.errstate(invalid="ignore"):
        reached = np.flatnonzero(phase >= value)
    if len(reached) == 0:
        return None
    t = int(reached[0])
    before = phase[t - 1] if t > 0 else np.nan
    if np.isfinite(before):
        return int(np.floor(t - 1 + (value - before) / (phase[t] - before) + 0.5))
    return t if phase[t] == value else None


def dense_correspondences(src: VideoLabels, tgt: VideoLabels, src_phase: np.ndarray, tgt_phase: np.ndarray,
                          frames: Iterable[int], names: Iterable[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Correspondences of source ``frames`` (those first to reach their phase) for keypoints ``names``.

    Returns source (N, 3) and target (N, 3) native (t, x, y) float64 and the N keypoint names.
    """
    wanted = list(dict.fromkeys(names))
    usable = first_reaching(src_phase)
    src_rows, tgt_rows, out_names = [], [], []
    for s in frames:
        if not (0 <= s < len(src_phase) and usable[s]):
            continue
        t = frame_of_phase(tgt_phase, src_phase[s])
        if t is None:
            continue
        src_points, tgt_points = src.keypoints_at(int(s)), tgt.keypoints_at(t)
        for name in wanted:
            if name in src_points and name in tgt_points:
                src_rows.append((s, *src_points[name]))
                tgt_rows.append((t, *tgt_points[name]))
                out_names.append(name)
    shape = (-1, 3)
    return np.array(src_rows, np.float64).reshape(shape), np.array(tgt_rows, np.float64).reshape(shape), out_names
