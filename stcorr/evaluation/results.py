"""RESULTS.json (docs/formats.md#resultsjson): scores of one method's predictions on a list of benchmark pairs.

Predictions are per pair arrays (K, 3) of native target (t, x, y), aligned with the pair's
correspondences; NaN rows are missing predictions and count as wrong.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from stcorr.data.pairs import Pair
from stcorr.metrics.pck import DEFAULT_KS, correct_matches, grouped_scores, pck_curves, pck_scores
from stcorr.metrics.precision import finite_or_none, spatial_precision


def score_pairs(
    pairs: Sequence[Pair],
    predictions: Sequence[np.ndarray],
    ks: Sequence[int] = DEFAULT_KS,
    alpha: float = 0.1,
    **header,
) -> dict:
    """The RESULTS.json object for these pairs and predictions; ``header`` adds method, data, split, setup."""
    if len(pairs) != len(predictions):
        raise ValueError(f"{len(pairs)} pairs but {len(predictions)} predictions")
    pred = _stack([np.asarray(p, dtype=np.float64).reshape(-1, 3) for p in predictions])
    true = _stack([p.tgt for p in pairs])
    ref = np.concatenate([p.ref_size for p in pairs]) if pairs else np.zeros(0)
    actions = [p.action for p in pairs for _ in range(len(p))]
    types = [t for p in pairs for t in p.types]
    moments = [f"{p.action}/{m}" for p in pairs for m in p.moments]
    results = {
        **header,
        "alpha": alpha,
        "n_pairs": len(pairs),
        **pck_scores(pred, true, ref, ks, alpha),
        "per_action": grouped_scores(pred, true, ref, actions, ks, alpha),
        "per_type": {"hum": _empty(ks), "obj": _empty(ks), **grouped_scores(pred, true, ref, types, ks, alpha)},
        "per_action_type": {
            a: grouped_scores(pred[np.array(actions) == a], true[np.array(actions) == a], ref[np.array(actions) == a],
                              np.array(types)[np.array(actions) == a], ks, alpha)
            for a in sorted(set(actions))
        },
        "per_moment": grouped_scores(pred, true, ref, moments, ks, alpha),
        "curves": pck_curves(pred, true, ref, alpha, ks),
        "precision": finite_or_none(spatial_precision(  # stcorr/metrics/precision.py: distance of the timely points
            pred, true, ref, [n for p in pairs for n in p.names],
            [f"{i}/{t:g}" for i, p in enumerate(pairs) for t in p.tgt[:, 0]], ks, alpha)),
        "per_pair": [
            {"source": p.source, "target": p.target, "action": p.action, **pck_scores(q, p.tgt, p.ref_size, ks, alpha)}
            for p, q in zip(pairs, predictions)
        ],
    }
    n_points = results.pop("n_points")
    results["n_points"] = n_points
    return results


def correctness(pair: Pair, prediction: np.ndarray, ks: Sequence[int] = DEFAULT_KS, alpha: float = 0.1) -> list[dict]:
    """Per correspondence {"k": bool} for saved predictions."""
    flags = {str(k): correct_matches(prediction, pair.tgt, pair.ref_size, k, alpha) for k in ks}
    return [{k: bool(v[i]) for k, v in flags.items()} for i in range(len(pair))]


def _stack(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(arrays) if arrays else np.zeros((0, 3))


def _empty(ks: Sequence[int]) -> dict:
    return {**{f"T@{k}": 0.0 for k in ks}, "n_points": 0}
