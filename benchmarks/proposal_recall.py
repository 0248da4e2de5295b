"""Recall of the sparse aggregator's proposals: the share of val points whose true target cell is among
the k target cells proposed for their source cell. A point whose true cell is not proposed cannot be
matched, and the selection itself carries no gradient, so this bounds what training can fix.

    .venv/bin/python benchmarks/proposal_recall.py DATA CKPT [CKPT ...] [--pairs 30] [--seed 0]

CKPT: checkpoints of `stcorr train ... --set model.aggregator=sparse`. Val pairs drawn as `stcorr eval
--max-pairs N --seed S` draws them; clips as training's val examples (no augmentation). Prints one JSON
object; measures, asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stcorr.data.datasets import open_dataset  # noqa: E402
from stcorr.models.checkpoint import load_matcher  # noqa: E402
from stcorr.models.readout import target_cells  # noqa: E402
from stcorr.learners.correspondence import ClipSettings, make_example  # noqa: E402


def proposal_recall(dataset, checkpoint: Path, n_pairs: int, seed: int) -> dict:
    """Recall of one checkpoint's proposals over ``n_pairs`` val pairs."""
    matcher, info = load_matcher(checkpoint)
    matcher.eval()
    data_cfg = info["config"]["data"]
    settings = ClipSettings.from_config(data_cfg)
    clip_size = (data_cfg["clip_len"], data_cfg["size"], data_cfg["size"])
    pairs = dataset.pairs(split="val", setup=data_cfg["setup"], min_visible=data_cfg["min_visible"]).sample(n_pairs, seed)
    found = total = 0
    for pair in pairs:
        example = make_example(dataset, pair, settings, None)
        with torch.no_grad():
            volume = matcher.cost_volume(example["src"][None], example["tgt"][None])
        valid = example["valid"]
        src_cells = target_cells(example["src_points"][None], matcher.grid, clip_size)[0][valid]
        true_cells = target_cells(example["tgt_points"][None], matcher.grid, clip_size)[0][valid]
        found += int((volume.targets[0][src_cells] == true_cells[:, None]).any(-1).sum())
        total += len(true_cells)
    k = volume.targets.shape[-1]
    return {"checkpoint": str(checkpoint), "step": info.get("step"), "grid": list(matcher.grid), "k": k,
            "points": total, "recall": found / max(total, 1), "chance": k / volume.n_tgt}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("checkpoints", type=Path, nargs="+")
    parser.add_argument("--pairs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    dataset = open_dataset(args.data)
    rows = [proposal_recall(dataset, ckpt, args.pairs, args.seed) for ckpt in args.checkpoints]
    print(json.dumps({"data": str(args.data), "pairs": args.pairs, "seed": args.seed, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
