"""Soft dynamic time warping (Cuturi & Blondel, 2017) in plain torch, differentiable by autograd.

Conventions: a cost tensor is (B, N, M) or (N, M); ``cost[b, i, j]`` is the cost of matching
frame i of the first sequence with frame j of the second. The soft minimum with smoothing
``gamma > 0`` is ``softmin(a_1..a_k) = -gamma * log(sum_k exp(-a_k / gamma))``, and

    R[0, 0] = 0,  R[i, 0] = R[0, j] = +inf  (i, j > 0),
    R[i, j] = cost[i-1, j-1] + softmin(R[i-1, j-1], R[i-1, j], R[i, j-1]),
    sdtw(cost) = R[N, M].

As gamma -> 0 this becomes the classic DTW cost (a sum over the path, not a mean). The table is
filled one anti-diagonal (i + j constant) per step, all batch items at once.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

# Stands for +inf in the table: finite, so exp() underflows to 0 and no NaN gradient appears.
_FAR = 1e10


def _batched(cost: Tensor) -> tuple[Tensor, bool]:
    if cost.dim() == 2:
        return cost.unsqueeze(0), True
    if cost.dim() != 3:
        raise ValueError(f"cost must be (N, M) or (B, N, M), got shape {tuple(cost.shape)}")
    return cost, False


def _softmin3(a: Tensor, b: Tensor, c: Tensor, gamma: float) -> Tensor:
    return -gamma * torch.logsumexp(torch.stack([a, b, c]) / -gamma, dim=0)


def soft_dtw(cost: Tensor, gamma: float = 1.0) -> Tensor:
    """Soft-DTW value of a cost matrix.

    Args:
        cost: (B, N, M) or (N, M) matching costs (floating point; gradients flow to it).
        gamma: smoothing, > 0.
    Returns:
        (B,) values ``R[N, M]`` per batch item, or a scalar for an (N, M) input.
    """
    if gamma <= 0:
        raise ValueError(f"gamma must be > 0, got {gamma}")
    batch, squeeze = _batched(cost)
    b, n, m = batch.shape
    rows = torch.arange(n, device=cost.device)  # 0-based source frame i of each diagonal entry
    diagonals = torch.arange(n + m - 1, device=cost.device)[:, None]  # i + j of the cells
    cols = diagonals - rows  # (N + M - 1, N) target frame j
    valid = (cols >= 0) & (cols < m)
    flat_index = (rows * m + cols.clamp(0, m - 1)).reshape(-1)
    # One gather and one unbind, so that backward scatters into the cost once, not per diagonal.
    skewed_cost = batch.reshape(b, n * m)[:, flat_index].reshape(b, n + m - 1, n).unbind(dim=1)
    far = torch.full((b, 1), _FAR, dtype=cost.dtype, device=cost.device)
    # Table diagonal k (cells R[i, k - i]) is held as a (B, N + 1) tensor indexed by table row i.
    before_last = torch.cat([torch.zeros_like(far), far.expand(b, n)], dim=1)  # k = 0: only R[0, 0]
    last = far.expand(b, n + 1)  # k = 1: R[0, 1], R[1, 0]
    for step_cost, step_valid in zip(skewed_cost, valid):
        # entry of table row i: R[i-1, j-1] is row i-1 two diagonals back; R[i-1, j], R[i, j-1] rows i-1, i one back
        value = step_cost + _softmin3(before_last[:, :-1], last[:, :-1], last[:, 1:], gamma)
        value = torch.where(step_valid, value, _FAR)
        before_last, last = last, torch.cat([far, value], dim=1)
    result = last[:, n]
    return result[0] if squeeze else result


def soft_alignment(cost: Tensor, gamma: float = 1.0, create_graph: bool = False) -> Tensor:
    """Expected alignment matrix ``E = d sdtw(cost) / d cost`` (same shape as ``cost``).

    ``E[b, i, j]`` is the probability that cell (i, j) lies on the path under the Gibbs
    distribution over warping paths ``p(A) ∝ exp(-<A, cost> / gamma)``; each entry is in [0, 1]
    and ``E[0, 0] = E[N-1, M-1] = 1``. With ``create_graph`` the result stays differentiable.
    """
    leaf = cost if cost.requires_grad else cost.detach().requires_grad_(True)
    with torch.enable_grad():
        value = soft_dtw(leaf, gamma).sum()
        (grad,) = torch.autograd.grad(value, leaf, create_graph=create_graph)
    return grad


def sqeuclidean_cost(x: Tensor, y: Tensor) -> Tensor:
    """(B, N, M) squared Euclidean distances between frames of ``x`` (B, N, D) and ``y`` (B, M, D)."""
    diff = x.unsqueeze(-2) - y.unsqueeze(-3)
    return (diff * diff).sum(-1)


def soft_dtw_sequences(
    x: Tensor,
    y: Tensor,
    gamma: float = 1.0,
    normalize: bool = False,
    cost_fn: Callable[[Tensor, Tensor], Tensor] = sqeuclidean_cost,
) -> Tensor:
    """Soft-DTW between batches of sequences.

    Args:
        x: (B, N, D) or (N, D); y: (B, M, D) or (M, D).
        normalize: return the soft-DTW divergence
            ``sdtw(x, y) - (sdtw(x, x) + sdtw(y, y)) / 2`` (0 when x == y, and >= 0 for the
            squared Euclidean cost), instead of ``sdtw(x, y)``.
        cost_fn: maps (B, N, D), (B, M, D) to a (B, N, M) cost; squared Euclidean by default.
    Returns:
        (B,) values, or a scalar for unbatched inputs.
    """
    squeeze = x.dim() == 2
    if squeeze:
        x, y = x.unsqueeze(0), y.unsqueeze(0)
    value = soft_dtw(cost_fn(x, y), gamma)
    if normalize:
        value = value - 0.5 * (soft_dtw(cost_fn(x, x), gamma) + soft_dtw(cost_fn(y, y), gamma))
    return value[0] if squeeze else value


class SoftDTWLoss(torch.nn.Module):
    """``soft_dtw_sequences`` as a module: ``forward(x, y)`` gives (B,) values (sum them or average them yourself)."""

    def __init__(self, gamma: float = 1.0, normalize: bool = False,
                 cost_fn: Callable[[Tensor, Tensor], Tensor] = sqeuclidean_cost):
        super().__init__()
        self.gamma, self.normalize, self.cost_fn = gamma, normalize, cost_fn

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return soft_dtw_sequences(x, y, self.gamma, self.normalize, self.cost_fn)
