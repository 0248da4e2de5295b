"""The sequential baselines as methods of ``stcorr eval``: align in time, then match in space.

A method named ``ALIGNER+MATCHER`` (e.g. ``dtw+pose-oracle``) predicts, for each source keypoint
(t, x, y) of a pair, the target frame t' from the aligner and the target (x', y') from the spatial
matcher in the frame pair (t, t'); all in native coordinates. Parts that need training read their
checkpoint from the config (``baseline.tcc_checkpoint``, ``baseline.lrprop_checkpoint``,
``baseline.cats2d_checkpoint``); without it, building the method raises ``MissingPart``.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from stcorr.baselines.carry import JointCarrier
from stcorr.baselines.checkpoints import TASK_NAMES, load_part
from stcorr.baselines.cycle_pose import CYCLE_POSE_ALIGNERS, cycle_pose_aligner
from stcorr.pose.cache import MediaPipePose
from stcorr.baselines.pose_descriptors import POSE_ALIGNERS, build_pose_aligner
from stcorr.baselines.refine import LocalRefiner
from stcorr.baselines.spatial import Cats2dMatch, DetectedPose, PoseOracle
from stcorr.baselines.time_alignment import EmbeddingTimeAligner, GroundTruthTime, alignment_margin, margin_frames
from stcorr.pose.descriptors import descriptor_cost
from stcorr.data.datasets import Dataset
from stcorr.data.pairs import Pair, source_frames
from stcorr.errors import StcorrError
from stcorr.models.checkpoint import load_model
from stcorr.models.cycle_use import CycleFeatures, CycleTimeAligner
from stcorr.models.embedders import LearnedEmbedding
from stcorr.models.frame_features import shared_frame_features
from stcorr.models.propagation import EncoderFeatures, PixelFeatures, PropagationSettings
from stcorr.models.shipped import PREFIX, model_card

#: Aligner name -> (embedding source, rule); gt-time is apart.
EMBEDDING_ALIGNERS: dict[str, tuple[str, str]] = {
    "nn": ("resnet2d", "nn"), "dtw": ("resnet2d", "dtw"),
    "nn-st": ("backbone", "nn"), "dtw-st": ("backbone", "dtw"),
    "tcc": ("tcc", "dtw"), "tcc-nn": ("tcc", "nn"),
    "lrprop": ("lrprop", "dtw"), "lrprop-nn": ("lrprop", "nn"),
}
ALIGNERS: tuple[str, ...] = (*EMBEDDING_ALIGNERS, *POSE_ALIGNERS, "cycle", *CYCLE_POSE_ALIGNERS, "gt-time")
MATCHERS: tuple[str, ...] = ("pose-oracle", "pose", "cats2d")


_SHARED: dict[tuple, object] = {}


def shared(key: tuple, make: Callable[[], object]):
    """One object per key in this process: the methods of one ``stcorr table`` run share their
    loaded checkpoints, pose detector and per-video caches."""
    if key not in _SHARED:
        _SHARED[key] = make()
    return _SHARED[key]


def shared_mediapipe(pose: dict, carry: str | None = None, propagation: dict | None = None) -> MediaPipePose:
    """MediaPipe's joints (``baseline.pose``), which every pose aligner and matcher of this process
    reads; with ``carry`` (``baseline.carry_checkpoint``: CorrFlow features, or ``pixels``) the joints
    it does not see are carried from the frames where it does (``stcorr.baselines.carry``), instead
    of the filter's lines over short gaps (``max_gap``)."""
    if not carry:
        return shared(("pose-cache", json.dumps(pose, sort_keys=True)), lambda: MediaPipePose(pose))  # type: ignore[return-value]
    unfilled = {**pose, "filter": {**pose["filter"], "max_gap": 0}}
    key = ("pose-cache", json.dumps(unfilled, sort_keys=True), carry, _version(carry), json.dumps(propagation, sort_keys=True))
    make = lambda: MediaPipePose(unfilled, carry=joint_carrier(carry, propagation or {}, pose["min_visibility"],  # noqa: E731
                                                                pose["filter"]["max_gap"]))
    return shared(key, make)  # type: ignore[return-value]


def joint_carrier(source: str, propagation: dict, min_visibility: float, max_gap: int) -> JointCarrier:
    """The carrier of ``baseline.carry_checkpoint``: a CorrFlow checkpoint's features, or ``pixels``;
    runs of up to ``max_gap`` unseen frames are carried (the filter's lines' reach)."""
    features = PixelFeatures() if source == "pixels" else EncoderFeatures(load_model(source, "corrflow"), name=f"corrflow:{source}")
    version = model_card(source[len(PREFIX):])["sha256"] if source.startswith(PREFIX) else _version(source)
    identity = json.dumps({"features": source, "version": version, "propagation": propagation,
                           "min_visibility": min_visibility, "max_gap": max_gap}, sort_keys=True)
    return JointCarrier(features, PropagationSettings.checked(propagation), min_visibility, max_gap, identity)


def pose_source(cfg: dict) -> Callable[[], MediaPipePose]:
    """The config's MediaPipe joints (``baseline.pose``, ``baseline.carry_checkpoint``), made on first use."""
    baseline = cfg["baseline"]
    return lambda: shared_mediapipe(baseline["pose"], baseline.get("carry_checkpoint"), cfg["corrflow"]["propagation"])


def world_lifter(settings: dict, used: list[str]) -> torch.nn.Module | None:
    """``baseline.world_lifter``'s 3D lifter (loaded once per process; ``used`` names it), or None when null."""
    path = settings.get("world_lifter")
    if not path:
        return None
    used.append(str(path))
    return shared(("lifter", str(path), _version(str(path))), lambda: load_model(str(path), "lifter"))


def _version(path: str) -> int:
    """When the checkpoint was written (0 if unknown), so that a rewritten checkpoint is not shared stale."""
    info = Path(path) / "checkpoint.json" if Path(path).is_dir() else Path(path)
    return info.stat().st_mtime_ns if info.exists() else 0


class MissingPart(StcorrError):
    """A method's trained part was not given in the config."""


class SequentialMethod:
    """Time alignment, then spatial matching in each aligned frame pair."""

    def __init__(self, name: str, aligner, matcher, checkpoints: list[str]):
        self.name, self.aligner, self.matcher = name, aligner, matcher
        self.checkpoint = ", ".join(checkpoints) or None

    def check(self, dataset: Dataset) -> None:
        """Raises StcorrError, before any work, when a part cannot run on ``dataset``."""
        for part in (self.aligner, self.matcher):
            try:
                getattr(part, "check", lambda _: None)(dataset)
            except StcorrError as exc:
                raise StcorrError(f"method {self.name} cannot run on this data set: {exc}") from None

    def predict(self, dataset: Dataset, pair: Pair) -> np.ndarray:
        """(K, 3) native target (t, x, y) of the pair's source keypoints."""
        target_times = self.aligner.align(dataset, pair)
        xy = self.matcher.match(dataset, pair, target_times)
        return np.column_stack([target_times.astype(np.float64), xy])

    def predict_scored(self, dataset: Dataset, pair: Pair) -> tuple[np.ndarray, np.ndarray]:
        """``predict``'s (K, 3) and a confidence (K,) in [0, 1]: the time part's (``timed_alignment``)
        times the space part's (the matcher's ``match_scored``; 1 for a matcher that gives none)."""
        target_times, time = timed_alignment(self.aligner, dataset, pair)
        if hasattr(self.matcher, "match_scored"):
            xy, space = self.matcher.match_scored(dataset, pair, target_times)
        else:
            xy, space = self.matcher.match(dataset, pair, target_times), np.ones(len(pair))
        return np.column_stack([target_times.astype(np.float64), xy]), time * space


#: Source frames around a keypoint's frame that the time confidence weighs, at most (evenly spread).
MARGIN_ROWS = 33


def timed_alignment(aligner, dataset: Dataset, pair: Pair) -> tuple[np.ndarray, np.ndarray]:
    """(K,) aligned target frames and (K,) time confidence: how clearly the aligner's matches of the
    source frames around each correspondence's frame (``margin_frames`` either side, at most
    ``MARGIN_ROWS`` of them) beat the same matches shifted in time (``alignment_margin``), under the
    aligner's own frame costs. One alignment call gives both. The confidence is 1 for an aligner
    whose costs are not at hand (cycle, gt-time)."""
    if not (hasattr(aligner, "frame_costs") or hasattr(aligner, "pair_descriptors")):
        return aligner.align(dataset, pair), np.ones(len(pair))
    source, target = dataset.video(pair.source), dataset.video(pair.target)
    times = source_frames(pair, source)
    half = margin_frames(source.num_frames)
    around_each = {int(t): np.unique(np.clip(np.round(np.linspace(t - half, t + half, min(2 * half + 1, MARGIN_ROWS))),
                                             0, source.num_frames - 1).astype(np.int64)) for t in np.unique(times)}
    frames = np.unique(np.concatenate([times, *around_each.values()]))
    around = frames_pair(pair, frames)
    matched = aligner.align(dataset, around)
    if hasattr(aligner, "frame_costs"):
        costs = aligner.frame_costs(dataset, around)
    else:  # pose aligners: the cost their DTW ran on
        source_descriptors, target_descriptors = aligner.pair_descriptors(dataset, around)
        costs = descriptor_cost(source_descriptors[frames], target_descriptors)
    window = margin_frames(min(source.num_frames, target.num_frames))  # a long target: the movement's scale
    margin = {}
    for t, rows in around_each.items():
        at = np.searchsorted(frames, rows)
        margin[t] = alignment_margin(costs[at], matched[at], window)
    return matched[np.searchsorted(frames, times)], np.array([margin[int(t)] for t in times])


def frames_pair(pair: Pair, frames: np.ndarray) -> Pair:
    """A pair of the same videos with one unnamed point at each source frame of ``frames`` (no truth)."""
    src = np.column_stack([frames.astype(np.float64), np.zeros((len(frames), 2))])
    return Pair(pair.source, pair.target, pair.action, pair.split, (None,) * len(frames), (-1,) * len(frames),
                src, np.full_like(src, np.nan), np.full(len(frames), np.nan))


def method_names() -> list[str]:
    """Every ``ALIGNER+MATCHER`` name, grouped by matcher, ``gt-time`` last in each group."""
    return [f"{a}+{m}" for m in MATCHERS for a in ALIGNERS]


def checkpoint_path(name: str, task: str, settings: dict) -> str:
    """``baseline.<task>_checkpoint``, or a MissingPart error telling how to make one."""
    path = settings[f"{task}_checkpoint"]
    if not path:
        raise MissingPart(
            f"method {name} needs a {TASK_NAMES[task]} checkpoint: train one with "
            f"`stcorr train --config {task.replace('_', '-')} --data ROOT --out RUN` and pass --set baseline.{task}_checkpoint=RUN/checkpoint"
        )
    return str(path)


def build_aligner(name: str, aligner: str, cfg: dict, settings: dict, device: torch.device, used: list[str]):
    if aligner == "gt-time":
        return GroundTruthTime()
    if aligner == "cycle":  # stcorr.models.cycle_use: Eq. 6 frame similarity of cycle-consistent patches, DTW
        path = checkpoint_path(name, "cycle", settings)
        used.append(path)
        return shared(("cycle", path, _version(path), str(device)),
                      lambda: CycleTimeAligner(CycleFeatures.load(path, cfg, device)))
    if aligner in CYCLE_POSE_ALIGNERS:  # stcorr.baselines.cycle_pose: DTW over the pose cycle embedding of MediaPipe's joints
        path = checkpoint_path(name, "cycle_pose", settings)
        used.append(path)
        model = shared(("cycle-pose", path, _version(path), str(device)), lambda: load_part(path, "cycle-pose")[0].to(device))
        mediapipe = pose_source(cfg)
        mediapipe()  # checked now, as dtw-pose checks it: without MediaPipe one line before any pair
        pose = build_pose_aligner("dtw-pose", mediapipe, world_lifter(settings, used)) if aligner == "dtw-pose-cycle" else None
        return cycle_pose_aligner(aligner, model, mediapipe, pose)  # type: ignore[arg-type]
    if aligner in POSE_ALIGNERS:
        lifter = world_lifter(settings, used) if POSE_ALIGNERS[aligner][0] == "mediapipe" else None
        return build_pose_aligner(aligner, pose_source(cfg), lifter)
    source, rule = EMBEDDING_ALIGNERS[aligner]
    if source in TASK_NAMES:
        path = checkpoint_path(name, source, settings)
        embed: Callable = shared(("embedding", source, path, _version(path), str(device)),
                                 lambda: LearnedEmbedding(load_part(path, source)[0], device))  # type: ignore[arg-type]
        used.append(path)
        metric = "euclidean"  # both losses compare embeddings by Euclidean distance
    else:
        embed = shared_frame_features(source, cfg, settings, device)
        metric = settings["metric"]
    return EmbeddingTimeAligner(aligner, embed, rule, metric)


def build_matcher(name: str, matcher: str, cfg: dict, device: torch.device, used: list[str]):
    settings = cfg["baseline"]
    if matcher == "pose-oracle":
        return PoseOracle()
    if matcher == "pose":
        refiner = None
        if settings.get("refine_checkpoint"):
            path = str(settings["refine_checkpoint"])
            refiner = shared(("refine", path, _version(path)), lambda: LocalRefiner(load_model(path, "corrflow")))
            used.append(path)
        return DetectedPose(pose_source(cfg)(), refiner)
    path = checkpoint_path(name, "cats2d", settings)
    match = shared(("cats2d", path, _version(path), str(device)), lambda: Cats2dMatch(load_part(path, "cats2d")[0], device))  # type: ignore[arg-type]
    used.append(path)
    return match


def reads_mediapipe(aligner: str, matcher: str) -> bool:
    """Whether the method ``aligner+matcher`` reads MediaPipe's joints."""
    return (matcher == "pose" or aligner in CYCLE_POSE_ALIGNERS
            or (aligner in POSE_ALIGNERS and POSE_ALIGNERS[aligner][0] == "mediapipe"))


def build_sequential(aligner: str, matcher: str, cfg: dict, device: torch.device) -> SequentialMethod:
    """The method ``aligner+matcher`` under config ``cfg``."""
    name = f"{aligner}+{matcher}"
    settings = cfg["baseline"]
    used: list[str] = []
    matching = build_matcher(name, matcher, cfg, device, used)
    timing = build_aligner(name, aligner, cfg, settings, device, used)
    carry = settings.get("carry_checkpoint")
    if carry and carry != "pixels" and reads_mediapipe(aligner, matcher):
        used.append(str(carry))
    return SequentialMethod(name, timing, matching, used)


def register(methods: dict) -> None:
    """Adds every ``ALIGNER+MATCHER`` factory ``f(cfg, device) -> method`` to ``methods``."""
    for name in method_names():
        aligner, matcher = name.split("+", 1)
        methods.setdefault(name, partial(build_sequential, aligner, matcher))
