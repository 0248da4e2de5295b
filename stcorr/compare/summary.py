"""The largest angle differences of a comparison, told in plain words for the person who made the attempt.

Angles follow ``angles.CONVENTION`` (flexion: larger = more bent). A difference under the noise
floor is never told: the floors are what MediaPipe's joints (its plain static pass, compare's
``pipeline.default_pose``) give for the same performance seen twice (a clip against its own
re-encoded copy at twice the pace, and its mirrored copy at 1.5 times slower), measured by
``benchmarks/compare_self.py`` on seven real-dev clips (224 x 224; docs/compare.md, "Noise
floor"): per kind of angle, the 95th percentile of the differences over every third aligned
frame, rounded. A row is told only when its difference also exceeds its own
``uncertainty_deg`` on top of the floor (the angle's own movement within a frame of the moment).
"""

from __future__ import annotations

from stcorr.pose.angles import TRUNK

NOISE_FLOOR_2D_DEG: dict[str, float] = {"knee": 12.0, "hip": 10.0, "elbow": 33.0, "shoulder": 33.0, "trunk_lean": 12.0}
NOISE_FLOOR_3D_DEG: dict[str, float] = {"knee": 16.0, "hip": 16.0, "elbow": 21.0, "shoulder": 28.0, "trunk_lean": 24.0}
#: 3D angles from MediaPipe's world joints lifted by stcorr:lifter (compare's default where the views differ)
NOISE_FLOOR_LIFTED_DEG: dict[str, float] = {"knee": 22.0, "hip": 16.0, "elbow": 31.0, "shoulder": 31.0, "trunk_lean": 13.0}


UNMEASURED_FLOOR_DEG: dict[str, float] = dict.fromkeys(NOISE_FLOOR_2D_DEG, 1.0)
#: Pose source name -> (2D floors, 3D floors); a source not here (a stand-in) gets ``UNMEASURED_FLOOR_DEG``.
MEASURED_FLOORS: dict[str, tuple[dict[str, float], dict[str, float]]] = {
    "mediapipe": (NOISE_FLOOR_2D_DEG, NOISE_FLOOR_3D_DEG),
    "mediapipe+lifter": (NOISE_FLOOR_2D_DEG, NOISE_FLOOR_LIFTED_DEG),  # the lifter moves the 3D joints only
}


def noise_floor(pose: str, in_3d: bool) -> dict[str, float]:
    """The noise floor per kind of angle of the pose source named ``pose``, for 2D or 3D angles."""
    floors = MEASURED_FLOORS.get(pose)
    return UNMEASURED_FLOOR_DEG if floors is None else floors[1 if in_3d else 0]


def angle_kind(joint: str) -> str:
    """'left_knee' -> 'knee', 'trunk_lean' -> 'trunk_lean'."""
    return joint if joint == TRUNK else joint.split("_", 1)[1]


def below_floor(row: dict, floor: dict[str, float]) -> bool:
    """Whether an angle row's difference is within its kind's noise floor plus its own uncertainty."""
    return abs(float(row["difference_deg"])) < max(floor[angle_kind(row["joint"])] + row.get("uncertainty_deg", 0.0), 0.5)

# What a larger angle means, and what a smaller one means, for each kind of angle.
WORDS: dict[str, tuple[str, str]] = {
    "knee": ("more bent", "straighter"),
    "hip": ("more bent", "more open"),
    "elbow": ("more bent", "straighter"),
    "shoulder": ("raised higher", "held lower"),
}


def describe(moment: str, row: dict) -> str:
    """One sentence for one angle row: "at 'hips at floor' your left knee is 18 degrees more bent"."""
    difference = float(row["difference_deg"])
    amount = f"{abs(difference):.0f} degree{'' if round(abs(difference)) == 1 else 's'}"
    if row["joint"] == TRUNK:
        how = "further from upright" if difference > 0 else "more upright"
        return f"at {moment} your trunk leans {amount} {how} than the reference's"
    side, kind = row["joint"].split("_", 1)
    larger, smaller = WORDS[kind]
    part = f"{side} arm" if kind == "shoulder" else f"{side} {kind}"
    return f"at {moment} your {part} is {amount} {larger if difference > 0 else smaller} than in the reference"


def largest_differences(key_moments: list[dict], count: int = 3, floor: dict[str, float] = NOISE_FLOOR_2D_DEG) -> list[str]:
    """The ``count`` largest absolute angle differences over all key moments, largest first, in
    words; none under its kind's ``floor`` (degrees) plus the row's ``uncertainty_deg`` (how
    much the angle moves within a frame of the moment), and never one that rounds to 0."""
    rows = [(abs(float(row["difference_deg"])), moment_label(moment), row)
            for moment in key_moments for row in moment["angles"]]
    rows = [item for item in rows if not below_floor(item[2], floor)]
    rows.sort(key=lambda item: -item[0])
    return [describe(label, row) for _, label, row in rows[:count]]


def moment_label(moment: dict) -> str:
    """'bat hits ball' (quoted name), or 'frame 24' of the reference when the moment has no name."""
    return f"'{moment['name']}'" if moment.get("name") else f"frame {moment['reference_t']} of the reference"
