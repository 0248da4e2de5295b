"""Reading what the report gathers: RESULTS.json files, their saved predictions, and a training run folder."""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from stcorr.errors import StcorrError

KS = ("1", "3", "5")
REQUIRED_KEYS = ("method", "T@1", "T@3", "T@5")
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


@dataclass
class Result:
    """One RESULTS.json, with the label and colour it keeps across the page."""

    path: Path
    data: dict
    label: str = ""
    colour: str = COLOURS[0]

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
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StcorrError("file not found", path) from None
    except IsADirectoryError:
        raise StcorrError("is a folder, expected a RESULTS.json file", path) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StcorrError(f"not valid JSON ({exc})", path) from None
    if not isinstance(data, dict) or any(key not in data for key in REQUIRED_KEYS):
        raise StcorrError(f"not a RESULTS.json (needs {', '.join(REQUIRED_KEYS)})", path)
    if not all(isinstance(data[f"T@{k}"], (int, float)) for k in KS):
        raise StcorrError("not a RESULTS.json (T@1, T@3, T@5 must be numbers)", path)
    return data


def load_results(paths: list[Path]) -> list[Result]:
    """Every file read first (so bad input fails before anything is written), labels made unique."""
    if not paths:
        raise StcorrError("report needs at least one RESULTS.json")
    results = [Result(Path(p), read_results(p)) for p in paths]
    methods = [str(r.data["method"]) for r in results]
    for i, result in enumerate(results):
        label = methods[i] if methods.count(methods[i]) == 1 else f"{methods[i]} ({result.path.stem})"
        taken = {r.label for r in results[:i]}
        result.label = label if label not in taken else f"{label} #{i + 1}"
        result.colour = COLOURS[i % len(COLOURS)]
    return results


def resolve_data_root(result: Result) -> Path | None:
    """The data root as written, else relative to the RESULTS.json folder; None when neither exists."""
    data = result.get("data")
    if not data:
        return None
    for candidate in (Path(data), result.path.parent / data):
        if candidate.is_dir():
            return candidate
    return None


def load_predictions(result: Result) -> tuple[list[dict] | None, str | None]:
    """(records, None), or (None, why not) when the results name no predictions or the file cannot be read."""
    ref = result.get("predictions")
    if not ref:
        return None, "no saved predictions (run stcorr eval with --save-predictions)"
    file = Path(ref) if os.path.isabs(ref) else result.path.parent / ref
    try:
        records = json.loads(file.read_text(encoding="utf-8"))
    except OSError:
        return None, f"predictions file {file} not found"
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None, f"predictions file {file} is not valid JSON"
    if not isinstance(records, list) or not all(isinstance(r, dict) and "keypoints" in r for r in records):
        return None, f"predictions file {file} is not a list of prediction records"
    return records, None


def read_run(folder: str | Path) -> Run:
    folder = Path(folder)
    if not folder.is_dir():
        raise StcorrError("run folder not found", folder)
    config = folder / "config.yaml"
    return Run(
        folder=folder,
        train_rows=_read_log(folder / "train_log.csv", ("step", "loss")),
        val_rows=_read_log(folder / "val_log.csv", ("step",)),
        config_text=config.read_text(encoding="utf-8") if config.is_file() else None,
    )


def _read_log(path: Path, needed: tuple[str, ...]) -> list[dict[str, float]]:
    """Rows of a CSV log as numbers; an absent file is an empty log."""
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [name for name in needed if name not in (reader.fieldnames or [])]
        if missing:
            raise StcorrError(f"log has no column {missing[0]!r}", path)
        try:
            return [{k: float(v) for k, v in row.items() if k and v not in (None, "")} for row in reader]
        except ValueError as exc:
            raise StcorrError(f"log holds a value that is not a number ({exc})", path) from None
