"""Runs a method over benchmark pairs and writes RESULTS.json and, if asked, its predictions."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from stcorr.data.datasets import Dataset
from stcorr.data.pairs import Pair
from stcorr.errors import StcorrError
from stcorr.evaluation.results import correctness, score_pairs, write_json_atomic
from stcorr.metrics.pck import DEFAULT_KS
from stcorr.progress import progress_bar


def predict_pairs(method, dataset: Dataset, pairs: Sequence[Pair], progress: bool = True
                  ) -> tuple[list[np.ndarray], list[np.ndarray | None], list[str]]:
    """(predictions, scores, failures) for every pair: a pair whose video cannot be read gets NaN
    (counted wrong); scores are None for methods that give none (no ``predict_scored``)."""
    predictions, scores, failures = [], [], []
    with progress_bar(f"eval {method.name}", len(pairs), progress) as bar:
        for pair in pairs:
            try:
                points, score = method.predict_scored(dataset, pair) if hasattr(method, "predict_scored") else (method.predict(dataset, pair), None)
                predictions.append(np.asarray(points, dtype=np.float64).reshape(-1, 3))
                scores.append(None if score is None else np.asarray(score, dtype=np.float64).reshape(-1))
            except StcorrError as exc:
                failures.append(str(exc))
                predictions.append(np.full((len(pair), 3), np.nan))
                scores.append(None)
            bar.advance()
    return predictions, scores, failures


def evaluate(method, dataset: Dataset, pairs: Sequence[Pair], out: Path, *, split: str, setup: str,
             ks: Sequence[int] = DEFAULT_KS, alpha: float = 0.1, save_predictions: Path | None = None,
             config: dict | None = None, command: str | None = None, progress: bool = True) -> dict:
    began = time.perf_counter()
    predictions, scores, failures = predict_pairs(method, dataset, pairs, progress)
    results = score_pairs(pairs, predictions, ks, alpha, method=method.name, data=str(dataset.root), split=split, setup=setup)
    checkpoint = getattr(method, "checkpoint", None)
    results.update(
        config=config, command=command, checkpoint=checkpoint, failed_pairs=len(failures),
        seconds=round(time.perf_counter() - began, 2), predictions=None,
    )
    if save_predictions is not None:
        write_json_atomic(save_predictions, prediction_records(pairs, predictions, checkpoint, ks, alpha, scores))
        results["predictions"] = os.path.relpath(Path(save_predictions).resolve(), Path(out).resolve().parent)
    write_json_atomic(out, results)
    return results


def prediction_records(pairs: Sequence[Pair], predictions: Sequence[np.ndarray], checkpoint: str | None,
                       ks: Sequence[int] = DEFAULT_KS, alpha: float = 0.1,
                       scores: Sequence[np.ndarray | None] | None = None) -> list[dict]:
    """PREDS.json (SPEC §7) with the truth, the keypoint type and the verdict per k added;
    ``score`` is null for methods that give no confidence."""
    records = []
    for i, (pair, pred) in enumerate(zip(pairs, predictions)):
        verdicts = correctness(pair, pred, ks, alpha)
        pair_scores = scores[i] if scores is not None and scores[i] is not None else [None] * len(pair)
        records.append({
            "source": pair.source, "target": pair.target, "action": pair.action, "checkpoint": checkpoint,
            "keypoints": [
                {"name": name, "source": _point(s), "target": _point(p), "score": None if c is None else round(float(c), 4),
                 "truth": _point(t), "type": kind, "moment": m, "correct": v}
                for name, s, p, t, kind, m, v, c in zip(pair.names, pair.src, pred, pair.tgt, pair.types, pair.moments,
                                                         verdicts, pair_scores)
            ],
        })
    return records


def _point(p) -> list:
    t, x, y = (float(v) for v in p)
    return [None if np.isnan(t) else int(round(t)), None if np.isnan(x) else round(x, 3), None if np.isnan(y) else round(y, 3)]
