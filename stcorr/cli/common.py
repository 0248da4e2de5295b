"""What every command shares: the console, one-line errors, data sets and pairs from flags."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from stcorr.console import console
from stcorr.data.datasets import Dataset, open_dataset
from stcorr.data.pairs import PairList
from stcorr.errors import StcorrError



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
    if not ks or min(ks) < 0:
        raise StcorrError(f"--ks takes non-negative whole numbers, not {text!r}")
    return ks


def command_line() -> str:
    return "stcorr " + " ".join(shlex.quote(a) for a in sys.argv[1:])
