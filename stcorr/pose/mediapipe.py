"""MediaPipe Pose (the optional ``pose`` extra): its 33 landmarks, and the 13 Penn joints they map to.

MediaPipe's 33 landmarks map to the Penn Action joints by name (left/right are the person's own,
as in both skeletons); Penn's head, marked at the head's centre, is the mean of MediaPipe's eyes and
ears (``HEAD_CENTRE``), with the nose's visibility. A landmark counts as a joint when its visibility reaches
``min_visibility``. Joints come back in native pixels (x right, y down, pixel centres at
integers): ``x = x_normalised * width - 0.5``.

MediaPipe is imported only when a detector is built; without it, ``require_mediapipe`` raises a
one-line ``MissingExtra`` error telling how to install it. The wheel 0.10.14 ships the landmark
model of ``model_complexity=1`` only (0 and 2 download theirs at run time).
"""

from __future__ import annotations

import os
import sys
import warnings
from contextlib import contextmanager
from typing import Any

import numpy as np

from stcorr.errors import StcorrError
from stcorr.pose.skeleton import JOINTS, Joints
from stcorr.pose.track import JointTrack

#: MediaPipe Pose's 33 landmarks, in its order (its ``PoseLandmark`` names, lower case).
LANDMARKS: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right",
    *(f"{side}_{part}" for part in ("shoulder", "elbow", "wrist", "pinky", "index", "thumb", "hip", "knee",
                                    "ankle", "heel", "foot_index") for side in ("left", "right")),
)

#: Penn joint -> MediaPipe Pose landmark index.
MEDIAPIPE_TO_PENN: dict[str, int] = {
    "head": 0,  # nose: the head's visibility (its position: HEAD_CENTRE)
    "left_shoulder": 11, "right_shoulder": 12, "left_elbow": 13, "right_elbow": 14,
    "left_wrist": 15, "right_wrist": 16, "left_hip": 23, "right_hip": 24,
    "left_knee": 25, "right_knee": 26, "left_ankle": 27, "right_ankle": 28,
}
#: The landmark of each Penn joint, in ``JOINTS`` order.
PENN_INDEX = np.array([MEDIAPIPE_TO_PENN[joint] for joint in JOINTS])
#: The landmarks whose mean places Penn's head (left and right eye, left and right ear): nearer the
#: annotated head than the nose on real and synthetic clips (docs/pose.md, "The head").
HEAD_CENTRE = np.array([2, 5, 7, 8])

# No square brackets: the command line prints messages through rich, which reads "[pose]" as markup.
INSTALL_HINT = 'pip install "stcorr[pose]" (mediapipe 0.10.14: it works with numpy 2 and ships its model)'


class MissingExtra(StcorrError):
    """An optional dependency a method needs is not installed."""


def require_mediapipe() -> Any:
    """The ``mediapipe`` module, or a one-line MissingExtra naming what to install."""
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ logging: errors only
    warnings.filterwarnings("ignore", message=r"SymbolDatabase\.GetPrototype", category=UserWarning)
    try:
        # MediaPipe is the optional `pose` extra
        import mediapipe
    except ImportError:
        raise MissingExtra(f"the pose methods need MediaPipe, which is not installed: {INSTALL_HINT}") from None
    return mediapipe


def penn_track(landmarks: JointTrack) -> JointTrack:
    """The 13 Penn joints (``JOINTS``) of a track of MediaPipe's 33 landmarks (the head at ``HEAD_CENTRE``)."""
    penn = landmarks.select(PENN_INDEX, JOINTS)  # copies: its arrays are its own
    head = JOINTS.index("head")
    for centre, source in ((penn.xy, landmarks.xy), (penn.world, landmarks.world), (penn.depth, landmarks.depth)):
        if centre is not None:
            centre[:, head] = source[:, HEAD_CENTRE].mean(axis=1)
    return penn


def landmarks_to_joints(landmarks: Any, width: int, height: int, min_visibility: float) -> Joints:
    """MediaPipe landmarks (normalised x, y, visibility) -> Penn joints in native pixels."""
    joints = {}
    for name, index in MEDIAPIPE_TO_PENN.items():
        mark = landmarks[index]
        if mark.visibility >= min_visibility:
            marks = [landmarks[i] for i in HEAD_CENTRE] if name == "head" else [mark]
            joints[name] = (float(np.mean([m.x for m in marks]) * width - 0.5),
                            float(np.mean([m.y for m in marks]) * height - 0.5))
    return joints


@contextmanager
def native_stderr_silenced():
    """Sends what C++ code writes to stderr (MediaPipe's start-up log lines) to /dev/null meanwhile."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class PoseDetector:
    """MediaPipe Pose on single frames (static-image mode, or the video mode with ``tracking``). Whole videos go through the pose cache
    (``stcorr.pose.cache``: ``MediaPipeLandmarker`` runs this, ``MediaPipePose`` reads the tracks).

    ``detect(frame)`` returns a list of skeletons (joint name -> (x, y) native), one per person
    found; MediaPipe's Pose solution finds at most one person, the list form lets a multi-person
    detector stand in.
    """

    def __init__(self, min_visibility: float = 0.5, model_complexity: int = 1, tracking: bool = False):
        """``tracking``: MediaPipe's video mode (the person found once, then followed from the last
        frame's pose, landmarks smoothed over time): frames must come in order, one video a detector."""
        mediapipe = require_mediapipe()
        mode = {"static_image_mode": False, "smooth_landmarks": True} if tracking else {"static_image_mode": True}
        try:
            with native_stderr_silenced():
                self._pose = mediapipe.solutions.pose.Pose(model_complexity=int(model_complexity), **mode)
                self._pose.process(np.zeros((64, 64, 3), np.uint8))  # the graph logs its start-up here
        except Exception as exc:  # a missing model file surfaces as one of several runtime errors
            raise StcorrError(f"MediaPipe Pose (model_complexity={model_complexity}) cannot start: "
                              f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
        self.min_visibility = float(min_visibility)

    def landmarks(self, frame: np.ndarray) -> tuple[Any, Any] | None:
        """MediaPipe's raw (image landmarks, world landmarks) of one RGB uint8 frame, or None when nobody is found."""
        result = self._pose.process(np.ascontiguousarray(frame))
        if result.pose_landmarks is None:
            return None
        return result.pose_landmarks.landmark, result.pose_world_landmarks.landmark

    def detect(self, frame: np.ndarray) -> list[Joints]:
        """Skeletons in one RGB uint8 frame (H, W, 3); an empty list when nobody is found."""
        result = self._pose.process(np.ascontiguousarray(frame))
        if result.pose_landmarks is None:
            return []
        height, width = frame.shape[:2]
        joints = landmarks_to_joints(result.pose_landmarks.landmark, width, height, self.min_visibility)
        return [joints] if joints else []
