"""The largest angle differences of a comparison, told in plain words for the person who made the attempt."""

from __future__ import annotations

from stcorr.compare.angles import TRUNK

# What a larger angle means, and what a smaller one means, for each kind of angle.
WORDS: dict[str, tuple[str, str]] = {
    "knee": ("straighter", "more bent"),
    "hip": ("more open", "more bent"),
    "elbow": ("straighter", "more bent"),
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


def largest_differences(key_moments: list[dict], count: int = 3) -> list[str]:
    """The ``count`` largest absolute angle differences over all key moments, largest first, in words."""
    rows = [(abs(float(row["difference_deg"])), moment_label(moment), row)
            for moment in key_moments for row in moment["angles"]]
    rows.sort(key=lambda item: -item[0])
    return [describe(label, row) for _, label, row in rows[:count]]


def moment_label(moment: dict) -> str:
    """'bat hits ball' (quoted name), or 'frame 24' of the reference when the moment has no name."""
    return f"'{moment['name']}'" if moment.get("name") else f"frame {moment['reference_t']} of the reference"
