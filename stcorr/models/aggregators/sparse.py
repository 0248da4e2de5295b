"""Sparse proposals: each source cell keeps only its k best target cells (CPNet's idea for matching).

The proposals are the top-k target cells of the mean correlation over layers, found in chunks of
source cells under ``no_grad`` (a chunk's rows of the mean volume exist only while its top-k is
taken). Each proposal is encoded by an MLP over its M per-layer correlations, projections of both
cells' hyperpixel features and the offset (dt/T, dy/H, dx/W) in grid cells, and scored: score =
mean correlation + MLP correction (the last layer starts near zero, so an untrained aggregator
scores like st-MATCH restricted to the proposals). The encoding of each chunk is recomputed in
backward (activation checkpointing), so what backward keeps grows with N * k, never N^2.

The aggregator takes no dense volume (the Matcher skips ``correlation_volumes`` for an aggregator
whose ``sparse`` is True) and returns a ``SparseVolume``; the read-out is the soft (or hard)
arg-max over the proposals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from stcorr.errors import StcorrError
from stcorr.models.readout import FlowField, Readout, cell_centres, cell_indices

DEFAULT_CHUNK_ELEMENTS = 1 << 22


@dataclass
class SparseVolume:
    """A cost volume that holds only the proposals: ``scores`` (B, N_src, k), higher = better;
    ``targets`` (B, N_src, k) indices of the proposed target cells (row-major (t, y, x));
    ``n_tgt`` the number of target cells."""

    scores: torch.Tensor
    targets: torch.Tensor
    n_tgt: int

    def dense(self, fill: float | None = None) -> torch.Tensor:
        """(B, N_src, N_tgt): the scores at the proposals, ``fill`` elsewhere (None: each row's
        lowest proposal score, without gradient: a cell left out ranks with the worst proposal)."""
        batch, n_src, _ = self.scores.shape
        if fill is None:
            rows = self.scores.detach().amin(dim=-1, keepdim=True).expand(-1, -1, self.n_tgt)
            volume = rows.contiguous()
        else:
            volume = self.scores.new_full((batch, n_src, self.n_tgt), fill)
        return volume.scatter(2, self.targets, self.scores)

    def float(self) -> "SparseVolume":
        return SparseVolume(self.scores.float(), self.targets, self.n_tgt)

    def read_out(self, readout: Readout, grid: Sequence[int], clip_size: Sequence[int],
                 differentiable: bool = False) -> FlowField:
        """``readout``'s arg-max over the proposals: the same flow and scores as ``readout`` on
        ``dense()`` with an infinitely low fill (the kernel of ``kernel_sigma`` included)."""
        centres = cell_centres(grid, clip_size, self.scores.device).to(self.scores.dtype)
        proposed = centres[self.targets]  # (B, N_src, k, 3)
        logits = self.scores / readout.temperature
        best = self.scores.argmax(dim=-1, keepdim=True)
        if readout.kind == "hard_argmax" and not differentiable:
            flow = proposed.gather(2, best[..., None].expand(-1, -1, -1, 3))[:, :, 0] - centres
            return FlowField(flow, logits.softmax(dim=-1).amax(dim=-1), tuple(grid), tuple(clip_size))
        if readout.kernel_sigma is not None:
            cells = cell_indices(grid, self.scores.device).to(self.scores.dtype)[self.targets]
            peaks = cells.gather(2, best[..., None].expand(-1, -1, -1, 3))
            logits = logits - ((cells - peaks) ** 2).sum(-1) / (2.0 * readout.kernel_sigma**2)
        probability = logits.softmax(dim=-1)
        flow = (probability[..., None] * proposed).sum(dim=2) - centres
        return FlowField(flow, probability.amax(dim=-1), tuple(grid), tuple(clip_size))


def flat_features(feats: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """[(B, C_m, T, H, W)] -> [(B, N, C_m)]."""
    return [f.flatten(2).transpose(1, 2) for f in feats]


def top_k_mean_correlation(src: Sequence[torch.Tensor], tgt: Sequence[torch.Tensor], k: int,
                           chunk_elements: int = DEFAULT_CHUNK_ELEMENTS) -> torch.Tensor:
    """Indices (B, N_src, k) of each source cell's k target cells of highest mean correlation over
    the M layers. ``src``, ``tgt``: [(B, N, C_m)]. The mean of the layers' dot products is the dot
    product of the concatenated features over M, so each chunk of source rows is one matrix
    product; at most about ``chunk_elements`` correlations exist at once. No gradient."""
    with torch.no_grad():
        src_all, tgt_all = torch.cat(list(src), dim=-1), torch.cat(list(tgt), dim=-1).transpose(1, 2)
        batch, n_src, _ = src_all.shape
        rows = max(1, chunk_elements // max(1, batch * tgt_all.shape[-1]))
        return torch.cat([torch.bmm(src_all[:, start:start + rows], tgt_all).topk(k, dim=-1).indices
                          for start in range(0, n_src, rows)], dim=1)


def gather_cells(values: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
    """``values`` (B, N, C) at ``cells`` (B, R, k) -> (B, R, k, C)."""
    batch, rows, k = cells.shape
    index = cells.reshape(batch, rows * k, 1).expand(-1, -1, values.shape[-1])
    return torch.gather(values, 1, index).reshape(batch, rows, k, values.shape[-1])


class SparseProposals(nn.Module):
    """Scores each source cell's ``k`` proposed target cells (see the module docstring).

    ``hidden``: width of the MLP's two hidden layers; ``feature_proj``: channels of each cell's
    feature projection (0: none); ``chunk_elements``: the work of one chunk of source cells.
    """

    sparse = True

    def __init__(self, num_layers: int, channels: Sequence[int], grid: Sequence[int], *,
                 k: int = 32, hidden: int = 64, feature_proj: int = 16, chunk_elements: int = DEFAULT_CHUNK_ELEMENTS):
        super().__init__()
        self.grid = tuple(grid)
        cells = self.grid[0] * self.grid[1] * self.grid[2]
        if not 1 <= k <= cells:
            raise StcorrError(f"sparse aggregator k must be in [1, {cells}] (the grid's cells), got {k}")
        self.k = k
        self.chunk_elements = chunk_elements
        self.feature_proj = nn.Linear(sum(channels), feature_proj) if feature_proj > 0 else None
        width = num_layers + 2 * max(feature_proj, 0) + 3
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, hidden),
                                 nn.ReLU(inplace=True), nn.Linear(hidden, 1))
        with torch.no_grad():
            self.mlp[-1].weight.mul_(0.01)
            self.mlp[-1].bias.zero_()

    def forward(self, corr: torch.Tensor | None, src_feats: list[torch.Tensor],
                tgt_feats: list[torch.Tensor]) -> SparseVolume:
        """Hyperpixel features [(B, C_m, T, H, W)] -> SparseVolume (B, N_src, k). ``corr`` is
        ignored (the Matcher passes None)."""
        src, tgt = flat_features(src_feats), flat_features(tgt_feats)
        n_tgt = tgt[0].shape[1]
        targets = top_k_mean_correlation(src, tgt, self.k, self.chunk_elements)
        src_proj = tgt_proj = None
        if self.feature_proj is not None:
            src_proj, tgt_proj = self.feature_proj(torch.cat(src, -1)), self.feature_proj(torch.cat(tgt, -1))
        rows = max(1, self.chunk_elements // max(1, src[0].shape[0] * self.k * sum(f.shape[-1] for f in src)))
        scores = []
        for start in range(0, targets.shape[1], rows):
            part = slice(start, start + rows)
            args = ([f[:, part] for f in src], tgt, targets[:, part], start,
                    None if src_proj is None else src_proj[:, part], tgt_proj)
            if torch.is_grad_enabled():
                scores.append(checkpoint(self._score, *args, use_reentrant=False))
            else:
                scores.append(self._score(*args))
        return SparseVolume(torch.cat(scores, dim=1), targets, n_tgt)

    def _score(self, src: list[torch.Tensor], tgt: list[torch.Tensor], targets: torch.Tensor, start: int,
               src_proj: torch.Tensor | None, tgt_proj: torch.Tensor | None) -> torch.Tensor:
        """Scores (B, R, k) of R source cells (starting at ``start``) and their proposals."""
        per_layer = torch.stack([(s[:, :, None, :] * gather_cells(t, targets)).sum(-1) for s, t in zip(src, tgt)], -1)
        positions = cell_indices(self.grid, targets.device)
        scale = positions.new_tensor(self.grid)
        offsets = (positions[targets] - positions[start:start + targets.shape[1], None, :]) / scale
        parts = [per_layer, offsets.to(per_layer.dtype)]
        if src_proj is not None:
            parts += [src_proj[:, :, None, :].expand(-1, -1, self.k, -1), gather_cells(tgt_proj, targets)]
        return per_layer.mean(-1) + self.mlp(torch.cat(parts, dim=-1))[..., 0]
