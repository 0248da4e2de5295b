"""Time of one training step of a config: what the step budgets of `demo`, `cpu-long` and the
equal-CPU comparisons in docs/results/ are computed from.

    .venv/bin/python benchmarks/train_step.py DATA [--config demo] [--set KEY=VALUE ...] [--steps 20] [--warmup 3]

Trains ``--warmup`` steps in a fresh run, then ``--warmup + --steps`` steps in another; the
difference of the two runs' CPU and wall time over ``--steps`` is the cost of a step without the
start-up (model building, first data reads). Steps differ (each draws its own pairs and dense
points): 6 steps put cpu-long-pose at 1.09 s where 20 steps and a whole run give 1.4-1.5 s, hence
20 by default. Validation and checkpoints are off. Prints one JSON object; measures, asserts
nothing. Other processes on the machine change the wall time far more than the CPU time: stop
them for a figure to quote.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stcorr.config import load_config, parse_overrides  # noqa: E402
from stcorr.data.datasets import open_dataset  # noqa: E402
from stcorr.training.engine import train  # noqa: E402


def timed_run(cfg_name: str, overrides: dict, dataset, steps: int) -> tuple[float, float]:
    """(CPU s, wall s) of training ``steps`` steps from scratch."""
    cfg = load_config(cfg_name, {**overrides, "train.max_steps": steps, "train.val_every": 0,
                                 "train.checkpoint_every": 10**6})
    with tempfile.TemporaryDirectory() as run:
        cpu, wall = time.process_time(), time.perf_counter()
        train(cfg, dataset, Path(run) / "run", progress=False)
        return time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--config", default="demo")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    overrides = parse_overrides(args.overrides)
    dataset = open_dataset(args.data)
    short_cpu, short_wall = timed_run(args.config, overrides, dataset, args.warmup)
    long_cpu, long_wall = timed_run(args.config, overrides, dataset, args.warmup + args.steps)
    print(json.dumps({
        "config": args.config, "overrides": args.overrides, "steps": args.steps,
        "cpu_s_per_step": round((long_cpu - short_cpu) / args.steps, 3),
        "wall_s_per_step": round((long_wall - short_wall) / args.steps, 3),
        "torch_threads": torch.get_num_threads(),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }))


if __name__ == "__main__":
    main()
