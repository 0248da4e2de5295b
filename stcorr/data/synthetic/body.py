"""The synthetic person: body proportions, forward kinematics and two-bone inverse kinematics.

World frame of a performance (metres): x points to the performer's left in the starting stance,
y up, z forward (the direction the performer faces at the start); the ground is y = 0.
Angles are in degrees. Yaw turns about y (positive: forward turns towards +x, i.e. to the
performer's left), pitch about the body's x axis (positive: the trunk leans forward), roll about
the body's z axis (positive: the trunk leans to the performer's right).

Everything here works on whole tracks at once: arrays with a leading time axis T.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from stcorr.pose.skeleton import mirrored_name

JOINTS = (
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
JOINT_INDEX = {name: i for i, name in enumerate(JOINTS)}
# The joint that takes the place of each joint when the body is mirrored (left-handed performer).
MIRROR_JOINTS = np.array([JOINT_INDEX[mirrored_name(n)] for n in JOINTS])


@dataclass(frozen=True)
class BodyShape:
    """Segment lengths and thicknesses of one performer, in metres."""

    scale: float = 1.0  # stature / 1.75 m; keyframe positions are multiplied by it
    ankle_height: float = 0.08
    shin: float = 0.43
    thigh: float = 0.44
    hip_half_width: float = 0.09
    spine: float = 0.50  # pelvis centre to the base of the neck
    shoulder_half_width: float = 0.18
    neck: float = 0.20  # base of the neck to the centre of the head
    upper_arm: float = 0.29
    forearm: float = 0.26
    head_radius: float = 0.105
    chest_half_depth: float = 0.11
    waist_half_width: float = 0.14
    upper_arm_radius: float = 0.048
    forearm_radius: float = 0.038
    hand_radius: float = 0.045
    thigh_radius: float = 0.075
    shin_radius: float = 0.052
    foot_radius: float = 0.04
    neck_radius: float = 0.05


def sample_body(rng: np.random.Generator) -> BodyShape:
    """A performer: stature 1.55 to 1.95 m, limb proportions and girth varied by a few percent."""
    base = BodyShape()
    scale = float(rng.uniform(0.89, 1.11))
    girth = float(rng.uniform(0.85, 1.2))
    values = {}
    for f in fields(BodyShape):
        if f.name == "scale":
            continue
        v = getattr(base, f.name) * scale * float(rng.uniform(0.95, 1.05))
        if f.name.endswith("radius") and f.name != "head_radius" or f.name in ("chest_half_depth", "waist_half_width"):
            v *= girth
        values[f.name] = v
    return BodyShape(scale=scale, **values)


def rotation(yaw: np.ndarray, pitch: np.ndarray | float = 0.0, roll: np.ndarray | float = 0.0) -> np.ndarray:
    """Rotation matrices Ry(yaw) @ Rx(pitch) @ Rz(roll) (degrees), shape (T, 3, 3)."""
    yaw, pitch, roll = np.broadcast_arrays(*(np.radians(np.asarray(a, dtype=float)) for a in (yaw, pitch, roll)))
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    one, zero = np.ones_like(yaw), np.zeros_like(yaw)
    ry = np.stack([np.stack([cy, zero, sy], -1), np.stack([zero, one, zero], -1), np.stack([-sy, zero, cy], -1)], -2)
    rx = np.stack([np.stack([one, zero, zero], -1), np.stack([zero, cp, -sp], -1), np.stack([zero, sp, cp], -1)], -2)
    rz = np.stack([np.stack([cr, -sr, zero], -1), np.stack([sr, cr, zero], -1), np.stack([zero, zero, one], -1)], -2)
    return ry @ rx @ rz


def direction(azimuth: np.ndarray, elevation: np.ndarray) -> np.ndarray:
    """Unit vectors from azimuth (0: +z, 90: +x) and elevation (90: up), degrees; shape (T, 3)."""
    az, el = np.radians(azimuth), np.radians(elevation)
    return np.stack([np.cos(el) * np.sin(az), np.sin(el), np.cos(el) * np.cos(az)], -1)


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def two_bone_ik(root: np.ndarray, target: np.ndarray, pole: np.ndarray, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """Middle and end points of a two-segment limb (lengths a, b) from root towards target.

    The limb bends in the plane of root, target and the pole direction, the middle joint on the
    pole's side (so an elbow or knee only bends one way). Targets out of reach are pulled in.
    """
    offset = target - root
    dist = np.linalg.norm(offset, axis=-1, keepdims=True)
    along = offset / np.maximum(dist, 1e-9)
    dist = np.clip(dist, abs(a - b) + 0.02, (a + b) * 0.999)
    end = root + along * dist
    side = pole - np.sum(pole * along, -1, keepdims=True) * along
    side = unit(side)
    cos_root = np.clip((a * a + dist * dist - b * b) / (2 * a * dist), -1.0, 1.0)
    middle = root + a * (along * cos_root + side * np.sqrt(1 - cos_root**2))
    return middle, end


@dataclass
class Skeleton:
    """3D points of a performance, each (T, 3) in world metres, plus the trunk axes."""

    joints: np.ndarray  # (T, 13, 3) in JOINTS order
    neck: np.ndarray
    pelvis: np.ndarray
    torso_axes: np.ndarray  # (T, 3, 3): columns are the trunk's left, up and forward directions
    head_forward: np.ndarray
    left_toe: np.ndarray
    right_toe: np.ndarray
    left_heel: np.ndarray
    right_heel: np.ndarray
    left_hand: np.ndarray  # end of the hand (knuckles)
    right_hand: np.ndarray

    def joint(self, name: str) -> np.ndarray:
        return self.joints[:, JOINT_INDEX[name]]

    def mirrored(self) -> "Skeleton":
        """The same performance by a mirror-image performer: x negated, left and right swapped."""
        flip = np.array([-1.0, 1.0, 1.0])
        axes = self.torso_axes * flip[None, :, None]
        axes[:, :, 0] *= -1  # the left direction of the mirrored body is the mirror of its right
        return Skeleton(
            joints=self.joints[:, MIRROR_JOINTS] * flip,
            neck=self.neck * flip,
            pelvis=self.pelvis * flip,
            torso_axes=axes,
            head_forward=self.head_forward * flip,
            left_toe=self.right_toe * flip,
            right_toe=self.left_toe * flip,
            left_heel=self.right_heel * flip,
            right_heel=self.left_heel * flip,
            left_hand=self.right_hand * flip,
            right_hand=self.left_hand * flip,
        )


def _foot(ankle: np.ndarray, yaw: np.ndarray, body: BodyShape) -> tuple[np.ndarray, np.ndarray]:
    """Toe and heel points: the toe stays on the ground while the ankle is low, the foot is level when lifted."""
    forward = direction(yaw, np.zeros_like(yaw))
    length = 0.17 * body.scale
    drop = np.clip(ankle[:, 1:2] - 0.02 * body.scale, 0.05 * body.scale, 0.14 * body.scale)
    toe = ankle + forward * np.sqrt(np.maximum(length**2 - drop**2, 1e-6)) - np.array([0.0, 1.0, 0.0]) * drop
    heel = ankle - forward * 0.05 * body.scale - np.array([0.0, 0.06, 0.0]) * body.scale
    return toe, heel


def forward_kinematics(p: dict[str, np.ndarray], body: BodyShape, lead_grip: float | None = None) -> Skeleton:
    """Joint positions from per-frame pose parameters (see keyframes.POSE_FIELDS).

    Wrist targets and elbow poles are given in the trunk's frame relative to the neck base; ankle
    targets in the world. ``lead_grip``: both hands hold one shaft (bat, club): the right wrist is
    placed ``lead_grip`` metres from the left one along the tool direction.
    """
    s = body.scale
    pelvis = p["pelvis"] * s
    hips_r = rotation(p["pelvis_yaw"])
    torso_r = rotation(p["torso"][:, 0], p["torso"][:, 1], p["torso"][:, 2])
    neck = pelvis + torso_r @ np.array([0.0, body.spine, 0.0])
    head_r = torso_r @ rotation(p["head"][:, 0], p["head"][:, 1])
    head = neck + head_r @ np.array([0.0, body.neck, 0.02 * s])
    head_forward = head_r @ np.array([0.0, 0.0, 1.0])

    shoulders = [neck + torso_r @ np.array([side * body.shoulder_half_width, -0.025 * s, 0.0]) for side in (1, -1)]
    hips = [pelvis + hips_r @ np.array([side * body.hip_half_width, 0.0, 0.0]) for side in (1, -1)]

    wrist_targets = [neck + np.einsum("tij,tj->ti", torso_r, p[k] * s) for k in ("l_wrist", "r_wrist")]
    if lead_grip is not None:
        tool = direction(p["tool"][:, 0], p["tool"][:, 1])
        wrist_targets[1] = wrist_targets[0] + tool * lead_grip * s
    elbow_poles = [np.einsum("tij,tj->ti", torso_r, p[k]) for k in ("l_elbow", "r_elbow")]
    elbows, wrists = zip(*(two_bone_ik(sh, wt, pole, body.upper_arm, body.forearm)
                           for sh, wt, pole in zip(shoulders, wrist_targets, elbow_poles)))
    hands = [w + unit(w - e) * 0.08 * s for w, e in zip(wrists, elbows)]

    ankle_targets = [p["l_ankle"] * s, p["r_ankle"] * s]
    knee_poles = [direction(p[k], np.full(len(pelvis), 8.0)) for k in ("l_foot", "r_foot")]
    knees, ankles = zip(*(two_bone_ik(h, at, pole, body.thigh, body.shin)
                          for h, at, pole in zip(hips, ankle_targets, knee_poles)))
    (ltoe, lheel), (rtoe, rheel) = _foot(ankles[0], p["l_foot"], body), _foot(ankles[1], p["r_foot"], body)

    joints = np.stack([head, *shoulders, *elbows, *wrists, *hips, *knees, *ankles], axis=1)
    return Skeleton(joints=joints, neck=neck, pelvis=pelvis, torso_axes=torso_r, head_forward=head_forward,
                    left_toe=ltoe, right_toe=rtoe, left_heel=lheel, right_heel=rheel,
                    left_hand=hands[0], right_hand=hands[1])
