"""Repetitions of a movement in one video (squats, jumping jacks, swings in a row), and how they rank.

The video's own rest-to-effort signal: for a squat the hips' height above the ankles
(``moments.hip_height``), for anything else the first principal component of the normalised
joints over time, turned so that the start of the video (rest) is high. A rep is one dip of that
signal by at least ``MIN_DIP`` of its whole range (``MIN_SQUAT_DIP`` leg lengths for a squat):
from the last frame at rest before the dip to the first frame back at rest after it (between two
dips, the highest frame is where one rep ends and the next starts). A dip less than
``MIN_SHARE`` as deep as the deepest one is a fidget, not a rep; two dips without a rise of the
least dip between them are one rep (``one_per_dip``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.ndimage import gaussian_filter1d

import stcorr.compare.align as align
from stcorr.alignment.dtw import dtw
from stcorr.pose.angles import ANGLE_NAMES, angle_series
from stcorr.pose.track import JointTrack
from stcorr.compare.moments import MIN_SQUAT_DROP, hip_height

MIN_DIP = 0.35
MIN_SHARE = 0.3
MAX_REP_FRAMES = 400
REST = 0.1  # within this fraction of the dip's depth of the rest level counts as at rest


@dataclass(frozen=True)
class Rep:
    """One repetition: frames ``start``..``end`` (inclusive), its deepest frame ``bottom``."""

    start: int
    end: int
    bottom: int


def rest_signal(track: JointTrack, action: str | None) -> tuple[np.ndarray, float]:
    """((T,) the video's rest-to-effort signal, high at rest; the least dip that counts as a rep) (module docstring)."""
    xy = align.filled_joints(track)
    if action == "squat":
        return hip_height(xy), MIN_SQUAT_DROP
    p = align.normalised_joints(xy).reshape(len(xy), -1)
    p = p[:, np.isfinite(p).all(axis=0)]
    if p.shape[1] == 0 or len(p) < 3:
        return np.zeros(len(xy)), np.inf
    centred = p - p.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    signal = centred @ vt[0]
    head = signal[: max(1, len(signal) // 10)]
    if np.median(head) < np.median(signal):
        signal = -signal
    return signal, MIN_DIP * float(np.ptp(signal))


def find_reps(track: JointTrack, action: str | None = None) -> list[Rep]:
    """The reps of a video, in time order (module docstring); [] when it holds no dip deep enough."""
    from scipy.signal import find_peaks  # scipy.signal takes seconds to import

    signal, least = rest_signal(track, action)
    if len(signal) < 5 or not np.isfinite(signal).all() or not np.ptp(signal) > 0 or not np.isfinite(least):
        return []
    signal = gaussian_filter1d(signal, 1.0, mode="nearest")
    bottoms, found = find_peaks(-np.concatenate([[signal[0]], signal, [signal[-1]]]), prominence=max(least, 1e-9))
    deep = found["prominences"] >= MIN_SHARE * found["prominences"].max() if len(bottoms) else []
    bottoms = one_per_dip(signal, [int(b) - 1 for b, keep in zip(bottoms, deep) if keep and 0 < b <= len(signal)], least)
    if not bottoms:
        return []
    bounds = [0] + [a + int(np.argmax(signal[a:b + 1])) for a, b in zip(bottoms, bottoms[1:])] + [len(signal) - 1]
    reps = []
    for k, bottom in enumerate(bottoms):
        lo, hi = bounds[k], bounds[k + 1]
        depth_before = signal[lo:bottom + 1].max() - signal[bottom]
        depth_after = signal[bottom:hi + 1].max() - signal[bottom]
        rest_before = np.flatnonzero(signal[lo:bottom + 1] >= signal[lo:bottom + 1].max() - REST * depth_before)
        rest_after = np.flatnonzero(signal[bottom:hi + 1] >= signal[bottom:hi + 1].max() - REST * depth_after)
        reps.append(Rep(lo + int(rest_before[-1]), bottom + int(rest_after[0]), bottom))
    return reps


def one_per_dip(signal: np.ndarray, bottoms: list[int], least: float) -> list[int]:
    """The bottoms, two neighbours merged into the lower one when the signal between them does not
    rise by ``least`` above the higher of the two (a squat held low that wobbles is one rep, not two)."""
    kept: list[int] = []
    for b in bottoms:
        if kept and signal[kept[-1]:b + 1].max() - max(signal[kept[-1]], signal[b]) < least:
            kept[-1] = kept[-1] if signal[kept[-1]] <= signal[b] else b
        else:
            kept.append(b)
    return kept


def knee_flexion(track: JointTrack, world: bool = False) -> np.ndarray:
    """(T,) the mean of the left and right knee flexion (degrees; 2D, or 3D from the world joints
    when ``world``), NaN where neither is seen."""
    angles = angle_series(align.filled_joints(track, world=world))
    knees = angles[:, [ANGLE_NAMES.index("left_knee"), ANGLE_NAMES.index("right_knee")]]
    with np.errstate(all="ignore"):
        return np.nanmean(knees, axis=1) if np.isfinite(knees).any() else np.full(len(knees), np.nan)


def rep_distance(reference: np.ndarray, attempt: np.ndarray, max_frames: int = MAX_REP_FRAMES) -> float:
    """Mean cost along the DTW path between two descriptor sequences (N, D), (M, D): 0 = the same
    movement, at any speed (the attempt's velocities at the reference's: ``align.at_reference_speed``).
    Sequences longer than ``max_frames`` are subsampled evenly (memory O(max_frames^2))."""
    attempt = align.at_reference_speed(reference, attempt)
    reference, attempt = (x[np.unique(np.linspace(0, len(x) - 1, min(len(x), max_frames)).round().astype(int))]
                          for x in (reference, attempt))
    cost = align.descriptor_cost(reference, attempt)
    total, path = dtw(cost)
    return float(total / max(len(path), 1))


def rep_rows(track: JointTrack, reps: list[Rep], fps: float, reference_descriptors: np.ndarray | None,
             world: bool = False) -> list[dict]:
    """compare.json's ``reps`` of one video: frames, seconds, the deepest knee flexion (the
    deepest rep ranked 1) and, given the reference's descriptors (3D ones when ``world``), the
    distance to the reference."""
    knees = knee_flexion(track)
    rows = []
    for k, rep in enumerate(reps):
        span = knees[rep.start:rep.end + 1]
        row = {"rep": k + 1, "start_t": rep.start, "end_t": rep.end, "bottom_t": rep.bottom,
               "start_s": round(rep.start / fps, 3), "duration_s": round((rep.end - rep.start + 1) / fps, 3),
               "knee_flexion_max_deg": round(float(np.nanmax(span)), 1) if np.isfinite(span).any() else None}
        if reference_descriptors is not None:
            own = align.frame_descriptors(track.frames_between(rep.start, rep.end), world)
            row["distance_to_reference"] = round(rep_distance(reference_descriptors, own), 4)
        rows.append(row)
    depths = [r["knee_flexion_max_deg"] for r in rows]
    if all(d is not None for d in depths):
        for rank, index in enumerate(np.argsort([-d for d in depths], kind="stable")):
            rows[index]["depth_rank"] = rank + 1
    return rows


def rep_sentences(rows: list[dict], video: str = "the attempt") -> list[str]:
    """The ranking in words: which rep goes least deep, which deepest, which is closest to the reference."""
    if len(rows) < 2:
        return []
    return [f"{video} holds {len(rows)} reps"] + rank_sentences(rows, lambda r: f"rep {r['rep']} of {len(rows)}")


def rank_sentences(rows: list[dict], label: Callable[[dict], str]) -> list[str]:
    """Which row goes least deep, which deepest (``depth_rank`` of ``knee_flexion_max_deg``), which is closest to the
    reference (``distance_to_reference``); ``label`` names a row ("rep 2 of 5", "attempt take3")."""
    if len(rows) < 2:
        return []
    lines = []
    if all(r.get("depth_rank") for r in rows):
        shallow = max(rows, key=lambda r: r["depth_rank"])
        deep = min(rows, key=lambda r: r["depth_rank"])
        deepest = label(deep).split(" of ")[0]
        lines.append(f"{label(shallow)} is the one whose knee goes least deep "
                     f"({shallow['knee_flexion_max_deg']:.0f} degrees of knee flexion at its deepest; "
                     f"{deepest} goes deepest, {deep['knee_flexion_max_deg']:.0f})")
    if all(r.get("distance_to_reference") is not None for r in rows):
        closest = min(rows, key=lambda r: r["distance_to_reference"])
        lines.append(f"{label(closest)} moves most like the reference")
    return lines
