"""The CP (correspondence proposal) module of CPNet (Liu, Lee & Jin, CVPR 2019).

For each space-time position of a feature map, its k nearest neighbours in feature space among
the positions of the *other* frames are its correspondence proposals. A shared MLP encodes each
proposal pair [f_i, f_j, dt/T, dh/H, dw/W]; the k encodings are max-pooled; a 1x1x1 projection
back to the input width, whose BatchNorm scale starts at 0, is added to the input as a residual,
so a new module is the identity.

Positions are flattened row-major in (t, h, w): n = (t*H + h)*W + w (as in
``stcorr.models.readout``). Offsets are the neighbour's grid position minus the query's, divided
by the grid size along that axis.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from stcorr.errors import StcorrError

DEFAULT_CHUNK_ELEMENTS = 1 << 22


def grid_positions(grid: Sequence[int], device: torch.device | None = None) -> torch.Tensor:
    """(N, 3) integer positions (t, h, w) of a (T, H, W) grid, row-major."""
    axes = [torch.arange(size, device=device) for size in grid]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, 3)


def knn_other_frames(feats: torch.Tensor, frames: int, k: int,
                     chunk_elements: int = DEFAULT_CHUNK_ELEMENTS) -> torch.Tensor:
    """Indices (B, N, k) of each position's k nearest positions (squared L2 in feature space) among
    the positions of the other frames.

    ``feats`` (B, N, C) with N = frames * P positions, frame-major (position n is in frame
    n // P). Computed in chunks of query positions, each a batched matrix product and a ``topk``,
    so that at most about ``chunk_elements`` distances exist at once: memory grows with N * k.
    No gradient flows through the selection.
    """
    batch, n, _ = feats.shape
    per_frame = n // frames
    if n != per_frame * frames:
        raise StcorrError(f"{n} positions do not split into {frames} frames")
    if not 0 < k <= n - per_frame:
        raise StcorrError(f"k must be in [1, {n - per_frame}] (positions in other frames), got {k}")
    feats = feats.detach()
    # -|f_i - f_j|^2 + |f_i|^2 = [2 f_i, 1] . [f_j, -|f_j|^2]: one matrix product; |f_i|^2 does not change
    # the order over j.
    queries = torch.cat([2.0 * feats, feats.new_ones(batch, n, 1)], dim=-1)
    targets = torch.cat([feats, -(feats * feats).sum(-1, keepdim=True)], dim=-1).transpose(1, 2)
    rows = max(1, min(per_frame, chunk_elements // max(1, batch * n)))
    chunks = []
    for frame_start in range(0, n, per_frame):
        for start in range(frame_start, frame_start + per_frame, rows):
            stop = min(frame_start + per_frame, start + rows)
            closeness = torch.bmm(queries[:, start:stop], targets)
            closeness[:, :, frame_start:frame_start + per_frame] = float("-inf")
            chunks.append(closeness.topk(k, dim=-1).indices)
    return torch.cat(chunks, dim=1)


def proposal_pairs(feats: torch.Tensor, neighbours: torch.Tensor, grid: Sequence[int],
                   oriented: bool = False) -> torch.Tensor:
    """Pair descriptors (B, N, k, 2C + 3): [f_i, f_j, dt/T, dh/H, dw/W] for each query i and its
    neighbours j = ``neighbours`` (B, N, k); ``feats`` (B, N, C). Differentiable in ``feats``
    (both ends), not in the indices.

    ``oriented`` appends the pair seen forward in time, s (f_j - f_i) and s (dh/H, dw/W) with
    s = sign(dt) (B, N, k, 3C + 5): what changes and where it moves from the earlier end to the
    later, which flips when the clip is reversed. The plain descriptor holds the same information,
    but reading it takes a product of dt's sign with the content (an XOR for the MLP to learn)."""
    batch, n, channels = feats.shape
    k = neighbours.shape[-1]
    gathered = torch.gather(feats, 1, neighbours.reshape(batch, n * k, 1).expand(-1, -1, channels))
    ends = gathered.reshape(batch, n, k, channels)
    positions = grid_positions(grid, feats.device)
    scale = torch.tensor(list(grid), device=feats.device, dtype=feats.dtype)
    offsets = (positions[neighbours] - positions[None, :, None, :]).to(feats.dtype) / scale
    starts = feats[:, :, None, :].expand(-1, -1, k, -1)
    if not oriented:
        return torch.cat([starts, ends, offsets], dim=-1)
    forward = torch.sign(offsets[..., :1])
    return torch.cat([starts, ends, offsets, forward * (ends - starts), forward * offsets[..., 1:]], dim=-1)


class CPModule(nn.Module):
    """Correspondence proposals: (B, C, T, H, W) -> (B, C, T, H, W), the identity at initialisation.

    ``k`` proposals per position; ``bottleneck``: channels the k-NN and the MLP work in (a 1x1x1
    conv first; ``None`` keeps C); ``spatial_stride``: the map is max-pooled by this much in H and
    W before the k-NN and the result upsampled (nearest) back; ``mlp`` the MLP's widths, the last
    being the pooled width projected back to C.
    """

    def __init__(self, channels: int, k: int = 8, bottleneck: int | None = None, spatial_stride: int = 1,
                 mlp: Sequence[int] = (64, 64), chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
                 oriented: bool = False, init_scale: float = 0.0):
        super().__init__()
        if k < 1 or spatial_stride < 1 or not mlp:
            raise StcorrError(f"CP module needs k >= 1, spatial_stride >= 1 and an MLP width, got "
                              f"k={k}, spatial_stride={spatial_stride}, mlp={list(mlp)}")
        self.k = k
        self.spatial_stride = spatial_stride
        self.chunk_elements = chunk_elements
        self.oriented = oriented
        width = bottleneck or channels
        self.reduce = nn.Conv3d(channels, width, 1) if bottleneck else nn.Identity()
        layers: list[nn.Module] = []
        previous = 3 * width + 5 if oriented else 2 * width + 3
        for hidden in mlp:
            layers += [nn.Conv2d(previous, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU(inplace=True)]
            previous = hidden
        self.mlp = nn.Sequential(*layers)
        self.project = nn.Conv3d(previous, channels, 1, bias=False)
        self.project_norm = nn.BatchNorm3d(channels)
        nn.init.constant_(self.project_norm.weight, init_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (B, C, T, H, W) -> x + BN(proj(max_k MLP(pairs)))."""
        reduced = self.reduce(x)
        if self.spatial_stride > 1:
            stride = (1, self.spatial_stride, self.spatial_stride)
            reduced = F.max_pool3d(reduced, stride, stride, ceil_mode=True)
        batch, width, *grid = reduced.shape
        feats = reduced.flatten(2).transpose(1, 2)  # (B, N, C')
        neighbours = knn_other_frames(feats, grid[0], self.k, self.chunk_elements)
        pairs = proposal_pairs(feats, neighbours, grid, self.oriented).permute(0, 3, 1, 2)  # (B, 2C'+3 or 3C'+5, N, k)
        pooled = self.mlp(pairs).amax(dim=-1).reshape(batch, -1, *grid)
        if tuple(pooled.shape[2:]) != tuple(x.shape[2:]):
            pooled = F.interpolate(pooled, size=x.shape[2:], mode="nearest")
        return x + self.project_norm(self.project(pooled))
