"""Points the user picks (a club head, a ball), carried through both videos by label propagation and traced like joints.

A point is given in the reference: (t, x, y), frame t (0-based), native pixels. ``propagate``'s
label propagation (``models.propagation.propagate_keypoints``, forward and back) carries it
through every reference frame. In the attempt it starts at t's aligned frame, where the point
goes by the two bodies (``spatial.pose_warp``: the joints near it move it with them; without a
body, the same place scaled to the attempt's frame), and is carried through the attempt the same
way; in a frame where the carried map has spread (score under ``LOST_SCORE``) the point is lost
there and left out. The traces then draw it as a joint (``overlay.trace_points``): the reference's path a line,
the attempt's (at each aligned frame, warped by the body's transform) dots.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from stcorr.pose.track import JointTrack
from stcorr.compare.spatial import pose_warp
from stcorr.data.video import Video
from stcorr.errors import StcorrError

MIN_CONFIDENCE = 0.5  # as pipeline.MIN_CONFIDENCE (the pipeline imports this module's callers)
#: Under this propagation score (the carried map's peak: 1 = it kept its whole mass) the point is
#: lost in that frame and not drawn: a bat tip blurred by its speed leaves the map spread over the
#: background at 0.25-0.43 (real-dev 0280), a helmet followed through the same swing stays at 0.51-0.88.
LOST_SCORE = 0.45


@dataclass(frozen=True)
class CarriedPoints:
    """Picked points followed through both videos: ``names`` ("point 1", ...), ``reference``
    (N, P, 2) each point in every reference frame, ``attempt`` (M, P, 2) in every attempt frame
    (native pixels of each video; NaN where it could not be carried)."""

    names: tuple[str, ...]
    queries: np.ndarray  # (P, 3) t, x, y in the reference
    reference: np.ndarray
    attempt: np.ndarray

    def record(self, attempt_start: np.ndarray) -> list[dict]:
        """compare.json's ``trace_points``: each point's query, where it starts in the attempt and its two paths."""
        return [{"name": name, "query": [int(q[0]), round(float(q[1]), 2), round(float(q[2]), 2)],
                 "attempt_start": [int(s[0]), round(float(s[1]), 2), round(float(s[2]), 2)],
                 "reference": _path(self.reference[:, k]), "attempt": _path(self.attempt[:, k])}
                for k, (name, q, s) in enumerate(zip(self.names, self.queries, attempt_start))]


def _path(points: np.ndarray) -> list:
    return [None if not np.isfinite(p).all() else [round(float(p[0]), 1), round(float(p[1]), 1)] for p in points]


def check_points(points: np.ndarray, video: Video) -> np.ndarray:
    """(P, 3) t, x, y inside the reference; a one-line error for one outside."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    width, height = video.size
    for t, x, y in points:
        if not (0 <= t < video.num_frames and t == int(t)):
            raise StcorrError(f"--trace-point frame {t:g} is not a frame of the reference ({video.num_frames} frames, 0-based)", video.path)
        if not (-0.5 <= x <= width - 0.5 and -0.5 <= y <= height - 0.5):
            raise StcorrError(f"--trace-point ({x:g}, {y:g}) lies outside the reference's {width} x {height} frame", video.path)
    return points


def attempt_start(query: np.ndarray, ref_track: JointTrack, att_track: JointTrack, times: np.ndarray,
                  sizes: tuple[tuple[int, int], tuple[int, int]]) -> np.ndarray:
    """(3,) where a reference point (t, x, y) starts in the attempt: its aligned frame, the place
    the bodies move it to (the same place scaled to the attempt's frame without bodies)."""
    t = int(query[0])
    u = int(times[t])
    ref, att = ref_track.joints_at(t, MIN_CONFIDENCE), att_track.joints_at(u, MIN_CONFIDENCE)
    warped = pose_warp(query[None, 1:], ref, att, smoothing=0.05 * max(sizes[1]))
    if warped is None:
        warped = query[None, 1:] * (np.array(sizes[1], dtype=np.float64) / np.array(sizes[0], dtype=np.float64))
    return np.array([u, *warped[0]])


def carry_points(reference: Video, attempt: Video, ref_track: JointTrack, att_track: JointTrack, times: np.ndarray,
                 queries: np.ndarray, features, settings) -> tuple[CarriedPoints, np.ndarray]:
    """The points ``queries`` (P, 3) carried through both videos (module docstring) with the
    propagation ``features`` and ``settings``; and (P, 3) where each starts in the attempt."""
    from stcorr.models.propagation import propagate_keypoints  # torch: only when a point is traced

    starts = np.stack([attempt_start(q, ref_track, att_track, times, (reference.size, attempt.size)) for q in queries]) \
        if len(queries) else np.zeros((0, 3))
    paths = []
    for video, points in ((reference, queries), (attempt, starts)):
        path = np.full((video.num_frames, len(points), 2), np.nan)
        for k, (t, x, y) in enumerate(points):
            for frame, rows in propagate_keypoints(video, int(t), np.array([[x, y]]), features, settings, backward=True).items():
                if rows[0, 2] >= LOST_SCORE:
                    path[frame, k] = rows[0, :2]
        paths.append(path)
    names = tuple(f"point {k + 1}" for k in range(len(queries)))
    return CarriedPoints(names, np.asarray(queries, dtype=np.float64), paths[0], paths[1]), starts


def point_paths(points: CarriedPoints | None, names: Sequence[str], times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """((N, P, 2) the named points in each reference frame, (N, P, 2) in the attempt's aligned
    frame, attempt pixels), for the names among ``names`` that are carried points."""
    picked = [points.names.index(n) for n in names if points is not None and n in points.names]
    if not picked:
        return np.zeros((len(times), 0, 2)), np.zeros((len(times), 0, 2))
    return points.reference[:, picked], points.attempt[times][:, picked]
