"""R3D-18 (Tran et al. 2018), torchvision's ``r3d_18``: full 3x3x3 convs, blocks [2, 2, 2, 2]."""

from __future__ import annotations

from typing import Sequence

from stcorr.models.backbones.video_resnet import VideoBackbone, conv3x3x3, r3d_stem

BLOCKS = (2, 2, 2, 2)  # residual blocks per group


def r3d18(width: int = 64, blocks: Sequence[int] | None = None, in_channels: int = 3) -> VideoBackbone:
    """R3D-18; ``width``/``blocks`` shrink it for CPU runs (weights then no longer fit)."""
    return VideoBackbone("r3d18", r3d_stem, conv3x3x3, blocks or BLOCKS, width, in_channels=in_channels)
