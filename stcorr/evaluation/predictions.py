"""PRED.json / PREDS.json (docs/formats.md#predjson): reading outside methods' predictions and lining them
up with pairs.

A prediction answers a ground-truth correspondence when it names the same pair (source, target
video names) and the same source point (t, x, y), and the same keypoint name when both give one.
A target that is null, or holds a null (what ``stcorr eval --save-predictions`` writes for a pair
that failed), is no prediction: the correspondence counts as wrong.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from stcorr.data.pairs import Pair
from stcorr.errors import StcorrError
from stcorr.files import read_json

SOURCE_TOLERANCE = 1e-3  # pixels and frames: the source point is copied from the ground truth


def read_predictions(path: str | Path) -> list[dict]:
    """A JSON list of PRED.json objects (a single object is taken as a list of one)."""
    return check_predictions(read_json(path), Path(path))


def check_predictions(data, path: Path) -> list[dict]:
    """The PRED.json records of a JSON value (a list of them, or one); StcorrError naming ``path`` if malformed."""
    records = [data] if isinstance(data, dict) else data
    if not isinstance(records, list):
        raise StcorrError("expected a list of PRED.json objects", path)
    for i, record in enumerate(records):
        _check_prediction(record, i, path)
    return records


def _check_prediction(record, index: int, path: Path) -> None:
    if not isinstance(record, dict) or not all(isinstance(record.get(k), str) for k in ("source", "target")):
        raise StcorrError(f'prediction {index}: needs "source" and "target" video names', path)
    keypoints = record.get("keypoints")
    if not isinstance(keypoints, list):
        raise StcorrError(f'prediction {index}: "keypoints" must be a list', path)
    for kp in keypoints:
        ok = isinstance(kp, dict) and _is_point(kp.get("source")) and (
            kp.get("target") is None or _is_point(kp["target"], missing_allowed=True))
        if not ok:
            raise StcorrError(f'prediction {index}: each keypoint needs "source" and "target" as [t, x, y] '
                              "of finite numbers (a null target: no prediction)", path)
        name = kp.get("name")
        if name is not None and not isinstance(name, str):
            raise StcorrError(f'prediction {index}: a keypoint "name" must be a string or null', path)


def _is_point(value, missing_allowed: bool = False) -> bool:
    """[t, x, y] of finite numbers (or nulls, when ``missing_allowed``)."""
    def number(v) -> bool:
        if v is None:
            return missing_allowed
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    return isinstance(value, list) and len(value) == 3 and all(number(v) for v in value)


def align_predictions(pairs: Sequence[Pair], records: list[dict]) -> list[np.ndarray]:
    """For each pair, (K, 3) predicted target points in the pair's order; NaN where none was given."""
    by_pair: dict[tuple[str, str], list[dict]] = {}
    for record in records:
        by_pair.setdefault((record["source"], record["target"]), []).extend(record["keypoints"])
    return [_match_pair(pair, by_pair.get((pair.source, pair.target), [])) for pair in pairs]


def _match_pair(pair: Pair, keypoints: list[dict]) -> np.ndarray:
    out = np.full((len(pair), 3), np.nan)
    if not keypoints:
        return out
    sources = np.array([kp["source"] for kp in keypoints], dtype=np.float64)
    names = [kp.get("name") for kp in keypoints]
    for i, (point, name) in enumerate(zip(pair.src, pair.names)):
        close = np.all(np.abs(sources - point) <= SOURCE_TOLERANCE, axis=1)
        candidates = [j for j in np.nonzero(close)[0] if names[j] is None or name is None or names[j] == name]
        if candidates:
            out[i] = _target(keypoints[candidates[0]])
    return out


def _target(keypoint: dict) -> list[float]:
    target = keypoint.get("target")
    if target is None or any(v is None for v in target):
        return [np.nan] * 3
    return [float(v) for v in target]
