"""Learned alignment embeddings: a TCC or LRProp head over per-frame features.

A head maps the per-frame features of a whole video, ``features`` (N, F) with row t = native
frame t, and the native frames to embed, ``times`` (L,) int64, to embeddings (L, E). Training
samples L frames of a video; alignment embeds all of them (``times = 0..N-1``).

- ``TCCHead`` (Dwibedi et al. 2019): the features of ``context`` frames around each frame
  (``context_stride`` native frames apart, clamped to the video), layer-normalised,
  concatenated, then an MLP.
- ``LRPropHead``: layer norm, then ``stcorr.alignment.FrameAligner`` (a transformer over the
  sequence) with positions ``t * (seq_len - 1) / (N - 1)``: the fraction of the video a frame
  lies at, on the scale of a training sequence, so that a whole video and a training sample of
  it share one position code.

``AlignmentEmbedder`` bundles the frame encoder (frozen) and the head, so that a checkpoint holds
everything needed to embed a new video the way training did.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from stcorr.alignment.lrprop import FrameAligner
from stcorr.data.video import Video
from stcorr.errors import StcorrError
from stcorr.models.frame_features import FrameEncoder, FrameFeatures, frame_encoder_from_config

TASKS = ("tcc", "lrprop")


class TCCHead(nn.Module):
    """Context frames -> MLP -> embedding (see the module docstring)."""

    def __init__(self, in_dim: int, embedding_dim: int = 128, hidden: int = 256, context: int = 3,
                 context_stride: int = 2):
        super().__init__()
        if context < 1 or context % 2 == 0:
            raise StcorrError(f"baseline.tcc.context must be a positive odd number, got {context}")
        self.settings = {"embedding_dim": embedding_dim, "hidden": hidden, "context": context,
                         "context_stride": context_stride}
        offsets = (torch.arange(context) - context // 2) * int(context_stride)
        self.register_buffer("offsets", offsets, persistent=False)
        self.norm = nn.LayerNorm(in_dim)
        self.mlp = nn.Sequential(nn.Linear(context * in_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                 nn.ReLU(), nn.Linear(hidden, embedding_dim))

    def forward(self, features: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        index = (times[:, None] + self.offsets[None, :]).clamp(0, features.shape[0] - 1)
        return self.mlp(self.norm(features[index]).flatten(1))


class LRPropHead(nn.Module):
    """Layer norm, then the LRProp transformer with fractional positions (see the module docstring)."""

    def __init__(self, in_dim: int, embedding_dim: int = 64, d_model: int = 64, layers: int = 2, heads: int = 4,
                 ff_dim: int = 128, dropout: float = 0.1, seq_len: int = 24):
        super().__init__()
        self.settings = {"embedding_dim": embedding_dim, "d_model": d_model, "layers": layers, "heads": heads,
                         "ff_dim": ff_dim, "dropout": dropout, "seq_len": seq_len}
        self.norm = nn.LayerNorm(in_dim)
        self.aligner = FrameAligner(in_dim, embedding_dim, d_model, layers, heads, ff_dim, dropout)
        self.seq_len = int(seq_len)

    def forward(self, features: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        positions = times.to(features.dtype) * (self.seq_len - 1) / max(features.shape[0] - 1, 1)
        return self.aligner(self.norm(features[times]), positions=positions)


class AlignmentEmbedder(nn.Module):
    """A frozen frame encoder and a trained head; ``task`` is "tcc" or "lrprop"."""

    def __init__(self, task: str, encoder: FrameEncoder, head: nn.Module, size: int, batch: int = 64):
        super().__init__()
        if task not in TASKS:
            raise StcorrError(f"unknown alignment embedding {task!r} (use {' or '.join(TASKS)})")
        self.task, self.encoder, self.head = task, encoder, head
        self.size, self.batch = int(size), int(batch)
        encoder.requires_grad_(False)

    @property
    def config(self) -> dict[str, Any]:
        """What ``embedder_from_config`` rebuilds the architecture from."""
        return {"kind": self.task, "encoder": self.encoder.config, "head": dict(self.head.settings),
                "size": self.size, "batch": self.batch}

    def train(self, mode: bool = True) -> "AlignmentEmbedder":
        """The frame encoder stays in eval mode (frozen)."""
        super().train(mode)
        self.encoder.eval()
        return self

    def frame_features(self, device: torch.device | str = "cpu") -> FrameFeatures:
        """Per-frame features of whole videos through this embedder's encoder (cached per video)."""
        return FrameFeatures(self.encoder, self.size, self.batch, device)


def build_head(task: str, in_dim: int, settings: Mapping[str, Any]) -> nn.Module:
    """A TCC or LRProp head from the baseline's ``tcc`` / ``lrprop`` settings."""
    if task == "tcc":
        return TCCHead(in_dim, int(settings["embedding_dim"]), int(settings["hidden"]), int(settings["context"]),
                       int(settings["context_stride"]))
    return LRPropHead(in_dim, int(settings["embedding_dim"]), int(settings["d_model"]), int(settings["layers"]),
                      int(settings["heads"]), int(settings["ff_dim"]), float(settings["dropout"]), int(settings["seq_len"]))


def embedder_from_config(config: Mapping[str, Any]) -> AlignmentEmbedder:
    """The architecture ``AlignmentEmbedder.config`` describes (weights come from the checkpoint)."""
    task = config.get("kind")
    if task not in TASKS:
        raise StcorrError(f"not a TCC or LRProp embedder: kind {task!r}")
    encoder = frame_encoder_from_config(config["encoder"])
    return AlignmentEmbedder(task, encoder, build_head(task, encoder.dim, config["head"]), config["size"], config["batch"])


class LearnedEmbedding:
    """Embeddings (N, E) of every frame of a video under a trained embedder, cached per video."""

    def __init__(self, embedder: AlignmentEmbedder, device: torch.device | str = "cpu"):
        self.embedder = embedder.to(device).eval()
        self.features = embedder.frame_features(device)
        self.device = torch.device(device)
        self._cache: dict[str, np.ndarray] = {}

    @torch.no_grad()
    def __call__(self, video: Video) -> np.ndarray:
        key = str(video.path)
        if key not in self._cache:
            features = torch.from_numpy(self.features(video)).to(self.device)
            times = torch.arange(features.shape[0], device=self.device)
            self._cache[key] = self.embedder.head(features, times).float().cpu().numpy()
        return self._cache[key]
