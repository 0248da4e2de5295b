"""ANTs: a 3D-conv aggregator on the source grid, whose channels are the target cells."""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class ANTs(nn.Module):
    """Correlations as a (M * N_tgt)-channel map on the source grid, refined by 3D convs.

    The input map holds, at each source cell, its correlations with every target cell for every
    layer, concatenated with 1x1x1 projections (``feature_proj`` channels each) of the source
    and of the target hyperpixel features. ``conv_layers`` convs of width ``hidden``
    (``kernel_size``, same padding, stride 1, ReLU) and a last conv to N_tgt channels give a
    correction added to the mean correlation; the last conv starts near zero, so an untrained
    ANTs scores close to st-MATCH.

    The first conv's correlation channels are computed without the (M * N_tgt)-channel map when
    that is cheaper (``_correlation_conv``): the same numbers up to rounding. Then the mean
    correlation is one product of the concatenated features, and the Matcher passes no volumes
    (``needs_volume`` False).
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
        # factorising the first conv costs ~2 sum(C_m) per source cell and tap against M * N_tgt
        self.factorised = conv_layers > 0 and 2 * sum(channels) < num_layers * cells

    @property
    def needs_volume(self) -> bool:
        return not self.factorised

    def forward(self, corr: torch.Tensor | None, src_feats: list[torch.Tensor],
                tgt_feats: list[torch.Tensor]) -> torch.Tensor:
        """(B, M, N_src, N_tgt) (or None when not ``needs_volume``) -> (B, N_src, N_tgt)."""
        batch, layers, n_src, n_tgt = src_feats[0].shape[0], len(src_feats), math.prod(self.grid), math.prod(self.grid)
        projections = []
        if self.feature_proj is not None:
            projections = [self.feature_proj(torch.cat(src_feats, 1)), self.feature_proj(torch.cat(tgt_feats, 1))]
        if self.factorised:
            first, rest = self.body[0], self.body[1:]
            corr_weight, proj_weight = first.weight.split([layers * n_tgt, first.weight.shape[1] - layers * n_tgt], 1)
            x = self._correlation_conv(corr_weight, src_feats, tgt_feats, first.padding)
            if projections:
                x = x + F.conv3d(torch.cat(projections, 1), proj_weight, padding=first.padding)
            x = rest(x + first.bias.view(1, -1, 1, 1, 1))
        else:
            x = corr.transpose(2, 3).reshape(batch, layers * n_tgt, *self.grid)
            x = self.body(torch.cat([x, *projections], 1))
        correction = self.head(x).reshape(batch, n_tgt, n_src).transpose(1, 2)
        if corr is None:  # the mean over layers of <src_m, tgt_m>: one product of the concatenated features
            src, tgt = torch.cat(src_feats, 1).flatten(2), torch.cat(tgt_feats, 1).flatten(2)
            return torch.bmm(src.transpose(1, 2), tgt) / layers + correction
        return corr.mean(dim=1) + correction

    @staticmethod
    def _correlation_conv(weight: torch.Tensor, src_feats: list[torch.Tensor], tgt_feats: list[torch.Tensor],
                          padding) -> torch.Tensor:
        """conv3d(correlation map, ``weight``) without the map, by the correlations' low rank.

        ``weight`` (D, M * N_tgt, k, k, k) over channels (m, n) = correlation of layer m with
        target cell n; the map's channel (m, n) at source cell s is <src_m[:, s], tgt_m[:, n]>.
        Each (m, tap) slice of the weight folded with the target features is a kernel over the
        source features' C_m channels: conv3d(map, weight) = conv3d(cat_m src_m, K) with
        K[b, d, (m, c), tap] = sum_n weight[d, (m, n), tap] * tgt_m[b, c, n]. Returns (B, D, T, H, W).
        """
        per_layer = weight.unflatten(1, (len(tgt_feats), -1)).unbind(1)  # unbind: no zero-filled gradients
        kernels = torch.cat([torch.einsum("dnijk,bcn->bdcijk", w, tgt.flatten(2))
                             for w, tgt in zip(per_layer, tgt_feats)], dim=2)  # (B, D, sum C_m, k, k, k)
        return per_example_conv(torch.cat(src_feats, 1), kernels, padding)


def per_example_conv(x: torch.Tensor, kernels: torch.Tensor, padding) -> torch.Tensor:
    """conv3d of each example of ``x`` (B, C, T, H, W) with its own ``kernels`` (B, D, C, k, k, k).

    One grouped conv, the channels of each example split into two halves whose outputs are added:
    a grouped conv takes oneDNN's fast path on the CPU where a batch-1 conv of this size falls
    back to PyTorch's slow one (5-10x slower). Returns (B, D, T', H', W').
    """
    batch, channels = x.shape[:2]
    hidden, taps = kernels.shape[1], kernels.shape[3:]
    halves = 2 if channels % 2 == 0 else 1
    weight = kernels.unflatten(2, (halves, channels // halves)).transpose(1, 2)  # (B, halves, D, C / halves, ...)
    x = x.reshape(1, batch * channels, *x.shape[2:]).contiguous(memory_format=torch.channels_last_3d)
    out = F.conv3d(x, weight.reshape(batch * halves * hidden, channels // halves, *taps), padding=padding,
                   groups=batch * halves)
    return out.unflatten(1, (batch, halves, hidden))[0].sum(1)
