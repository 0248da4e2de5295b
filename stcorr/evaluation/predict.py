"""Predicting points on one's own two videos, with any method ``stcorr eval`` lists or any
trained checkpoint, and no data set layout:

    predictor = Predictor.from_method("dtw-pose+pose")          # or .from_checkpoint(path, "cpu")
    result = predictor.predict("source.mp4", "target.mp4", [[12, 340.0, 200.5]], names=["left_wrist"])
    result.points   # (K, 3) native target (t, x, y); result.scores: (K,) or None

The two videos become a data set of two (``TwoVideos``) and the points a pair with no truth, so a
method runs exactly as in ``stcorr eval``. Methods that need the truth (``gt-time``) or per-frame
joint annotations (``*-pose-oracle``) are refused in one line.

Without ``--method`` and ``--checkpoint``, ``default_method()``: ``dtw-pose+pose`` (MediaPipe's
joints align the videos in time by DTW over the whole of both, then place each point by the body
around it) when MediaPipe is installed; otherwise ``st-match``, the only listed method that needs
neither MediaPipe, annotations nor a trained part (weak on real video: install the pose extra).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from stcorr.pose.mediapipe import MissingExtra, require_mediapipe
from stcorr.config import load_config
from stcorr.data.datasets import Dataset
from stcorr.data.pairs import Pair
from stcorr.data.video import Video
from stcorr.errors import StcorrError
from stcorr.evaluation.methods import build_method, from_checkpoint, list_methods
from stcorr.models.checkpoint import checkpoint_kind, read_checkpoint_info
from stcorr.models.registry import describe_kind

DEFAULT_METHOD = "dtw-pose+pose"
FALLBACK_METHOD = "st-match"
#: Parts of a method name that need the truth or annotated joints, which one's own videos lack.
NEEDS_TRUTH = {"gt-time": "the true target frame", "pose-oracle": "per-frame joint annotations",
               "dtw-pose-oracle": "per-frame joint annotations", "nn-pose-oracle": "per-frame joint annotations"}
#: Checkpoint kinds that are a trained part of a sequential method: the part each fills.
PART_KINDS = ("tcc", "lrprop", "cycle", "cats2d", "cycle-pose")
#: The trained part of each time aligner that has one (the rest: the aligner's first word).
ALIGNER_PARTS = {"cycle-pose": "cycle-pose", "dtw-pose-cycle": "cycle-pose"}


class TwoVideos(Dataset):
    """A data set of two videos with no labels; a video's name is its path."""

    kind = "videos"

    def __init__(self, source: Video, target: Video):
        super().__init__(Path(source.path).parent)
        self._by_name = {str(source.path): source, str(target.path): target}

    def video(self, name: str) -> Video:
        return self._by_name[name]

    def _video_splits(self) -> dict[str, set[str]]:
        return {name: {"val"} for name in self._by_name}

    def key_moments(self, name: str) -> list[int] | None:
        return None


@dataclass
class Prediction:
    points: np.ndarray          # (K, 3) native target (t, x, y)
    scores: np.ndarray | None   # (K,) the method's confidence, when it gives one
    method: str


def needs_truth(name: str) -> str | None:
    """What a method needs that one's own videos lack (None: nothing)."""
    for part in name.split("+"):
        if part in NEEDS_TRUTH:
            return NEEDS_TRUTH[part]
    return None


def mediapipe_available() -> bool:
    try:
        require_mediapipe()
    except MissingExtra:
        return False
    return True


def default_method() -> str:
    """``dtw-pose+pose`` with MediaPipe, else ``st-match`` (see the module docstring)."""
    return DEFAULT_METHOD if mediapipe_available() else FALLBACK_METHOD


def as_video(video: Video | str | Path) -> Video:
    return video if isinstance(video, Video) else Video(video)


class Predictor:
    """A method (``stcorr eval``'s kind: ``predict(dataset, pair)``) on two given videos."""

    def __init__(self, method, name: str, checkpoint: str | None = None):
        self.method, self.name, self.checkpoint = method, name, checkpoint

    @classmethod
    def from_method(cls, name: str | None = None, device: str | torch.device = "cpu", config: str | None = None,
                    overrides: dict | None = None, checkpoint: str | Path | None = None) -> "Predictor":
        """Method ``name`` (None: ``default_method()``) under ``config`` (a YAML file or packaged
        name; None: the defaults) with ``overrides`` ({"baseline.pose.min_visibility": 0.3, ...});
        ``checkpoint``: a trained part the method needs (a TCC, LRProp, cycle, pose-cycle or 2D CATs checkpoint)."""
        name = name or default_method()
        missing = needs_truth(name)
        if missing is not None:
            raise StcorrError(f"method {name} needs {missing}, which two videos of your own do not have; "
                              f"use {DEFAULT_METHOD} or another method of `stcorr eval --list-methods` without "
                              "gt-time or pose-oracle")
        if name not in list_methods():
            raise StcorrError(f"unknown method {name!r} (stcorr eval --list-methods lists them)")
        overrides = dict(overrides or {})
        if checkpoint is not None:
            kind = checkpoint_kind(read_checkpoint_info(checkpoint)[1])
            if kind not in PART_KINDS or not fills_part(kind, name):
                raise StcorrError(f"method {name} has no part that {describe_kind(kind)} checkpoint fills", checkpoint)
            overrides[part_setting(kind)] = str(checkpoint)
        cfg = load_config(config, overrides)
        method = build_method(name, cfg, torch.device(device))
        return cls(method, name, getattr(method, "checkpoint", None))

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | torch.device = "cpu") -> "Predictor":
        """The model in a checkpoint (a folder, or ``stcorr:NAME``): a space-time matcher predicts on
        its own; a sequential method's trained part runs in its method with the default other half
        (``tcc``, ``lrprop``, ``cycle``, ``cycle-pose``: then ``pose``; ``cats2d``: ``dtw-pose`` or, without MediaPipe, ``dtw``)."""
        kind = checkpoint_kind(read_checkpoint_info(path)[1])
        if kind == "correspondence":
            method, _ = from_checkpoint(path, torch.device(device))
            return cls(method, method.name, str(path))
        if kind in PART_KINDS:
            return cls.from_method(part_method(kind), device, checkpoint=path)
        raise StcorrError(f"{describe_kind(kind)} checkpoint does not match points across two videos "
                          "(corrflow: `stcorr track`; cpnet: `stcorr eval --task classify`)", path)

    def predict(self, source: Video | str | Path, target: Video | str | Path, points: np.ndarray | Sequence,
                names: Sequence[str | None] | None = None) -> Prediction:
        """Source points (K, 3) native (t, x, y) -> the target's (K, 3) native (t, x, y); ``names``:
        a joint name (``stcorr.pose.skeleton.JOINTS``) or anything else (None: any point) per point."""
        source, target = as_video(source), as_video(target)
        points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        names = tuple(names) if names is not None else (None,) * len(points)
        if len(names) != len(points):
            raise StcorrError(f"{len(names)} names for {len(points)} points")
        dataset = TwoVideos(source, target)
        pair = Pair(str(source.path), str(target.path), "", "", names, (-1,) * len(points), points,
                    np.full_like(points, np.nan), np.full(len(points), np.nan))
        getattr(self.method, "check", lambda _: None)(dataset)
        if hasattr(self.method, "predict_scored"):
            predicted, scores = self.method.predict_scored(dataset, pair)
        else:
            predicted, scores = self.method.predict(dataset, pair), None
        return Prediction(np.asarray(predicted, dtype=np.float64), scores, self.name)


def fills_part(kind: str, method: str) -> bool:
    """Whether a ``kind`` checkpoint is a trained part of ``method`` (``tcc-nn+pose``: tcc; ``dtw+cats2d``: cats2d)."""
    aligner, _, matcher = method.partition("+")
    return kind == matcher or ALIGNER_PARTS.get(aligner, aligner.split("-")[0]) == kind


def part_setting(kind: str) -> str:
    """The config key that gives a method its trained ``kind`` part (``baseline.cycle_pose_checkpoint``)."""
    return f"baseline.{kind.replace('-', '_')}_checkpoint"


def part_method(kind: str) -> str:
    """The method a trained part runs in when only its checkpoint is given."""
    if kind == "cats2d":
        return f"{'dtw-pose' if mediapipe_available() else 'dtw'}+cats2d"
    return f"{kind}+pose"
