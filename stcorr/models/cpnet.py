"""CPNet video classifiers: a C2D ResNet (the 2D ResNet run on every frame) with CP modules.

A clip is (B, 3, T, H, W). The C2D runs ``ResNet2d``'s stem and stages on the B*T frames; after
the chosen blocks the (B*T, C, H', W') maps are viewed as (B, C, T, H', W') and go through a CP
module (``stcorr.models.cp``), the only place where frames meet. A global average over (T, H', W')
and a linear layer give the logits. With no CP module this is the plain C2D, which cannot tell a
clip from the same clip played backwards.

Placements are named in the paper's numbering: ``"res3.1"`` is after block 1 (from 0) of res3,
which is ``ResNet2d.layer2`` (res2..res5 = layer1..layer4). The paper puts CP modules in res3 and
res4.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from stcorr.errors import StcorrError
from stcorr.models.backbones.resnet2d import ResNet2d
from stcorr.models.cp import CPModule

DEFAULT_PLACEMENTS = ("res3.1", "res4.1")


def parse_placement(name: str, blocks_per_stage: Sequence[int]) -> tuple[int, int]:
    """``"resS.B"`` -> (layer index 1..4 of ResNet2d, block B); StcorrError when it does not exist."""
    try:
        stage, block = name.removeprefix("res").split(".")
        layer, block_index = int(stage) - 1, int(block)
    except ValueError:
        raise StcorrError(f"CP placement must look like 'res3.1' (stage res2..res5, block), got {name!r}") from None
    if not 1 <= layer <= 4 or not 0 <= block_index < blocks_per_stage[layer - 1]:
        raise StcorrError(f"CP placement {name!r} names no block of a ResNet with blocks {list(blocks_per_stage)}")
    return layer, block_index


class CPNet(nn.Module):
    """C2D ResNet + CP modules after ``placements`` + a linear classifier over ``num_classes``.

    ``width_multiplier`` and ``blocks_per_stage`` shape the ResNet (1.0 and (2, 2, 2, 2): ResNet-18,
    (3, 4, 6, 3): ResNet-34); ``k``, ``bottleneck`` (a fraction of the stage's channels) and
    ``spatial_stride`` are the CP modules' options.
    """

    def __init__(self, num_classes: int, width_multiplier: float = 1.0, blocks_per_stage: Sequence[int] = (2, 2, 2, 2),
                 placements: Sequence[str] = DEFAULT_PLACEMENTS, k: int = 8, bottleneck: float | None = 0.5,
                 spatial_stride: int = 1):
        super().__init__()
        self.frames = ResNet2d(width_multiplier, blocks_per_stage)
        self.placements = list(placements)
        self.cp = nn.ModuleDict()
        for name in self.placements:
            layer, block = parse_placement(name, blocks_per_stage)
            channels = getattr(self.frames, f"layer{layer}")[block].bn2.num_features
            reduced = max(1, int(channels * bottleneck)) if bottleneck else None
            self.cp[self._key(layer, block)] = CPModule(channels, k=k, bottleneck=reduced,
                                                        spatial_stride=spatial_stride, mlp=(channels, channels))
        self.head = nn.Linear(self.frames.feature_dim, num_classes)

    @staticmethod
    def _key(layer: int, block: int) -> str:
        return f"layer{layer}_{block}"

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) -> logits (B, num_classes)."""
        batch, _, frames = clips.shape[:3]
        net = self.frames
        x = net.maxpool(net.relu(net.bn1(net.conv1(clips.transpose(1, 2).flatten(0, 1)))))
        for layer in range(1, 5):
            for block_index, block in enumerate(getattr(net, f"layer{layer}")):
                x = block(x)
                key = self._key(layer, block_index)
                if key in self.cp:
                    clip_map = x.reshape(batch, frames, *x.shape[1:]).transpose(1, 2)
                    x = self.cp[key](clip_map).transpose(1, 2).flatten(0, 1)
        pooled = x.reshape(batch, frames, x.shape[1], -1).mean(dim=(1, 3))
        return self.head(pooled)


def c2d(num_classes: int, width_multiplier: float = 1.0, blocks_per_stage: Sequence[int] = (2, 2, 2, 2)) -> CPNet:
    """The plain C2D baseline: CPNet without a CP module."""
    return CPNet(num_classes, width_multiplier, blocks_per_stage, placements=())
