"""CorrFlow, self-supervised: ``stcorr train --config corrflow --data ROOT`` (labels ignored).

Example g is a clip of ``corrflow.frames`` frames of one training video, ``gap`` frames apart
(1..``max_gap``), cropped at random (a square of ``crop`` to 1 times the shorter side, flipped
half the time) and resized to ``size`` x ``size``; it also carries the scheduled-sampling draws
(true previous frame with a probability annealed from 0.9 to 0.6 over ``train.max_steps``) and
the seed of its colour-bottleneck draw. Settings are under ``corrflow`` in the config
(``CorrFlowSettings``; ``corrflow-st`` shares the section).

Videos: those of ``corrflow.split`` (train, val or all) of a Penn Action or pairs-layout data
set, or every video of a plain folder (``VideoFolder``: video files and/or frame folders).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import Field
from torch import nn

from stcorr.data.datasets import Dataset
from stcorr.data.frames import Box, read_frames
from stcorr.errors import StcorrError
from stcorr.learners.base import Learner
from stcorr.models.backbones import load_backbone_weights
from stcorr.models.corrflow import ColourCopier, CorrFlow, corrflow_loss, true_reference_probability
from stcorr.models.corrflow_st import CorrFlowST
from stcorr.models.propagation import PropagationSettings
from stcorr.settings import Section


class CorrFlowSettings(Section):
    cpu_yaml_key = "corrflow"
    split: Literal["train", "val", "all"]
    width: int = Field(ge=1)
    blocks: list[int] = Field(min_length=1)
    dim: int = Field(ge=1)
    clusters: int = Field(ge=2)
    kmeans_frames: int = Field(ge=1)
    drop_prob: float = Field(ge=0, le=1)
    jitter: float = Field(ge=0, lt=1)
    frames: int = Field(ge=2)
    max_gap: int = Field(ge=1)
    size: int = Field(ge=16, multiple_of=4)
    crop: float = Field(gt=0, le=1)
    radius: int = Field(ge=1)
    temperature: float = Field(gt=0)
    true_reference: list[float] = Field(min_length=2, max_length=2)
    backward_weight: float = Field(ge=0)
    crw_weight: float = Field(ge=0)
    crw_temperature: float = Field(gt=0)
    crw_edge_dropout: float = Field(ge=0, lt=1)
    propagation: PropagationSettings


TINY_OBJECTIVE = {"corrflow.dim": 8, "corrflow.clusters": 4, "corrflow.kmeans_frames": 4, "corrflow.size": 32,
                  "corrflow.frames": 3, "corrflow.radius": 3}


def training_videos(dataset: Dataset, split: str) -> list[str]:
    """Names of the videos CorrFlow trains on: ``split`` (train, val or all) of a data set's videos."""
    if split not in ("train", "val", "all"):
        raise StcorrError(f"corrflow.split must be train, val or all, not {split!r}")
    names = dataset.videos(split)  # a plain folder of videos has no splits: all of them
    if not names:
        raise StcorrError(f"no {split} videos to train CorrFlow on (corrflow.split)", dataset.root)
    return names


class CorrFlowLearner(Learner):
    name, description = "corrflow", "a CorrFlow"
    per_example = True
    section = CorrFlowSettings
    tiny = {**TINY_OBJECTIVE, "corrflow.width": 4, "corrflow.blocks": [1, 1]}

    def __init__(self, cfg: dict, dataset: Dataset, device: torch.device):
        super().__init__(cfg, dataset, device)
        self.settings = cfg["corrflow"]
        self.names = training_videos(dataset, self.settings["split"])
        self.videos = {name: dataset.video(name) for name in self.names}
        self.lengths = {name: video.num_frames for name, video in self.videos.items()}
        if max(self.lengths.values()) < 2:
            raise StcorrError("CorrFlow needs videos of at least 2 frames", dataset.root)

    # --- the model
    def build_model(self) -> ColourCopier:
        model = self.untrained_model()
        model.fit_colours(self.colour_sample(), seed=self.cfg["seed"])
        return model.to(self.device)

    def untrained_model(self) -> ColourCopier:
        s = self.settings
        return CorrFlow(s["width"], s["blocks"], s["dim"], s["clusters"], s["drop_prob"], s["jitter"])

    def colour_sample(self) -> torch.Tensor:
        """``corrflow.kmeans_frames`` training frames (a fixed draw from the seed), resized: k-means input."""
        rng = np.random.default_rng([self.cfg["seed"], 7])
        count = int(self.settings["kmeans_frames"])
        picks = [(self.names[v], int(rng.integers(self.lengths[self.names[v]])))
                 for v in rng.integers(len(self.names), size=count)]
        size = int(self.settings["size"])
        return torch.cat([read_frames(self.videos[n], [t], size, self._whole_box(n)) for n, t in picks])

    def _whole_box(self, name: str) -> Box:
        width, height = self.videos[name].size
        side = min(width, height)
        return float((width - side) // 2), float((height - side) // 2), float(side), float(side)

    # --- the data
    def num_examples(self) -> int:
        return len(self.names)

    def example(self, index: int, rng: np.random.Generator) -> dict:
        s = self.settings
        name = self.names[int(rng.integers(len(self.names)))]
        n, count = self.lengths[name], int(s["frames"])
        gap = int(rng.integers(1, int(s["max_gap"]) + 1))
        gap = max(1, min(gap, (n - 1) // max(count - 1, 1)))
        span = gap * (count - 1)
        start = int(rng.integers(0, max(n - span, 1)))
        times = [min(start + i * gap, n - 1) for i in range(count)]
        width, height = self.videos[name].size
        side = int(round(min(width, height) * rng.uniform(float(s["crop"]), 1.0)))
        box = (int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1)), side)  # x0, y0, side
        p_true = true_reference_probability(index / self.examples_in_run(), *s["true_reference"])
        return {"video": name, "times": times, "box": box, "flip": bool(rng.random() < 0.5),
                "use_true": (rng.random(max(count - 2, 0)) < p_true).tolist(), "seed": int(rng.integers(2 ** 31))}

    def clip(self, example: dict) -> torch.Tensor:
        x0, y0, side = example["box"]
        return read_frames(self.videos[example["video"]], example["times"], int(self.settings["size"]),
                           (float(x0), float(y0), float(side), float(side)), example["flip"])

    def loss(self, model: nn.Module, examples: list[dict]) -> torch.Tensor:
        s = self.settings
        losses = [corrflow_loss(model, self.clip(e).to(self.device), e["use_true"], s["radius"], s["temperature"],
                                s["backward_weight"], torch.Generator().manual_seed(e["seed"]),
                                s["crw_weight"], s["crw_temperature"], s["crw_edge_dropout"])
                  for e in examples]
        return torch.stack(losses).mean()

    def summary(self, steps: int, seconds: float) -> str:
        return f"trained CorrFlow {steps} steps in {seconds:.0f} s on {len(self.names)} video(s)"


class CorrFlowSTLearner(CorrFlowLearner):
    """CorrFlow's objective on the matcher's space-time backbone (``stcorr train --config corrflow-st``):
    the backbone, its width, blocks, hyperpixel layers and optional starting weights are the
    ``model`` section's (so that the checkpoint's backbone fits ANTs / st-MATCH of the same config);
    the objective's settings are the ``corrflow`` section's. The backbone trains at ``train.backbone_lr``."""

    name, description = "corrflow-st", "a CorrFlow space-time backbone"
    tiny = {**TINY_OBJECTIVE, "model.width": 4, "model.grid": [4, 4, 4], "corrflow.frames": 4}

    def untrained_model(self) -> CorrFlowST:
        s, m = self.settings, self.cfg["model"]
        model = CorrFlowST(m["backbone"], m["width"], m["blocks"], m["layers"], s["dim"], s["clusters"],
                           s["drop_prob"], s["jitter"])
        if m["weights"]:
            load_backbone_weights(model.backbone, m["weights"])
        return model

    def backbone_parameters(self, model: nn.Module) -> list[nn.Parameter]:
        return list(model.backbone.parameters())

    def summary(self, steps: int, seconds: float) -> str:
        return f"trained CorrFlow on the space-time backbone {steps} steps in {seconds:.0f} s on {len(self.names)} video(s)"
