"""Phases and key moments of a video (docs/formats.md#penn-action-layout): key moment i (0-based) is
the first frame of phase i + 1, phase 0 is the frames before the first key moment.

- ``phases_from_key_moments`` / ``key_moments_from_phases``: whole phases per frame (TCC's phase
  labels) from key moments, and back;
- ``progress_from_key_moments``: progress within a phase, a regression target;
- ``phase_between_key_moments``: a continuous phase, key moment i at i; ``read_motion_phases``: the
  generator's exact one, ``ROOT/motion_phase.json``; what ``stcorr.data.dense`` pairs frames by.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Literal, Sequence

import numpy as np

from stcorr.errors import StcorrError

MOTION_PHASE_FILE = "motion_phase.json"


def _check_key_moments(n_frames: int, key_moments: Sequence[int]) -> np.ndarray:
    moments = np.asarray(key_moments)
    if moments.ndim != 1 or (moments.size and not np.issubdtype(moments.dtype, np.integer)):
        raise StcorrError(f"key moments must be a list of integer frames, got {list(key_moments)}")
    if np.any(moments < 0) or np.any(moments >= n_frames):
        raise StcorrError(f"key moments {moments.tolist()} fall outside the video's frames 0..{n_frames - 1}")
    if np.any(np.diff(moments) < 0):
        raise StcorrError(f"key moments {moments.tolist()} are not in temporal order")
    return moments.astype(np.int64)


def phases_from_key_moments(n_frames: int, key_moments: Sequence[int]) -> np.ndarray:
    """Phase index of every frame of a video.

    ``phase[t]`` = the number of key moments ``k`` with ``k <= t``: frames before the first key
    moment are phase 0, and key moment i (0-based) starts phase i + 1, which lasts until the
    frame before key moment i + 1 (or the last frame). With K key moments there are K + 1 phases.

    Args:
        n_frames: number of frames of the video.
        key_moments: 0-based frames, non-decreasing, each in [0, n_frames).
    Returns:
        (n_frames,) int64 phases.
    Raises:
        StcorrError: key moments out of range, not integers, or out of order.
    """
    moments = _check_key_moments(n_frames, key_moments)
    return np.searchsorted(moments, np.arange(n_frames), side="right").astype(np.int64)


def progress_from_key_moments(n_frames: int, key_moments: Sequence[int],
                              mode: Literal["phase", "video"] = "phase") -> np.ndarray:
    """Progress of every frame, a regression target for ``phase_progression``.

    ``mode="phase"``: ``(t - start) / (end - start)`` in [0, 1), with ``start`` the first frame of
    t's phase (see ``phases_from_key_moments``) and ``end`` the first frame of the next phase
    (``n_frames`` for the last one). ``mode="video"``: ``t / (n_frames - 1)`` in [0, 1] (0 for a
    one-frame video). Returns (n_frames,) float64.
    """
    frames = np.arange(n_frames, dtype=np.float64)
    if mode == "video":
        return frames / max(n_frames - 1, 1)
    if mode != "phase":
        raise ValueError(f"unknown progress mode {mode!r}; expected phase or video")
    moments = _check_key_moments(n_frames, key_moments)
    bounds = np.concatenate([[0], moments, [n_frames]]).astype(np.float64)
    phase = np.searchsorted(moments, np.arange(n_frames), side="right")
    start, end = bounds[phase], bounds[phase + 1]
    return (frames - start) / (end - start)


def key_moments_from_phases(phases: np.ndarray) -> list[int]:
    """Key moments of per-frame whole phases (n_frames,): the first frame of each phase 1, 2, ... present."""
    phases = np.asarray(phases).astype(int).ravel()
    return [int(np.argmax(phases == p)) for p in range(1, int(phases.max()) + 1) if (phases == p).any()]


def phase_between_key_moments(n_frames: int, key_moments: list[int]) -> np.ndarray:
    """Key moment i at phase i, linear in between; NaN outside [first, last] key moment (and
    everywhere with fewer than two distinct key moments)."""
    phase = np.full(n_frames, np.nan)
    moments = np.asarray(key_moments, dtype=np.float64)
    if len(moments) < 2 or np.any(np.diff(moments) <= 0):
        return phase
    frames = np.arange(n_frames)
    inside = (frames >= moments[0]) & (frames <= moments[-1])
    phase[inside] = np.interp(frames[inside], moments, np.arange(len(moments), dtype=np.float64))
    return phase


@lru_cache(maxsize=8)
def read_motion_phases(root: str) -> dict[str, np.ndarray]:
    """``ROOT/motion_phase.json`` as {video: (n_frames,) float64}; {} when the file is absent."""
    path = Path(root) / MOTION_PHASE_FILE
    if not path.is_file():
        return {}
    return {name: np.asarray(values, dtype=np.float64) for name, values in json.loads(path.read_text()).items()}
