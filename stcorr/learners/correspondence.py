"""The space-time matcher (st-MATCH / ANTs / st-CATs, ``stcorr.models.matcher``) learning from
benchmark pairs: ``stcorr train`` with ``task: correspondence``.

Example g is pair ``epoch_order(epoch)[g mod n]`` of epoch ``g div n`` as two clips and their
keypoints (``make_example`` below); its loss is ``stcorr.models.loss.matcher_loss``.
Settings: the shared ``data``, ``model`` and ``train`` sections (it owns none of its own).
Validation: T@k-PCK on a fixed sample of ``train.val_pairs`` val pairs, predicted as ``stcorr
predict`` does (``val_log.csv``).

Examples: a benchmark pair as two clips and its keypoints in clip coordinates.

Every random choice of an example (window, augmentation, dense frames) comes from a generator
seeded by (seed, epoch, position), so a run resumed at any step sees exactly the examples it would have.

Dense supervision (``data.dense_points`` > 0, training examples only): besides the key-moment
correspondences, up to ``dense_points`` correspondences at other source frames shown in the clip,
paired by the phase of the motion (``stcorr.data.dense``), each weighing ``dense_weight`` in the
loss (key-moment points weigh 1). Penn Action-layout data only (the pairs layout has no per-frame
annotations); exact on synthetic sets, interpolated between key moments otherwise.

Pose input (``model.input`` rgb+pose, pose, rgb+joints or joints, ``stcorr.pose.maps``): each clip carries the
maps of its video's joints, the annotated ones perturbed as MediaPipe errs in training examples
(unperturbed in validation examples), MediaPipe's (through the pose cache, ``pose`` settings) for
data without per-frame joints.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from torch import nn

from stcorr.data.augment import ClipAugment
from stcorr.data.clips import Clip, sample_clip
from stcorr.data.datasets import Dataset
from stcorr.data.dense import dense_correspondences, video_phase
from stcorr.data.pairs import Pair, PairList
from stcorr.data.phases import read_motion_phases
from stcorr.data.video import reserve_frame_cache
from stcorr.errors import StcorrError
from stcorr.learners.base import Learner
from stcorr.metrics.pck import pck_scores
from stcorr.models.backbones import normalize_clip
from stcorr.models.loss import matcher_loss
from stcorr.models.matcher import Matcher, build_matcher
from stcorr.pose.maps import check_input, clip_input, dataset_joints, uses_pose
from stcorr.pose.track import JointTrack
from stcorr.predictor import CorrespondencePredictor, predictor_for

VAL_ALPHA = 0.1  # the PCK threshold of validation, as a fraction of each point's reference size


class CorrespondenceLearner(Learner):
    name, description = "correspondence", "a space-time correspondence"
    prefetch = True  # examples read files and numpy only: safe to draw beside the model's work
    tiny = {"data.clip_len": 8, "data.size": 32, "model.grid": [4, 4, 4], "model.width": 8}

    @classmethod
    def check_config(cls, cfg: Any) -> None:
        if cfg.train.part_weight and cfg.model.refine is None:
            raise StcorrError("config key 'train.part_weight' contrasts the fine stage's features: it needs model.refine")

    def __init__(self, cfg: dict, dataset, device: torch.device):
        super().__init__(cfg, dataset, device)
        data = cfg["data"]
        self.pairs = dataset.pairs(split="train", setup=data["setup"], min_visible=data["min_visible"])
        if len(self.pairs) == 0:
            raise StcorrError("no train pairs to learn from", dataset.root)
        self.settings = ClipSettings.from_config(data, cfg["model"]["input"], cfg["baseline"]["pose"])
        names = {name for pair in self.pairs for name in (pair.source, pair.target)}
        reserve_frame_cache(dataset.video(name) for name in sorted(names))
        self._val_pairs: PairList | None = None

    def build_model(self) -> Matcher:
        return build_matcher(self.cfg["model"])

    def backbone_parameters(self, model: nn.Module) -> list[nn.Parameter]:
        return list(model.backbone.parameters())

    def num_examples(self) -> int:
        return len(self.pairs)

    def example(self, index: int, rng: np.random.Generator) -> dict:
        epoch, offset = divmod(index, len(self.pairs))
        pair = self.pairs[int(epoch_order(len(self.pairs), self.cfg["seed"], epoch)[offset])]
        return make_example(self.dataset, pair, self.settings, rng)

    def loss(self, model: nn.Module, examples: list[dict]) -> torch.Tensor:
        batch = {k: torch.stack([e[k] for e in examples]).to(self.device) for k in examples[0]}
        tc = self.cfg["train"]
        return matcher_loss(model, batch, tc["l2_weight"], tc["ce_weight"], tc["refine_weight"], tc["part_weight"],
                            tc["part_temperature"])

    def validate(self, model: nn.Module, step: int) -> dict[str, float] | None:
        """{"alpha", "n_pairs", "T@1", "T@3", "T@5", "n_points"} on the val sample; None without val pairs.
        A pair whose video cannot be read counts as wrong."""
        pairs = self.val_pairs()
        if len(pairs) == 0:
            return None
        predictor = predictor_for(model, self.cfg["data"], self.device, self.cfg["baseline"]["pose"])
        predicted = np.concatenate([self._predicted(predictor, pair) for pair in pairs])
        truth = np.concatenate([pair.tgt for pair in pairs])
        reference = np.concatenate([pair.ref_size for pair in pairs])
        return {"alpha": VAL_ALPHA, "n_pairs": len(pairs), **pck_scores(predicted, truth, reference, alpha=VAL_ALPHA)}

    def val_pairs(self) -> PairList:
        """The fixed sample of val pairs validation scores (drawn from the seed, read once)."""
        if self._val_pairs is None:
            data = self.cfg["data"]
            self._val_pairs = self.dataset.pairs("val", data["setup"], data["min_visible"]).sample(
                self.cfg["train"]["val_pairs"], self.cfg["seed"])
        return self._val_pairs

    def _predicted(self, predictor: CorrespondencePredictor, pair) -> np.ndarray:
        try:
            points, _ = predictor.predict(self.dataset.video(pair.source), self.dataset.video(pair.target), pair.src)
        except StcorrError:
            return np.full((len(pair), 3), np.nan)
        return np.asarray(points, dtype=np.float64).reshape(-1, 3)

    def summary(self, steps: int, seconds: float) -> str:
        return f"trained {steps} steps in {seconds:.0f} s"


# --------------------------------------------------------------------------- examples


@dataclass
class ClipSettings:
    clip_len: int
    size: int
    min_stride: int
    source_window: str
    target_whole_video: float
    max_points: int
    augment: ClipAugment
    dense_points: int
    dense_weight: float
    input: str = "rgb"
    pose: dict | None = None

    @classmethod
    def from_config(cls, data_cfg: dict, model_input: str = "rgb", pose: dict | None = None) -> "ClipSettings":
        """``model_input``: the model's ``input``; ``pose``: the ``baseline.pose`` settings (MediaPipe
        for data without per-frame joints)."""
        return cls(
            clip_len=data_cfg["clip_len"], size=data_cfg["size"], min_stride=data_cfg["min_stride"],
            source_window=check_window(data_cfg["source_window"]), target_whole_video=data_cfg["target_whole_video"],
            max_points=data_cfg["max_points"],
            augment=ClipAugment.checked(data_cfg["augment"]),
            dense_points=data_cfg["dense_points"], dense_weight=data_cfg["dense_weight"],
            input=check_input(model_input), pose=pose,
        )


def check_window(window: str) -> str:
    if window not in ("whole", "keypoints"):
        raise StcorrError(f"data.source_window must be whole or keypoints, not {window!r}")
    return window


def make_example(dataset: Dataset, pair: Pair, settings: ClipSettings, rng: np.random.Generator | None) -> dict:
    """One training (rng given) or validation (rng None) example as tensors.

    Returns {"src", "tgt": (C, T, H, W) normalised clips (C = 3, or with pose maps as
    ``settings.input`` says), "src_points", "tgt_points": (K, 3) clip
    (t, x, y), "valid": (K,) bool} with K = settings.max_points (padding is invalid). With dense
    supervision (``settings.dense_points`` > 0) K = max_points + dense_points, the dense points
    after the key-moment ones, and "weight" (K,) float is added.
    """
    train = rng is not None
    augment = settings.augment if train else None
    src_times = sorted({int(t) for t in pair.src[:, 0]})
    tgt_times = sorted({int(t) for t in pair.tgt[:, 0]})
    whole = (not train) or rng.random() < settings.target_whole_video
    src_keys = src_times if settings.source_window == "keypoints" else None
    src = sample_clip(dataset.video(pair.source), settings.clip_len, settings.size, key_frames=src_keys, rng=rng,
                      augment=augment, time_jitter=train, min_stride=settings.min_stride, keep_points=pair.src)
    tgt = sample_clip(dataset.video(pair.target), settings.clip_len, settings.size,
                      key_frames=None if whole else tgt_times, rng=rng, augment=augment, time_jitter=train,
                      min_stride=settings.min_stride, keep_points=pair.tgt)
    src_points, tgt_points = src.to_clip(pair.src), tgt.to_clip(pair.tgt)
    valid = src.inside(src_points) & tgt.inside(tgt_points)
    example = {
        "src": clip_input(src, settings.input, normalize_clip(src.frames), _joints(dataset, pair.source, settings, rng)),
        "tgt": clip_input(tgt, settings.input, normalize_clip(tgt.frames), _joints(dataset, pair.target, settings, rng)),
        **_padded(src_points, tgt_points, valid, settings.max_points, rng),
    }
    if settings.dense_points > 0:
        dense = _dense_example(dataset, pair, src, tgt, settings.dense_points, rng) if train else None
        example = _with_dense(example, dense, settings.dense_points, settings.dense_weight)
    return example


def _joints(dataset: Dataset, name: str, settings: ClipSettings, rng: np.random.Generator | None) -> JointTrack | None:
    """The joints a pose-input clip of video ``name`` is drawn from; None for RGB input."""
    return dataset_joints(dataset, name, settings.pose, rng) if uses_pose(settings.input) else None


def _dense_example(dataset: Dataset, pair: Pair, src: Clip, tgt: Clip, count: int, rng) -> dict | None:
    """Up to ``count`` phase-paired correspondences at source frames shown in the clip, in clip
    coordinates, drawn frame by frame in a random order; None for data without per-frame labels."""
    labels = dataset.labels
    if pair.source not in labels or pair.target not in labels:
        return None
    exact = read_motion_phases(str(dataset.root))
    src_phase, _ = video_phase(labels[pair.source], exact.get(pair.source))
    tgt_phase, _ = video_phase(labels[pair.target], exact.get(pair.target))
    frames = rng.permutation(np.unique(src.native_times[~src.padded]))
    src_native, tgt_native, _ = dense_correspondences(labels[pair.source], labels[pair.target], src_phase, tgt_phase,
                                                      frames.tolist(), pair.names)
    src_points, tgt_points = src.to_clip(src_native), tgt.to_clip(tgt_native)
    valid = src.inside(src_points) & tgt.inside(tgt_points)
    return _padded(src_points, tgt_points, valid, count, None)


def _with_dense(example: dict, dense: dict | None, count: int, weight: float) -> dict:
    """The key-moment points (weight 1) followed by ``count`` dense slots (``weight``; invalid if none)."""
    if dense is None:
        dense = {"src_points": torch.zeros(count, 3), "tgt_points": torch.zeros(count, 3), "valid": torch.zeros(count, dtype=torch.bool)}
    weights = torch.cat([torch.ones(len(example["valid"])), torch.full((count,), float(weight))])
    joined = {key: torch.cat([example[key], dense[key]]) for key in ("src_points", "tgt_points", "valid")}
    return {**example, **joined, "weight": weights}


def _padded(src_points, tgt_points, valid, max_points: int, rng) -> dict:
    keep = np.nonzero(valid)[0]
    if len(keep) > max_points:
        keep = np.sort(rng.choice(keep, max_points, replace=False)) if rng is not None else keep[:max_points]
    out_src, out_tgt = np.zeros((max_points, 3), np.float32), np.zeros((max_points, 3), np.float32)
    out_valid = np.zeros(max_points, bool)
    out_src[: len(keep)], out_tgt[: len(keep)], out_valid[: len(keep)] = src_points[keep], tgt_points[keep], True
    return {"src_points": torch.from_numpy(out_src), "tgt_points": torch.from_numpy(out_tgt), "valid": torch.from_numpy(out_valid)}


class PairClips(torch.utils.data.Dataset):
    """Examples for a fixed list of (pair index, seed sequence) items: see ``epoch_items``."""

    def __init__(self, dataset: Dataset, pairs, settings: ClipSettings, items: list[tuple[int, tuple[int, ...]]]):
        self.dataset, self.pairs, self.settings, self.items = dataset, pairs, settings, items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        pair_index, seed_seq = self.items[i]
        return make_example(self.dataset, self.pairs[pair_index], self.settings, np.random.default_rng(list(seed_seq)))


@lru_cache(maxsize=4)
def epoch_order(n_pairs: int, seed: int, epoch: int) -> np.ndarray:
    """The order pairs are visited in during ``epoch``: a permutation seeded by (seed, epoch).
    Cached (read-only): every example of a step asks for it."""
    order = np.random.default_rng([seed, epoch, 7]).permutation(n_pairs)
    order.flags.writeable = False
    return order
