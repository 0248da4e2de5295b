"""A contrastive random walk's cycle (CRW: Jabri, Owens & Efros, NeurIPS 2020) over frame features.

    loss = random_walk_cycle_loss(features, temperature=0.07, edge_dropout=0.1)   # features (F, C, h, w)

The cells of each frame are the nodes of a graph through time; the transition from frame t to
frame t + 1 is the row softmax of the cells' feature dot products / temperature (every cell to
every cell). A walk goes forward to frame k and back along the same frames (a palindrome); each
cell should come back to itself, so the loss is the cross-entropy of the return probabilities
with the identity, averaged over the palindromes of every length k = 1 .. F - 1. Edge dropout sets
a random fraction of the logits to -inf before the softmax (CRW's), so a walk cannot rely on one
edge.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def transitions(source: Tensor, target: Tensor, temperature: float, edge_dropout: float = 0.0,
                generator: torch.Generator | None = None) -> Tensor:
    """Unit features (C, N) of two frames -> (N, N) row-stochastic transitions from source to target cells."""
    logits = source.T @ target / temperature
    if edge_dropout:
        dropped = torch.rand(logits.shape, generator=generator) < edge_dropout
        logits = logits.masked_fill(dropped.to(logits.device), float("-inf"))
    return logits.softmax(1)


def random_walk_cycle_loss(features: Tensor, temperature: float = 0.07, edge_dropout: float = 0.0,
                           generator: torch.Generator | None = None) -> Tensor:
    """CRW's palindrome loss on one clip's features (F, C, h, w), F >= 2: the mean over k = 1 .. F - 1
    of the cross-entropy between the return distribution of the walk 0 -> k -> 0 and each start cell."""
    frames, channels = features.shape[:2]
    cells = features.reshape(frames, channels, -1)
    forward = [transitions(cells[t], cells[t + 1], temperature, edge_dropout, generator) for t in range(frames - 1)]
    backward = [transitions(cells[t + 1], cells[t], temperature, edge_dropout, generator) for t in range(frames - 1)]
    start = torch.arange(cells.shape[2], device=features.device)
    losses, out, back = [], None, None
    for k in range(1, frames):
        out = forward[0] if k == 1 else out @ forward[k - 1]  # 0 -> k
        back = backward[0] if k == 1 else backward[k - 1] @ back  # k -> 0 along the same frames
        returned = out @ back
        losses.append(F.nll_loss(returned.clamp_min(1e-20).log(), start))
    return torch.stack(losses).mean()
