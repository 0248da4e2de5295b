"""Methods that ``stcorr eval`` runs: a trained checkpoint, or a named method that needs none.

A method is an object with ``name`` and ``predict(dataset, pair) -> (K, 3)`` native target
(t, x, y) for the pair's source points, and optionally ``check(dataset)``, which raises
StcorrError saying why the method cannot run on a data set (before any pair is predicted).
Adding one = a factory ``f(cfg, device) -> method`` plus a line in ``METHODS``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch

from stcorr.data.datasets import Dataset
from stcorr.data.pairs import Pair
from stcorr.errors import StcorrError
from stcorr.models.checkpoint import read_checkpoint_info, read_safetensors
from stcorr.models.matcher import build_matcher
from stcorr.pose.maps import SeenJoints
from stcorr.predictor import CorrespondencePredictor, predictor_for


class MatcherMethod:
    """A space-time Matcher (trained or parameter-free) behind the predictor."""

    def __init__(self, name: str, predictor: CorrespondencePredictor, checkpoint: str | None = None):
        self.name, self.predictor, self.checkpoint = name, predictor, checkpoint

    def predict(self, dataset: Dataset, pair: Pair) -> np.ndarray:
        return self.predict_scored(dataset, pair)[0]

    def predict_scored(self, dataset: Dataset, pair: Pair) -> tuple[np.ndarray, np.ndarray]:
        """Target points (K, 3) native and a confidence per point (the readout's peak probability)."""
        return self.predictor.predict(dataset.video(pair.source), dataset.video(pair.target), pair.src)


def st_match(cfg: dict, device: torch.device) -> MatcherMethod:
    """st-MATCH: the backbone's hyperpixel correlations averaged over layers, no learning.
    Uses ``model.weights`` (--backbone-weights) when given, else the backbone's initial weights,
    drawn from the config's ``seed`` (same seed, same scores)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg["seed"])
        matcher = build_matcher({**cfg["model"], "aggregator": "st-match", "aggregator_args": {}, "refine": None})
    data = cfg["data"]
    return MatcherMethod("st-match", predictor_for(matcher, data, device, cfg["baseline"]["pose"]))


def from_checkpoint(path: str | Path, device: torch.device,
                    joints: SeenJoints | None = None) -> tuple[MatcherMethod, dict]:
    """The space-time matcher of a checkpoint (a folder, or ``stcorr:NAME``) behind the predictor;
    ``joints``: where a model with pose input gets them (default: MediaPipe)."""
    predictor = CorrespondencePredictor.from_checkpoint(path, device, joints)
    _, info = read_checkpoint_info(path)
    return MatcherMethod(predictor.matcher.config["aggregator"], predictor, str(path)), info


def st_match_on_checkpoint_backbone(path: Path, device: torch.device) -> MatcherMethod:
    """st-MATCH over the backbone of a trained checkpoint: what the features alone give,
    without the trained aggregator."""
    folder, info = read_checkpoint_info(path)
    matcher = build_matcher({**info["model"], "aggregator": "st-match", "aggregator_args": {}, "refine": None}, load_weights=False)
    prefix = "features.backbone."
    state = {k[len(prefix):]: v for k, v in read_safetensors(folder / "model.safetensors").items() if k.startswith(prefix)}
    matcher.backbone.load_state_dict(state)
    data = info["config"]["data"]
    predictor = predictor_for(matcher, data, device)
    return MatcherMethod("st-match-trained-backbone", predictor, str(path))


METHODS: dict[str, Callable] = {
    "st-match": st_match,
}


def list_methods() -> list[str]:
    _register_sequential()
    return sorted(METHODS)


def build_method(name: str, cfg: dict, device: torch.device):
    if name not in METHODS:
        _register_sequential()
    if name not in METHODS:
        raise StcorrError(f"unknown method {name!r} (stcorr eval --list-methods lists them)")
    return METHODS[name](cfg, device)


def _register_sequential() -> None:
    """The sequential baselines (time alignment, then spatial matching) register themselves; when
    they cannot be imported that is said, not hidden by a shorter method list."""
    try:
        # the baselines register themselves when the registry is first read
        from stcorr.baselines import register
    except ImportError as exc:
        raise StcorrError(f"the sequential baselines cannot be loaded ({exc}); "
                          "reinstall stcorr (pip install -e .) with its dependencies") from exc
    register(METHODS)
