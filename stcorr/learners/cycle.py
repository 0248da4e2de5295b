"""Cross-video cycle consistency (Purushwalkam et al., ECCV 2020): ``stcorr train --config cycle``.

Weak supervision: only the action labels pair the videos. Example g takes two train videos of
one action, cuts each into ``cycle.chunks`` temporal chunks and samples one frame per chunk; the
patches are the videos' tracks (``stcorr.data.tracks``: ground-truth joint tracks of a Penn
Action-layout data set, no track of 3 frames or fewer) at those frames. Which track of one video
goes with which of the other is never used. The loss (``stcorr.alignment.cycle``) is the margin
loss on the cycle consistency kappa, in both directions (V -> W -> V and W -> V -> W).
Settings: the ``cycle`` section of the config (``CycleSettings``).
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import ConfigDict, Field
from torch import nn

from stcorr.alignment.cycle import kappa, margin_loss
from stcorr.models.cycle_use import chunk_times
from stcorr.data.datasets import Dataset
from stcorr.data.tracks import Track, boxes_at, joint_tracks
from stcorr.errors import StcorrError
from stcorr.learners.alignment import train_videos_by_action
from stcorr.learners.base import Learner
from stcorr.data.frames import read_frames
from stcorr.models.patch_embedding import PatchEmbedding, PatchEmbeddingSettings


class CycleSettings(PatchEmbeddingSettings):
    """The ``cycle`` section: the patch embedding's keys, then the learner's."""

    model_config = ConfigDict(extra="forbid")
    chunks: int = Field(ge=2)
    patch_scale: float = Field(gt=0)
    min_track_length: int = Field(ge=1)
    temperature: float = Field(gt=0)
    margin: float = Field(ge=0)
    iou_threshold: float = Field(gt=0, le=1)
    temporal_search: bool
    grid: int = Field(ge=1)


def embedding_settings(section: dict) -> PatchEmbeddingSettings:
    return PatchEmbeddingSettings.checked(section)


def embed_patches(model: PatchEmbedding, frames: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Embeddings (V, I, T, D) of boxes (V, I, T, 4) (frame pixels) in frames (V, T, 3, S, S)."""
    v, i, t, _ = boxes.shape
    maps = model.feature_maps(frames.flatten(0, 1))
    frame_index = (torch.arange(v)[:, None, None] * t + torch.arange(t)[None, None, :]).expand(v, i, t)
    return model.embed(maps, frame_index.reshape(-1).to(boxes.device), boxes.reshape(-1, 4)).reshape(v, i, t, -1)


class CycleLearner(Learner):
    name, description = "cycle", "a cycle-consistency"
    section = CycleSettings
    tiny = {"cycle.size": 64, "cycle.chunks": 4, "cycle.hidden": 64}

    def __init__(self, cfg: dict, dataset: Dataset, device: torch.device):
        super().__init__(cfg, dataset, device)
        self.part = cfg["cycle"]
        labels = dataset.labels
        if not labels:
            raise StcorrError("the cycle learner needs a Penn Action-layout data set (its joint tracks)", dataset.root)
        self.chunks = int(self.part["chunks"])
        self.tracks: dict[str, list[Track]] = {}
        for name in sorted(n for names in train_videos_by_action(dataset).values() for n in names):
            lab = labels[name]
            tracks = joint_tracks(lab, self.part["patch_scale"], self.part["min_track_length"])
            if lab.num_frames >= self.chunks and tracks:
                self.tracks[name] = tracks
        self.groups = {a: [n for n in names if n in self.tracks] for a, names in train_videos_by_action(dataset).items()}
        self.groups = {a: names for a, names in self.groups.items() if len(names) >= 2}
        if not self.groups:
            raise StcorrError(f"the cycle learner needs two train videos of one action with joint tracks and at least "
                              f"{self.chunks} frames", dataset.root)
        self.actions = list(self.groups)
        counts = np.array([len(self.groups[a]) for a in self.actions], dtype=np.float64)
        self.weights = counts / counts.sum()

    def build_model(self) -> PatchEmbedding:
        return PatchEmbedding(embedding_settings(self.part))

    def backbone_parameters(self, model: nn.Module) -> list[nn.Parameter]:
        return list(model.encoder.parameters())

    def num_examples(self) -> int:
        return max(sum(len(n) for n in self.groups.values()) // 2, 1)

    def example(self, index: int, rng: np.random.Generator) -> dict:
        """Frames (2, T, 3, S, S), track boxes (2, I, T, 4) in frame pixels and their mask (2, I, T)."""
        names = self.groups[self.actions[rng.choice(len(self.actions), p=self.weights)]]
        pair = [names[i] for i in rng.choice(len(names), size=2, replace=False)]
        size = int(self.part["size"])
        frames, boxes, valid = [], [], []
        for name in pair:
            video = self.dataset.video(name)
            times = chunk_times(min(video.num_frames, self.dataset.labels[name].num_frames), self.chunks, rng)
            b, v = boxes_at(self.tracks[name], times)
            width, height = video.size
            frames.append(read_frames(video, times, size))
            boxes.append(b * np.array([size / width, size / height] * 2))
            valid.append(v)
        i = max(len(b) for b in boxes)
        padded = np.zeros((2, i, self.chunks, 4))
        padded[..., 2:] = size  # absent patches: the whole frame (masked out of the loss)
        mask = np.zeros((2, i, self.chunks), dtype=bool)
        for v in range(2):
            padded[v, :len(boxes[v])][valid[v]] = boxes[v][valid[v]]
            mask[v, :len(valid[v])] = valid[v]
        return {"frames": torch.stack(frames), "boxes": torch.from_numpy(padded).float(), "valid": torch.from_numpy(mask)}

    def loss(self, model: nn.Module, examples: list[dict]) -> torch.Tensor:
        losses = []
        for e in examples:
            boxes, valid = e["boxes"].to(self.device), e["valid"].to(self.device)
            emb = embed_patches(model, e["frames"].to(self.device), boxes)
            for a, b in ((0, 1), (1, 0)):
                kappas = kappa(emb[a], valid[a], emb[b], valid[b], temperature=self.part["temperature"],
                               temporal_search=self.part["temporal_search"])
                losses.append(margin_loss(kappas, boxes[a], valid[a], boxes[a], valid[a],
                                          self.part["margin"], self.part["iou_threshold"]))
        return torch.stack(losses).mean()

    def summary(self, steps: int, seconds: float) -> str:
        return f"trained the cycle-consistency patch embedding {steps} steps in {seconds:.0f} s"
