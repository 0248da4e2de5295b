"""What every command shares: the console, one-line errors, range-checked numbers, data sets and pairs from flags."""

from __future__ import annotations

import math
import shlex
import sys
from pathlib import Path
from typing import Annotated, Callable, Optional, TypeVar

import typer

from stcorr.config import load_config, packaged_configs, parse_overrides
from stcorr.console import console
from stcorr.data.datasets import Dataset, open_dataset
from stcorr.data.pairs import PairList
from stcorr.errors import StcorrError

OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help=(
    "Replace existing output files stcorr did not write (it never deletes them otherwise; docs/outputs.md)."))]
Number = TypeVar("Number", int, float)
MAX_SEED = 2**32 - 1  # numpy's and torch's generators both take it
MAX_STEPS = 10**9  # limits no real use reaches: past them a typo asks for years of work or terabytes
MAX_VIDEOS_PER_ACTION = 10_000
MAX_K = 10_000  # frames of tolerance; a video that long has more frames than any in a benchmark
MAX_FPS = 1_000


def in_range(low: float | None = None, high: float | None = None, *, above: float | None = None
             ) -> Callable[[Number | None], Number | None]:
    """A typer option callback that refuses numbers outside ``low <= value <= high`` (and
    ``value > above``), NaN and infinities, as a one-line usage error (exit status 2)."""
    bounds = [f">= {low:g}" if low is not None else "", f"> {above:g}" if above is not None else "",
              f"<= {high:g}" if high is not None else ""]
    wanted = " and ".join(b for b in bounds if b)

    def check(value):
        if value is None:
            return value
        ok = (math.isfinite(value) and (low is None or value >= low) and (above is None or value > above)
              and (high is None or value <= high))
        if not ok:
            kind = "a whole number" if isinstance(value, int) else "a finite number"
            raise typer.BadParameter(f"{value} is not {kind} {wanted}".strip())
        return value

    return check


def load_dataset(root: Path) -> Dataset:
    dataset = open_dataset(root)
    if dataset.skipped:
        console.print(f"[yellow]warning:[/] skipped {len(dataset.skipped)} broken video(s); first: {dataset.skipped[0]}")
    return dataset


def load_pairs(dataset: Dataset, split: str, setup: str, max_pairs: int | None, seed: int, min_visible: int = 3) -> PairList:
    pairs = dataset.pairs(split=split, setup=setup, min_visible=min_visible).sample(max_pairs, seed)
    if len(pairs) == 0:
        raise StcorrError(f"no {split} pairs with at least {min_visible} correspondences in setup {setup}", dataset.root)
    return pairs


def parse_ks(text: str) -> tuple[int, ...]:
    try:
        ks = tuple(int(k) for k in text.split(",") if k.strip())
    except ValueError:
        raise StcorrError(f"--ks takes whole numbers separated by commas, not {text!r}") from None
    if not ks or min(ks) < 0 or max(ks) > MAX_K or len(ks) > 100:
        raise StcorrError(f"--ks takes up to 100 whole numbers from 0 to {MAX_K}, not {text!r}")
    return ks


def command_line() -> str:
    return "stcorr " + " ".join(shlex.quote(a) for a in sys.argv[1:])


ConfigOpt = Annotated[Optional[str], typer.Option("--config", help=f"YAML file or packaged config ({', '.join(packaged_configs())}).")]
SetOpt = Annotated[Optional[list[str]], typer.Option("--set", help="Override a config key, e.g. --set train.lr=0.001 (repeatable).")]
DeviceOpt = Annotated[str, typer.Option(help="cpu, cuda, cuda:N or auto.")]
WeightsOpt = Annotated[Optional[Path], typer.Option("--backbone-weights", help="Backbone state dict with torchvision's names (.pth or .safetensors).")]


def resolve_device(name: str):
    # imported when the verb runs, so every other verb starts without it
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise StcorrError(f"--device {name}: CUDA is not available on this machine")
    try:
        return torch.device(name)
    except RuntimeError:
        raise StcorrError(f"--device takes cpu, cuda, cuda:N or auto, not {name!r}") from None


def build_config(config: str | None, sets: list[str] | None, **flags) -> dict:
    overrides = parse_overrides(sets or [])
    overrides.update({k: v for k, v in flags.items() if v is not None})
    if overrides.get("model.weights") is not None:
        overrides["model.weights"] = str(overrides["model.weights"])
    return load_config(config, overrides)


def config_file(config: str | None) -> Path | None:
    """--config as an input file, when it names one (not a packaged config)."""
    return Path(config) if config is not None and Path(config).exists() else None


def read_keypoints(path: Path):
    """KP.json (docs/formats.md#kpjson) -> (names, (K, 3) native t, x, y)."""
    # imported when the verb runs, so every other verb starts without it
    import numpy as np

    from stcorr.files import read_json

    data = read_json(path)
    entries = data.get("keypoints") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise StcorrError('expected {"keypoints": [{"name", "t", "x", "y"}, ...]}', path)
    if not entries:
        raise StcorrError("the keypoint list is empty", path)
    names, points = [], []
    for i, kp in enumerate(entries):
        ok = isinstance(kp, dict) and all(isinstance(kp.get(k), (int, float)) and not isinstance(kp.get(k), bool)
                                          and math.isfinite(kp[k]) for k in "txy")
        if not ok or not float(kp["t"]).is_integer():
            raise StcorrError(f"keypoint {i}: needs a whole frame index t and finite numbers x, y", path)
        if kp.get("name") is not None and not isinstance(kp["name"], str):
            raise StcorrError(f'keypoint {i}: "name" must be a string or null', path)
        names.append(kp.get("name"))
        points.append([kp["t"], kp["x"], kp["y"]])
    return names, np.array(points, dtype=np.float64)
