"""Hyperpixel features: chosen backbone layers resampled to one space-time grid, L2-normalised."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from stcorr.errors import StcorrError
from stcorr.models.backbones import VideoBackbone


class HyperpixelFeatures(nn.Module):
    """Features of ``layers`` (paper numbering) on a ``grid`` = (T, H, W) of cells.

    Each layer's output is resampled trilinearly (``align_corners=False``: cell i of the grid
    covers the same fraction of the clip as in the layer's own map) and L2-normalised over
    channels, so that dot products between cells are cosine similarities.
    """

    def __init__(self, backbone: VideoBackbone, layers: Sequence[int], grid: Sequence[int]):
        super().__init__()
        if len(grid) != 3 or any(int(g) < 1 for g in grid):
            raise StcorrError(f"grid must be 3 positive numbers (T, H, W), got {list(grid)}")
        self.backbone = backbone
        self.layers = [int(layer) for layer in layers]
        self.grid = tuple(int(g) for g in grid)
        self.channels = [backbone.layer_channels(layer) for layer in self.layers]

    def forward(self, clips: torch.Tensor) -> list[torch.Tensor]:
        """``clips`` (B, 3, T, H, W) -> one (B, C_m, *grid) tensor per layer."""
        return [self._resample(f) for f in self.backbone.layer_features(clips, self.layers)]

    def _resample(self, feature: torch.Tensor) -> torch.Tensor:
        if tuple(feature.shape[2:]) != self.grid:
            feature = F.interpolate(feature, size=self.grid, mode="trilinear", align_corners=False)
        return F.normalize(feature, dim=1)
