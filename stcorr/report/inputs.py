"""Reading what the report gathers: RESULTS.json files, their saved predictions, and a training run folder."""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from stcorr.errors import StcorrError
from stcorr.evaluation.predictions import check_predictions
from stcorr.files import read_json

KS = ("1", "3", "5")
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")

Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False, strict=True)]
Count = Annotated[int, Field(ge=0, strict=True)]
Group = dict[str, Union[Count, Fraction]]  # {"T@1": fraction, ..., "n_points": count}


class Curves(BaseModel):
    k: list[Count]
    pck_vs_k: list[Fraction]
    alpha: list[Annotated[float, Field(gt=0, allow_inf_nan=False)]]
    pck_vs_alpha: dict[str, list[Fraction]]

    @model_validator(mode="after")
    def _same_lengths(self) -> "Curves":
        if len(self.k) != len(self.pck_vs_k) or any(len(v) != len(self.alpha) for v in self.pck_vs_alpha.values()):
            raise ValueError("each curve needs one value per k or alpha")
        return self


class PairRow(BaseModel):
    model_config = ConfigDict(extra="allow")
    source: str
    target: str
    action: Optional[str] = None


class ResultsFile(BaseModel):
    """What the report reads of a RESULTS.json (docs/formats.md#resultsjson, and the optional keys
    ``stcorr eval`` adds)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    method: str
    t1: Fraction = Field(alias="T@1")
    t3: Fraction = Field(alias="T@3")
    t5: Fraction = Field(alias="T@5")
    data: Optional[str] = None
    split: Optional[str] = None
    setup: Optional[str] = None
    alpha: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 0.1
    n_pairs: Optional[Count] = None
    n_points: Optional[Count] = None
    per_action: Optional[dict[str, Group]] = None
    per_type: Optional[dict[str, Group]] = None
    per_action_type: Optional[dict[str, dict[str, Group]]] = None
    per_moment: Optional[dict[str, Group]] = None
    curves: Optional[Curves] = None
    per_pair: Optional[list[PairRow]] = None
    predictions: Optional[str] = None
    config: Optional[dict] = None
    command: Optional[str] = None
    checkpoint: Optional[str] = None
    failed_pairs: Optional[Count] = None


@dataclass
class Result:
    """One RESULTS.json, with the label and colour it keeps across the page."""

    path: Path
    data: dict
    label: str = ""
    colour: str = COLOURS[0]
    records: list[dict] | None = None  # saved predictions given on the command line

    def get(self, key: str, default=None):
        return self.data.get(key, default)

    def score(self, k: str) -> float:
        return float(self.data[f"T@{k}"])

    @property
    def per_action(self) -> dict:
        return self.data.get("per_action") or {}

    @property
    def per_type(self) -> dict:
        return self.data.get("per_type") or {}

    @property
    def per_action_type(self) -> dict:
        return self.data.get("per_action_type") or {}


@dataclass
class Run:
    folder: Path
    train_rows: list[dict] = field(default_factory=list)
    val_rows: list[dict] = field(default_factory=list)
    config_text: str | None = None


def read_results(path: str | Path) -> dict:
    """A RESULTS.json object; StcorrError naming the file when it is missing, not JSON, or not such an object."""
    path = Path(path)
    return check_results(read_json(path), path)


def check_results(data, path: Path) -> dict:
    if not isinstance(data, dict):
        raise StcorrError("not a RESULTS.json (expected a JSON object with method, T@1, T@3, T@5)", path)
    try:
        ResultsFile.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise StcorrError(f"not a RESULTS.json ({where}: {error['msg']})", path) from None
    return data


def is_predictions(data) -> bool:
    """Whether a JSON value is saved predictions (PREDS.json: a list of PRED.json) rather than RESULTS.json."""
    return isinstance(data, list) or (isinstance(data, dict) and "keypoints" in data and "method" not in data)


def load_results(paths: list[Path]) -> list[Result]:
    """RESULTS.json files, and the saved predictions among ``paths`` (what ``stcorr eval`` and ``demo``
    write beside them) joined to the results they belong to; every file is read first (so bad input
    fails before anything is written), labels made unique."""
    if not paths:
        raise StcorrError("report needs at least one RESULTS.json")
    results, predictions = [], []
    for path in map(Path, paths):
        data = read_json(path)
        if is_predictions(data):
            predictions.append((path, _check_saved_predictions(data, path)))
        else:
            results.append(Result(path, check_results(data, path)))
    if not results:
        raise StcorrError("report needs at least one RESULTS.json (only saved predictions were given)", paths[0])
    for path, records in predictions:
        _owner(results, path).records = records
    methods = [str(r.data["method"]) for r in results]
    for i, result in enumerate(results):
        label = methods[i] if methods.count(methods[i]) == 1 else f"{methods[i]} ({result.path.stem})"
        taken = {r.label for r in results[:i]}
        result.label = label if label not in taken else f"{label} #{i + 1}"
        result.colour = COLOURS[i % len(COLOURS)]
    return results


def _check_saved_predictions(data, path: Path) -> list[dict]:
    try:
        return check_predictions(data, path)
    except StcorrError as exc:
        why = str(exc).removeprefix(f"{path}: ")
        raise StcorrError(f"not a RESULTS.json, nor saved predictions ({why})", path) from None


def _owner(results: list[Result], predictions: Path) -> Result:
    """The result whose ``predictions`` names this file, else METHOD.json for METHOD.predictions.json."""
    for result in results:
        named = predictions_path(result)
        if named is not None and named.resolve() == predictions.resolve():
            return result
    for result in results:
        if predictions.parent.resolve() == result.path.parent.resolve() and predictions.name == f"{result.path.stem}.predictions.json":
            return result
    raise StcorrError("saved predictions that none of the given RESULTS.json names: give their RESULTS.json too", predictions)


def resolve_data_root(result: Result) -> Path | None:
    """The data root as written, else relative to the RESULTS.json folder; None when neither exists."""
    data = result.get("data")
    if not data:
        return None
    for candidate in (Path(data), result.path.parent / data):
        if candidate.is_dir():
            return candidate
    return None


def predictions_path(result: Result) -> Path | None:
    ref = result.get("predictions")
    if not ref:
        return None
    return Path(ref) if os.path.isabs(ref) else result.path.parent / ref


def load_predictions(result: Result) -> tuple[list[dict] | None, str | None]:
    """(records, None), or (None, why not) when there are no saved predictions or their file cannot be read."""
    if result.records is not None:
        return result.records, None
    file = predictions_path(result)
    if file is None:
        return None, "no saved predictions (run stcorr eval with --save-predictions)"
    try:
        return check_predictions(read_json(file), file), None
    except StcorrError as exc:
        return None, f"saved predictions unusable ({exc})"


def read_run(folder: str | Path) -> Run:
    folder = Path(folder)
    if not folder.is_dir():
        raise StcorrError("run folder not found", folder)
    config = folder / "config.yaml"
    return Run(
        folder=folder,
        train_rows=_read_log(folder / "train_log.csv", ("step", "loss")),
        val_rows=_read_log(folder / "val_log.csv", ("step",)),
        config_text=_read_text(config) if config.is_file() else None,
    )


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise StcorrError("not UTF-8 text", path) from None


def _read_log(path: Path, needed: tuple[str, ...]) -> list[dict[str, float]]:
    """Rows of a CSV log as numbers; an absent file is an empty log, and a row that lacks a needed
    value (the last row of a killed run, say) is left out."""
    if not path.is_file():
        return []
    reader = csv.DictReader(io.StringIO(_read_text(path), newline=""))
    missing = [name for name in needed if name not in (reader.fieldnames or [])]
    if missing:
        raise StcorrError(f"log has no column {missing[0]!r}", path)
    try:
        rows = [{k: float(v) for k, v in row.items() if isinstance(k, str) and k and isinstance(v, str) and v}
                for row in reader]
    except (ValueError, csv.Error) as exc:
        raise StcorrError(f"log holds a value that is not a number ({exc})", path) from None
    return [row for row in rows if all(name in row for name in needed) and math.isfinite(row["step"])]
