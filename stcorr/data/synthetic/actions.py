"""The seven actions: key moments, objects and the key poses each performance passes through.

A performance is a list of keyframes. Each keyframe changes some pose fields (below) from the
previous one and comes ``gap`` frames after it at normal speed (30 frames per second). Keyframes
named after a key moment are the key moments: the motion passes that pose exactly on that frame.

Pose fields (world frame of body.py: x to the performer's left, y up, z forward at the start,
metres for a 1.75 m performer, degrees):

- ``pelvis``: pelvis centre (x, y, z); ``pelvis_yaw``: direction the hips face.
- ``torso``: (yaw, pitch, roll) of the trunk; ``head``: (yaw, pitch) relative to the trunk
  (negative pitch looks up).
- ``l_ankle``, ``r_ankle``: ankle targets in the world; ``l_foot``, ``r_foot``: yaw of the feet
  (the knees point the same way).
- ``l_wrist``, ``r_wrist``: wrist targets in the trunk's frame (x to its left, y up, z forward),
  relative to the base of the neck; ``l_elbow``, ``r_elbow``: directions the elbows bend
  towards, in the trunk's frame.
- ``tool``: (azimuth, elevation) of the held bat, club or racket in the world (azimuth 0: +z,
  90: +x; elevation 90: up).

All performers are right-handed here; left-handed ones are made by mirroring (see body.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ACTIONS: dict[str, dict[str, list[str]]] = {
    "baseball_pitch": {"moments": ["knee fully up", "arm fully stretched out", "ball release"], "objects": ["ball"]},
    "baseball_swing": {"moments": ["bat swung back fully", "bat hits ball"], "objects": ["bat", "ball"]},
    "bowl": {"moments": ["ball swung fully back", "ball release"], "objects": ["ball"]},
    "golf_swing": {"moments": ["club swung fully back", "club hits ball"], "objects": ["club_head"]},
    "squat": {
        "moments": ["hips at knees going down", "hips at floor", "hips at knees going up"],
        "objects": ["bar", "left_disc", "right_disc"],
    },
    "tennis_forehand": {"moments": ["racket swung fully back", "racket touches ball"], "objects": ["racket", "ball"]},
    "tennis_serve": {
        "moments": ["ball released from hand", "racket swung fully back", "ball touches racket"],
        "objects": ["racket", "ball"],
    },
}

POSE_FIELDS: dict[str, int] = {
    "pelvis": 3, "pelvis_yaw": 1, "torso": 3, "head": 2,
    "l_ankle": 3, "r_ankle": 3, "l_foot": 1, "r_foot": 1,
    "l_wrist": 3, "r_wrist": 3, "l_elbow": 3, "r_elbow": 3, "tool": 2,
}
# Which fields are angles (degrees) and which are lengths (metres), for the random variation.
ANGLE_FIELDS = ("pelvis_yaw", "torso", "head", "l_foot", "r_foot", "tool")
LENGTH_FIELDS = ("pelvis", "l_ankle", "r_ankle", "l_wrist", "r_wrist")

STANDING = {
    "pelvis": (0.0, 0.93, 0.0), "pelvis_yaw": 0.0, "torso": (0.0, 3.0, 0.0), "head": (0.0, 0.0),
    "l_ankle": (0.12, 0.08, 0.0), "r_ankle": (-0.12, 0.08, 0.0), "l_foot": 10.0, "r_foot": -10.0,
    "l_wrist": (0.21, -0.56, 0.04), "r_wrist": (-0.21, -0.56, 0.04),
    "l_elbow": (0.4, -0.3, -1.0), "r_elbow": (-0.4, -0.3, -1.0), "tool": (0.0, 0.0),
}


@dataclass(frozen=True)
class Key:
    """One keyframe: ``gap`` frames after the previous one, the fields in ``pose`` changed."""

    gap: float
    pose: dict = field(default_factory=dict)
    moment: str | None = None
    hold: bool = False  # the performer may pause here (never on a key moment)
    constraint: str | None = None  # "club_on_ground" or "hips_at_knees", solved per performer


@dataclass(frozen=True)
class ActionSpec:
    keys: tuple[Key, ...]
    lead_grip: float | None = None  # both hands on one shaft: right wrist this far along the tool
    theme: str = "field"


BASEBALL_PITCH = ActionSpec(theme="baseball", keys=(
    Key(0, hold=True, pose={
        "torso": (5, 5, 0), "head": (60, 0), "l_ankle": (0.16, 0.08, 0.0), "r_ankle": (-0.16, 0.08, 0.0),
        "l_foot": 30, "r_foot": -5, "l_wrist": (0.03, -0.30, 0.25), "r_wrist": (-0.05, -0.28, 0.23),
        "l_elbow": (1, -0.6, -0.2), "r_elbow": (-1, -0.6, -0.2)}),
    Key(28, moment="knee fully up", pose={
        "pelvis": (-0.03, 0.95, 0.0), "torso": (-25, 0, 6), "head": (85, 0), "l_ankle": (0.0, 0.54, 0.26),
        "l_foot": 0, "l_wrist": (0.0, -0.17, 0.26), "r_wrist": (-0.05, -0.16, 0.24)}),
    Key(9, pose={
        "pelvis": (0.1, 0.90, 0.0), "torso": (-15, 0, 6), "l_ankle": (0.55, 0.25, 0.08), "l_foot": 45,
        "l_wrist": (0.35, -0.2, 0.2), "r_wrist": (-0.35, -0.45, -0.05)}),
    Key(6, moment="arm fully stretched out", pose={
        "pelvis": (0.3, 0.84, 0.0), "torso": (-10, -5, 8), "head": (90, 0), "l_ankle": (0.85, 0.1, 0.05),
        "l_foot": 60, "l_wrist": (0.6, 0.05, 0.05), "r_wrist": (-0.6, 0.08, -0.05),
        "l_elbow": (0, -0.3, -1), "r_elbow": (0, -0.3, -1)}),
    Key(5, pose={
        "pelvis": (0.4, 0.82, 0.0), "pelvis_yaw": 40, "torso": (45, 5, 5), "head": (45, 0),
        "l_ankle": (0.85, 0.08, 0.05), "l_foot": 70, "r_wrist": (-0.40, 0.25, -0.15), "r_elbow": (-1, -0.8, 0.2),
        "l_wrist": (0.25, -0.25, 0.3), "l_elbow": (1, -0.5, 0)}),
    Key(4, moment="ball release", pose={
        "pelvis": (0.5, 0.8, 0.0), "pelvis_yaw": 80, "torso": (85, 25, -5), "head": (0, -5),
        "r_wrist": (-0.12, 0.25, 0.48), "r_elbow": (-1, -0.3, 0), "l_wrist": (0.3, -0.35, 0.05),
        "r_ankle": (-0.1, 0.14, -0.05), "r_foot": 30, "l_foot": 75}),
    Key(7, hold=True, pose={
        "pelvis": (0.65, 0.75, 0.05), "pelvis_yaw": 90, "torso": (95, 50, 0), "head": (0, -20),
        "r_wrist": (0.25, -0.45, 0.35), "l_wrist": (0.25, -0.5, -0.05), "r_ankle": (0.0, 0.5, 0.1), "r_foot": 60}),
    Key(10, hold=True, pose={
        "pelvis": (0.75, 0.85, 0.0), "pelvis_yaw": 85, "torso": (85, 20, 0), "head": (0, 0),
        "l_ankle": (0.9, 0.08, -0.2), "r_ankle": (0.85, 0.08, 0.2), "l_foot": 90, "r_foot": 90,
        "l_wrist": (0.2, -0.45, 0.25), "r_wrist": (-0.2, -0.45, 0.25), "l_elbow": (1, -0.6, -0.2),
        "r_elbow": (-1, -0.6, -0.2)}),
))

BASEBALL_SWING = ActionSpec(theme="baseball", lead_grip=0.09, keys=(
    Key(0, hold=True, pose={
        "pelvis": (0.0, 0.85, 0.0), "torso": (-15, 18, 0), "head": (70, 0), "l_ankle": (0.3, 0.08, 0.0),
        "r_ankle": (-0.3, 0.08, 0.0), "l_wrist": (-0.18, -0.05, 0.18), "tool": (-150, 55),
        "l_elbow": (0.3, -1, 0), "r_elbow": (-0.6, -1, -0.2)}),
    Key(14, pose={
        "l_ankle": (0.42, 0.18, 0.02), "torso": (-25, 15, 0), "head": (80, 0),
        "l_wrist": (-0.2, -0.02, 0.14), "tool": (-190, 48)}),
    Key(6, moment="bat swung back fully", pose={
        "pelvis": (0.05, 0.83, 0.0), "l_ankle": (0.5, 0.08, 0.02), "l_foot": 25, "torso": (-40, 15, 5),
        "head": (85, 0), "l_wrist": (-0.3, 0.04, 0.02), "tool": (-240, 35)}),
    Key(4, pose={
        "pelvis_yaw": 35, "torso": (0, 15, 10), "head": (60, 5), "l_wrist": (-0.15, -0.25, 0.3), "tool": (-110, 15)}),
    Key(3, moment="bat hits ball", pose={
        "pelvis_yaw": 60, "torso": (40, 15, 12), "head": (0, 10), "l_wrist": (0.0, -0.35, 0.45), "tool": (15, 0),
        "r_ankle": (-0.28, 0.11, 0.0), "r_foot": 30}),
    Key(6, pose={
        "pelvis_yaw": 80, "torso": (90, 5, 0), "head": (-30, 0), "l_wrist": (0.25, 0.1, 0.2), "tool": (100, 30),
        "r_ankle": (-0.25, 0.14, 0.02), "r_foot": 60}),
    Key(10, hold=True, pose={
        "torso": (100, 0, -5), "l_wrist": (0.25, 0.2, 0.05), "tool": (190, -10)}),
))

BOWL = ActionSpec(theme="lane", keys=(
    Key(0, hold=True, pose={
        "pelvis": (0.0, 0.93, -1.6), "torso": (0, 10, 0), "l_ankle": (0.12, 0.08, -1.6), "r_ankle": (-0.12, 0.08, -1.6),
        "l_foot": 0, "r_foot": 0, "r_wrist": (-0.08, -0.3, 0.25), "l_wrist": (0.08, -0.32, 0.28),
        "l_elbow": (1, -0.6, -0.2), "r_elbow": (-1, -0.6, -0.2)}),
    Key(10, pose={
        "pelvis": (0.0, 0.92, -1.35), "r_ankle": (-0.12, 0.08, -1.2), "r_wrist": (-0.12, -0.3, 0.45),
        "l_wrist": (0.05, -0.3, 0.45)}),
    Key(9, pose={
        "pelvis": (0.0, 0.9, -0.95), "torso": (0, 15, 0), "l_ankle": (0.1, 0.08, -0.75),
        "r_wrist": (-0.25, -0.55, 0.0), "l_wrist": (0.45, -0.3, 0.15), "r_elbow": (-0.3, -0.3, -1)}),
    Key(9, moment="ball swung fully back", pose={
        "pelvis": (0.0, 0.86, -0.45), "torso": (-10, 25, 0), "r_ankle": (-0.14, 0.08, -0.3),
        "r_wrist": (-0.25, -0.1, -0.5), "l_wrist": (0.55, -0.1, 0.1)}),
    Key(7, pose={
        "pelvis": (0.0, 0.72, 0.05), "torso": (-5, 35, 0), "l_ankle": (0.05, 0.08, 0.35),
        "r_ankle": (-0.1, 0.12, -0.35), "r_wrist": (-0.22, -0.5, -0.15)}),
    Key(4, moment="ball release", pose={
        "pelvis": (-0.02, 0.62, 0.05), "torso": (0, 40, 0), "l_ankle": (0.03, 0.08, 0.45),
        "r_ankle": (0.25, 0.1, -0.55), "r_foot": 60, "r_wrist": (-0.12, -0.4, 0.35), "l_wrist": (0.55, -0.05, 0.0),
        "r_elbow": (-0.3, -1, -0.3)}),
    Key(6, pose={"pelvis": (0.0, 0.66, 0.1), "torso": (0, 30, 0), "r_wrist": (-0.1, 0.3, 0.45)}),
    Key(12, hold=True, pose={"pelvis": (0.0, 0.75, 0.1), "torso": (0, 20, 0), "r_wrist": (-0.15, 0.1, 0.4)}),
))

GOLF_SWING = ActionSpec(theme="golf", lead_grip=0.09, keys=(
    Key(0, hold=True, constraint="club_on_ground", pose={
        "pelvis": (0.0, 0.86, -0.08), "torso": (0, 38, 8), "head": (0, 20), "l_ankle": (0.22, 0.08, 0.0),
        "r_ankle": (-0.22, 0.08, 0.0), "l_foot": 15, "r_foot": -10, "l_wrist": (0.05, -0.45, 0.28),
        "tool": (-5, -55), "l_elbow": (0.6, -0.8, -0.2), "r_elbow": (-0.6, -0.8, -0.2)}),
    Key(12, pose={"pelvis_yaw": -20, "torso": (-45, 35, 5), "head": (40, 20), "l_wrist": (-0.05, -0.45, 0.25),
                  "tool": (-95, 10)}),
    Key(6, pose={"pelvis_yaw": -35, "torso": (-75, 32, 6), "head": (70, 20), "l_wrist": (-0.1, -0.1, 0.3),
                 "tool": (-190, 60)}),
    Key(7, moment="club swung fully back", pose={
        "pelvis_yaw": -45, "torso": (-95, 30, 8), "head": (85, 20), "l_wrist": (-0.12, 0.25, 0.25), "tool": (-285, 15),
        "l_ankle": (0.2, 0.1, 0.02), "l_foot": -10}),
    Key(6, pose={"pelvis_yaw": 0, "torso": (-40, 35, 10), "head": (40, 20), "l_wrist": (-0.08, -0.3, 0.3),
                 "tool": (-130, 45), "l_ankle": (0.22, 0.08, 0.0), "l_foot": 15}),
    Key(3, moment="club hits ball", constraint="club_on_ground", pose={
        "pelvis_yaw": 30, "torso": (5, 36, 10), "head": (-5, 20), "l_wrist": (0.02, -0.45, 0.28), "tool": (0, -50),
        "r_ankle": (-0.22, 0.1, 0.0)}),
    Key(6, pose={"pelvis_yaw": 60, "torso": (70, 20, 0), "head": (-40, 10), "l_wrist": (0.25, -0.1, 0.35),
                 "tool": (95, 20), "r_ankle": (-0.2, 0.14, 0.0), "r_foot": 40}),
    Key(8, hold=True, pose={"pelvis_yaw": 80, "torso": (95, -5, -10), "head": (-60, 0), "l_wrist": (0.25, 0.3, 0.1),
                            "tool": (260, -30), "r_ankle": (-0.18, 0.16, -0.02), "r_foot": 70}),
))

SQUAT = ActionSpec(theme="gym", keys=(
    Key(0, hold=True, pose={
        "torso": (0, 5, 0), "l_ankle": (0.2, 0.08, 0.0), "r_ankle": (-0.2, 0.08, 0.0), "l_foot": 25, "r_foot": -25,
        "l_wrist": (0.42, -0.03, -0.08), "r_wrist": (-0.42, -0.03, -0.08),
        "l_elbow": (0.3, -1, -0.5), "r_elbow": (-0.3, -1, -0.5)}),
    Key(18, moment="hips at knees going down", constraint="hips_at_knees", pose={
        "pelvis": (0.0, 0.5, -0.24), "torso": (0, 40, 0), "head": (0, -25)}),
    Key(10, moment="hips at floor", pose={"pelvis": (0.0, 0.36, -0.2), "torso": (0, 45, 0), "head": (0, -30)}),
    Key(10, moment="hips at knees going up", constraint="hips_at_knees", pose={
        "pelvis": (0.0, 0.5, -0.24), "torso": (0, 42, 0), "head": (0, -25)}),
    Key(16, hold=True, pose={"pelvis": (0.0, 0.93, 0.0), "torso": (0, 5, 0), "head": (0, 0)}),
))

TENNIS_FOREHAND = ActionSpec(theme="court", keys=(
    Key(0, hold=True, pose={
        "pelvis": (0.0, 0.86, 0.0), "torso": (0, 15, 0), "l_ankle": (0.28, 0.08, 0.0), "r_ankle": (-0.28, 0.08, 0.0),
        "r_wrist": (-0.12, -0.4, 0.33), "l_wrist": (0.02, -0.36, 0.42), "tool": (10, 35),
        "l_elbow": (0.8, -0.8, -0.2), "r_elbow": (-0.8, -0.8, -0.2)}),
    Key(10, pose={"pelvis_yaw": -40, "torso": (-70, 10, 0), "head": (60, 0), "r_wrist": (-0.3, -0.2, 0.15),
                  "l_wrist": (0.1, -0.2, 0.4), "tool": (-100, 60), "r_ankle": (-0.35, 0.08, -0.1), "r_foot": -60}),
    Key(9, moment="racket swung fully back", pose={
        "pelvis_yaw": -60, "torso": (-100, 10, 0), "head": (90, 0), "r_wrist": (-0.55, -0.1, -0.2),
        "l_wrist": (0.55, 0.0, 0.15), "tool": (-170, 10), "l_ankle": (0.25, 0.08, 0.25), "l_foot": 40}),
    Key(4, pose={"pelvis_yaw": -20, "torso": (-50, 10, 0), "head": (50, 0), "r_wrist": (-0.5, -0.35, 0.12),
                 "tool": (-125, -10)}),
    Key(3, moment="racket touches ball", pose={
        "pelvis_yaw": 0, "torso": (-15, 10, 0), "head": (-10, 10), "r_wrist": (-0.45, -0.32, 0.35),
        "l_wrist": (0.35, -0.2, 0.25), "tool": (-75, 5)}),
    Key(6, hold=True, pose={"pelvis_yaw": 20, "torso": (40, 5, 0), "head": (-40, 0), "r_wrist": (0.2, 0.15, 0.3),
                            "tool": (160, 45), "r_elbow": (-0.3, -0.5, 1)}),
    Key(12, hold=True, pose={"pelvis_yaw": 0, "torso": (0, 15, 0), "head": (0, 0), "r_wrist": (-0.12, -0.4, 0.33),
                             "l_wrist": (0.02, -0.36, 0.42), "tool": (10, 35), "r_elbow": (-0.8, -0.8, -0.2),
                             "r_ankle": (-0.28, 0.08, 0.0), "r_foot": -10}),
))

TENNIS_SERVE = ActionSpec(theme="court", keys=(
    Key(0, hold=True, pose={
        "torso": (10, 5, 0), "head": (40, 0), "l_ankle": (0.2, 0.08, 0.08), "r_ankle": (-0.2, 0.08, -0.05),
        "l_foot": 45, "r_foot": 0, "r_wrist": (-0.05, -0.42, 0.32), "l_wrist": (0.05, -0.40, 0.36), "tool": (60, 25),
        "l_elbow": (0.8, -0.8, -0.2), "r_elbow": (-0.8, -0.8, -0.2)}),
    Key(12, pose={"r_wrist": (-0.25, -0.52, -0.05), "tool": (-150, -30), "l_wrist": (0.2, -0.52, 0.1)}),
    Key(10, moment="ball released from hand", pose={
        "pelvis": (0.05, 0.88, 0.0), "torso": (-20, -10, 10), "head": (60, -25), "l_wrist": (0.1, 0.53, 0.1),
        "r_wrist": (-0.5, 0.05, -0.2), "tool": (-140, 30)}),
    Key(7, pose={"pelvis": (0.08, 0.8, 0.0), "torso": (-25, -15, 12), "head": (60, -35),
                 "r_wrist": (-0.35, 0.3, -0.15), "r_elbow": (-1, 0, 0), "tool": (-150, 70), "l_wrist": (0.12, 0.5, 0.15)}),
    Key(5, moment="racket swung fully back", pose={
        "pelvis": (0.12, 0.9, 0.0), "torso": (0, -20, 10), "head": (40, -40), "r_wrist": (-0.22, 0.18, -0.12),
        "r_elbow": (-0.5, 1, 0.3), "tool": (-180, -75), "l_wrist": (0.15, 0.1, 0.35)}),
    Key(4, moment="ball touches racket", pose={
        "pelvis": (0.2, 1.0, 0.0), "l_ankle": (0.25, 0.15, 0.08), "r_ankle": (-0.05, 0.2, -0.05),
        "torso": (30, 5, -5), "head": (20, -30), "r_wrist": (-0.05, 0.55, 0.15), "r_elbow": (-1, 0, 0),
        "tool": (-290, 65), "l_wrist": (0.2, -0.3, 0.3)}),
    Key(6, hold=True, pose={
        "pelvis": (0.5, 0.85, 0.05), "pelvis_yaw": 70, "torso": (80, 40, 0), "head": (0, 10),
        "l_ankle": (0.65, 0.08, 0.05), "l_foot": 70, "r_ankle": (0.2, 0.3, -0.05), "r_wrist": (0.25, -0.45, 0.25),
        "tool": (-190, -40), "l_wrist": (0.25, -0.3, 0.2), "r_elbow": (-0.8, -0.8, -0.2)}),
    Key(10, hold=True, pose={
        "pelvis": (0.7, 0.92, 0.05), "pelvis_yaw": 80, "torso": (80, 10, 0), "head": (0, 0),
        "l_ankle": (0.75, 0.08, -0.1), "r_ankle": (0.7, 0.08, 0.25), "l_foot": 80, "r_foot": 80,
        "r_wrist": (-0.2, -0.45, 0.25), "tool": (-260, -20), "l_wrist": (0.2, -0.5, 0.1)}),
))

SPECS: dict[str, ActionSpec] = {
    "baseball_pitch": BASEBALL_PITCH,
    "baseball_swing": BASEBALL_SWING,
    "bowl": BOWL,
    "golf_swing": GOLF_SWING,
    "squat": SQUAT,
    "tennis_forehand": TENNIS_FOREHAND,
    "tennis_serve": TENNIS_SERVE,
}


def keyframe_table(spec: ActionSpec) -> list[dict[str, np.ndarray]]:
    """The full pose of every keyframe, each field carried over from the previous keyframe."""
    pose = {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in STANDING.items()}
    table = []
    for key in spec.keys:
        pose = dict(pose)
        for name, value in key.pose.items():
            if name not in POSE_FIELDS:
                raise KeyError(f"unknown pose field {name!r}")
            pose[name] = np.atleast_1d(np.asarray(value, dtype=float))
        table.append(pose)
    return table


def _check() -> None:
    for action, spec in SPECS.items():
        moments = [k.moment for k in spec.keys if k.moment]
        assert moments == ACTIONS[action]["moments"], action
        assert not any(k.hold and k.moment for k in spec.keys), action


_check()
