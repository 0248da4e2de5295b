"""Body joints of every frame of a video, from a pose source: MediaPipe Pose, or anything with ``track(video)``.

Coordinates: x, y native pixels of the video's frames (x right, y down, pixel centres at
integers), the 13 Penn Action joints in ``stcorr.data.skeleton.JOINTS`` order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from stcorr.data.skeleton import JOINTS
from stcorr.data.video import Video

Joints = dict[str, tuple[float, float]]

#: Bones drawn between joints.
LIMBS: tuple[tuple[str, str], ...] = (
    ("head", "left_shoulder"), ("head", "right_shoulder"), ("left_shoulder", "right_shoulder"),
    ("left_hip", "right_hip"), ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"),
    *((f"{side}_{a}", f"{side}_{b}") for side in ("left", "right")
      for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle"))),
)


def limb_side(a: str, b: str) -> str:
    """'left' or 'right' for a bone of one side, 'centre' for one across the body."""
    sides = {name.split("_")[0] for name in (a, b) if "_" in name}
    return sides.pop() if len(sides) == 1 and (a != "head" and b != "head") else "centre"


@dataclass(frozen=True)
class JointTrack:
    """One video's joints: ``xy`` (T, 13, 2) native pixels (NaN where not found), ``confidence``
    (T, 13) in [0, 1] (0 where not found)."""

    xy: np.ndarray
    confidence: np.ndarray

    @property
    def num_frames(self) -> int:
        return self.xy.shape[0]

    def joints_at(self, t: int, min_confidence: float = 0.5) -> Joints:
        """Frame t's joints whose confidence reaches ``min_confidence``, by name."""
        return {name: (float(self.xy[t, k, 0]), float(self.xy[t, k, 1]))
                for k, name in enumerate(JOINTS)
                if self.confidence[t, k] >= min_confidence and np.isfinite(self.xy[t, k]).all()}

    @classmethod
    def from_joints(cls, frames: list[Joints]) -> "JointTrack":
        """A track from one ``{name: (x, y)}`` per frame (confidence 1 where given)."""
        xy = np.full((len(frames), len(JOINTS), 2), np.nan)
        confidence = np.zeros((len(frames), len(JOINTS)))
        for t, joints in enumerate(frames):
            for k, name in enumerate(JOINTS):
                if name in joints:
                    xy[t, k], confidence[t, k] = joints[name], 1.0
        return cls(xy, confidence)


class PoseSource(Protocol):
    """Gives the joints of every frame of a video."""

    name: str

    def track(self, video: Video) -> JointTrack: ...


class MediaPipePose:
    """MediaPipe Pose (the ``pose`` extra) on every frame, frames streamed in order; tracks kept per video."""

    name = "mediapipe"

    def __init__(self, model_complexity: int = 1):
        from stcorr.baselines.pose import PoseDetector

        self.detector = PoseDetector(0.0, model_complexity)
        self._tracks: dict[str, JointTrack] = {}

    def track(self, video: Video) -> JointTrack:
        key = str(video.path.resolve())
        if key not in self._tracks:
            self._tracks[key] = self._detect(video)
        return self._tracks[key]

    def _detect(self, video: Video) -> JointTrack:
        from stcorr.baselines.pose import MEDIAPIPE_TO_PENN

        index = [MEDIAPIPE_TO_PENN[name] for name in JOINTS]
        width, height = video.size
        xy = np.full((video.num_frames, len(JOINTS), 2), np.nan)
        confidence = np.zeros((video.num_frames, len(JOINTS)))
        for t, frame in enumerate(video.iter_frames()):
            found = self.detector.landmarks(frame)
            if found is None:
                continue
            marks = [found[0][i] for i in index]
            xy[t] = [(m.x * width - 0.5, m.y * height - 0.5) for m in marks]
            confidence[t] = [m.visibility for m in marks]
        return JointTrack(xy, confidence)
