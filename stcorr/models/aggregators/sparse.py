"""Sparse proposals: each source cell keeps only its k best target cells (CPNet's idea for matching).

The proposals are the top-k target cells of the mean correlation over layers, found in chunks of
source cells (a chunk's rows of the per-layer volumes exist only while its top-k is taken). Their
per-layer correlations are read from those same matrix products, and backward rebuilds a chunk's
rows from the saved features, indices and gradient alone (``ProposalCorrelations``): matrix
products instead of gathering k feature vectors per cell, and nothing of size N^2 is kept. Each
proposal is encoded by an MLP over its M per-layer correlations, projections of both cells'
hyperpixel features and the offset (dt/T, dy/H, dx/W) in grid cells, and scored: score = mean
correlation + MLP correction (the last layer starts near zero, so an untrained aggregator scores
like st-MATCH restricted to the proposals). The MLP of each chunk is recomputed in backward
(activation checkpointing), so what backward keeps grows with N * k, never N^2.

The aggregator takes no dense volume (the Matcher skips ``correlation_volumes`` for an aggregator
whose ``sparse`` is True) and returns a ``SparseVolume``; the read-out is the soft (or hard)
arg-max over the proposals.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate
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


def chunk_rows(chunk_elements: int, batch: int, per_row: int) -> int:
    """Source rows per chunk so that a chunk's (B, rows, per_row) values number about ``chunk_elements``."""
    return max(1, chunk_elements // max(1, batch * per_row))


def top_k_mean_correlation(src: Sequence[torch.Tensor], tgt: Sequence[torch.Tensor], k: int,
                           chunk_elements: int = DEFAULT_CHUNK_ELEMENTS) -> torch.Tensor:
    """Indices (B, N_src, k) of each source cell's k target cells of highest mean correlation over
    the M layers. ``src``, ``tgt``: [(B, N, C_m)]. No gradient."""
    with torch.no_grad():
        return proposal_correlations(src, tgt, k, chunk_elements, per_layer=False)[1]


def _layer_products(src: torch.Tensor, tgt: torch.Tensor, splits: Sequence[int]) -> list[torch.Tensor]:
    """[(B, R, N_tgt)] per layer: src (B, R, C) against tgt (B, N_tgt, C), channels split by layer."""
    return [torch.bmm(s, t.transpose(1, 2)) for s, t in zip(src.split(list(splits), -1), tgt.split(list(splits), -1))]


class ProposalCorrelations(torch.autograd.Function):
    """(per-layer correlations (B, N_src, k, M), proposals (B, N_src, k)) of concatenated features
    src (B, N_src, C) and tgt (B, N_tgt, C) whose layers have ``splits`` channels; see
    ``proposal_correlations``."""

    @staticmethod
    def forward(ctx, src, tgt, splits, k, chunk_elements):
        rows = chunk_rows(chunk_elements, src.shape[0], tgt.shape[1])
        values, targets = [], []
        for start in range(0, src.shape[1], rows):
            layers = _layer_products(src[:, start:start + rows], tgt, splits)
            best = (sum(layers) / len(layers)).topk(k, dim=-1).indices
            targets.append(best)
            values.append(torch.stack([layer.gather(2, best) for layer in layers], dim=-1))
        targets = torch.cat(targets, dim=1)
        ctx.save_for_backward(src, tgt, targets)
        ctx.splits, ctx.rows = tuple(splits), rows
        ctx.mark_non_differentiable(targets)
        return torch.cat(values, dim=1), targets

    @staticmethod
    def backward(ctx, grad_values, _grad_targets):
        src, tgt, targets = ctx.saved_tensors
        grad_src, grad_tgt = torch.zeros_like(src), torch.zeros_like(tgt)
        bounds = [0, *accumulate(ctx.splits)]
        for start in range(0, src.shape[1], ctx.rows):
            part = slice(start, start + ctx.rows)
            best = targets[:, part]
            for layer, (low, high) in enumerate(zip(bounds[:-1], bounds[1:])):
                grad_volume = src.new_zeros(src.shape[0], best.shape[1], tgt.shape[1])  # the chunk's dense rows
                grad_volume.scatter_(2, best, grad_values[:, part, :, layer].to(src.dtype))
                grad_src[:, part, low:high] = torch.bmm(grad_volume, tgt[:, :, low:high])
                grad_tgt[:, :, low:high] += torch.bmm(grad_volume.transpose(1, 2), src[:, part, low:high])
        return grad_src, grad_tgt, None, None, None


def proposal_correlations(src: Sequence[torch.Tensor], tgt: Sequence[torch.Tensor], k: int,
                          chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
                          per_layer: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Each source cell's k target cells of highest mean correlation over the M layers, and its
    correlation with each of them per layer. ``src``, ``tgt``: [(B, N, C_m)] -> (values (B, N_src,
    k, M), differentiable in both features; indices (B, N_src, k), row-major (t, y, x)). The
    per-layer volumes are built a chunk of about ``chunk_elements`` correlations per layer at a
    time; the selection itself carries no gradient. ``per_layer`` False: values (B, N_src, k, 1),
    the mean correlation alone (one matrix product per chunk instead of M)."""
    splits = [f.shape[-1] for f in src] if per_layer else [sum(f.shape[-1] for f in src)]
    src_all, tgt_all = torch.cat(list(src), dim=-1), torch.cat(list(tgt), dim=-1)
    if src_all.dtype in (torch.float16, torch.bfloat16):  # mixed precision: select and correlate in float32
        src_all, tgt_all = src_all.float(), tgt_all.float()
    with torch.autocast(src_all.device.type, enabled=False):
        values, targets = ProposalCorrelations.apply(src_all, tgt_all, splits, k, chunk_elements)
    return (values, targets) if per_layer else (values / len(src), targets)


def gather_cells(values: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
    """``values`` (B, N, C) at ``cells`` (B, R, k) -> (B, R, k, C)."""
    batch, rows, k = cells.shape
    index = cells.reshape(batch, rows * k, 1).expand(-1, -1, values.shape[-1])
    return torch.gather(values, 1, index).reshape(batch, rows, k, values.shape[-1])


class SparseProposals(nn.Module):
    """Scores each source cell's ``k`` proposed target cells (see the module docstring).

    ``hidden``: width of the MLP's two hidden layers; ``feature_proj``: channels of each cell's
    feature projection (0: none); ``per_layer``: the MLP sees each layer's correlation (False: only
    their mean, which costs one matrix product per chunk instead of one per layer);
    ``chunk_elements``: the work of one chunk of source cells.
    """

    sparse = True

    def __init__(self, num_layers: int, channels: Sequence[int], grid: Sequence[int], *,
                 k: int = 32, hidden: int = 64, feature_proj: int = 16, per_layer: bool = True,
                 chunk_elements: int = DEFAULT_CHUNK_ELEMENTS):
        super().__init__()
        self.grid = tuple(grid)
        cells = self.grid[0] * self.grid[1] * self.grid[2]
        if not 1 <= k <= cells:
            raise StcorrError(f"sparse aggregator k must be in [1, {cells}] (the grid's cells), got {k}")
        self.k = k
        self.chunk_elements = chunk_elements
        self.per_layer = per_layer
        self.feature_proj = nn.Linear(sum(channels), feature_proj) if feature_proj > 0 else None
        width = (num_layers if per_layer else 1) + 2 * max(feature_proj, 0) + 3
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
        per_layer, targets = proposal_correlations(src, tgt, self.k, self.chunk_elements, self.per_layer)
        src_proj = tgt_proj = None
        if self.feature_proj is not None:
            src_proj, tgt_proj = self.feature_proj(torch.cat(src, -1)), self.feature_proj(torch.cat(tgt, -1))
        rows = chunk_rows(self.chunk_elements, src[0].shape[0], self.k * self.mlp[0].in_features)
        scores = []
        for start in range(0, targets.shape[1], rows):
            part = slice(start, start + rows)
            args = (per_layer[:, part], targets[:, part], start,
                    None if src_proj is None else src_proj[:, part], tgt_proj)
            if torch.is_grad_enabled():
                scores.append(checkpoint(self._score, *args, use_reentrant=False))
            else:
                scores.append(self._score(*args))
        return SparseVolume(torch.cat(scores, dim=1), targets, n_tgt)

    def _score(self, per_layer: torch.Tensor, targets: torch.Tensor, start: int,
               src_proj: torch.Tensor | None, tgt_proj: torch.Tensor | None) -> torch.Tensor:
        """Scores (B, R, k) of R source cells (starting at ``start``): their proposals' per-layer
        correlations ``per_layer`` (B, R, k, M) and the MLP's correction."""
        positions = cell_indices(self.grid, targets.device)
        scale = positions.new_tensor(self.grid)
        offsets = (positions[targets] - positions[start:start + targets.shape[1], None, :]) / scale
        parts = [per_layer, offsets.to(per_layer.dtype)]
        if src_proj is not None:
            parts += [src_proj[:, :, None, :].expand(-1, -1, self.k, -1).to(per_layer.dtype),
                      gather_cells(tgt_proj, targets).to(per_layer.dtype)]
        return per_layer.mean(-1) + self.mlp(torch.cat(parts, dim=-1))[..., 0]
