"""CPNet video classifiers: a C2D ResNet (the 2D ResNet run on every frame) with CP modules.

A clip is (B, 3, T, H, W). The C2D runs ``ResNet2d``'s stem and stages on the B*T frames; after
the chosen blocks the (B*T, C, H', W') maps are viewed as (B, C, T, H', W') and go through a CP
module (``stcorr.models.cp``), the only place where frames meet. A global average over (T, H', W')
and a linear layer give the logits. With no CP module this is the plain C2D, which cannot tell a
clip from the same clip played backwards.

Placements are named in the paper's numbering: ``"res3.1"`` is after block 1 (from 0) of res3,
which is ``ResNet2d.layer2`` (res2..res5 = layer1..layer4). The paper puts CP modules in res3 and
res4.

``ClipClassifier`` is what ``stcorr train --config cpnet`` trains: c2d, cpnet or a small R3D
(``R3DClassifier``) behind one interface, with a ``config`` that rebuilds it from a checkpoint.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from stcorr.errors import StcorrError
from stcorr.models.backbones import build_backbone
from stcorr.models.backbones.resnet2d import IMAGENET_MEAN, IMAGENET_STD, ResNet2d
from stcorr.models.cp import CPModule
from stcorr.pose.maps import check_input, input_channels, uses_rgb

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
    ``spatial_stride``, ``oriented`` and ``cp_init_scale`` (``CPModule``'s ``init_scale``) are the CP
    modules' options; ``in_channels``: the clips' channels.
    """

    def __init__(self, num_classes: int, width_multiplier: float = 1.0, blocks_per_stage: Sequence[int] = (2, 2, 2, 2),
                 placements: Sequence[str] = DEFAULT_PLACEMENTS, k: int = 8, bottleneck: float | None = 0.5,
                 spatial_stride: int = 1, in_channels: int = 3, oriented: bool = False, cp_init_scale: float = 0.0):
        super().__init__()
        self.frames = ResNet2d(width_multiplier, blocks_per_stage, in_channels=in_channels)
        self.placements = list(placements)
        self.cp = nn.ModuleDict()
        for name in self.placements:
            layer, block = parse_placement(name, blocks_per_stage)
            channels = getattr(self.frames, f"layer{layer}")[block].bn2.num_features
            reduced = max(1, int(channels * bottleneck)) if bottleneck else None
            self.cp[self._key(layer, block)] = CPModule(channels, k=k, bottleneck=reduced,
                                                        spatial_stride=spatial_stride, mlp=(channels, channels),
                                                        oriented=oriented, init_scale=cp_init_scale)
        self.head = nn.Linear(self.frames.feature_dim, num_classes)

    @staticmethod
    def _key(layer: int, block: int) -> str:
        return f"layer{layer}_{block}"

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, T, H, W) -> logits (B, num_classes)."""
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


NETWORKS = ("c2d", "cpnet", "r3d")


class R3DClassifier(nn.Module):
    """A small R3D (``stcorr.models.backbones.r3d18`` at ``width``/``blocks``) + a linear classifier:
    (B, in_channels, T, H, W) -> logits (B, num_classes); 3x3x3 convolutions, so it sees time from the stem on."""

    def __init__(self, num_classes: int, width: int, blocks_per_stage: Sequence[int], in_channels: int = 3):
        super().__init__()
        self.backbone = build_backbone("r3d18", width, blocks_per_stage, in_channels)
        self.backbone.fc = nn.Identity()  # Kinetics' 400-way layer: replaced by ``head``
        self.head = nn.Linear(width * 8, num_classes)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        deepest = self.backbone.layer_features(clips, [self.backbone.num_layers - 1])[0]
        return self.head(deepest.mean(dim=(2, 3, 4)))


class ClipClassifier(nn.Module):
    """What ``stcorr train --config cpnet`` trains: one of ``NETWORKS`` over clips of ``clip_len``
    frames resized to ``size x size``, whose classes are ``classes`` (names); ``window`` names the frames
    its clips are drawn from (``stcorr.models.action_clips.clip_window``; "video" in checkpoints made
    before it existed); ``input`` what it sees (``stcorr.pose.maps.INPUT_MODES``; "rgb" in older ones);
    ``oriented`` and ``cp_init_scale``: the CP modules' (``CPNet``; plain pairs, shut start in older ones).

    ``forward`` takes clips (B, C, T, H, W), C = ``input_channels(input)``: the RGB channels in [0, 1]
    (ImageNet-normalised inside) and then the pose maps, and returns logits (B, len(classes)).
    ``config`` rebuilds it (``classifier_from_config``).
    """

    def __init__(self, network: str, classes: Sequence[str], clip_len: int, size: int, width_multiplier: float,
                 blocks: Sequence[int], placements: Sequence[str], k: int, bottleneck: float | None,
                 spatial_stride: int, window: str = "video", input: str = "rgb", oriented: bool = False,
                 cp_init_scale: float = 0.0):
        super().__init__()
        if network not in NETWORKS:
            raise StcorrError(f"cpnet.network must be one of {', '.join(NETWORKS)}, not {network!r}")
        self.settings = {"network": network, "classes": list(classes), "clip_len": int(clip_len), "size": int(size),
                         "width_multiplier": float(width_multiplier), "blocks": [int(b) for b in blocks],
                         "placements": list(placements), "k": int(k), "bottleneck": bottleneck,
                         "spatial_stride": int(spatial_stride), "window": str(window), "input": check_input(input),
                         "oriented": bool(oriented), "cp_init_scale": float(cp_init_scale)}
        count, channels = len(self.settings["classes"]), input_channels(input)
        if network == "r3d":
            self.net: nn.Module = R3DClassifier(count, max(1, int(round(64 * width_multiplier))), blocks, channels)
        else:
            self.net = CPNet(count, width_multiplier, blocks, placements if network == "cpnet" else (), k, bottleneck,
                             spatial_stride, channels, oriented, cp_init_scale)
        mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
        self.register_buffer("mean", mean.view(1, 3, 1, 1, 1), persistent=False)
        self.register_buffer("std", std.view(1, 3, 1, 1, 1), persistent=False)

    @property
    def config(self) -> dict:
        return {"kind": "clip_classifier", **self.settings}

    @property
    def classes(self) -> list[str]:
        return self.settings["classes"]

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        if not uses_rgb(self.settings["input"]):
            return self.net(clips)
        return self.net(torch.cat([(clips[:, :3] - self.mean) / self.std, clips[:, 3:]], dim=1))


def classifier_from_config(config: dict) -> ClipClassifier:
    """The architecture a checkpoint's ``model`` entry describes, untrained."""
    return ClipClassifier(**{k: v for k, v in config.items() if k != "kind"})
