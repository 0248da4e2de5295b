"""Frame embeddings for time alignment, learned by TCC or LRProp: ``stcorr train --config tcc|lrprop``.

A head over frozen per-frame features of the train videos (computed once, at the start; see
``stcorr.models.embedders``). Settings are under ``baseline.tcc`` / ``baseline.lrprop`` and
``baseline.frames``.

- ``tcc``: example g samples ``seq_len`` frames of each of ``videos_per_step`` train videos of
  one action; the TCC loss runs cycles between all of them.
- ``lrprop``: example g takes two videos of one action plus two samplings of the first one.

Their sections' schemas are ``TCCSettings`` and ``LRPropSettings`` below.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import Field
from torch import nn

from stcorr.alignment.lrprop import LRPropLoss, LRPropWeights
from stcorr.alignment.tcc import tcc_loss
from stcorr.data.datasets import Dataset
from stcorr.errors import StcorrError
from stcorr.learners.base import Learner
from stcorr.models.embedders import AlignmentEmbedder, build_head
from stcorr.models.frame_features import FrameFeatures, build_frame_encoder
from stcorr.progress import progress_bar
from stcorr.settings import Section


class TCCSettings(Section):
    cpu_yaml_key = "baseline.tcc"
    features: Literal["resnet2d", "backbone"]
    embedding_dim: int = Field(ge=1)
    hidden: int = Field(ge=1)
    context: int = Field(ge=1)
    context_stride: int = Field(ge=1)
    seq_len: int = Field(ge=2)
    videos_per_step: int = Field(ge=2)
    loss_type: Literal["regression_mse_var", "regression_mse", "regression_huber", "classification"]
    similarity: Literal["l2", "cosine"]
    temperature: float = Field(gt=0)
    variance_lambda: float = Field(ge=0)


class LRPropSettings(Section):
    cpu_yaml_key = "baseline.lrprop"
    features: Literal["resnet2d", "backbone"]
    embedding_dim: int = Field(ge=1)
    d_model: int = Field(ge=1)
    layers: int = Field(ge=1)
    heads: int = Field(ge=1)
    ff_dim: int = Field(ge=1)
    dropout: float = Field(ge=0, lt=1)
    seq_len: int = Field(ge=2)
    sigma: float = Field(gt=0)
    temperature: float = Field(gt=0)
    gamma: float = Field(gt=0)
    weights: LRPropWeights


TINY_FRAMES = {"baseline.frames.size": 32, "train.batch_size": 2}


def train_videos_by_action(dataset: Dataset) -> dict[str, list[str]]:
    """Names of the train split's videos by action, the actions with at least two of them."""
    return {action: names for action, names in dataset.videos_by_action("train").items() if len(names) >= 2}


def sample_times(n: int, length: int, rng: np.random.Generator, span: float = 1.0) -> np.ndarray:
    """``length`` increasing frames of an ``n``-frame video (all of them when n <= length): evenly
    spread over a random window of ``span`` x the video, each jittered within its slot."""
    if n <= length:
        return np.arange(n)
    window = max(length, int(round(span * n)))
    start = int(rng.integers(0, n - window + 1))
    edges = np.round(np.linspace(start, start + window, length + 1)).astype(np.int64)  # slots >= 1 frame wide
    return edges[:-1] + np.floor(rng.random(length) * np.diff(edges)).astype(np.int64)


class _EmbeddingLearner(Learner):
    """What TCC and LRProp share: the frozen frame features of every train video, and how to pick videos."""

    def __init__(self, cfg: dict, dataset: Dataset, device: torch.device):
        super().__init__(cfg, dataset, device)
        settings = cfg["baseline"]
        self.part = settings[self.name]
        self.groups = train_videos_by_action(dataset)
        if not self.groups:
            raise StcorrError(f"{self.title} needs at least two train videos of one action", dataset.root)
        encoder = build_frame_encoder(self.part["features"], settings["frames"], cfg["model"], cfg["seed"])
        self.embedder = AlignmentEmbedder(self.name, encoder, build_head(self.name, encoder.dim, self.part),
                                          settings["frames"]["size"], settings["frames"]["batch"])
        frame_features = FrameFeatures(encoder, self.embedder.size, self.embedder.batch, device)
        self.features = {name: torch.from_numpy(f).to(device)
                         for name, f in _all_features(frame_features, dataset, self.groups).items()}
        self.actions = list(self.groups)
        weights = np.array([len(self.groups[a]) for a in self.actions], dtype=np.float64)
        self.n_videos = int(weights.sum())
        self.weights = weights / weights.sum()
        self.seq_len = int(self.part["seq_len"])

    title = ""

    def build_model(self) -> AlignmentEmbedder:
        return self.embedder

    def pick(self, rng: np.random.Generator, count: int) -> list[str]:
        names = self.groups[self.actions[rng.choice(len(self.actions), p=self.weights)]]
        return [names[i] for i in rng.choice(len(names), size=min(count, len(names)), replace=False)]

    def embed(self, model: nn.Module, name: str, times: np.ndarray) -> torch.Tensor:
        return model.head(self.features[name], torch.as_tensor(times, device=self.device))

    def summary(self, steps: int, seconds: float) -> str:
        return f"trained {self.title} {steps} steps in {seconds:.0f} s"


class TCCLearner(_EmbeddingLearner):
    name, title, description = "tcc", "TCC", "a TCC"
    section = TCCSettings
    tiny = {**TINY_FRAMES, "baseline.tcc.seq_len": 6, "baseline.tcc.hidden": 32, "baseline.tcc.embedding_dim": 16,
            "baseline.tcc.videos_per_step": 3}

    def num_examples(self) -> int:
        return max(self.n_videos // int(self.part["videos_per_step"]), 1)

    def example(self, index: int, rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
        names = self.pick(rng, int(self.part["videos_per_step"]))
        return [(n, sample_times(len(self.features[n]), self.seq_len, rng)) for n in names]

    def loss(self, model: nn.Module, examples: list) -> torch.Tensor:
        options = {k: self.part[k] for k in ("loss_type", "similarity", "temperature", "variance_lambda")}
        losses = [tcc_loss([self.embed(model, n, t) for n, t in videos], **options) for videos in examples]
        return torch.stack(losses).mean()


class LRPropLearner(_EmbeddingLearner):
    name, title, description = "lrprop", "LRProp", "an LRProp"
    section = LRPropSettings
    tiny = {**TINY_FRAMES, "baseline.lrprop.seq_len": 6, "baseline.lrprop.d_model": 16, "baseline.lrprop.ff_dim": 32,
            "baseline.lrprop.embedding_dim": 8}

    def __init__(self, cfg: dict, dataset: Dataset, device: torch.device):
        super().__init__(cfg, dataset, device)
        p = self.part
        self.loss_fn = LRPropLoss(p["sigma"], p["temperature"], p["gamma"], weights=LRPropWeights.checked(p["weights"]))

    def num_examples(self) -> int:
        return max(self.n_videos // 2, 1)

    def example(self, index: int, rng: np.random.Generator) -> dict:
        a, b = self.pick(rng, 2)
        n = len(self.features[a])
        views = [sample_times(n, self.seq_len, rng, span=float(rng.uniform(0.6, 1.0))) for _ in range(2)]
        return {"a": a, "b": b, "times_a": sample_times(n, self.seq_len, rng),
                "times_b": sample_times(len(self.features[b]), self.seq_len, rng), "views": views}

    def loss(self, model: nn.Module, examples: list[dict]) -> torch.Tensor:
        losses = []
        for e in examples:
            views = [(self.embed(model, e["a"], v), v) for v in e["views"]]
            loss, _ = self.loss_fn(self.embed(model, e["a"], e["times_a"]), self.embed(model, e["b"], e["times_b"]), *views)
            losses.append(loss)
        return torch.stack(losses).mean()


def _all_features(features: FrameFeatures, dataset: Dataset, groups: dict[str, list[str]]) -> dict[str, np.ndarray]:
    names = [n for names in groups.values() for n in names]
    out = {}
    with progress_bar("frame features", len(names)) as bar:
        for name in names:
            out[name] = features(dataset.video(name))
            if len(out[name]) < 2:
                raise StcorrError(f"video {name} is too short to train on: {len(out[name])} frame(s), needs at least 2")
            bar.advance()
    return out
