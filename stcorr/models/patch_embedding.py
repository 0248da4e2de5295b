"""The patch embedding f of cross-video cycle consistency (Purushwalkam et al., ECCV 2020).

    model = PatchEmbedding(PatchEmbeddingSettings.checked(cfg["cycle"]))   # or .defaults(size=64)
    maps = model.feature_maps(frames)          # (N, 3, S, S) in [0, 1] -> (N, C, h, w)
    emb = model.embed(maps, frame_index, boxes)  # boxes (P, 4) -> (P, 256), unit length

A frame goes through the 2D ResNet-18-style encoder (``stcorr.models.backbones.resnet2d``); a patch
box is RoI-pooled from the last feature map (``roi_pool``: roi_align-style bilinear sampling,
written with ``grid_sample``), flattened, sent through two fully connected layers with a ReLU
between them, and L2-normalised.

Box coordinates: (x1, y1, x2, y2) in continuous pixels of the frame as given to the encoder
(S x S), where pixel (i, j) covers [j, j + 1) x [i, i + 1); a keypoint at pixel-index x, y (centre
of its pixel) is at continuous x + 0.5, y + 0.5.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from pydantic import ConfigDict, Field
from torch import Tensor, nn

from stcorr.models.backbones.resnet2d import ResNet2d, ResNet2dSettings, load_resnet2d_weights, normalize_frames
from stcorr.settings import Section


def roi_pool(features: Tensor, image_size: tuple[int, int], frame_index: Tensor, boxes: Tensor,
             output_size: int = 3, sampling_ratio: int = 2) -> Tensor:
    """RoI pooling of boxes from feature maps, as roi_align (aligned) does it.

    Args:
        features: (N, C, h, w) feature maps of N frames of ``image_size`` = (width, height) pixels.
        frame_index: (P,) long, the frame each box lies in.
        boxes: (P, 4) float, (x1, y1, x2, y2) in continuous image pixels (see the module docstring).
        output_size: the box is cut into ``output_size x output_size`` bins.
        sampling_ratio: each bin averages ``sampling_ratio x sampling_ratio`` bilinear samples at
            evenly spaced points (bin centres when 1). Outside the map, a sample takes the nearest border feature.

    Returns:
        (P, C, output_size, output_size).
    """
    width, height = image_size
    p = boxes.shape[0]
    if p == 0:
        return features.new_zeros((0, features.shape[1], output_size, output_size))
    steps = output_size * sampling_ratio
    offsets = (torch.arange(steps, device=boxes.device, dtype=boxes.dtype) + 0.5) / steps  # (steps,)
    x1, y1, x2, y2 = boxes.unbind(-1)
    xs = x1[:, None] + offsets[None] * (x2 - x1)[:, None]  # (P, steps)
    ys = y1[:, None] + offsets[None] * (y2 - y1)[:, None]
    # grid_sample (align_corners=False): -1 is the image's left edge, +1 its right edge
    u = (2 * xs / width - 1)[:, None, :].expand(p, steps, steps)
    v = (2 * ys / height - 1)[:, :, None].expand(p, steps, steps)
    grid = torch.stack([u, v], dim=-1).to(features.dtype)  # (P, steps, steps, 2)
    sampled = F.grid_sample(features[frame_index], grid, mode="bilinear", padding_mode="border", align_corners=False)
    return F.avg_pool2d(sampled, sampling_ratio) if sampling_ratio > 1 else sampled


class PatchEmbeddingSettings(Section):
    """What the patch embedding is made of: its keys of the ``cycle`` section (cpu.yaml says what
    each does; the section's other keys, the learner's, are left out). Saved in checkpoints as ``config``."""

    cpu_yaml_key: ClassVar[str] = "cycle"
    model_config = ConfigDict(extra="ignore")
    size: int = Field(ge=16)
    resnet2d: ResNet2dSettings
    roi_size: int = Field(ge=1)
    sampling_ratio: int = Field(ge=1)
    hidden: int = Field(ge=1)
    dim: int = Field(ge=1)


class PatchEmbedding(nn.Module):
    """Frames -> feature maps -> RoI-pooled patch boxes -> FC, ReLU, FC -> unit 256-d embeddings."""

    def __init__(self, settings: PatchEmbeddingSettings, load_weights: bool = True):
        super().__init__()
        self.settings = settings
        r = settings.resnet2d
        self.encoder = ResNet2d(r.width_multiplier, list(r.blocks), r.last_layer)
        if load_weights and r.weights:
            load_resnet2d_weights(self.encoder, r.weights)
        pooled = self.encoder.feature_dim * settings.roi_size ** 2
        self.head = nn.Sequential(nn.Linear(pooled, settings.hidden), nn.ReLU(inplace=True),
                                  nn.Linear(settings.hidden, settings.dim))

    @property
    def config(self) -> dict[str, Any]:
        return {"kind": "patch_embedding", **self.settings.model_dump()}

    @property
    def size(self) -> int:
        return self.settings.size

    def feature_maps(self, frames: Tensor) -> Tensor:
        """(N, 3, S, S) frames in [0, 1] -> (N, C, h, w) last feature maps of the encoder."""
        return self.encoder.features(normalize_frames(frames))

    def embed(self, maps: Tensor, frame_index: Tensor, boxes: Tensor) -> Tensor:
        """(P, dim) unit embeddings of boxes (P, 4) (frame pixels, continuous) in frames ``frame_index`` (P,)."""
        size = self.settings.size
        pooled = roi_pool(maps, (size, size), frame_index, boxes, self.settings.roi_size, self.settings.sampling_ratio)
        return F.normalize(self.head(pooled.flatten(1)), dim=-1)

    def forward(self, frames: Tensor, frame_index: Tensor, boxes: Tensor) -> Tensor:
        return self.embed(self.feature_maps(frames), frame_index, boxes)


def patch_embedding_from_config(config: dict[str, Any]) -> PatchEmbedding:
    """The architecture a checkpoint's ``model`` entry describes, untrained (no weight file read)."""
    return PatchEmbedding(PatchEmbeddingSettings.checked(config), load_weights=False)
