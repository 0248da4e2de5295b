"""Body joints of every frame of a video, from a pose source: MediaPipe Pose, or anything with ``track(video)``.

Coordinates: x, y native pixels of the video's frames (x right, y down, pixel centres at
integers), the 13 Penn Action joints in ``stcorr.pose.skeleton.JOINTS`` order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from stcorr.pose.skeleton import JOINTS
from stcorr.data.video import Video

Joints = dict[str, tuple[float, float]]

#: Bones drawn between joints.
LIMBS: tuple[tuple[str, str], ...] = (
    ("head", "left_shoulder"), ("head", "right_shoulder"), ("left_shoulder", "right_shoulder"),
    ("left_hip", "right_hip"), ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"),
    *((f"{side}_{a}", f"{side}_{b}") for side in ("left", "right")
      for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle"))),
)


def other_side(name: str) -> str:
    """left_knee -> right_knee, right_knee -> left_knee, head -> head."""
    side, _, rest = name.partition("_")
    return {"left": f"right_{rest}", "right": f"left_{rest}"}.get(side, name)


def limb_side(a: str, b: str) -> str:
    """'left' or 'right' for a bone of one side, 'centre' for one across the body."""
    sides = {name.split("_")[0] for name in (a, b) if "_" in name}
    return sides.pop() if len(sides) == 1 and (a != "head" and b != "head") else "centre"


@dataclass(frozen=True)
class JointTrack:
    """One video's joints: ``xy`` (T, 13, 2) native pixels (NaN where not found), ``confidence``
    (T, 13) in [0, 1] (0 where not found); ``world`` (T, 13, 3) metres, hip-centred, axes of the
    camera (x right, y down, z away from it), NaN where not found, or None when the pose source
    gives no 3D joints (MediaPipe's world landmarks do)."""

    xy: np.ndarray
    confidence: np.ndarray
    world: np.ndarray | None = None

    @property
    def num_frames(self) -> int:
        return self.xy.shape[0]

    def joints_at(self, t: int, min_confidence: float = 0.5) -> Joints:
        """Frame t's joints whose confidence reaches ``min_confidence``, by name."""
        return {name: (float(self.xy[t, k, 0]), float(self.xy[t, k, 1]))
                for k, name in enumerate(JOINTS)
                if self.confidence[t, k] >= min_confidence and np.isfinite(self.xy[t, k]).all()}

    def sides_swapped(self) -> "JointTrack":
        """The same track with every left joint named right and every right joint named left."""
        order = [JOINTS.index(other_side(name)) for name in JOINTS]
        return JointTrack(self.xy[:, order], self.confidence[:, order], None if self.world is None else self.world[:, order])

    def frames_between(self, start: int, end: int) -> "JointTrack":
        """The track of frames ``start``..``end`` (inclusive)."""
        part = slice(start, end + 1)
        return JointTrack(self.xy[part], self.confidence[part], None if self.world is None else self.world[part])

    @property
    def found(self) -> np.ndarray:
        """(T,) whether any joint was found in each frame."""
        return (self.confidence > 0).any(axis=1) & np.isfinite(self.xy).all(axis=2).any(axis=1)

    @classmethod
    def from_joints(cls, frames: list[Joints], world: list[dict[str, tuple[float, float, float]]] | None = None) -> "JointTrack":
        """A track from one ``{name: (x, y)}`` per frame (confidence 1 where given), and optionally
        one ``{name: (x, y, z)}`` of world joints per frame."""
        xy = np.full((len(frames), len(JOINTS), 2), np.nan)
        confidence = np.zeros((len(frames), len(JOINTS)))
        for t, joints in enumerate(frames):
            for k, name in enumerate(JOINTS):
                if name in joints:
                    xy[t, k], confidence[t, k] = joints[name], 1.0
        if world is None:
            return cls(xy, confidence)
        xyz = np.full((len(frames), len(JOINTS), 3), np.nan)
        for t, joints in enumerate(world):
            for k, name in enumerate(JOINTS):
                if name in joints:
                    xyz[t, k] = joints[name]
        return cls(xy, confidence, xyz)


class PoseSource(Protocol):
    """Gives the joints of every frame of a video."""

    name: str

    def track(self, video: Video) -> JointTrack: ...


class MediaPipePose:
    """MediaPipe Pose (the ``pose`` extra) on every frame, read through the pose cache shared with
    the pose methods (``stcorr.pose.cache``: computed once per video content)."""

    name = "mediapipe"

    def __init__(self, model_complexity: int = 1, cache: str | None = None):
        from stcorr.pose.cache import mediapipe_cache

        self.cache = mediapipe_cache({"model_complexity": model_complexity, "cache": cache})

    def track(self, video: Video) -> JointTrack:
        found = self.cache.track(video)
        xy, visibility = found.penn_joints()
        return JointTrack(xy, visibility, penn_world_joints(found))


def penn_world_joints(track) -> np.ndarray:
    """(T, 13, 3) the 13 Penn joints of a ``PoseTrack``'s world landmarks (metres, hip-centred;
    NaN where nobody was found). Read here, beside the pose cache, so the cache's API stays as it is."""
    from stcorr.pose.cache import PENN_INDEX  # the pose extra's module, loaded with MediaPipe

    return np.asarray(track.world, dtype=np.float64)[:, PENN_INDEX]
