"""R(2+1)D-34 as published for PyTorch with the IG65M / Kinetics weights (moabitcoin/ig65m-pytorch).

torchvision's layout with blocks [3, 4, 6, 3], and two differences of the Caffe2 original that
the checkpoints carry: the second conv of each block takes its middle width from
(planes, planes) (288, 576, 1152 in the first block of layer2..4), and BatchNorm eps is 1e-3.
Hyperpixel layers: 0 stem, 1-3 layer1, 4-7 layer2, 8-13 layer3, 14-16 layer4.
"""

from __future__ import annotations

from typing import Sequence

from stcorr.models.backbones.video_resnet import VideoBackbone, conv2plus1d, r2plus1d_stem

BLOCKS = (3, 4, 6, 3)  # residual blocks per group


def r2plus1d34(width: int = 64, blocks: Sequence[int] | None = None, in_channels: int = 3) -> VideoBackbone:
    """R(2+1)D-34; ``width``/``blocks`` shrink it for CPU runs; ``in_channels`` beyond 3: input maps."""
    return VideoBackbone(
        "r2plus1d34", r2plus1d_stem, conv2plus1d, blocks or BLOCKS, width,
        caffe2_midplanes=True, bn_eps=1e-3, in_channels=in_channels,
    )
