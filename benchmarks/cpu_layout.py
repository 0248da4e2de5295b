"""Wall time of a training step of a fixed global batch, by how the CPU's cores are used:
one process at T threads, or P torchrun processes (gloo) at one thread each.

    .venv/bin/python benchmarks/cpu_layout.py DATA [--config cpu-long] [--layouts 1x2,1x1,2x1]
        [--steps 10] [--warmup 2] [--rounds 3] [--set KEY=VALUE ...]

A layout PxT is P processes of T threads (``OMP_NUM_THREADS``); with P > 1 the run goes through
``torchrun --standalone --nproc-per-node P`` with ``train.batch_size`` = global batch / P, so every
layout trains the same examples per step (the engine makes P processes train exactly as one).
Each layout trains ``--warmup`` steps in one ``stcorr train`` run and ``--warmup + --steps`` in
another (fresh processes, validation and checkpoints off). Wall seconds per step: from the longer
run's train_log.csv (``elapsed_s`` of its last row less that of step ``--warmup``, over ``--steps``),
which leaves out start-up; CPU seconds per step: the difference of the two runs' CPU seconds (all
their processes) over ``--steps``. Layouts alternate within each round
so that they see the same machine load; the machine's load average is printed with every round.
Prints one JSON object; measures, asserts nothing. Only an otherwise idle machine gives the
figures to quote.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stcorr.training.logs import read_log  # noqa: E402


def layout_command(processes: int, data: Path, config: str, out: Path, steps: int, overrides: list[str],
                   global_batch: int) -> list[str]:
    """The ``stcorr train`` command line of one run of ``processes`` processes."""
    settings = [*overrides, f"train.max_steps={steps}", "train.val_every=0", "train.checkpoint_every=1000000",
                "train.log_every=1",
                f"train.batch_size={global_batch // processes}"]
    train = ["-m", "stcorr.cli.main", "train", "--data", str(data), "--config", config, "--out", str(out),
             "--no-progress", *[arg for setting in settings for arg in ("--set", setting)]]
    if processes == 1:
        return [sys.executable, *train]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}", *train]


def cpu_seconds(command: list[str], threads: int) -> float:
    """CPU seconds of the command's processes (one run)."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def logged_seconds(run: Path, first: int, last: int) -> float:
    """Wall seconds between the ends of steps ``first`` and ``last`` by the run's train_log.csv."""
    elapsed = {int(row["step"]): float(row["elapsed_s"]) for row in read_log(run / "train_log.csv")}
    return elapsed[last] - elapsed[first]


def measure_layout(layout: str, args: argparse.Namespace, global_batch: int) -> dict:
    """{"wall_s_per_step", "cpu_s_per_step"} of layout "PxT"."""
    processes, threads = (int(n) for n in layout.split("x"))
    if global_batch % processes:
        raise SystemExit(f"global batch {global_batch} does not split over {processes} processes")
    cpu, wall = [], 0.0
    for steps in (args.warmup, args.warmup + args.steps):
        with tempfile.TemporaryDirectory() as scratch:
            run = Path(scratch) / "run"
            cpu.append(cpu_seconds(layout_command(processes, args.data, args.config, run, steps, args.overrides,
                                                  global_batch), threads))
            wall = logged_seconds(run, args.warmup, steps) if steps > args.warmup else wall
    return {"wall_s_per_step": round(wall / args.steps, 3), "cpu_s_per_step": round((cpu[1] - cpu[0]) / args.steps, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--config", default="cpu-long")
    parser.add_argument("--layouts", default="1x2,1x1,2x1", help="comma-separated PxT: processes x threads")
    parser.add_argument("--global-batch", type=int, default=2, help="pairs per step over all processes")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    args.data = args.data.resolve()
    layouts = args.layouts.split(",")
    rounds = []
    for _ in range(args.rounds):
        load_before = os.getloadavg()[0]
        row = {layout: measure_layout(layout, args, args.global_batch) for layout in layouts}
        rounds.append({"load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)], **row})
        print(json.dumps(rounds[-1]), file=sys.stderr, flush=True)
    medians = {layout: statistics.median(r[layout]["wall_s_per_step"] for r in rounds) for layout in layouts}
    print(json.dumps({
        "config": args.config, "global_batch": args.global_batch, "steps": args.steps, "rounds": rounds,
        "median_wall_s_per_step": medians,
        "median_cpu_s_per_step": {layout: statistics.median(r[layout]["cpu_s_per_step"] for r in rounds)
                                  for layout in layouts},
        "wall_speedup_vs_first": {layout: round(medians[layouts[0]] / medians[layout], 2) for layout in layouts},
    }, indent=1))


if __name__ == "__main__":
    main()
