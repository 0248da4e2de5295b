"""Joint angles of a body, in degrees, and their differences between a reference and an attempt.

- knee (hip-knee-ankle), hip (shoulder-hip-knee), elbow (shoulder-elbow-wrist): the inner angle
  at the joint, 180 = straight, smaller = more bent;
- shoulder (hip-shoulder-elbow): the angle between the trunk and the upper arm, 0 = arm down
  along the body, 180 = arm straight up;
- trunk lean: the angle between the trunk (hip midpoint to shoulder midpoint) and the image's
  upward vertical, 0 = upright, 90 = horizontal, unsigned (a lean either way).

Joints are ``{name: (x, y)}`` in pixels (x right, y down); an angle whose joints are not all
there is None.
"""

from __future__ import annotations

import numpy as np

from stcorr.compare.joints import Joints
from stcorr.data.skeleton import JOINTS

J = {name: k for k, name in enumerate(JOINTS)}

ANGLE_JOINTS: dict[str, tuple[str, str, str]] = {
    f"{side}_{joint}": (f"{side}_{a}", f"{side}_{joint}", f"{side}_{b}")
    for joint, (a, b) in {"knee": ("hip", "ankle"), "hip": ("shoulder", "knee"),
                          "elbow": ("shoulder", "wrist"), "shoulder": ("hip", "elbow")}.items()
    for side in ("left", "right")
}
TRUNK = "trunk_lean"
ANGLE_NAMES: tuple[str, ...] = (*ANGLE_JOINTS, TRUNK)


def inner_angles(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """(T,) unsigned angles at b between b->a and b->c, in degrees, for points (T, 2) (NaN where a
    segment has no length or a point is missing)."""
    u, v = a - b, c - b
    norms = np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1)
    with np.errstate(invalid="ignore"):
        cos = np.sum(u * v, axis=-1) / np.where(norms > 0, norms, np.nan)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def angle_series(xy: np.ndarray) -> np.ndarray:
    """(T, 9) degrees of every angle of ``ANGLE_NAMES``, in that order, for joints ``xy`` (T, 13, 2)
    in ``JOINTS`` order (NaN where a joint is missing)."""
    xy = np.asarray(xy, dtype=np.float64)
    columns = [inner_angles(*(xy[:, J[name]] for name in names)) for names in ANGLE_JOINTS.values()]
    shoulders = (xy[:, J["left_shoulder"]] + xy[:, J["right_shoulder"]]) / 2
    hips = (xy[:, J["left_hip"]] + xy[:, J["right_hip"]]) / 2
    columns.append(inner_angles(hips - [0.0, 1.0], hips, shoulders))
    return np.stack(columns, axis=1)


def joint_angles(joints: Joints) -> dict[str, float | None]:
    """Every angle of ``ANGLE_NAMES`` for one body, in degrees (None where a joint is missing)."""
    xy = np.array([[joints.get(name, (np.nan, np.nan)) for name in JOINTS]], dtype=np.float64)
    return {name: None if np.isnan(value) else float(value) for name, value in zip(ANGLE_NAMES, angle_series(xy)[0])}


def angle_rows(reference: Joints, attempt: Joints) -> list[dict]:
    """compare.json's ``angles`` of one key moment: both angles and attempt - reference, for every
    angle both bodies have."""
    ref, att = joint_angles(reference), joint_angles(attempt)
    return [{"joint": name, "reference_deg": round(ref[name], 2), "attempt_deg": round(att[name], 2),
             "difference_deg": round(att[name] - ref[name], 2)}
            for name in ANGLE_NAMES if ref[name] is not None and att[name] is not None]
