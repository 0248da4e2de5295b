"""Time of one training step of a config: what the step budgets of `demo`, `cpu-long` and the
equal-CPU comparisons in docs/results/ are computed from.

    .venv/bin/python benchmarks/train_step.py DATA [--config demo] [--set KEY=VALUE ...] [--steps 20] [--warmup 3]
        [--profile N] [--compare OLD [--rounds 2]]

Trains ``--warmup`` steps in a fresh run, then ``--warmup + --steps`` steps in another; the
difference of the two runs' CPU and wall time over ``--steps`` is the cost of a step without the
start-up (model building, first data reads). Steps differ (each draws its own pairs and dense
points): 6 steps put cpu-long-pose at 1.09 s where 20 steps and a whole run give 1.4-1.5 s, hence
20 by default. Validation and checkpoints are off. Prints one JSON object; measures, asserts
nothing. Other processes on the machine change the wall time far more than the CPU time: stop
them for a figure to quote.

``--profile N`` (correspondence learner) adds "sections": seconds per step of N more steps, split
into decode+augment, pose maps, other data work, backbone / correlation / aggregator / fine stage
forward and backward, the optimiser and the rest (``benchmarks/step_profile.py``).

``--compare OLD`` measures the code of commit OLD (checked out in a temporary git worktree) and
this code in the same run: ``--rounds`` rounds, each timing OLD then this code in fresh processes
(so that both see the same machine load), and prints both sides' per-round figures, their medians
and the ratio old / new. OLD may instead be a JSON file this script printed (a saved baseline:
then only this code is measured, and the ratio mixes two moments of the machine).
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


def measure(args: argparse.Namespace) -> dict:
    """This code's step time (and, with ``--profile``, its sections) as one JSON-able dict."""
    overrides = parse_overrides(args.overrides)
    dataset = open_dataset(args.data)
    short_cpu, short_wall = timed_run(args.config, overrides, dataset, args.warmup)
    long_cpu, long_wall = timed_run(args.config, overrides, dataset, args.warmup + args.steps)
    result = {
        "config": args.config, "overrides": args.overrides, "steps": args.steps,
        "cpu_s_per_step": round((long_cpu - short_cpu) / args.steps, 3),
        "wall_s_per_step": round((long_wall - short_wall) / args.steps, 3),
        "torch_threads": torch.get_num_threads(),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    if args.profile:
        result["sections"] = profiled_sections(args.config, overrides, dataset, args.warmup, args.profile)
    return result


def profiled_sections(cfg_name: str, overrides: dict, dataset, warmup: int, steps: int) -> dict:
    """Seconds per step by section over ``steps`` steps after ``warmup`` unprofiled ones."""
    from step_profile import profile_steps  # noqa: E402  (beside this script)

    from stcorr.learners import learner_class
    from stcorr.training.engine import build_optimizer

    cfg = load_config(cfg_name, overrides)
    torch.manual_seed(cfg["seed"])
    learner = learner_class(cfg["task"])(cfg, dataset, torch.device("cpu"))
    model = learner.build_model()
    optimizer = build_optimizer(model, learner.backbone_parameters(model), cfg["train"])
    tc = cfg["train"]
    profile_steps(learner, model, optimizer, 0, warmup, tc["batch_size"], tc["grad_clip"])
    return profile_steps(learner, model, optimizer, warmup * tc["batch_size"], steps, tc["batch_size"],
                         tc["grad_clip"])


def compare(args: argparse.Namespace, argv: list[str]) -> dict:
    """Old and new measured alternately (``--rounds`` times), or new against a saved baseline JSON."""
    passed = _without_compare(argv)
    if Path(args.compare).is_file():
        old_rounds = [json.loads(Path(args.compare).read_text())]
        new_rounds = [_run_script(Path(__file__).resolve().parents[1], passed) for _ in range(args.rounds)]
    else:
        with _old_worktree(args.compare) as old_root:
            old_rounds, new_rounds = [], []
            for _ in range(args.rounds):
                old_rounds.append(_run_script(old_root, passed))
                new_rounds.append(_run_script(Path(__file__).resolve().parents[1], passed))
    old, new = _summary(old_rounds), _summary(new_rounds)
    return {"config": args.config, "overrides": args.overrides, "steps": args.steps, "old": args.compare,
            "old_rounds": old_rounds, "new_rounds": new_rounds, "old_median": old, "new_median": new,
            "speedup_cpu": round(old["cpu_s_per_step"] / new["cpu_s_per_step"], 2),
            "speedup_wall": round(old["wall_s_per_step"] / new["wall_s_per_step"], 2),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}


def _summary(rounds: list[dict]) -> dict:
    return {key: round(statistics.median(r[key] for r in rounds), 3) for key in ("cpu_s_per_step", "wall_s_per_step")}


def _without_compare(argv: list[str]) -> list[str]:
    """The command line less --compare, --rounds and --profile (and their values): what each side runs."""
    out, skip = [], False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if arg in ("--compare", "--rounds", "--profile"):
            skip = True
            continue
        if arg.startswith(("--compare=", "--rounds=", "--profile=")):
            continue
        out.append(arg)
    return out


def _run_script(root: Path, argv: list[str]) -> dict:
    """Runs ``root``'s benchmarks/train_step.py with ``argv`` in a fresh process; its JSON."""
    done = subprocess.run([sys.executable, str(root / "benchmarks" / "train_step.py"), *argv], cwd=root,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


class _old_worktree:
    """A detached git worktree of ``commit`` in a temporary folder, removed afterwards."""

    def __init__(self, commit: str):
        self.commit, self.repo = commit, Path(__file__).resolve().parents[1]

    def __enter__(self) -> Path:
        self.folder = Path(tempfile.mkdtemp(prefix="train-step-old-")) / "tree"
        subprocess.run(["git", "-C", str(self.repo), "worktree", "add", "--detach", str(self.folder), self.commit],
                       check=True, capture_output=True)
        return self.folder

    def __exit__(self, *exc) -> None:
        subprocess.run(["git", "-C", str(self.repo), "worktree", "remove", "--force", str(self.folder)],
                       check=False, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--config", default="demo")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="also profile N steps by section")
    parser.add_argument("--compare", metavar="OLD", help="commit (or saved JSON) to measure against, alternately")
    parser.add_argument("--rounds", type=int, default=2, help="with --compare: old/new alternations")
    args = parser.parse_args()
    result = compare(args, sys.argv[1:]) if args.compare else measure(args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
