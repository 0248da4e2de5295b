"""``JointTrack``: the joints of every frame of one video, whatever found them.

One type for every pose source: MediaPipe's 33 landmarks as the pose cache stores them
(``stcorr.pose.cache``), the 13 Penn Action joints they map to (``stcorr.pose.mediapipe.penn_track``),
the annotated joints of a Penn Action video (``labelled_track``), and any pose source of ``compare``
(``PoseSource``).

Coordinates: x, y native pixels of the video's frames (x right, y down, pixel centres at
integers); world joints in metres, centred between the hips, axes of the camera (x right, y down,
z away from it: MediaPipe's ``pose_world_landmarks``); depth in the scale of x (MediaPipe's image z).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol, Sequence

import numpy as np

from stcorr.data.video import Video
from stcorr.pose.skeleton import JOINTS, Joints, mirrored_name

MIN_VISIBILITY = 0.5  # a joint at least this visible counts as seen


@dataclass(frozen=True)
class JointTrack:
    """One video's joints.

    ``xy`` (T, J, 2) float64 native pixels, NaN where a joint was not found; ``visibility`` (T, J)
    float64 in [0, 1], 0 where not found; ``names`` the J joint names in order (default the 13 Penn
    joints, ``JOINTS``); ``size`` (width, height) of the native frames, when known; ``world``
    (T, J, 3) metres or None when the pose source gives no 3D joints; ``depth`` (T, J) or None.
    """

    xy: np.ndarray
    visibility: np.ndarray
    names: tuple[str, ...] = JOINTS
    size: tuple[int, int] | None = None
    world: np.ndarray | None = None
    depth: np.ndarray | None = None

    @property
    def num_frames(self) -> int:
        return self.xy.shape[0]

    @property
    def found(self) -> np.ndarray:
        """(T,) whether any joint was found in each frame."""
        return (self.visibility > 0).any(axis=1) & np.isfinite(self.xy).all(axis=2).any(axis=1)

    def seen(self, min_visibility: float = MIN_VISIBILITY) -> np.ndarray:
        """(T, J) bool: found, and at least ``min_visibility`` visible."""
        return np.isfinite(self.xy).all(axis=2) & (self.visibility >= min_visibility)

    def joints_at(self, t: int, min_visibility: float = MIN_VISIBILITY) -> Joints:
        """Frame t's joints that are ``seen``, by name."""
        seen = self.seen(min_visibility)[t]
        return {name: (float(self.xy[t, k, 0]), float(self.xy[t, k, 1])) for k, name in enumerate(self.names) if seen[k]}

    def thresholded(self, min_visibility: float) -> "JointTrack":
        """The track with visibility 1 where a joint is ``seen`` at ``min_visibility`` and 0 elsewhere."""
        return replace(self, visibility=self.seen(min_visibility).astype(np.float64))

    def select(self, indices: Sequence[int], names: Sequence[str]) -> "JointTrack":
        """The track of joints ``indices`` (in that order), named ``names``."""
        index = np.asarray(indices, dtype=np.int64)
        return JointTrack(self.xy[:, index], self.visibility[:, index], tuple(names), self.size,
                          None if self.world is None else self.world[:, index],
                          None if self.depth is None else self.depth[:, index])

    def sides_swapped(self) -> "JointTrack":
        """The same track with every left joint named right and every right joint named left."""
        return self.select([self.names.index(mirrored_name(name)) for name in self.names], self.names)

    def frames_between(self, start: int, end: int) -> "JointTrack":
        """The track of frames ``start``..``end`` (inclusive)."""
        part = slice(start, end + 1)
        return replace(self, xy=self.xy[part], visibility=self.visibility[part],
                       world=None if self.world is None else self.world[part],
                       depth=None if self.depth is None else self.depth[part])

    @classmethod
    def from_joints(cls, frames: list[Joints], world: list[dict[str, tuple[float, float, float]]] | None = None) -> "JointTrack":
        """A track of the 13 Penn joints from one ``{name: (x, y)}`` per frame (visibility 1 where
        given), and optionally one ``{name: (x, y, z)}`` of world joints per frame."""
        xy = np.full((len(frames), len(JOINTS), 2), np.nan)
        visibility = np.zeros((len(frames), len(JOINTS)))
        for t, joints in enumerate(frames):
            for k, name in enumerate(JOINTS):
                if name in joints:
                    xy[t, k], visibility[t, k] = joints[name], 1.0
        if world is None:
            return cls(xy, visibility)
        xyz = np.full((len(frames), len(JOINTS), 3), np.nan)
        for t, joints in enumerate(world):
            for k, name in enumerate(JOINTS):
                if name in joints:
                    xyz[t, k] = joints[name]
        return cls(xy, visibility, world=xyz)


def labelled_track(labels: Any) -> JointTrack:
    """The annotated joints of a Penn Action video (``stcorr.data.penn.VideoLabels``): visibility 1
    where labelled visible, else 0."""
    xy = np.stack([labels.x, labels.y], axis=-1).astype(np.float64)
    return JointTrack(xy, np.asarray(labels.visible, bool).astype(np.float64))


def filled_joints(track: JointTrack, smooth_sigma: float = 1.0, world: bool = False) -> np.ndarray:
    """(T, J, 2) joints (``world``: (T, J, 3) world joints) with the frames where a joint is not
    seen interpolated in time (held at the ends) and smoothed by a Gaussian of ``smooth_sigma``
    frames; a joint never seen stays NaN."""
    from scipy.ndimage import gaussian_filter1d  # a second to import: not at every command's start

    values = track.world if world else track.xy
    ok = (track.visibility >= MIN_VISIBILITY) & np.isfinite(values).all(axis=2)
    frames = np.arange(track.num_frames)
    out = np.full(values.shape, np.nan)
    for j in range(values.shape[1]):
        known = np.flatnonzero(ok[:, j])
        for c in range(values.shape[2]) if known.size else ():
            out[:, j, c] = np.interp(frames, known, values[known, j, c])
    if smooth_sigma > 0 and track.num_frames > 1:
        out = gaussian_filter1d(out, smooth_sigma, axis=0, mode="nearest")
    return out


class PoseSource(Protocol):
    """Gives the joints of every frame of a video (the 13 Penn joints)."""

    name: str

    def track(self, video: Video) -> JointTrack: ...
