"""Video ResNets (R3D, R(2+1)D) with torchvision's parameter layout, and their hyperpixel layers.

The module tree matches ``torchvision.models.video.resnet.VideoResNet`` name for name, so a
state dict saved from torchvision's ``r3d_18`` / ``r2plus1d_18`` (or from an IG65M R(2+1)D-34
that uses the same layout) loads with ``strict=True``:

- ``stem``: a Sequential. R3D: ``0`` conv 3x7x7 (stride 1,2,2), ``1`` BN, ``2`` ReLU.
  R(2+1)D: ``0`` conv 1x7x7 to 45 channels (stride 1,2,2), ``1`` BN, ``2`` ReLU,
  ``3`` conv 3x1x1, ``4`` BN, ``5`` ReLU.
- ``layer1`` .. ``layer4``: Sequentials of ``BasicBlock`` with ``conv1`` = [conv, BN, ReLU],
  ``conv2`` = [conv, BN] and, where the stride or width changes, ``downsample`` =
  [1x1x1 conv, BN]. In R(2+1)D each "conv" is itself a Sequential [1x3x3 conv, BN, ReLU, 3x1x1
  conv] whose middle width is ``midplanes(in, out)`` below.
- ``fc``: the classifier (kept only so that checkpoints load; matching never uses it).

Hyperpixel layers are numbered as in the paper's appendix: 0 is the stem's output, then
1, 2, ... the output of each residual block in order (after the block's final ReLU). For
R(2+1)D-34: 1-3 group 1 (``layer1``), 4-7 group 2, 8-13 group 3, 14-16 group 4.

The layers a backbone uses when a config names none (``model.layers: null``) belong to its
depth: ``paper_layers(blocks)``.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import nn

from stcorr.errors import StcorrError

#: The paper's hyperpixel layers, given for R(2+1)D-34 (blocks [3, 4, 6, 3]): eight layers of groups
#: 2 to 4, the deeper half of the network, with more of them in the deeper groups.
PAPER_BLOCKS = (3, 4, 6, 3)
PAPER_LAYERS = (5, 7, 9, 11, 12, 13, 14, 16)


def paper_layers(blocks: Sequence[int]) -> list[int]:
    """The paper's layer choice carried over to a backbone with ``blocks`` residual blocks per group.

    Each of ``PAPER_LAYERS`` is block p of the n blocks of its group in R(2+1)D-34; it becomes
    block ceil(p * m / n) of that group's m blocks here (same relative depth, duplicates merged).
    [3, 4, 6, 3] gives ``PAPER_LAYERS`` itself; [2, 2, 2, 2] (R3D-18, R(2+1)D-18) gives 3..8, both
    blocks of groups 2 to 4; [1, 1, 1, 1] gives 2, 3, 4.
    """
    blocks = [int(b) for b in blocks]
    chosen = set()
    for layer in PAPER_LAYERS:
        group, position = _group_and_position(layer, PAPER_BLOCKS)
        carried = math.ceil(position * blocks[group] / PAPER_BLOCKS[group])
        chosen.add(sum(blocks[:group]) + carried)
    return sorted(chosen)


def _group_and_position(layer: int, blocks: Sequence[int]) -> tuple[int, int]:
    """Residual layer ``layer`` (>= 1) -> (group 0..3, 1-based position of its block in the group)."""
    for group, count in enumerate(blocks):
        if layer <= count:
            return group, layer
        layer -= count
    raise ValueError(f"layer beyond {sum(blocks)} blocks")


#: Builds one "conv" of a block: (in_planes, out_planes, midplanes, stride, bn_eps) -> module.
ConvBuilder = Callable[[int, int, int, int, float], nn.Module]


def midplanes(in_planes: int, out_planes: int) -> int:
    """Middle width of an R(2+1)D conv: keeps its parameter count close to a full 3x3x3 conv."""
    return (in_planes * out_planes * 27) // (in_planes * 9 + 3 * out_planes)


def conv3x3x3(in_planes: int, out_planes: int, mid: int, stride: int, bn_eps: float) -> nn.Module:
    """The full 3D convolution of R3D (``mid`` and ``bn_eps`` unused)."""
    return nn.Conv3d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv2plus1d(in_planes: int, out_planes: int, mid: int, stride: int, bn_eps: float) -> nn.Module:
    """R(2+1)D's factorised convolution: spatial 1x3x3, BN, ReLU, temporal 3x1x1."""
    return nn.Sequential(
        nn.Conv3d(in_planes, mid, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False),
        nn.BatchNorm3d(mid, eps=bn_eps),
        nn.ReLU(inplace=True),
        nn.Conv3d(mid, out_planes, (3, 1, 1), stride=(stride, 1, 1), padding=(1, 0, 0), bias=False),
    )


def r3d_stem(width: int, bn_eps: float, in_channels: int = 3) -> nn.Sequential:
    """R3D stem: 3x7x7 conv, spatial stride 2."""
    return nn.Sequential(
        nn.Conv3d(in_channels, width, (3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
        nn.BatchNorm3d(width, eps=bn_eps),
        nn.ReLU(inplace=True),
    )


def r2plus1d_stem(width: int, bn_eps: float, in_channels: int = 3) -> nn.Sequential:
    """R(2+1)D stem: 1x7x7 conv to 45 channels (at width 64, scaled with the width), then 3x1x1."""
    mid = max(1, round(45 * width / 64))
    return nn.Sequential(
        nn.Conv3d(in_channels, mid, (1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False),
        nn.BatchNorm3d(mid, eps=bn_eps),
        nn.ReLU(inplace=True),
        nn.Conv3d(mid, width, (3, 1, 1), stride=1, padding=(1, 0, 0), bias=False),
        nn.BatchNorm3d(width, eps=bn_eps),
        nn.ReLU(inplace=True),
    )


class BasicBlock(nn.Module):
    """Two convs and a residual; ``downsample`` projects the residual when the shape changes.

    ``caffe2_midplanes``: the second conv's middle width is computed from (planes, planes), as in
    the Caffe2-trained R(2+1)D-34 checkpoints (VMZ / IG65M), instead of torchvision's
    (inplanes, planes). The two differ only in the first block of layer2..layer4.
    """

    def __init__(self, inplanes: int, planes: int, conv: ConvBuilder, stride: int = 1,
                 caffe2_midplanes: bool = False, bn_eps: float = 1e-5):
        super().__init__()
        mid1 = midplanes(inplanes, planes)
        mid2 = midplanes(planes, planes) if caffe2_midplanes else mid1
        self.conv1 = nn.Sequential(
            conv(inplanes, planes, mid1, stride, bn_eps), nn.BatchNorm3d(planes, eps=bn_eps), nn.ReLU(inplace=True)
        )
        self.conv2 = nn.Sequential(conv(planes, planes, mid2, 1, bn_eps), nn.BatchNorm3d(planes, eps=bn_eps))
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv3d(inplanes, planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm3d(planes, eps=bn_eps),
            )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.conv2(self.conv1(x))
        return self.relu(out + residual)


class VideoBackbone(nn.Module):
    """A video ResNet whose intermediate outputs serve as hyperpixel features.

    Input clips: float ``(B, C, T, H, W)``, C = ``in_channels``: RGB normalised with the Kinetics
    mean/std first (3 channels), then any other input maps (``stcorr.pose.maps``). The stem
    halves H and W; layer2..layer4 each halve T, H and W.

    Args:
        stem: builds the stem from (width, bn_eps, in_channels).
        conv: builds a block's convolution (``conv3x3x3`` or ``conv2plus1d``).
        blocks: residual blocks per stage (4 numbers).
        width: channels of the stem and layer1 (64 in the published models); layer k has
            ``width * 2**(k-1)``.
        in_channels: channels of the input clips (3: RGB, as the published models).

    ``default_layers``: the hyperpixel layers used when a config names none, the paper's choice
    for this depth (``paper_layers``).
    """

    def __init__(self, name: str, stem: Callable[..., nn.Sequential], conv: ConvBuilder,
                 blocks: Sequence[int], width: int = 64, caffe2_midplanes: bool = False,
                 bn_eps: float = 1e-5, num_classes: int = 400, in_channels: int = 3):
        super().__init__()
        if len(blocks) != 4 or any(int(b) < 1 for b in blocks):
            raise StcorrError(f"backbone {name}: blocks must be 4 positive numbers, got {list(blocks)}")
        if width < 1:
            raise StcorrError(f"backbone {name}: width must be positive, got {width}")
        self.name = name
        self.width = width
        self.blocks = [int(b) for b in blocks]
        self.in_channels = int(in_channels)
        self.stem = stem(width, bn_eps, self.in_channels)
        inplanes = width
        for stage, count in enumerate(self.blocks):
            planes = width * 2**stage
            stride = 1 if stage == 0 else 2
            stage_blocks = [BasicBlock(inplanes, planes, conv, stride, caffe2_midplanes, bn_eps)]
            stage_blocks += [BasicBlock(planes, planes, conv, 1, caffe2_midplanes, bn_eps) for _ in range(count - 1)]
            setattr(self, f"layer{stage + 1}", nn.Sequential(*stage_blocks))
            inplanes = planes
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(inplanes, num_classes)
        self.default_layers = paper_layers(self.blocks)
        self._initialise()

    def _initialise(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv3d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm3d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0.0, 0.01)
                nn.init.zeros_(module.bias)

    def residual_blocks(self) -> list[BasicBlock]:
        """All residual blocks in forward order; block i is hyperpixel layer i + 1."""
        return [block for stage in range(1, 5) for block in getattr(self, f"layer{stage}")]

    @property
    def num_layers(self) -> int:
        """Number of hyperpixel layers: the stem plus one per residual block."""
        return 1 + sum(self.blocks)

    def layer_channels(self, layer: int) -> int:
        """Channels of hyperpixel layer ``layer``."""
        self._check_layers([layer])
        if layer == 0:
            return self.width
        stage = next(s for s in range(4) if layer <= sum(self.blocks[: s + 1]))
        return self.width * 2**stage

    def layer_stride(self, layer: int) -> tuple[int, int, int]:
        """(T, H, W) downsampling factor of hyperpixel layer ``layer`` relative to the clip."""
        self._check_layers([layer])
        stage = next(s for s in range(4) if layer <= sum(self.blocks[: s + 1]))
        return (2**stage, 2 ** (stage + 1), 2 ** (stage + 1))

    def _check_layers(self, layers: Sequence[int]) -> None:
        bad = [layer for layer in layers if not 0 <= int(layer) < self.num_layers]
        if bad:
            raise StcorrError(
                f"backbone {self.name} has hyperpixel layers 0..{self.num_layers - 1}, got {bad[0]}"
            )

    def layer_features(self, x: torch.Tensor, layers: Sequence[int]) -> list[torch.Tensor]:
        """Outputs of the hyperpixel ``layers`` (paper numbering), in the order asked.

        The forward pass stops after the deepest requested layer.
        """
        if not layers:
            raise StcorrError("no hyperpixel layers requested")
        self._check_layers(layers)
        wanted = set(int(layer) for layer in layers)
        last = max(wanted)
        found: dict[int, torch.Tensor] = {}
        x = self.stem(x)
        if 0 in wanted:
            found[0] = x
        for index, block in enumerate(self.residual_blocks()[:last], start=1):
            x = block(x)
            if index in wanted:
                found[index] = x
        return [found[int(layer)] for layer in layers]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Kinetics class logits, as torchvision's model computes them."""
        x = self.layer_features(x, [self.num_layers - 1])[0]
        return self.fc(self.avgpool(x).flatten(1))
