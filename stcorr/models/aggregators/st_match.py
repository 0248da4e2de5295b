"""st-MATCH: the mean of the layers' correlation volumes (no parameters)."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


class STMatch(nn.Module):
    """Refined volume = mean over the M correlation volumes (hyperpixel matching, no learning)."""

    def __init__(self, num_layers: int, channels: Sequence[int], grid: Sequence[int]):
        super().__init__()

    def forward(self, corr: torch.Tensor, src_feats: list[torch.Tensor], tgt_feats: list[torch.Tensor]) -> torch.Tensor:
        """(B, M, N_src, N_tgt) -> (B, N_src, N_tgt)."""
        return corr.mean(dim=1)
