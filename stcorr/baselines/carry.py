"""Joints the pose source does not see in some frames, carried there from the frames where it does.

    carry = JointCarrier(features, settings, min_visibility=0.5)   # features: stcorr:corrflow-cpu's encoder, or pixels
    track = carry(video, track)                                     # a JointTrack with its unseen joints filled

A joint is unseen where its visibility is below ``min_visibility`` (or it is NaN). Each stretch of
frames holding unseen joints, with the seen frames around it, is passed through twice, forward and
backward: every joint is a Gaussian map on the frame's feature grid, copied from frame to frame by
label propagation (``stcorr.models.propagation``: each cell takes the most similar cells nearby in
the last few frames) and put back at the pose source's joint wherever that is seen. An unseen
joint takes the two passes' points weighted by how recently each saw it (the nearer pass weighs
more; one pass alone before the first or after the last frame where it is seen) and the lower
visibility of the seen frames it came from, so it counts as seen. A joint never seen in the video
stays unseen, and so do runs longer than ``max_gap`` frames: it replaces the straight lines the
pose filter drew over runs up to ``max_gap``, and carries runs at either end of the video too
(measured against the lines in docs/pose.md, "Joints carried over the frames MediaPipe misses").

Coordinates: native pixels, as ``JointTrack``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace

import numpy as np
import torch

from stcorr.data.video import Video
from stcorr.models.propagation import (FrameFeatures, PropagationSettings, block_rows_for, cells_to_native, encoded_frames,
                                       gaussian_maps, grid_of, memory_entry, native_to_cells, propagation_step, read_out)
from stcorr.pose.track import JointTrack


class JointCarrier:
    """``carrier(video, track) -> track`` with the unseen joints carried from the frames where they are seen."""

    def __init__(self, features: FrameFeatures, settings: PropagationSettings, min_visibility: float,
                 max_gap: int | None = None, identity: str = ""):
        """``max_gap``: only runs of at most this many unseen frames are carried (None: all);
        ``identity``: what names these features and settings in the pose cache's keys."""
        self.features, self.settings, self.min_visibility, self.max_gap = features, settings, min_visibility, max_gap
        self.identity = identity or f"{features.name} {settings.model_dump_json()} {min_visibility} {max_gap}"

    def __call__(self, video: Video, track: JointTrack) -> JointTrack:
        seen = track.seen(self.min_visibility)
        wanted = unseen_runs(seen, self.max_gap)
        xy, visibility = track.xy.copy(), track.visibility.copy()
        for start, stop in stretches(wanted):
            part = slice(start, stop + 1)
            points, age, source_visibility = carried_stretch(video, start, track.xy[part], seen[part],
                                                             track.visibility[part], self.features, self.settings)
            fill = wanted[part] & np.isfinite(age)
            xy[part][fill], visibility[part][fill] = points[fill], source_visibility[fill]
        return replace(track, xy=xy, visibility=visibility)


def unseen_runs(seen: np.ndarray, max_gap: int | None) -> np.ndarray:
    """(T, K) the unseen frames of each joint that lie in a run of at most ``max_gap`` unseen frames
    (None: every unseen frame) of a joint seen somewhere."""
    wanted = ~seen & seen.any(axis=0)
    if max_gap is None:
        return wanted
    for k in np.flatnonzero(wanted.any(axis=0)):
        for run in runs(np.flatnonzero(wanted[:, k])):
            if len(run) > max_gap:
                wanted[run, k] = False
    return wanted


def runs(frames: np.ndarray) -> list[np.ndarray]:
    """Sorted frame indices split into runs of consecutive frames."""
    return np.split(frames, np.flatnonzero(np.diff(frames) > 1) + 1)


def stretches(wanted: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) frames of each stretch to pass through: every run of ``wanted`` (T, K) frames of
    a joint, with the frame on each side of it, overlapping runs merged."""
    spans = []
    for k in np.flatnonzero(wanted.any(axis=0)):
        spans += [(max(run[0] - 1, 0), min(run[-1] + 1, len(wanted) - 1)) for run in runs(np.flatnonzero(wanted[:, k]))]
    merged: list[list[int]] = []
    for first, last in sorted(spans):
        if merged and first <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    return [(a, b) for a, b in merged]


def carried_stretch(video: Video, start: int, xy: np.ndarray, seen: np.ndarray, visibility: np.ndarray,
                    features: FrameFeatures, settings: PropagationSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frames ``start``..``start + len(xy) - 1``: (T, K, 2) carried points, (T, K) frames to the
    nearest frame where the joint is seen (inf: seen in neither direction) and (T, K) the
    visibility of the seen frame(s) each point came from (the lower of two)."""
    n = len(xy)
    frames = list(range(start, start + n))
    forward, age_f, vis_f = carried_pass(video, frames, xy, seen, visibility, features, settings)
    back, age_b, vis_b = (part[::-1] for part in carried_pass(video, frames[::-1], xy[::-1], seen[::-1], visibility[::-1],
                                                              features, settings))
    with np.errstate(invalid="ignore"):
        weight = np.where(np.isinf(age_f), 0.0, np.where(np.isinf(age_b), 1.0, age_b / (age_f + age_b)))
    points = weight[..., None] * np.nan_to_num(forward) + (1 - weight[..., None]) * np.nan_to_num(back)
    source = np.where(np.isinf(age_f), vis_b, np.where(np.isinf(age_b), vis_f, np.minimum(vis_f, vis_b)))
    return points, np.minimum(age_f, age_b), source


@torch.no_grad()
def carried_pass(video: Video, frames: list[int], xy: np.ndarray, seen: np.ndarray, visibility: np.ndarray,
                 features: FrameFeatures, settings: PropagationSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One pass over ``frames`` (in that order; row i of ``xy``, ``seen``, ``visibility`` is frame
    ``frames[i]``): (T, K, 2) points, (T, K) frames since the joint was last seen (inf before it
    first is) and (T, K) the visibility where it was last seen. Each joint's map is reset to a
    Gaussian at ``xy`` where ``seen``, and propagated elsewhere."""
    native, size, grid = grid_of(video, settings)
    n, k = xy.shape[:2]
    points, age, last_visibility = np.full((n, k, 2), np.nan), np.full((n, k), np.inf), np.zeros((n, k))
    recent: deque = deque(maxlen=max(settings.memory, 1))
    older: deque = deque(maxlen=settings.long_memory)
    rows = block_rows_for(grid, settings.memory + settings.long_memory, settings)
    for i, feature in enumerate(encoded_frames(video, frames, features, size, settings.batch_frames)):
        if i == 0:
            maps = torch.zeros(1, k, grid[1], grid[0])
        else:
            maps = propagation_step(feature, list(older) + list(recent), settings, rows)
            cells, _ = read_out(maps, settings.readout_radius)
            points[i], age[i], last_visibility[i] = cells_to_native(cells, native, grid), age[i - 1] + 1, last_visibility[i - 1]
        now = seen[i]
        if now.any():
            maps = maps.clone()
            maps[:, now] = gaussian_maps(native_to_cells(xy[i, now], native, grid), grid, settings.sigma)
            points[i, now], age[i, now], last_visibility[i, now] = xy[i, now], 0, visibility[i, now]
        if len(recent) == recent.maxlen and settings.long_memory and i % settings.long_every == 0:
            older.append(recent[0])
        recent.append(memory_entry(feature, maps))
    return points, age, last_visibility
