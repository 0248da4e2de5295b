"""ANTs: a 3D-conv aggregator on the source grid, whose channels are the target cells."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn


class ANTs(nn.Module):
    """Correlations as a (M * N_tgt)-channel map on the source grid, refined by 3D convs.

    The input map holds, at each source cell, its correlations with every target cell for every
    layer, concatenated with 1x1x1 projections (``feature_proj`` channels each) of the source
    and of the target hyperpixel features. ``conv_layers`` convs of width ``hidden``
    (``kernel_size``, same padding, stride 1, ReLU) and a last conv to N_tgt channels give a
    correction added to the mean correlation; the last conv starts near zero, so an untrained
    ANTs scores close to st-MATCH.
    """

    def __init__(self, num_layers: int, channels: Sequence[int], grid: Sequence[int], *,
                 hidden: int = 128, conv_layers: int = 2, feature_proj: int = 16, kernel_size: int = 3):
        super().__init__()
        self.grid = tuple(grid)
        cells = math.prod(self.grid)
        padding = kernel_size // 2
        self.feature_proj = nn.Conv3d(sum(channels), feature_proj, 1) if feature_proj > 0 else None
        width = num_layers * cells + 2 * max(feature_proj, 0)
        body: list[nn.Module] = []
        for _ in range(conv_layers):
            body += [nn.Conv3d(width, hidden, kernel_size, padding=padding), nn.ReLU(inplace=True)]
            width = hidden
        self.body = nn.Sequential(*body)
        self.head = nn.Conv3d(width, cells, kernel_size, padding=padding)
        with torch.no_grad():
            self.head.weight.mul_(0.01)
            self.head.bias.zero_()

    def forward(self, corr: torch.Tensor, src_feats: list[torch.Tensor], tgt_feats: list[torch.Tensor]) -> torch.Tensor:
        """(B, M, N_src, N_tgt) -> (B, N_src, N_tgt)."""
        batch, layers, n_src, n_tgt = corr.shape
        x = corr.transpose(2, 3).reshape(batch, layers * n_tgt, *self.grid)
        if self.feature_proj is not None:
            x = torch.cat([x, self.feature_proj(torch.cat(src_feats, 1)), self.feature_proj(torch.cat(tgt_feats, 1))], 1)
        correction = self.head(self.body(x)).reshape(batch, n_tgt, n_src).transpose(1, 2)
        return corr.mean(dim=1) + correction
