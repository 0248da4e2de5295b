"""2D CATs, the sequential baselines' learned spatial matcher: ``stcorr train --config cats2d``.

Examples are frame pairs at the key moments of the train pairs (docs/formats.md#pairs-and-setups) with their
correspondences; each frame is augmented on its own as ``data.augment`` says (photometric
changes, a crop that keeps the keypoints). A step's examples go through the model together
(``per_example`` False: BatchNorm sees the batch); the frame encoder trains at ``train.backbone_lr``.
Settings: the ``baseline.cats2d`` section (``Cats2dSettings``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from pydantic import Field, model_validator
from torch import nn

from stcorr.data.augment import ClipAugment
from stcorr.data.frames import crop_resize
from stcorr.data.datasets import Dataset
from stcorr.data.video import Video
from stcorr.errors import StcorrError
from stcorr.learners.base import Learner
from stcorr.models.aggregators import aggregator_options
from stcorr.models.backbones.resnet2d import ResNet2dSettings
from stcorr.models.cats2d import Cats2d, build_cats2d
from stcorr.models.readout import ReadoutSettings
from stcorr.settings import Section


class Cats2dSettings(Section):
    cpu_yaml_key = "baseline.cats2d"
    size: int = Field(ge=8)
    resnet2d: ResNet2dSettings
    layers: list[int]
    grid: list[int] = Field(min_length=3, max_length=3)
    aggregator_args: dict[str, Any]
    readout: ReadoutSettings

    @model_validator(mode="after")
    def _known_aggregator_args(self) -> "Cats2dSettings":
        aggregator_options("st-cats", self.aggregator_args)
        return self


@dataclass
class FramePair:
    """One training example of 2D CATs: a source frame, a target frame, their correspondences."""

    source: str
    target: str
    source_t: int
    target_t: int
    src_xy: np.ndarray  # (K, 2) native
    tgt_xy: np.ndarray  # (K, 2) native


def key_moment_frame_pairs(dataset: Dataset, setup: str, min_visible: int) -> list[FramePair]:
    """Every (source frame, target frame) of the train pairs with its correspondences."""
    examples = []
    for pair in dataset.pairs("train", setup, min_visible):
        for s, t in sorted({(int(a), int(b)) for a, b in zip(pair.src[:, 0], pair.tgt[:, 0])}):
            rows = (pair.src[:, 0] == s) & (pair.tgt[:, 0] == t)
            examples.append(FramePair(pair.source, pair.target, s, t, pair.src[rows, 1:], pair.tgt[rows, 1:]))
    return examples


def augmented_frame(video: Video, t: int, xy: np.ndarray, size: int, augment: ClipAugment,
                    rng: np.random.Generator) -> tuple[torch.Tensor, np.ndarray]:
    """Native frame t resized to ``size x size`` after the config's augmentation (a crop that keeps
    ``xy`` inside, photometric changes): float (3, S, S) in [0, 1], and ``xy`` (K, 2) in its pixels."""
    native = video.frames([t])
    width, height = native.shape[2], native.shape[1]
    params = augment.sample(rng, (width, height), xy) if augment.enabled else None
    x0, y0, w, h = params.crop if params is not None and params.crop is not None else (0.0, 0.0, float(width), float(height))
    frame = crop_resize(native, (x0, y0, w, h), (size, size))
    if params is not None:
        frame = params.apply(frame)
    points = (np.asarray(xy, dtype=np.float64) - [x0, y0] + 0.5) * [size / w, size / h] - 0.5
    return torch.from_numpy(np.array(frame[0])).permute(2, 0, 1).float().div_(255.0), points


class Cats2dLearner(Learner):
    name, description = "cats2d", "a 2D CATs"
    per_example = False
    section = Cats2dSettings
    tiny = {"train.batch_size": 2, "baseline.cats2d.size": 32, "baseline.cats2d.grid": [1, 4, 4],
            "baseline.cats2d.aggregator_args": {"feature_proj": 8, "embed_dim": 16, "depth": 1, "heads": 2}}

    def __init__(self, cfg: dict, dataset: Dataset, device: torch.device):
        super().__init__(cfg, dataset, device)
        self.frame_pairs = key_moment_frame_pairs(dataset, cfg["data"]["setup"], cfg["data"]["min_visible"])
        if not self.frame_pairs:
            raise StcorrError("no train pairs to learn 2D CATs from (every keypoint invisible, or no key moments)",
                              dataset.root)
        self.settings = cfg["baseline"]["cats2d"]
        self.augment = ClipAugment.checked(cfg["data"]["augment"])

    def build_model(self) -> Cats2d:
        return build_cats2d(self.settings)

    def backbone_parameters(self, model: nn.Module) -> list[nn.Parameter]:
        return list(model.backbone.parameters())

    def num_examples(self) -> int:
        return len(self.frame_pairs)

    def example(self, index: int, rng: np.random.Generator) -> dict:
        """Frames (3, S, S) of both sides, points (K, 2) in frame pixels, K <= data.max_points."""
        e = self.frame_pairs[int(rng.choice(len(self.frame_pairs)))]
        size = int(self.settings["size"])
        keep = np.sort(rng.choice(len(e.src_xy), size=min(len(e.src_xy), self.cfg["data"]["max_points"]),
                                  replace=False))
        source, src_xy = augmented_frame(self.dataset.video(e.source), e.source_t, e.src_xy[keep], size, self.augment, rng)
        target, tgt_xy = augmented_frame(self.dataset.video(e.target), e.target_t, e.tgt_xy[keep], size, self.augment, rng)
        return {"src": source, "tgt": target, "src_xy": src_xy, "tgt_xy": tgt_xy}

    def loss(self, model: nn.Module, examples: list[dict]) -> torch.Tensor:
        k = max(len(e["src_xy"]) for e in examples)
        src_xy, tgt_xy = np.zeros((len(examples), k, 2), np.float32), np.zeros((len(examples), k, 2), np.float32)
        valid = np.zeros((len(examples), k), bool)
        for i, e in enumerate(examples):
            n = len(e["src_xy"])
            src_xy[i, :n], tgt_xy[i, :n], valid[i, :n] = e["src_xy"], e["tgt_xy"], True
        to = self.device
        return model.loss(torch.stack([e["src"] for e in examples]).to(to), torch.stack([e["tgt"] for e in examples]).to(to),
                          torch.from_numpy(src_xy).to(to), torch.from_numpy(tgt_xy).to(to), torch.from_numpy(valid).to(to))

    def summary(self, steps: int, seconds: float) -> str:
        return f"trained 2D CATs {steps} steps in {seconds:.0f} s"
