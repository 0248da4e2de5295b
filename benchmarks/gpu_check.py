"""GPU check: the paper-13+3 config for a few hundred steps on every local GPU, in one prepared run.

    python benchmarks/gpu_check.py [--data DATA] [--steps 200] [--budget-s 540] [--out FOLDER]
    python benchmarks/gpu_check.py --dry-run        # CPU, tiny sizes: what the tests run

Cases, each a ``torchrun --standalone --nproc_per_node=GPUS`` training run (NCCL on GPUs, gloo on
the CPU) of ``--config paper-13+3`` (random backbone: no Kinetics weights travel with this script):
ANTs at 8x8x8 with bf16 autocast, ANTs at 8x8x8 in fp32, the sparse aggregator at 16x16x16 with
bf16 autocast. Each case gets ``--budget-s`` / cases of wall time and is stopped there (the rows
it logged are kept). Without ``--data`` a small synthetic set is made first (4 videos per action
and split, 128x128). Prints one JSON object: per case the processes, the median seconds per step
after the first logged rows (start-up, cuDNN autotuning), peak GPU memory of rank 0, and the loss
curve (one mean every ``log_every`` steps). Measures, asserts nothing.

``--dry-run`` runs the same path on the CPU at tiny sizes (clips 8x32x32, R3D width 4, grids 2^3
and 4^3, 4 steps, one process unless ``--processes``), to show the script works before a GPU
machine is at hand.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CASES = {  # name: overrides of paper-13+3
    "ants8-bf16": {"model.aggregator": "ants", "model.grid": [8, 8, 8], "train.amp": True},
    "ants8-fp32": {"model.aggregator": "ants", "model.grid": [8, 8, 8], "train.amp": False},
    "sparse16-bf16": {"model.aggregator": "sparse", "model.grid": [16, 16, 16], "train.amp": True},
}
TINY = {  # --dry-run: the same cases at sizes a CPU test runs in seconds
    "data.clip_len": 8, "data.size": 32, "data.source_window": "whole", "model.backbone": "r3d18",
    "model.width": 4, "model.blocks": [1, 1, 1, 1], "model.layers": [2, 3, 4], "train.batch_size": 1,
    "train.val_every": 0,
}
JOB_VARIABLE = "GPU_CHECK_JOB"  # set for the processes torchrun starts: they train one case
TINY_GRIDS = {"ants8-bf16": [2, 2, 2], "ants8-fp32": [2, 2, 2], "sparse16-bf16": [4, 4, 4]}


def worker(job: dict) -> None:
    """One process of a case (run by torchrun; the job in $GPU_CHECK_JOB): trains, then rank 0
    writes the job's result file (JSON)."""
    import torch

    from stcorr.config import load_config
    from stcorr.data.datasets import open_dataset
    from stcorr.training.engine import train

    cfg = load_config("paper-13+3", job["overrides"])
    result = train(cfg, open_dataset(job["data"]), Path(job["run"]), progress=False)
    if int(os.environ.get("RANK", 0)) == 0:
        cuda = torch.cuda.is_available()
        Path(job["result"]).write_text(json.dumps({
            "device": torch.cuda.get_device_name(0) if cuda else "cpu",
            "peak_memory_mb": round(torch.cuda.max_memory_allocated() / 2**20) if cuda else None,
            "steps_done": result.step,
        }))


def case_overrides(name: str, steps: int, dry_run: bool) -> dict:
    """The overrides of case ``name`` for a run of ``steps`` steps, logged every few steps."""
    overrides = {**CASES[name], "train.max_steps": steps, "train.checkpoint_every": 10**9, "train.val_every": 0,
                 "train.log_every": max(1, min(10, steps // 20))}
    if dry_run:
        overrides.update({**TINY, "model.grid": TINY_GRIDS[name], "train.log_every": 1})
    return overrides


def run_case(name: str, data: Path, steps: int, processes: int, budget_s: float, folder: Path,
             dry_run: bool) -> dict:
    """Runs one case under torchrun, stopped after ``budget_s``; its figures from the run's log."""
    from stcorr.training.logs import read_log

    run, result = folder / name, folder / f"{name}.json"
    overrides = case_overrides(name, steps, dry_run)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
               str(Path(__file__).resolve())]
    job = {"data": str(data), "run": str(run), "result": str(result), "overrides": overrides}
    began = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=budget_s,
                              cwd=Path(__file__).resolve().parents[1], env={**os.environ, JOB_VARIABLE: json.dumps(job)})
        status = "ok" if done.returncode == 0 else f"failed: {_last_line(done.stderr)}"
    except subprocess.TimeoutExpired:
        status = f"stopped after {budget_s:.0f} s"
    rows = read_log(run / "train_log.csv") if (run / "train_log.csv").is_file() else []
    info = json.loads(result.read_text()) if result.is_file() else {}
    return {"case": name, "status": status, "processes": processes, "overrides": overrides,
            "wall_s": round(time.perf_counter() - began, 1), **info,
            "steps_logged": int(rows[-1]["step"]) if rows else 0,
            "s_per_step": _step_time(rows),
            "loss_curve": [[int(r["step"]), round(float(r["loss"]), 5)] for r in rows]}


def _step_time(rows: list[dict]) -> float | None:
    """Median seconds per step between logged rows, the first quarter of rows (start-up) left out."""
    points = [(int(r["step"]), float(r["elapsed_s"])) for r in rows]
    points = points[len(points) // 4:]
    rates = [(t1 - t0) / (s1 - s0) for (s0, t0), (s1, t1) in zip(points, points[1:]) if s1 > s0]
    return round(statistics.median(rates), 4) if rates else None


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][-300:] if lines else "no message"


def make_data(folder: Path, dry_run: bool) -> Path:
    """A small synthetic set (tiny frames for the dry run)."""
    from stcorr.data import synthetic

    data = folder / "data"
    size = (48, 48) if dry_run else (128, 128)
    synthetic.generate(data, seed=0, videos_per_action=2 if dry_run else 4, size=size, progress=False)
    return data


def check(data: Path | None, steps: int, processes: int, budget_s: float, folder: Path, dry_run: bool,
          cases: list[str]) -> dict:
    """Every case, one after the other, inside ``budget_s`` in all."""
    began = time.perf_counter()
    data = data or make_data(folder, dry_run)
    made = time.perf_counter() - began
    per_case = max((budget_s - made) / len(cases), 1.0)
    results = [run_case(name, data, steps, processes, per_case, folder, dry_run) for name in cases]
    return {"dry_run": dry_run, "processes": processes, "steps": steps, "data": str(data),
            "data_s": round(made, 1), "cases": results, "wall_s": round(time.perf_counter() - began, 1)}


def local_gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--budget-s", type=float, default=540.0, help="wall time of all cases together")
    parser.add_argument("--processes", type=int, help="processes per case (default: every local GPU, else 1)")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated: " + ", ".join(CASES))
    parser.add_argument("--out", type=Path, help="folder for the runs (default: a temporary one)")
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny sizes, 4 steps")
    if JOB_VARIABLE in os.environ:
        worker(json.loads(os.environ[JOB_VARIABLE]))
        return
    args = parser.parse_args()
    cases = [c for c in args.cases.split(",") if c]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case {unknown[0]} (known: {', '.join(CASES)})")
    gpus = local_gpus()
    if not gpus and not args.dry_run:
        parser.error("no CUDA device here: run with --dry-run for the CPU check")
    processes = args.processes or max(gpus, 1)
    steps = 4 if args.dry_run else args.steps
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as scratch:
        folder = args.out or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        print(json.dumps(check(args.data, steps, processes, args.budget_s, folder, args.dry_run, cases)))


if __name__ == "__main__":
    main()
