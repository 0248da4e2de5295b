"""st-CATs: cost aggregation with transformers (CATs, Cho et al. 2021) carried over to space-time.

As in CATs, each cell of one clip is a token made of its row of the correlation volume
(correlations with every cell of the other clip) and a linear projection of its own hyperpixel
feature. Each block attends among the cells of one layer's volume (intra-correlation), then
among the M layers at one cell (inter-correlation). The blocks run twice with shared weights:
first over target cells (the volume transposed, target features), then over source cells
(source features), with a skip connection to the input volume after each pass. Positions are
told apart by learned embeddings, one per layer and per axis (t, y, x), summed.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from stcorr.errors import StcorrError


class Attention(nn.Module):
    """Multi-head self-attention over the second-to-last axis."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, dim = x.shape
        q, k, v = self.qkv(x).reshape(batch, tokens, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v)
        return self.out(attended.transpose(1, 2).reshape(batch, tokens, dim))


def mlp(dim: int, ratio: float) -> nn.Sequential:
    hidden = max(1, int(dim * ratio))
    return nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))


class SpaceTimeBlock(nn.Module):
    """Pre-norm transformer block on tokens (B, M, N, D): attention over N, then over M."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.norm_cells, self.attend_cells = nn.LayerNorm(dim), Attention(dim, heads)
        self.norm_cells_mlp, self.mlp_cells = nn.LayerNorm(dim), mlp(dim, mlp_ratio)
        self.norm_layers, self.attend_layers = nn.LayerNorm(dim), Attention(dim, heads)
        self.norm_layers_mlp, self.mlp_layers = nn.LayerNorm(dim), mlp(dim, mlp_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, layers, cells, dim = x.shape
        x = x.reshape(batch * layers, cells, dim)
        x = x + self.attend_cells(self.norm_cells(x))
        x = x + self.mlp_cells(self.norm_cells_mlp(x))
        if layers > 1:
            x = x.reshape(batch, layers, cells, dim).transpose(1, 2).reshape(batch * cells, layers, dim)
            x = x + self.attend_layers(self.norm_layers(x))
            x = x + self.mlp_layers(self.norm_layers_mlp(x))
            x = x.reshape(batch, cells, layers, dim).transpose(1, 2)
        return x.reshape(batch, layers, cells, dim)


class STCATs(nn.Module):
    """Transformer cost aggregation over space-time cells.

    Args (besides the shapes):
        feature_proj: channels of each layer's feature projection appended to a token.
        embed_dim: token width inside the blocks. None keeps CATs' choice, N + feature_proj
            (no input projection); a number adds a linear map to that width (much cheaper on CPU).
        depth, heads, mlp_ratio: the transformer blocks.
        mutual_nn: apply CATs' mutual nearest-neighbour filter to the volumes first.
    """

    def __init__(self, num_layers: int, channels: Sequence[int], grid: Sequence[int], *,
                 feature_proj: int = 64, embed_dim: int | None = 128, depth: int = 1, heads: int = 4,
                 mlp_ratio: float = 2.0, mutual_nn: bool = True):
        super().__init__()
        self.grid = tuple(grid)
        self.mutual_nn = mutual_nn
        cells = math.prod(self.grid)
        dim = embed_dim or cells + feature_proj
        if dim % heads:
            raise StcorrError(f"st-cats: token width {dim} is not divisible by heads={heads}")
        self.feature_proj = nn.ModuleList(nn.Linear(c, feature_proj) for c in channels)
        self.embed_dim = embed_dim
        if embed_dim:  # a linear map of [volume row, feature] written as two, sparing the concatenation
            self.embed_volume = nn.Linear(cells, dim)
            self.embed_feature = nn.Linear(feature_proj, dim, bias=False)
        self.pos_t, self.pos_y, self.pos_x = (
            nn.Parameter(torch.randn(num_layers, g, dim) * 0.02) for g in self.grid
        )
        self.blocks = nn.Sequential(*(SpaceTimeBlock(dim, heads, mlp_ratio) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, cells)
        nn.init.normal_(self.head.weight, std=0.002)
        nn.init.zeros_(self.head.bias)

    def forward(self, corr: torch.Tensor, src_feats: list[torch.Tensor], tgt_feats: list[torch.Tensor]) -> torch.Tensor:
        """(B, M, N_src, N_tgt) -> (B, N_src, N_tgt)."""
        if self.mutual_nn:
            corr = mutual_nn_filter(corr)
        src_tokens = self._project(src_feats)
        tgt_tokens = self._project(tgt_feats)
        x = self._aggregate(corr.transpose(2, 3), tgt_tokens).transpose(2, 3) + corr
        x = self._aggregate(x, src_tokens) + corr
        return x.mean(dim=1)

    def _project(self, feats: list[torch.Tensor]) -> torch.Tensor:
        """Per-layer (B, C_m, T, H, W) -> (B, M, N, feature_proj)."""
        return torch.stack([proj(f.flatten(2).transpose(1, 2)) for proj, f in zip(self.feature_proj, feats)], 1)

    def _aggregate(self, volume: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """volume (B, M, N, N'), tokens (B, M, N, P): refine each of the N rows -> (B, M, N, N')."""
        if self.embed_dim:
            x = self.embed_volume(volume) + self.embed_feature(tokens)
        else:
            x = torch.cat([volume, tokens], dim=-1)
        x = x + self._positions()
        return self.head(self.norm(self.blocks(x)))

    def _positions(self) -> torch.Tensor:
        pos = self.pos_t[:, :, None, None] + self.pos_y[:, None, :, None] + self.pos_x[:, None, None, :]
        return pos.flatten(1, 3)


def mutual_nn_filter(corr: torch.Tensor) -> torch.Tensor:
    """Scale each correlation by its ratios to the best of its row and of its column (Rocco et al.)."""
    corr = corr.clamp(min=0)
    row_best = corr.amax(dim=-1, keepdim=True).clamp(min=1e-30)
    col_best = corr.amax(dim=-2, keepdim=True).clamp(min=1e-30)
    return corr * (corr / row_best) * (corr / col_best)
