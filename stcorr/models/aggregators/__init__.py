"""Cost-volume aggregators: name -> class. Every one is called the same way::

    aggregator(num_layers=M, channels=[C_1..C_M], grid=(T, H, W), **aggregator_args)
    aggregator(corr (B, M, N, N), src_feats [(B, C_m, T, H, W)], tgt_feats [...]) -> (B, N, N)

Adding an aggregator: one file with its class, one line in ``AGGREGATORS``.
"""

from __future__ import annotations

import inspect
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
    return {**defaults, **(args or {})}


def build_aggregator(name: str, num_layers: int, channels: Sequence[int], grid: Sequence[int],
                     args: Mapping[str, Any] | None = None) -> nn.Module:
    """An aggregator for M = ``num_layers`` volumes on ``grid``, features of ``channels``."""
    return AGGREGATORS[name](num_layers, list(channels), tuple(grid), **aggregator_options(name, args))


__all__ = ["AGGREGATORS", "ANTs", "STCATs", "STMatch", "aggregator_options", "build_aggregator"]
