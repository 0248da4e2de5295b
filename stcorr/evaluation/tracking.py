"""Keypoint tracking evaluation (``stcorr eval --task track``) and the features it runs on.

    features = tracking_features(checkpoint=None, features="pixels")
    results = evaluate_tracking(dataset, features, PropagationSettings.defaults(), split="val")

Every video of the split (Penn Action layout: every frame labelled) has its first frame's joints
propagated through the whole video; ``stcorr.metrics.tracking`` scores them (PCK@0.1/0.2).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from stcorr.data.datasets import Dataset, check_split
from stcorr.errors import StcorrError
from stcorr.metrics.tracking import ALPHAS, pck_summary, tracking_correct
from stcorr.models.checkpoint import load_checkpoint, read_checkpoint_info
from stcorr.models.propagation import (EncoderFeatures, FrameFeatures, PixelFeatures, PropagationSettings,
                                       propagate_keypoints, untrained_encoder)
from stcorr.progress import progress_bar

FEATURE_KINDS = ("pixels", "untrained")


def tracking_features(checkpoint: Path | str | None, features: str | None, cfg: dict) -> FrameFeatures:
    """The features to propagate with: a CorrFlow checkpoint's encoder (a folder, or ``stcorr:NAME``) (``corrflow`` or ``corrflow-st``:
    the space-time encoder sees ``batch_frames`` consecutive frames as one clip), ``pixels`` (raw Lab), or
    ``untrained`` (the config's CorrFlow encoder with its initial random weights)."""
    if (checkpoint is None) == (features is None):
        raise StcorrError("give exactly one of --checkpoint and --features")
    if checkpoint is not None:
        task = "corrflow-st" if read_checkpoint_info(checkpoint)[1].get("task") == "corrflow-st" else "corrflow"
        model, _ = load_checkpoint(checkpoint, task)
        return EncoderFeatures(model, name=f"{task}:{checkpoint}", device=torch.device("cpu"))
    if features == "pixels":
        return PixelFeatures()
    if features == "untrained":
        return EncoderFeatures(untrained_encoder(cfg["corrflow"], cfg["seed"]), name="untrained")
    raise StcorrError(f"--features takes {' or '.join(FEATURE_KINDS)}, not {features!r}")


def tracked_videos(dataset: Dataset, split: str) -> list[str]:
    """Names of the videos of ``split`` ("train", "val" or "all") whose first frame has a labelled joint."""
    if not dataset.labels:
        raise StcorrError("keypoint tracking needs per-frame joint labels: a data set in the Penn Action layout", dataset.root)
    split = split if split == "all" else check_split(split)
    names = [name for name in dataset.videos(split) if dataset.labels[name].visible[0].any()]
    if not names:
        raise StcorrError(f"no {split} videos with joints labelled in their first frame", dataset.root)
    return names


def track_video(dataset: Dataset, name: str, features: FrameFeatures, settings: PropagationSettings):
    """(predicted (T, K, 2), truth (T, K, 2), labelled (T, K)) for one video, T = its labelled frames."""
    labels = dataset.labels[name]
    video = dataset.video(name)
    frames = min(labels.num_frames, video.num_frames)
    truth = np.stack([labels.x[:frames], labels.y[:frames]], -1)
    labelled = labels.visible[:frames].copy()
    joints = np.flatnonzero(labelled[0])
    tracks = propagate_keypoints(video, 0, truth[0, joints], features, settings)
    predicted = np.zeros_like(truth)
    for t in range(frames):
        predicted[t, joints] = tracks[t][:, :2]
    return predicted, truth, labelled


def evaluate_tracking(dataset: Dataset, features: FrameFeatures, settings: PropagationSettings,
                      split: str = "val", progress: bool = True) -> dict:
    """Tracking RESULTS.json (docs/formats.md#tracking-resultsjson) for ``dataset``'s videos of ``split``."""
    names = tracked_videos(dataset, split)
    started = time.perf_counter()
    per_action: dict[str, tuple[dict, list]] = {}
    per_video = {}
    with progress_bar("tracking", len(names), enabled=progress) as bar:
        for name in names:
            correct, scored = tracking_correct(*track_video(dataset, name, features, settings))
            action = dataset.labels[name].action
            parts, counts = per_action.setdefault(action, ({a: [] for a in ALPHAS}, []))
            for alpha in ALPHAS:
                parts[alpha].append(correct[alpha])
            counts.append(scored)
            per_video[name] = {"action": action, **pck_summary({a: [correct[a]] for a in ALPHAS}, [scored])}
            bar.advance()
    all_correct = {a: [c for parts, _ in per_action.values() for c in parts[a]] for a in ALPHAS}
    all_scored = [s for _, counts in per_action.values() for s in counts]
    return {
        "task": "track", "method": features.name, "data": str(dataset.root), "split": split,
        "n_videos": len(names), **pck_summary(all_correct, all_scored),
        "per_action": {action: {**pck_summary(parts, counts), "n_videos": len(counts)}
                       for action, (parts, counts) in sorted(per_action.items())},
        "per_video": per_video,
        "settings": dict(settings.__dict__),
        "seconds": round(time.perf_counter() - started, 2),
    }
