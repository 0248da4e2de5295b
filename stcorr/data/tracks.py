"""Patch tracks: a box per frame following one part of a video, for the cycle learner and its uses.

    tracks = joint_tracks(labels, patch_scale=0.3)        # from a Penn Action label file
    boxes, valid = boxes_at(tracks, times)               # (I, T, 4), (I, T)

A track from the ground-truth joints is a run of consecutive frames where one joint is visible;
its box is a square centred on the joint, ``patch_scale`` x the longer side of the box around all
visible joints of that frame. Tracks of ``min_length - 1`` = 3 frames or fewer are dropped.

Boxes are (x1, y1, x2, y2) in continuous native pixels: pixel (i, j) covers [j, j + 1) x [i, i + 1),
so a joint at pixel-index (x, y) is the box centre (x + 0.5, y + 0.5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stcorr.data.penn import VideoLabels
from stcorr.pose.skeleton import JOINTS

MIN_TRACK_LENGTH = 4   # tracks of 3 frames or fewer are dropped
MIN_BOX_SIDE = 8.0     # native pixels


@dataclass(frozen=True)
class Track:
    """One part followed through a video: its frames (L,) int, and a box (L, 4) per frame."""

    name: str | None
    times: np.ndarray
    boxes: np.ndarray

    def __len__(self) -> int:
        return len(self.times)


def runs(present: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True in a 1-D bool array."""
    edges = np.diff(np.concatenate([[0], present.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def person_sizes(labels: VideoLabels) -> np.ndarray:
    """(n_frames,) longer side of the box around each frame's visible joints (0 where none is)."""
    x = np.where(labels.visible, labels.x, np.nan)
    y = np.where(labels.visible, labels.y, np.nan)
    sizes = np.zeros(labels.num_frames)
    seen = labels.visible.any(axis=1)
    if seen.any():
        sizes[seen] = np.maximum(np.nanmax(x[seen], 1) - np.nanmin(x[seen], 1), np.nanmax(y[seen], 1) - np.nanmin(y[seen], 1))
    return sizes


def centred_boxes(centres: np.ndarray, sides: np.ndarray) -> np.ndarray:
    """Squares (N, 4) of side ``sides`` (N,) centred on pixel-index points ``centres`` (N, 2)."""
    half = np.maximum(np.asarray(sides, dtype=np.float64), MIN_BOX_SIDE)[:, None] / 2
    middle = np.asarray(centres, dtype=np.float64) + 0.5
    return np.concatenate([middle - half, middle + half], axis=1)


def joint_tracks(labels: VideoLabels, patch_scale: float = 0.3, min_length: int = MIN_TRACK_LENGTH) -> list[Track]:
    """The tracks of the ground-truth joints of one video (runs of visible frames, >= ``min_length``)."""
    sides = patch_scale * person_sizes(labels)
    tracks = []
    for k, joint in enumerate(JOINTS):
        for start, end in runs(labels.visible[:, k]):
            if end - start < min_length:
                continue
            centres = np.column_stack([labels.x[start:end, k], labels.y[start:end, k]])
            tracks.append(Track(joint, np.arange(start, end), centred_boxes(centres, sides[start:end])))
    return tracks


def boxes_at(tracks: list[Track], times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each track's box at each of ``times`` (T,): boxes (I, T, 4) (zeros where absent), valid (I, T)."""
    times = np.asarray(times, dtype=np.int64)
    boxes = np.zeros((len(tracks), len(times), 4))
    valid = np.zeros((len(tracks), len(times)), dtype=bool)
    for i, track in enumerate(tracks):
        where = np.searchsorted(track.times, times)
        inside = (where < len(track)) & (track.times[np.minimum(where, len(track) - 1)] == times)
        boxes[i, inside] = track.boxes[where[inside]]
        valid[i] = inside
    return boxes, valid


def grid_boxes(width: int, height: int, cells: int = 4, scale: float = 2.0) -> np.ndarray:
    """Label-free patches: a ``cells x cells`` grid of box centres over the frame, each box ``scale``
    cells wide and high (overlapping neighbours when > 1), clipped to the frame: (cells^2, 4)."""
    cw, ch = width / cells, height / cells
    cx = (np.arange(cells) + 0.5) * cw
    cy = (np.arange(cells) + 0.5) * ch
    xx, yy = np.meshgrid(cx, cy)
    half = np.array([scale * cw / 2, scale * ch / 2])
    centres = np.column_stack([xx.ravel(), yy.ravel()])
    boxes = np.concatenate([centres - half, centres + half], axis=1)
    return np.clip(boxes, 0, [width, height, width, height])
