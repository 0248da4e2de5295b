"""``stcorr eval --task classify``: a clip classifier of ``stcorr train --config cpnet`` scored on a split."""

from __future__ import annotations

from pathlib import Path

from stcorr.cli.common import command_line, console, load_dataset
from stcorr.errors import StcorrError


def eval_classify(data: Path, out: Path, checkpoint: Path | None, split: str, progress: bool) -> None:
    """Accuracy of the checkpoint's classes (actions x forward / reversed) on ``split``; writes RESULTS.json
    ({"task": "classify", "accuracy", "action_accuracy", "direction_accuracy", "per_action", ...})."""
    # imported when the verb runs, so every other verb starts without it
    from stcorr.models.action_clips import evaluate_classifier
    from stcorr.files import write_json
    from stcorr.models.checkpoint import load_checkpoint

    if checkpoint is None:
        raise StcorrError("--task classify needs --checkpoint (a run of stcorr train --config cpnet)")
    model, info = load_checkpoint(checkpoint, "cpnet")
    dataset = load_dataset(data)
    results = evaluate_classifier(model, dataset, split, batch=int(info["config"]["cpnet"]["val_batch"]),
                                  progress=progress)
    results = {**results, "method": model.config["network"], "data": str(data), "checkpoint": str(checkpoint),
               "command": command_line()}
    write_json(out, results)
    console.print(f"{results['method']}: accuracy {100 * results['accuracy']:.1f}% (chance {100 * results['chance']:.1f}%), "
                  f"action {100 * results['action_accuracy']:.1f}%, direction {100 * results['direction_accuracy']:.1f}% "
                  f"({results['n_clips']} clips of {results['n_videos']} {split} videos)")
    console.print(f"wrote {out}")
