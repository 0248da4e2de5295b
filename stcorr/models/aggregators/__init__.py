"""Cost-volume aggregators: name -> class. Every one is called the same way::

    aggregator(num_layers=M, channels=[C_1..C_M], grid=(T, H, W), **aggregator_args)
    aggregator(corr (B, M, N, N), src_feats [(B, C_m, T, H, W)], tgt_feats [...]) -> (B, N, N)

``corr`` is None for an aggregator that reads no dense volumes: ``sparse`` (it finds its own
proposals) or ``needs_volume`` False (ANTs when it folds the correlations into its first conv).

Adding an aggregator: one file with its class, one line in ``AGGREGATORS``.
"""

from __future__ import annotations

import inspect
import math
from typing import Any, Mapping, Sequence

from torch import nn

from stcorr.errors import StcorrError
from stcorr.models.aggregators.ants import ANTs
from stcorr.models.aggregators.sparse import SparseProposals
from stcorr.models.aggregators.st_cats import STCATs
from stcorr.models.aggregators.st_match import STMatch

AGGREGATORS: dict[str, type[nn.Module]] = {
    "st-match": STMatch,
    "ants": ANTs,
    "st-cats": STCATs,
    "sparse": SparseProposals,
}


ARG_LIMIT = 10**6  # no aggregator option is meant to be larger (or 64x its own default, for chunk sizes)


def aggregator_options(name: str, args: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The aggregator's keyword options with ``args`` filled in over the defaults.

    Raises StcorrError for an unknown aggregator or option.
    """
    if name not in AGGREGATORS:
        raise StcorrError(f"unknown aggregator {name!r}; known: {', '.join(AGGREGATORS)}")
    parameters = inspect.signature(AGGREGATORS[name]).parameters
    defaults = {key: p.default for key, p in parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    for key in args or {}:
        if key not in defaults:
            known = ", ".join(defaults) or "none"
            raise StcorrError(f"unknown aggregator_args key {key!r} for {name} (known: {known})")
        if not _same_kind(args[key], defaults[key]):
            raise StcorrError(f"aggregator_args.{key} of {name} takes a value like {defaults[key]!r}, not {args[key]!r}")
    return {**defaults, **(args or {})}


def _same_kind(value: Any, default: Any) -> bool:
    """Whether ``value`` may stand where the option's ``default`` does: the same type (an int for a
    float too), numbers finite and at most ARG_LIMIT (or 64x the default), lists element by element."""
    if default is None:
        return True
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, (int, float)):
        kinds = (int,) if isinstance(default, int) else (int, float)
        return isinstance(value, kinds) and math.isfinite(value) and abs(value) <= max(ARG_LIMIT, 64 * abs(default))
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple)) and all(_same_kind(v, default[0]) for v in value) if default else \
            isinstance(value, (list, tuple))
    return isinstance(value, type(default))


def build_aggregator(name: str, num_layers: int, channels: Sequence[int], grid: Sequence[int],
                     args: Mapping[str, Any] | None = None) -> nn.Module:
    """An aggregator for M = ``num_layers`` volumes on ``grid``, features of ``channels``."""
    return AGGREGATORS[name](num_layers, list(channels), tuple(grid), **aggregator_options(name, args))


__all__ = ["AGGREGATORS", "ANTs", "STCATs", "STMatch", "aggregator_options", "build_aggregator"]
