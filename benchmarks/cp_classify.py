"""C2D vs CPNet vs a small R3D at equal steps on the forward/reversed action task (``stcorr train
--config cpnet``): val accuracy (chance 1 / classes) and the CPU seconds of each training run.

    OMP_NUM_THREADS=1 python benchmarks/cp_classify.py --data DATA --runs RUNS [--steps 300] [--seeds 0,1]
        [--networks c2d,cpnet,r3d] [--set cpnet.size=64 ...]

DATA: a Penn Action-layout set (e.g. ``stcorr synth DATA --videos-per-action 6 --seed 0``). Each
(network, seed) trains in RUNS/NETWORK-sSEED with the packaged ``cpnet`` config and ``--set``
overrides; a run folder that already holds a finished checkpoint is scored, not retrained. Prints
one JSON object: per run the steps, CPU seconds of training (process time, validation passes
included), the val figures of its last step and its val_log.csv curve.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import torch


def run_one(data: Path, run: Path, network: str, seed: int, steps: int, sets: dict) -> dict:
    from stcorr.config import load_config
    from stcorr.data.datasets import open_dataset
    from stcorr.evaluation.classify import evaluate_classifier
    from stcorr.training.checkpoint import load_learned, read_checkpoint_info
    from stcorr.training.engine import train

    cfg = load_config("cpnet", {**sets, "cpnet.network": network, "seed": seed, "train.max_steps": steps,
                                "train.val_every": max(steps // 3, 1)})
    finished = (run / "checkpoint").exists() and read_checkpoint_info(run / "checkpoint")[1]["step"] == steps
    began = time.process_time()
    if not finished:
        train(cfg, open_dataset(data), run, resume=(run / "checkpoint").exists(), progress=False)
    cpu = time.process_time() - began
    model, _ = load_learned(run / "checkpoint", "cpnet")
    results = evaluate_classifier(model, open_dataset(data), "val")
    with open(run / "val_log.csv") as f:
        curve = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    return {"network": network, "seed": seed, "steps": steps, "cpu_seconds": round(cpu, 1) if not finished else None,
            "parameters": sum(p.numel() for p in model.parameters()),
            **{k: results[k] for k in ("accuracy", "action_accuracy", "direction_accuracy", "chance", "n_clips")},
            "per_action_direction_accuracy": {a: r["direction_accuracy"] for a, r in results["per_action"].items()},
            "val_curve": curve}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--networks", default="c2d,cpnet,r3d")
    parser.add_argument("--set", action="append", default=[], dest="sets", help="config override KEY=VALUE")
    args = parser.parse_args()
    from stcorr.config import parse_overrides

    sets = parse_overrides(args.sets)
    results = [run_one(args.data, args.runs / f"{network}-s{seed}", network, int(seed), args.steps, sets)
               for seed in args.seeds.split(",") for network in args.networks.split(",")]
    print(json.dumps({"data": str(args.data), "threads": torch.get_num_threads(), "overrides": args.sets,
                      "runs": results}, indent=1))


if __name__ == "__main__":
    main()
