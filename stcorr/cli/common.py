"""What every command shares: the console, one-line errors, range-checked numbers, data sets and pairs from flags."""

from __future__ import annotations

import math
import shlex
import sys
from pathlib import Path
from typing import Annotated, Callable, TypeVar

import typer

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
