"""Angle differences between a reference and an attempt, as compare.json writes them.

The angles are ``stcorr.pose.angles``'s; ``CONVENTION`` (written into compare.json) says in words
how each is measured and which way a difference points.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from stcorr.pose.angles import ANGLE_NAMES, joint_angles
from stcorr.pose.skeleton import Joints

CONVENTION: dict = {
    "name": "stcorr-flexion-1",
    "unit": "degrees", "range": [0, 180], "signed": False,
    "knee": "flexion: 180 - angle(hip, knee, ankle); 0 = straight, larger = more bent",
    "hip": "flexion: 180 - angle(shoulder, hip, knee); 0 = trunk and thigh in line, larger = more bent",
    "elbow": "flexion: 180 - angle(shoulder, elbow, wrist); 0 = straight, larger = more bent",
    "shoulder": "elevation: angle(hip, shoulder, elbow); 0 = arm down along the body, 180 = arm straight up",
    "trunk_lean": "angle between hip-midpoint->shoulder-midpoint and the upward vertical; 0 = upright, 90 = horizontal",
    "difference": "attempt - reference",
}


def angle_rows(reference: Joints, attempt: Joints) -> list[dict]:
    """compare.json's ``angles`` of one key moment: both angles and attempt - reference, for every
    angle both bodies have."""
    ref, att = joint_angles(reference), joint_angles(attempt)
    return value_rows([np.nan if ref[n] is None else ref[n] for n in ANGLE_NAMES],
                      [np.nan if att[n] is None else att[n] for n in ANGLE_NAMES])


def value_rows(reference: Sequence[float], attempt: Sequence[float]) -> list[dict]:
    """compare.json's ``angles`` from two (9,) angle vectors in ``ANGLE_NAMES`` order (NaN: not measured)."""
    return [{"joint": name, "reference_deg": round(float(r), 2), "attempt_deg": round(float(a), 2),
             "difference_deg": round(float(a) - float(r), 2)}
            for name, r, a in zip(ANGLE_NAMES, reference, attempt) if np.isfinite(r) and np.isfinite(a)]
