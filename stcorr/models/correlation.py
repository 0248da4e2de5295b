"""Correlation volumes between two clips' hyperpixel features."""

from __future__ import annotations

from typing import Sequence

import torch


def correlation_volumes(src_feats: Sequence[torch.Tensor], tgt_feats: Sequence[torch.Tensor]) -> torch.Tensor:
    """Dot products between every source and every target cell, one volume per layer.

    ``src_feats[m]``, ``tgt_feats[m]``: (B, C_m, T, H, W). Returns (B, M, N_src, N_tgt) with
    N = T*H*W and cells flattened in (t, y, x) row-major order: n = (t*H + y)*W + x. With
    L2-normalised features the entries are cosine similarities.
    """
    volumes = [
        torch.bmm(src.flatten(2).transpose(1, 2), tgt.flatten(2)) for src, tgt in zip(src_feats, tgt_feats)
    ]
    return torch.stack(volumes, dim=1)
