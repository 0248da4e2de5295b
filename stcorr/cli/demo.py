"""``stcorr demo``: the whole job on the embedded default, in one command.

DIR/data         the synthetic benchmark (made once)
DIR/checkpoint   the trained ANTs model (usable as --checkpoint), with DIR/config.yaml and logs
DIR/results/METHOD.json   RESULTS.json of each method on the val split (same pairs)
DIR/figure.png   a Figure-1 picture of a val pair;   DIR/report/index.html   the report
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from stcorr.cli.common import MAX_SEED, MAX_STEPS, MAX_VIDEOS_PER_ACTION, OverwriteOpt, command_line, console, in_range, load_dataset, load_pairs
from stcorr.cli.data_commands import print_scores
from stcorr.config import load_config
from stcorr.cli.outputs import check_outputs, run_lock


def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for everything the demo makes.")] = Path("stcorr-demo"),
    videos_per_action: Annotated[int, typer.Option("--videos-per-action", callback=in_range(2, MAX_VIDEOS_PER_ACTION),
                                                   help="Synthetic videos per action and split.")] = 16,
    max_steps: Annotated[Optional[int], typer.Option("--max-steps", callback=in_range(1, MAX_STEPS),
                                                     help="Training steps (default: the demo config's budget).")] = None,
    eval_pairs: Annotated[int, typer.Option("--eval-pairs", callback=in_range(1), help="Val pairs each method is scored on.")] = 120,
    seed: Annotated[int, typer.Option(callback=in_range(0, MAX_SEED), help="Seed of the data set and of the pair sample.")] = 0,
    overwrite: OverwriteOpt = False,
) -> None:
    """Make a synthetic benchmark, train ANTs on it, score it against st-MATCH on val, draw and report.

    st-MATCH is scored twice: on the untrained backbone (the parameter-free method, as without
    Kinetics weights) and on the backbone ANTs finetuned (what the aggregator adds).
    """
    plan = check_outputs("demo", {}, folders={"--out": out}, overwrite=overwrite)
    began = time.perf_counter()
    with run_lock(out, "stcorr demo"):
        plan.claim()
        phases = _demo(out, videos_per_action, max_steps, eval_pairs, seed)
    split = ", ".join(f"{name} {wall:.0f} / {cpu:.0f}" for name, (wall, cpu) in phases.items())
    console.print(f"done in {time.perf_counter() - began:.0f} s (wall / CPU seconds: {split})")


def _demo(out: Path, videos_per_action: int, max_steps: int | None, eval_pairs: int, seed: int) -> dict[str, tuple[float, float]]:
    """Runs the four phases; returns each one's wall and CPU seconds (what the step budget is checked against)."""
    # imported when the verb runs, so every other verb starts without it
    from stcorr.data import synthetic
    from stcorr.evaluation.methods import build_method, from_checkpoint, st_match_on_checkpoint_backbone
    from stcorr.cli.common import resolve_device
    from stcorr.evaluation.runner import evaluate
    from stcorr.models.checkpoint import read_checkpoint_info
    from stcorr.training.engine import train

    clock = _PhaseClock()
    data = out / "data"
    if not (data / "labels").is_dir():
        console.print(f"[bold]1/4[/] making the synthetic benchmark in {data}")
        synthetic.generate(data, seed=seed, videos_per_action=videos_per_action, size=(128, 128), progress=True)
    dataset = load_dataset(data)
    clock.mark("data")
    cfg = load_config("demo", {"seed": seed} if max_steps is None else {"train.max_steps": max_steps, "seed": seed})
    max_steps = cfg["train"]["max_steps"]
    checkpoint = out / "checkpoint"
    done = checkpoint.exists() and read_checkpoint_info(checkpoint)[1]["step"] >= max_steps
    if not done:
        console.print(f"[bold]2/4[/] training ANTs for {max_steps} steps ({cfg['model']['backbone']} width {cfg['model']['width']}, "
                      f"clips {cfg['data']['clip_len']}x{cfg['data']['size']}x{cfg['data']['size']})")
        train(cfg, dataset, out, resume=checkpoint.exists())
    clock.mark("training")
    console.print(f"[bold]3/4[/] scoring on {eval_pairs} val pairs")
    pairs = load_pairs(dataset, "val", cfg["data"]["setup"], eval_pairs, seed)
    results_dir = out / "results"
    device = resolve_device("auto")  # where training ran: CUDA when there is one
    ants, _ = from_checkpoint(checkpoint, device)
    methods = [build_method("st-match", cfg, device), st_match_on_checkpoint_backbone(checkpoint, device), ants]
    results = []
    for method in methods:
        path = results_dir / f"{method.name}.json"
        results.append(path)
        scores = evaluate(method, dataset, pairs, path, split="val", setup=cfg["data"]["setup"],
                          save_predictions=results_dir / f"{method.name}.predictions.json", config=cfg, command=command_line())
        print_scores(scores, (1, 3, 5))
    clock.mark("scoring")
    console.print("[bold]4/4[/] drawing and reporting")
    figure = _figure(dataset, pairs, ants, out / "figure.png")
    from stcorr.report import build_report

    report = build_report(results, out / "report", run_dir=out)
    clock.mark("figure and report")
    console.print(f"results: {', '.join(str(p) for p in results)}\ncheckpoint: {checkpoint}\nfigure: {figure}\nreport: {report}")
    return clock.seconds


class _PhaseClock:
    """Wall and CPU seconds (all of the process's threads, and its finished child processes: the
    synthetic set is drawn in some) of consecutive phases: ``mark(name)`` closes the phase that ran
    since the last mark."""

    def __init__(self) -> None:
        self.seconds: dict[str, tuple[float, float]] = {}
        self._last = self._now()

    @staticmethod
    def _now() -> tuple[float, float]:
        return time.perf_counter(), sum(os.times()[:4])

    def mark(self, name: str) -> None:
        now = self._now()
        self.seconds[name] = (now[0] - self._last[0], now[1] - self._last[1])
        self._last = now


def _figure(dataset, pairs, method, path: Path) -> Path:
    # imported when the verb runs, so every other verb starts without it
    from stcorr.evaluation.runner import prediction_records
    from stcorr.viz import save_visualisation, verdict_at

    pair = max(pairs, key=len)
    record = prediction_records([pair], [method.predict(dataset, pair)], method.checkpoint)[0]
    save_visualisation(path, dataset.video(pair.source), dataset.video(pair.target), verdict_at(record["keypoints"], "5"))
    return path


def report(
    results: Annotated[list[Path], typer.Argument(help="RESULTS.json files (one per method).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for index.html.")],
    run: Annotated[Path | None, typer.Option("--run", help="A training run folder: adds its loss and val curves.")] = None,
    overwrite: OverwriteOpt = False,
) -> None:
    """Write an HTML report (DIR/index.html, one self-contained page) of one or more results."""
    # imported when the verb runs, so every other verb starts without it
    from stcorr.report import build_report

    logs = [run / name for name in ("train_log.csv", "val_log.csv", "config.yaml")] if run is not None else None  # what it reads
    plan = check_outputs("report", {"RESULTS": results, "--run": logs}, folders={"--out": out}, overwrite=overwrite)
    page = build_report(list(results), out, run_dir=run)
    plan.claim()
    console.print(f"wrote {page}")


def register(app: typer.Typer) -> None:
    app.command()(report)
    app.command()(demo)
