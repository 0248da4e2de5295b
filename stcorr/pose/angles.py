"""Joint angles of a body, in degrees, under one convention.

The convention (all angles unsigned, in [0, 180]; ``stcorr.compare.differences.CONVENTION`` writes it
into compare.json):

- knee, hip, elbow **flexion**: 180 minus the inner angle at the joint (hip-knee-ankle,
  shoulder-hip-knee, shoulder-elbow-wrist): 0 = straight, larger = more bent;
- shoulder **elevation** (hip-shoulder-elbow): the angle between the trunk and the upper arm,
  0 = arm down along the body, 90 = arm out level, 180 = arm straight up;
- trunk **lean**: the angle between the trunk (hip midpoint to shoulder midpoint) and the upward
  vertical (of the image in 2D, of the camera in 3D), 0 = upright, 90 = horizontal, a lean either way.

The same formulas take joints in 2D (pixels, x right, y down) or in 3D (MediaPipe's world
landmarks: metres, x right, y down, z away from the camera): ``angle_series`` reads the last axis.
Joints are ``{name: (x, y)}``; an angle whose joints are not all there is None.
"""

from __future__ import annotations

import numpy as np

from stcorr.pose.skeleton import JOINTS, Joints

J = {name: k for k, name in enumerate(JOINTS)}

ANGLE_JOINTS: dict[str, tuple[str, str, str]] = {
    f"{side}_{joint}": (f"{side}_{a}", f"{side}_{joint}", f"{side}_{b}")
    for joint, (a, b) in {"knee": ("hip", "ankle"), "hip": ("shoulder", "knee"),
                          "elbow": ("shoulder", "wrist"), "shoulder": ("hip", "elbow")}.items()
    for side in ("left", "right")
}
FLEXION_KINDS = ("knee", "hip", "elbow")  # reported as 180 - the inner angle
TRUNK = "trunk_lean"
ANGLE_NAMES: tuple[str, ...] = (*ANGLE_JOINTS, TRUNK)

def inner_angles(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """(T,) unsigned angles at b between b->a and b->c, in degrees, for points (T, D) (NaN where a
    segment has no length or a point is missing)."""
    u, v = a - b, c - b
    norms = np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1)
    with np.errstate(invalid="ignore"):
        cos = np.sum(u * v, axis=-1) / np.where(norms > 0, norms, np.nan)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def angle_series(joints: np.ndarray) -> np.ndarray:
    """(T, 9) degrees of every angle of ``ANGLE_NAMES`` (module docstring), in that order, for
    joints (T, 13, D) in ``JOINTS`` order, D = 2 (image) or 3 (world); NaN where a joint is missing."""
    joints = np.asarray(joints, dtype=np.float64)
    columns = []
    for name, names in ANGLE_JOINTS.items():
        inner = inner_angles(*(joints[:, J[n]] for n in names))
        columns.append(180.0 - inner if name.split("_", 1)[1] in FLEXION_KINDS else inner)
    shoulders = (joints[:, J["left_shoulder"]] + joints[:, J["right_shoulder"]]) / 2
    hips = (joints[:, J["left_hip"]] + joints[:, J["right_hip"]]) / 2
    up = np.zeros(joints.shape[-1])
    up[1] = -1.0  # y points down in both the image and MediaPipe's world frame
    columns.append(inner_angles(hips + up, hips, shoulders))
    return np.stack(columns, axis=1)


def joint_angles(joints: Joints) -> dict[str, float | None]:
    """Every angle of ``ANGLE_NAMES`` for one body (2D or 3D joints by name), in degrees (None where a joint is missing)."""
    width = len(next(iter(joints.values()))) if joints else 2
    xy = np.array([[joints.get(name, (np.nan,) * width) for name in JOINTS]], dtype=np.float64)
    return {name: None if np.isnan(value) else float(value) for name, value in zip(ANGLE_NAMES, angle_series(xy)[0])}
