"""ANTs from scratch against ANTs after corrflow-st pretraining, at equal total CPU seconds.

    stcorr synth DATA --videos-per-action 6 --seed 0
    OMP_NUM_THREADS=1 python benchmarks/corrflow_st_pretraining.py --data DATA --runs RUNS \\
        [--steps 800] [--pretrain-steps 300] [--max-pairs 60]

1. ``stcorr train --config demo --max-steps STEPS`` (scratch), its CPU seconds C, and beside it
2. ``stcorr train --config corrflow-st --max-steps PRETRAIN`` on the train videos (labels never
   read), its CPU seconds P.
3. ``stcorr train --config demo --init RUNS/pretrain/checkpoint`` for the steps that C - P buys at
   the scratch run's CPU seconds per step (the backbone starts pretrained, the aggregator fresh);
   or, with ``--finetune-steps K``, K steps started as soon as pretraining ends (K estimated from
   earlier runs; the report gives both arms' CPU seconds, to see how equal they came out).
4. ``stcorr eval --max-pairs N --seed 0`` of both; with ``--equal-steps`` also ANTs after
   pretraining for STEPS steps (more CPU in all: whether pretraining helps at all).

Validation during training is off in every run (its CPU would count). CPU seconds are user + sys
of each command (``os.wait4``: the process and what it waited for); side-by-side runs share the
machine alike, but CPU seconds on a busy machine run higher than alone. Prints JSON; asserts nothing. Runs that
already hold a checkpoint and their figures (RUNS/*.cpu.json) are reused, so an interrupted
measurement continues.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

STCORR = [sys.executable, "-m", "stcorr.cli.main"]


def start(args: list[str], record: Path) -> tuple | None:
    """``stcorr ARGS`` started in the background; None when ``record`` says it already ran."""
    return None if record.is_file() else (args, record, subprocess.Popen(STCORR + args))


def finish(job: tuple | None, record: Path) -> float:
    """CPU seconds (user + sys: ``os.wait4``, the process and what it waited for) of a started
    command, written to its record file; the recorded figure when it ran before."""
    if job is not None:
        args, _, process = job
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            raise SystemExit(f"failed: stcorr {' '.join(args)}")
        record.write_text(json.dumps({"command": ["stcorr", *args], "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1)}))
    return json.loads(record.read_text())["cpu_seconds"]


def timed(args: list[str], record: Path) -> float:
    return finish(start(args, record), record)


def ants_command(data: Path, run: Path, steps: int, init: Path | None = None) -> tuple[list[str], Path]:
    args = ["train", "--config", "demo", "--data", str(data), "--out", str(run), "--max-steps", str(steps),
            "--set", "train.val_every=0", "--no-progress"] + (["--init", str(init)] if init else [])
    return args, run.with_suffix(".cpu.json")


def evaluate(data: Path, runs: list[Path], max_pairs: int) -> list[dict]:
    """T@1/3/5 (%) of each run's checkpoint on ``max_pairs`` val pairs (seed 0), evaluated side by side."""
    jobs = []
    for run in runs:
        args = ["eval", "--data", str(data), "--checkpoint", str(run / "checkpoint"), "--max-pairs", str(max_pairs),
                "--seed", "0", "--out", str(run.with_suffix(".results.json")), "--no-progress"]
        jobs.append((start(args, run.with_suffix(".eval.cpu.json")), run))
    figures = []
    for job, run in jobs:
        seconds = finish(job, run.with_suffix(".eval.cpu.json"))
        results = json.loads(run.with_suffix(".results.json").read_text())
        figures.append({k: round(100 * results[k], 1) for k in ("T@1", "T@3", "T@5")}
                       | {"n_points": results["n_points"], "eval_cpu_seconds": round(seconds, 1)})
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--pretrain-steps", type=int, default=300)
    parser.add_argument("--max-pairs", type=int, default=60)
    parser.add_argument("--finetune-steps", type=int, default=None,
                        help="fix the steps after pretraining (estimated from earlier runs) so that they start as soon as "
                             "pretraining ends, beside the scratch run; the report shows whether the CPU came out equal")
    parser.add_argument("--equal-steps", action="store_true")
    args = parser.parse_args()
    args.runs.mkdir(parents=True, exist_ok=True)
    pretrain = args.runs / "pretrain"
    scratch = ants_command(args.data, args.runs / "scratch", args.steps)
    scratch_job = start(*scratch)
    pretrain_cpu = timed(["train", "--config", "corrflow-st", "--data", str(args.data), "--out", str(pretrain),
                          "--max-steps", str(args.pretrain_steps), "--no-progress"], pretrain.with_suffix(".cpu.json"))
    if args.finetune_steps is None:  # the steps that the scratch run's CPU seconds less the pretraining's buy
        scratch_cpu, scratch_job = finish(scratch_job, scratch[1]), None
        finetune_steps = int((scratch_cpu - pretrain_cpu) / (scratch_cpu / args.steps))
    else:
        finetune_steps = args.finetune_steps
    if finetune_steps < 1:
        raise SystemExit(f"pretraining took {pretrain_cpu:.0f} CPU s, more than the scratch run: give fewer "
                         "--pretrain-steps or more --steps")
    finetune_cpu = timed(*ants_command(args.data, args.runs / "pretrained", finetune_steps, init=pretrain / "checkpoint"))
    scratch_cpu = finish(scratch_job, scratch[1])
    scratch_scores, pretrained_scores = evaluate(args.data, [args.runs / "scratch", args.runs / "pretrained"], args.max_pairs)
    report = {
        "data": str(args.data), "max_pairs": args.max_pairs,
        "scratch": {"steps": args.steps, "cpu_seconds": round(scratch_cpu, 1), **scratch_scores},
        "pretrained": {"pretrain_steps": args.pretrain_steps, "pretrain_cpu_seconds": round(pretrain_cpu, 1),
                       "steps": finetune_steps, "cpu_seconds": round(finetune_cpu, 1),
                       "total_cpu_seconds": round(pretrain_cpu + finetune_cpu, 1), **pretrained_scores},
    }
    if args.equal_steps:
        equal = args.runs / "pretrained-equal-steps"
        cpu = timed(*ants_command(args.data, equal, args.steps, init=pretrain / "checkpoint"))
        report["pretrained_equal_steps"] = {"steps": args.steps, "cpu_seconds": round(cpu, 1),
                                            **evaluate(args.data, [equal], args.max_pairs)[0]}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
