"""Model verbs: ``train``, ``eval``, ``predict``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from stcorr.cli.common import (MAX_STEPS, ConfigOpt, DeviceOpt, OverwriteOpt, SetOpt, WeightsOpt, build_config, command_line,
                               config_file, console, in_range, load_dataset, load_pairs, parse_ks, read_keypoints,
                               resolve_device)
from stcorr.cli.data_commands import AlphaOpt, MaxPairsOpt, SeedOpt, print_scores
from stcorr.config import parse_overrides
from stcorr.errors import StcorrError
from stcorr.cli.outputs import MIN_FREE_BYTES, check_outputs, training_folder



def train(
    data: Annotated[Optional[Path], typer.Option("--data", help="Data set root (Penn Action layout or pairs layout).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Run folder: checkpoint/, config.yaml, train_log.csv, val_log.csv.")] = None,
    config: ConfigOpt = None,
    model: Annotated[Optional[str], typer.Option(help="Aggregator: ants or st-cats.")] = None,
    setup: Annotated[Optional[str], typer.Option(help="13+3, 3+3 or r10.")] = None,
    backbone: Annotated[Optional[str], typer.Option(help="r3d18, r2plus1d18 or r2plus1d34.")] = None,
    backbone_weights: WeightsOpt = None,
    max_steps: Annotated[Optional[int], typer.Option("--max-steps", callback=in_range(1, MAX_STEPS), help="Stop after N steps.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its checkpoint.")] = False,
    init: Annotated[Optional[Path], typer.Option("--init", help="Start from this checkpoint's weights (finetuning), or only its backbone when it is a corrflow-st checkpoint.")] = None,
    set_: SetOpt = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    overwrite: OverwriteOpt = False,
    list_tasks_: Annotated[bool, typer.Option("--list-tasks", help="Print the tasks it trains, one a line, and stop.")] = False,
) -> None:
    """Train a learner on the train split: the space-time matcher (ANTs or st-CATs; the default), or what
    the config's `task` names (see --list-tasks). Under torchrun it trains data-parallel:
    torchrun --nproc_per_node=8 -m stcorr.cli.main train ..."""
    # imported when the verb runs, so every other verb starts without it
    from stcorr.training.engine import train as run_training

    if list_tasks_:
        return list_tasks()
    if data is None or out is None:
        raise StcorrError("train needs --data and --out (or --list-tasks)")
    owner = int(os.environ.get("RANK", "0")) == 0  # rank 0 owns the run folder; the others only read inputs
    check_outputs("train", {"--data": data, "--init": init, "--backbone-weights": backbone_weights,
                            "--config": config_file(config)}, folders={"--out": out} if owner else {},
                  overwrite=overwrite, min_free=checkpoint_room(out / "checkpoint"))
    if model is not None and model not in ("ants", "st-cats"):
        raise StcorrError(f"--model takes ants or st-cats, not {model!r} (st-match has nothing to train)")
    cfg = build_config(config, set_, **{"model.aggregator": model, "data.setup": setup, "model.backbone": backbone,
                                        "model.weights": backbone_weights, "train.max_steps": max_steps})
    with training_folder(out, resume, locked=owner):
        if not resume and (out / "checkpoint").exists():
            raise StcorrError("run folder already holds a checkpoint: use --resume, or another --out", out)
        dataset = load_dataset(data)
        result = run_training(cfg, dataset, out, resume=resume, init=init, progress=progress)
    console.print(f"{result.summary}; checkpoint: {out / 'checkpoint'}")


def checkpoint_room(checkpoint: Path) -> int:
    """Bytes free needed to save the run's checkpoint again: the new one is written beside the old."""
    held = sum(f.stat().st_size for f in checkpoint.glob("*") if f.is_file()) if checkpoint.is_dir() else 0
    return max(MIN_FREE_BYTES, 2 * held)


def list_tasks() -> None:
    """Prints each task ``train`` can train (the learner registry), one a line, with what it trains."""
    # imported when the verb runs, so every other verb starts without it
    from stcorr.learners import LEARNERS

    width = max(len(name) for name in LEARNERS)
    typer.echo("\n".join(f"{name:<{width}}  {learner.description} model" for name, learner in LEARNERS.items()))


def eval_(
    data: Annotated[Optional[Path], typer.Option("--data", help="Data set root.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="RESULTS.json to write.")] = None,
    checkpoint: Annotated[Optional[Path], typer.Option("--checkpoint", help="A trained checkpoint (folder).")] = None,
    method: Annotated[Optional[str], typer.Option("--method", help="A method needing no checkpoint (see --list-methods).")] = None,
    split: Annotated[str, typer.Option(help="train or val.")] = "val",
    setup: Annotated[str, typer.Option(help="13+3, 3+3 or r10.")] = "13+3",
    max_pairs: MaxPairsOpt = None,
    seed: SeedOpt = 0,
    ks: Annotated[str, typer.Option(help="Frame tolerances k, comma separated.")] = "1,3,5",
    alpha: AlphaOpt = 0.1,
    save_predictions: Annotated[Optional[Path], typer.Option("--save-predictions", help="Also write the predictions (PREDS.json, with truth and verdicts).")] = None,
    config: ConfigOpt = None,
    backbone_weights: WeightsOpt = None,
    set_: SetOpt = None,
    device: DeviceOpt = "auto",
    list_methods: Annotated[bool, typer.Option("--list-methods", help="Print the method names, one a line, and stop.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    task: Annotated[str, typer.Option("--task", help="correspondence (T@k-PCK), track (keypoint tracking, PCK@0.1/0.2) or classify (a cpnet checkpoint's accuracy).")] = "correspondence",
    features: Annotated[Optional[str], typer.Option("--features", help="--task track without a checkpoint: pixels or untrained.")] = None,
    overwrite: OverwriteOpt = False,
) -> None:
    """Evaluate a checkpoint or a parameter-free method with T@k-PCK; prints Table 3 and 4 style scores.
    st-match without --backbone-weights uses a backbone drawn from the config's seed (--set seed=N)."""
    # imported when the verb runs, so every other verb starts without it
    from stcorr.evaluation.methods import build_method, from_checkpoint, list_methods as names
    from stcorr.evaluation.runner import evaluate

    if list_methods:
        typer.echo("\n".join(names()))
        return
    if data is None or out is None:
        raise StcorrError("eval needs --data and --out (or --list-methods)")
    outputs = dict(verb="eval", inputs={"--data": data, "--checkpoint": checkpoint, "--config": config_file(config),
                                        "--backbone-weights": backbone_weights},
                   files={"--out": out, "--save-predictions": save_predictions}, overwrite=overwrite)
    if task == "track":  # keypoint tracking: stcorr/cli/track_commands.py
        from stcorr.cli.track_commands import eval_track

        check_outputs(**outputs)
        return eval_track(data, out, checkpoint, features, split, config, set_, progress)
    if task == "classify":  # actions forward / reversed (stcorr train --config cpnet): stcorr/cli/classify_commands.py
        from stcorr.cli.classify_commands import eval_classify

        check_outputs(**outputs)
        return eval_classify(data, out, checkpoint, split, progress)
    if task != "correspondence":
        raise StcorrError(f"--task takes correspondence, track or classify, not {task!r}")
    if (checkpoint is None) == (method is None):
        raise StcorrError("eval needs exactly one of --checkpoint and --method")
    if checkpoint is not None:
        refuse_with_checkpoint(config=config, set_=set_, backbone_weights=backbone_weights)
    k_values = parse_ks(ks)
    check_outputs(**outputs)
    torch_device = resolve_device(device)
    dataset = load_dataset(data)
    pairs = load_pairs(dataset, split, setup, max_pairs, seed)
    if checkpoint is not None:
        runner, info = from_checkpoint(checkpoint, torch_device)
        cfg = info["config"]
    else:
        cfg = build_config(config, set_, **{"model.weights": backbone_weights})
        runner = build_method(method, cfg, torch_device)
    results = evaluate(runner, dataset, pairs, out, split=split, setup=setup, ks=k_values, alpha=alpha,
                       save_predictions=save_predictions, config=cfg, command=command_line(), progress=progress)
    print_scores(results, k_values)
    if results["failed_pairs"]:
        console.print(f"[yellow]warning:[/] {results['failed_pairs']} of {len(pairs)} pair(s) failed and count as wrong; "
                      f"first: {results['failures'][0]}", soft_wrap=True)
    console.print(f"wrote {out}")


def refuse_with_checkpoint(**flags) -> None:
    """A checkpoint carries its own config and weights: flags that would change them are refused."""
    given = [name for name, value in flags.items() if value]
    if given:
        flag = "--" + given[0].rstrip("_").replace("_", "-")
        raise StcorrError(f"{flag} has no effect with --checkpoint (the checkpoint carries its own config and weights)")


def predict(
    source: Annotated[Path, typer.Option("--source", help="Source video file or frame folder.")],
    target: Annotated[Path, typer.Option("--target", help="Target video file or frame folder.")],
    keypoints: Annotated[Path, typer.Option("--keypoints", help='KP.json: {"keypoints": [{"name", "t", "x", "y"}]} in source pixels; a name is a joint (left_wrist, ...) or anything else / null (any point).')],
    out: Annotated[Path, typer.Option("--out", help="PRED.json to write.")],
    checkpoint: Annotated[Optional[str], typer.Option("--checkpoint", help="A trained checkpoint (folder, or stcorr:NAME): a space-time matcher, or a trained part of --method (tcc, lrprop, cycle, cats2d).")] = None,
    method: Annotated[Optional[str], typer.Option("--method", help="A method of `stcorr eval --list-methods` (not gt-time or pose-oracle: they need the truth). Default: dtw-pose+pose, or st-match without MediaPipe.")] = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    viz: Annotated[Optional[Path], typer.Option("--viz", help="Also draw the matches: FILE.png, or FILE.mp4 for a video.")] = None,
    device: DeviceOpt = "auto",
    overwrite: OverwriteOpt = False,
) -> None:
    """Predict where source keypoints go in the target video, with no training: a method
    (default dtw-pose+pose: MediaPipe's joints align the whole videos in time, then each point is
    placed by the body around it) or a trained checkpoint. Prints the method it used.

    A space-time matcher's windows: the source clip covers the frames of the given keypoints;
    the target video is subsampled WHOLE into one clip of the checkpoint's clip length, or, when
    too long for that at data.max_target_stride, covered by overlapping windows, each point
    keeping its best-scoring window.
    """
    # imported when the verb runs, so every other verb starts without it
    from stcorr.data.video import Video
    from stcorr.evaluation.predict import Predictor
    from stcorr.files import file_writer, json_text
    from stcorr.models.checkpoint import checkpoint_path
    from stcorr.predictor import check_points

    if viz is not None and viz.suffix.lower() not in (".png", ".jpg", ".jpeg", ".mp4"):
        raise StcorrError(f"--viz takes a .png, .jpg or .mp4 file name, not {viz.name!r}")
    if checkpoint is not None and method is None:
        refuse_with_checkpoint(config=config, set_=set_)
    check_outputs("predict", {"--checkpoint": checkpoint and checkpoint_path(checkpoint), "--source": source,
                              "--target": target, "--keypoints": keypoints},
                  files={"--out": out, "--viz": viz}, overwrite=overwrite)
    names, points = read_keypoints(keypoints)
    src_video, tgt_video = Video(source), Video(target)
    check_points(src_video, points, str(keypoints))
    torch_device = resolve_device(device)
    if method is None and checkpoint is not None:
        predictor = Predictor.from_checkpoint(checkpoint, torch_device)
    else:
        predictor = Predictor.from_method(method, torch_device, config, parse_overrides(set_ or []), checkpoint)
    result = predictor.predict(src_video, tgt_video, points, names)
    console.print(f"method: {predictor.name}" + (f" (uses {predictor.checkpoint})" if predictor.checkpoint else ""))
    scores = [None] * len(names) if result.scores is None else [round(float(c), 4) for c in result.scores]
    record = {
        "source": src_video.name, "target": tgt_video.name, "method": predictor.name, "checkpoint": predictor.checkpoint,
        "keypoints": [{"name": n, "source": [int(s[0]), float(s[1]), float(s[2])],
                       "target": [int(p[0]), round(float(p[1]), 3), round(float(p[2]), 3)], "score": c}
                      for n, s, p, c in zip(names, points, result.points, scores)],
    }
    with file_writer(out) as tmp:  # PRED.json and its drawing together, or neither
        tmp.write_text(json_text(record))
        if viz is not None:
            from stcorr.viz import save_visualisation

            save_visualisation(viz, src_video, tgt_video, record["keypoints"])
    console.print(f"wrote {out} ({len(names)} keypoints)" + (f" and {viz}" if viz is not None else ""))


def register(app: typer.Typer) -> None:
    app.command()(train)
    app.command("eval")(eval_)
    app.command()(predict)
