"""The quick check on every shipped model's card: a figure measured on a tiny synthetic set that
anyone can rebuild in seconds (``CHECK_SET``), written on the card by ``scripts/package_model`` and
measured again by the tests, which want the same figure within noise.

    figures = check_figures(resolve_checkpoint("stcorr:cycle"), workdir)

- CorrFlow (``corrflow``): PCK@0.1 and PCK@0.2 of first-frame joints propagated through the tiny
  set's val videos (``stcorr eval --task track``).
- The cycle embedding (``cycle``): the mean of Eq. 7's video similarity over the ordered pairs of
  all the tiny set's videos, and that mean over pairs of one action minus over pairs of two.
- The pose cycle embedding (``cycle-pose``): the mean of ``CyclePoseDistance``'s similarity (1 - the
  distance) over the ordered pairs of the tiny set's videos, each embedded from its annotated joints,
  and that mean over pairs of one action minus over pairs of two.
- The joint space-time matcher (``correspondence``): on the val pairs of the same generator with two
  videos per action (``PAIR_CHECK_SET``: 6 ordered pairs), T@1/T@3/T@5 (fractions) and the mean predicted
  (t, x, y): the means move with any change of the weights or the model's arithmetic.
- The 3D lifter (``lifter``): the tiny set's true 3D joints (``joints3d/``) with their depth halved
  (a view that misjudges depth, as MediaPipe's does) lifted: the median angle error against the
  truth before and after, and the mean absolute lifted coordinate. No MediaPipe needed.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import torch

from stcorr.baselines.cycle_pose import CyclePoseDistance, labelled_embed
from stcorr.config import load_config
from stcorr.data.datasets import open_dataset
from stcorr.data.synthetic.build import generate, read_camera_joints
from stcorr.errors import StcorrError
from stcorr.evaluation.methods import from_checkpoint
from stcorr.evaluation.results import score_pairs
from stcorr.evaluation.runner import predict_pairs
from stcorr.evaluation.tracking import evaluate_tracking, tracking_features
from stcorr.models.propagation import PropagationSettings
from stcorr.models.checkpoint import load_model, read_checkpoint_info
from stcorr.models.cycle_use import CycleFeatures, video_similarity
from stcorr.models.lifter import lift_world
from stcorr.pose.angles import angle_series
from stcorr.pose.maps import AnnotatedJoints

#: The tiny synthetic set of the check: ``stcorr synth --seed 0 --videos-per-action 1 --size 64x64``
#: restricted to these actions (one train and one val video each).
CHECK_SET = {"seed": 0, "videos_per_action": 1, "size": (64, 64), "actions": ["golf_swing", "squat", "tennis_serve"]}
#: The joint matcher's check needs val pairs: two videos per action and split.
PAIR_CHECK_SET = {**CHECK_SET, "videos_per_action": 2}


def check_set(folder: Path, spec: dict = CHECK_SET) -> Path:
    """The tiny synthetic set ``spec`` in ``folder/check-set[-N]`` (made when absent)."""
    root = Path(folder) / ("check-set" if spec == CHECK_SET else f"check-set-{spec['videos_per_action']}")
    if not (root / "labels").is_dir():
        generate(root, workers=1, **spec)  # type: ignore[arg-type]
    return root


def check_set_of(task: str) -> dict:
    """The tiny set a ``task`` model's check runs on (the module docstring)."""
    return PAIR_CHECK_SET if task == "correspondence" else CHECK_SET


def check_figures(checkpoint: Path, folder: Path) -> dict[str, float]:
    """The check figures of the model in ``checkpoint`` (module docstring) on ``check_set(folder)``."""
    task = read_checkpoint_info(checkpoint)[1].get("task")
    dataset = open_dataset(check_set(folder, check_set_of(task)))
    if task == "correspondence":
        return _matcher_figures(checkpoint, dataset)
    if task == "corrflow":
        return _tracking_figures(checkpoint, dataset)
    if task == "cycle":
        return _cycle_figures(checkpoint, dataset)
    if task == "cycle-pose":
        distance = CyclePoseDistance(labelled_embed(load_model(checkpoint, "cycle-pose"), dataset))
        return _similarity_figures(dataset, lambda a, b: 1.0 - distance.distance(a, b))
    if task == "lifter":
        return _lifter_figures(checkpoint, dataset)
    raise StcorrError(f"no check for a {task} model", checkpoint)


def _tracking_figures(checkpoint: Path, dataset) -> dict[str, float]:
    cfg = load_config(None)
    settings = PropagationSettings.checked(cfg["corrflow"]["propagation"])
    results = evaluate_tracking(dataset, tracking_features(checkpoint, None, cfg), settings, split="val", progress=False)
    return {"PCK@0.1": float(results["PCK@0.1"]), "PCK@0.2": float(results["PCK@0.2"])}


def _cycle_figures(checkpoint: Path, dataset) -> dict[str, float]:
    features = CycleFeatures.load(checkpoint, load_config(None))
    return _similarity_figures(dataset, lambda a, b: video_similarity(features.patches(a), features.patches(b)))


def _similarity_figures(dataset, similarity) -> dict[str, float]:
    """The mean of ``similarity(video, video)`` over the ordered pairs of the set's videos, and that
    mean over pairs of one action minus over pairs of two."""
    names = sorted(dataset.labels)
    same, other = [], []
    for a, b in itertools.permutations(names, 2):
        alike = dataset.labels[a].action == dataset.labels[b].action
        (same if alike else other).append(similarity(dataset.video(a), dataset.video(b)))
    mean = float(np.mean(same + other))
    gap = float(np.mean(same) - np.mean(other)) if same and other else 0.0
    return {"mean_similarity": mean, "same_minus_other_action": gap}


def _matcher_figures(checkpoint: Path, dataset) -> dict[str, float]:
    method, info = from_checkpoint(checkpoint, torch.device("cpu"), AnnotatedJoints(dataset))
    pairs = dataset.pairs("val", info["config"]["data"]["setup"], info["config"]["data"]["min_visible"])
    predictions, _, _ = predict_pairs(method, dataset, pairs, progress=False)
    scores = score_pairs(pairs, predictions, (1, 3, 5))
    means = np.nanmean(np.concatenate(predictions), axis=0)
    return {**{f"T@{k}": float(scores[f"T@{k}"]) for k in (1, 3, 5)},
            "mean_t": float(means[0]), "mean_x": float(means[1]), "mean_y": float(means[2])}


def _lifter_figures(checkpoint: Path, dataset) -> dict[str, float]:
    model = load_model(checkpoint, "lifter")
    before, after, lifted_all = [], [], []
    for name in sorted(dataset.labels):
        truth = read_camera_joints(dataset.root, name).astype(np.float64)
        flattened = truth * [1.0, 1.0, 0.5]
        lifted = lift_world(model, flattened)
        before.append(np.abs(angle_series(flattened) - angle_series(truth)).ravel())
        after.append(np.abs(angle_series(lifted) - angle_series(truth)).ravel())
        lifted_all.append(np.abs(lifted).ravel())
    return {"flattened_angle_error_deg": float(np.nanmedian(np.concatenate(before))),
            "lifted_angle_error_deg": float(np.nanmedian(np.concatenate(after))),
            "mean_abs_lifted": float(np.nanmean(np.concatenate(lifted_all)))}
