"""Whether the correspondence model compare is given is worth its word: its own validation figure against a floor.

A checkpoint written by ``stcorr train`` keeps the last validation figures of its run in
checkpoint.json (``metrics``: ``val_T@3`` is T@3-PCK@0.1 on the run's val pairs, a fraction); a
shipped model's card (``card.json``) may give ``T@3`` among its ``figures`` (in %). A model whose
figure is under ``MODEL_FLOOR_T3`` matches joints worse than compare does without any model:
dtw-pose + pose (MediaPipe's joints, what compare uses without ``--checkpoint``) reaches T@3 25.6 %
on the synthetic val pairs of docs/results/table3.md. The summary says so, and says when a model
carries no such figure at all.
"""

from __future__ import annotations

from pathlib import Path

from stcorr.errors import StcorrError
from stcorr.files import read_json
from stcorr.models.shipped import resolve_checkpoint

MODEL_FLOOR_T3 = 0.25
FIGURE = "T@3"


def validation_figure(checkpoint: str | Path) -> float | None:
    """The checkpoint's own T@3 (a fraction): checkpoint.json's ``metrics.val_T@3``, else its card's
    ``figures`` (any set, the lowest, % turned into a fraction); None when it carries none."""
    folder = resolve_checkpoint(str(checkpoint))
    if not (folder / "checkpoint.json").is_file() and (folder / "checkpoint" / "checkpoint.json").is_file():
        folder = folder / "checkpoint"  # a run folder given for its checkpoint
    try:
        info = read_json(folder / "checkpoint.json") if (folder / "checkpoint.json").is_file() else {}
        card = read_json(folder / "card.json") if (folder / "card.json").is_file() else {}
    except StcorrError:
        return None
    value = (info.get("metrics") or {}).get(f"val_{FIGURE}") if isinstance(info, dict) else None
    if isinstance(value, (int, float)):
        return float(value)
    figures = [f.get(FIGURE) for f in (card.get("figures") or {}).values() if isinstance(f, dict)] if isinstance(card, dict) else []
    figures = [float(f) / 100 for f in figures if isinstance(f, (int, float))]
    return min(figures) if figures else None


def model_warning(checkpoint: str | Path, floor: float = MODEL_FLOOR_T3) -> str | None:
    """The summary's line about the model, or None when its own figure reaches ``floor``."""
    figure = validation_figure(checkpoint)
    if figure is None:
        return (f"the model {checkpoint} carries no validation figure ({FIGURE} of its training run): how well it "
                "matches joints is not known; without --checkpoint compare matches them by MediaPipe's joints")
    if figure < floor:
        return (f"the model {checkpoint} is weak: its own validation {FIGURE} is {100 * figure:.1f} %, under the "
                f"{100 * floor:.0f} % that compare reaches without a model (MediaPipe's joints): its matched points "
                "and the angles from them may be wrong; leave --checkpoint out, or train it longer")
    return None
