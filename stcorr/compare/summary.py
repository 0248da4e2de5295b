"""The largest angle differences of a comparison, told in plain words for the person who made the attempt.

Angles follow ``angles.CONVENTION`` (flexion: larger = more bent). A difference under the noise
floor is never told: the floors are what MediaPipe's joints give for the same performance seen
twice (a clip against its own re-encoded, mirrored and slowed copy), measured by
``benchmarks/compare_self.py`` on the real-dev clips (docs/compare.md, "Noise floor"): the 95th
percentile of the angle differences over every aligned frame, rounded up.
"""

from __future__ import annotations

from stcorr.compare.angles import TRUNK

NOISE_FLOOR_2D_DEG = 6.0
NOISE_FLOOR_3D_DEG = 9.0

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


def largest_differences(key_moments: list[dict], count: int = 3, floor: float = NOISE_FLOOR_2D_DEG) -> list[str]:
    """The ``count`` largest absolute angle differences over all key moments, largest first, in
    words; none under ``floor`` degrees plus the row's ``uncertainty_deg`` (how much the angle
    moves within a frame of the moment), and never one that rounds to 0."""
    rows = [(abs(float(row["difference_deg"])), moment_label(moment), row)
            for moment in key_moments for row in moment["angles"]]
    rows = [item for item in rows if item[0] >= max(floor + item[2].get("uncertainty_deg", 0.0), 0.5)]
    rows.sort(key=lambda item: -item[0])
    return [describe(label, row) for _, label, row in rows[:count]]


def moment_label(moment: dict) -> str:
    """'bat hits ball' (quoted name), or 'frame 24' of the reference when the moment has no name."""
    return f"'{moment['name']}'" if moment.get("name") else f"frame {moment['reference_t']} of the reference"
