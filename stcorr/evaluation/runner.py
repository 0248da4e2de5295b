"""Runs a method over benchmark pairs and writes RESULTS.json and, if asked, its predictions.

A pair whose prediction fails with bad input (an unreadable video, say) counts as wrong and is
listed in RESULTS.json ``failures``; when every pair fails nothing is written and
``NothingScored`` is raised.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from stcorr.data.datasets import Dataset
from stcorr.data.pairs import Pair
from stcorr.errors import StcorrError
from stcorr.evaluation.results import correctness, score_pairs
from stcorr.files import json_text, write_files
from stcorr.metrics.pck import DEFAULT_KS
from stcorr.progress import progress_bar

MAX_LISTED_FAILURES = 20  # RESULTS.json lists this many failed pairs; failed_pairs counts them all


class NothingScored(StcorrError):
    """Every pair failed: there is no score to write."""


def check_method(method, dataset: Dataset) -> None:
    """Raises StcorrError when ``method`` cannot run on ``dataset`` (its ``check``, if it has one)."""
    check = getattr(method, "check", None)
    if check is not None:
        check(dataset)


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
                failures.append(f"{pair.source} -> {pair.target}: {exc}")
                predictions.append(np.full((len(pair), 3), np.nan))
                scores.append(None)
            bar.advance()
    return predictions, scores, failures


def evaluate(method, dataset: Dataset, pairs: Sequence[Pair], out: Path, *, split: str, setup: str,
             ks: Sequence[int] = DEFAULT_KS, alpha: float = 0.1, save_predictions: Path | None = None,
             config: dict | None = None, command: str | None = None, progress: bool = True) -> dict:
    began = time.perf_counter()
    check_method(method, dataset)
    predictions, scores, failures = predict_pairs(method, dataset, pairs, progress)
    if pairs and len(failures) == len(pairs):
        raise NothingScored(f"{method.name}: all {len(pairs)} pairs failed, nothing to score; first: {failures[0]}")
    results = score_pairs(pairs, predictions, ks, alpha, method=method.name, data=str(dataset.root), split=split, setup=setup)
    checkpoint = getattr(method, "checkpoint", None)
    results.update(
        config=config, command=command, checkpoint=checkpoint, failed_pairs=len(failures),
        failures=failures[:MAX_LISTED_FAILURES], seconds=round(time.perf_counter() - began, 2), predictions=None,
    )
    contents = {}
    if save_predictions is not None:
        contents[save_predictions] = json_text(prediction_records(pairs, predictions, checkpoint, ks, alpha, scores))
        results["predictions"] = os.path.relpath(Path(save_predictions).resolve(), Path(out).resolve().parent)
    contents[out] = json_text(results)
    write_files(contents)  # RESULTS.json and its predictions together, or neither
    return results


def prediction_records(pairs: Sequence[Pair], predictions: Sequence[np.ndarray], checkpoint: str | None,
                       ks: Sequence[int] = DEFAULT_KS, alpha: float = 0.1,
                       scores: Sequence[np.ndarray | None] | None = None) -> list[dict]:
    """PREDS.json (docs/formats.md#predsjson) with the truth, the keypoint type and the verdict per k added;
    ``score`` is null for methods that give no confidence, ``target`` [null, null, null] where the
    method gave no prediction (its pair failed): ``stcorr score`` counts those as wrong."""
    records = []
    for i, (pair, pred) in enumerate(zip(pairs, predictions)):
        verdicts = correctness(pair, pred, ks, alpha)
        pair_scores = scores[i] if scores is not None and scores[i] is not None else [None] * len(pair)
        records.append({
            "source": pair.source, "target": pair.target, "action": pair.action, "checkpoint": checkpoint,
            "keypoints": [
                {"name": name, "source": _point(s), "target": _point(p), "score": _number(c),
                 "truth": _point(t), "type": kind, "moment": m, "correct": v}
                for name, s, p, t, kind, m, v, c in zip(pair.names, pair.src, pred, pair.tgt, pair.types, pair.moments,
                                                         verdicts, pair_scores)
            ],
        })
    return records


def _number(value) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 4)


def _point(p) -> list:
    """[t, x, y] with null for a missing (non-finite) value; t a whole frame."""
    t, x, y = (float(v) if np.isfinite(v) else None for v in p)
    return [None if t is None else int(round(t)), None if x is None else round(x, 3), None if y is None else round(y, 3)]
