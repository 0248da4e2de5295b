"""Trained models that ship inside the package: ``stcorr:NAME`` names the checkpoint folder
``stcorr/weights/NAME/`` (``model.safetensors``, ``checkpoint.json`` and the model card ``card.json``
with ``NAME.md``), trained by ``scripts/train_models`` and copied in by ``scripts/package_model``.

    resolve_checkpoint("stcorr:cycle")   # -> .../stcorr/weights/cycle
    resolve_checkpoint("runs/x/checkpoint")   # -> the path, unchanged
"""

from __future__ import annotations

from pathlib import Path

from stcorr.errors import StcorrError
from stcorr.files import read_json

PREFIX = "stcorr:"
WEIGHTS = Path(__file__).resolve().parent.parent / "weights"


def shipped_names() -> list[str]:
    """Names of the models in the package (folders of ``stcorr/weights`` holding a checkpoint)."""
    if not WEIGHTS.is_dir():
        return []
    return sorted(p.name for p in WEIGHTS.iterdir() if (p / "checkpoint.json").is_file())


def resolve_checkpoint(text: str) -> Path:
    """The checkpoint folder ``text`` names: ``stcorr:NAME`` -> the packaged ``stcorr/weights/NAME``
    (StcorrError listing the shipped names for an unknown one); any other text -> ``Path(text)``."""
    text = str(text)
    if not text.startswith(PREFIX):
        return Path(text)
    name = text[len(PREFIX):]
    names = shipped_names()
    if name not in names:
        listed = ", ".join(PREFIX + n for n in names) or "none"
        raise StcorrError(f"no shipped model {name!r}; the models that ship: {listed}")
    return WEIGHTS / name


def model_card(name: str) -> dict:
    """The card (``card.json``) of the shipped model ``name``."""
    return read_json(resolve_checkpoint(PREFIX + name) / "card.json")
