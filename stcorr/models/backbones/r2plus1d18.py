"""R(2+1)D-18 (Tran et al. 2018), torchvision's ``r2plus1d_18``: factorised convs, blocks [2, 2, 2, 2]."""

from __future__ import annotations

from typing import Sequence

from stcorr.models.backbones.video_resnet import VideoBackbone, conv2plus1d, r2plus1d_stem

BLOCKS = (2, 2, 2, 2)  # residual blocks per group


def r2plus1d18(width: int = 64, blocks: Sequence[int] | None = None, in_channels: int = 3) -> VideoBackbone:
    """R(2+1)D-18; ``width``/``blocks`` shrink it for CPU runs."""
    return VideoBackbone("r2plus1d18", r2plus1d_stem, conv2plus1d, blocks or BLOCKS, width, in_channels=in_channels)
