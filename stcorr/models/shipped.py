"""Models that ship with stcorr, named ``stcorr:NAME`` wherever a checkpoint is asked for.

None ships yet in this version: every name is unknown.
"""

from __future__ import annotations

from pathlib import Path

from stcorr.errors import StcorrError

SHIPPED: dict[str, Path] = {}


def resolve_checkpoint(text: str) -> Path:
    """``stcorr:NAME`` -> the packaged checkpoint folder of model NAME."""
    name = text.split(":", 1)[1] if ":" in text else text
    if name not in SHIPPED:
        known = ", ".join(f"stcorr:{n}" for n in SHIPPED) or "none in this version"
        raise StcorrError(f"no shipped model {name!r} (shipped: {known})")
    return SHIPPED[name]
