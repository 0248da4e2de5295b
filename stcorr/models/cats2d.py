"""2D CATs: image correspondence between two frames with the 2D form of the st-cats aggregator.

It is the project's ``Matcher`` on one-frame clips: the 2D ResNet frame encoder stands in for the
video backbone (``FrameBackbone``: each frame of a (B, 3, T, H, W) clip on its own), the grid is
(1, H', W'), and the st-cats aggregator refines the per-layer correlation volumes of the two
frames. Frames are resized to ``size x size`` pixels; points in them are frame pixels (x, y)
with pixel centres at integers (``frame_features.native_to_frame`` maps native points there).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import nn

from stcorr.errors import StcorrError
from stcorr.models.backbones.resnet2d import ResNet2d, load_resnet2d_weights, normalize_frames
from stcorr.models.matcher import Matcher
from stcorr.models.readout import Readout


class FrameBackbone(nn.Module):
    """A 2D ResNet with the hyperpixel interface of ``VideoBackbone``.

    Hyperpixel layer 0 is the stem's output (after max-pooling), layer i the output of the
    i-th residual block. Clips (B, 3, T, H, W) are run frame by frame; outputs are (B, C, T, h, w).
    """

    name = "resnet2d"

    def __init__(self, net: ResNet2d):
        super().__init__()
        self.net = net
        self.blocks = [len(getattr(net, f"layer{stage}")) for stage in range(1, net.last_layer + 1)]
        self.width = net.conv1.out_channels
        self.default_layers = list(range(1, self.num_layers))

    @property
    def num_layers(self) -> int:
        return 1 + sum(self.blocks)

    def residual_blocks(self) -> list[nn.Module]:
        return [block for stage in range(1, self.net.last_layer + 1) for block in getattr(self.net, f"layer{stage}")]

    def layer_channels(self, layer: int) -> int:
        self._check_layers([layer])
        return self.width if layer == 0 else self.residual_blocks()[layer - 1].conv2.out_channels

    def _check_layers(self, layers: Sequence[int]) -> None:
        bad = [layer for layer in layers if not 0 <= int(layer) < self.num_layers]
        if bad:
            raise StcorrError(f"the 2D frame encoder has hyperpixel layers 0..{self.num_layers - 1}, got {bad[0]}")

    def layer_features(self, clips: torch.Tensor, layers: Sequence[int]) -> list[torch.Tensor]:
        self._check_layers(layers)
        batch, channels, steps, height, width = clips.shape
        x = clips.transpose(1, 2).reshape(batch * steps, channels, height, width)
        net = self.net
        x = net.maxpool(net.relu(net.bn1(net.conv1(x))))
        found = {0: x}
        for index, block in enumerate(self.residual_blocks()[: max(layers)], start=1):
            x = block(x)
            found[index] = x
        return [self._as_clip(found[int(layer)], batch, steps) for layer in layers]

    @staticmethod
    def _as_clip(x: torch.Tensor, batch: int, steps: int) -> torch.Tensor:
        return x.reshape(batch, steps, *x.shape[1:]).transpose(1, 2)


class Cats2d(nn.Module):
    """Frames in, matched points out: ``match(src, tgt, src_xy)``; ``loss`` for training."""

    def __init__(self, size: int = 64, resnet2d: Mapping[str, Any] | None = None, layers: Sequence[int] = (1, 2, 3),
                 grid: Sequence[int] = (1, 16, 16), aggregator_args: Mapping[str, Any] | None = None,
                 readout: Mapping[str, Any] | None = None):
        super().__init__()
        resnet2d = dict(resnet2d or {"width_multiplier": 0.25, "blocks": [1, 1, 1, 1], "last_layer": 3, "weights": None})
        if len(grid) != 3 or int(grid[0]) != 1:
            raise StcorrError(f"baseline.cats2d.grid must be [1, H, W] (one frame), got {list(grid)}")
        net = ResNet2d(float(resnet2d["width_multiplier"]), resnet2d["blocks"], int(resnet2d["last_layer"]))
        if resnet2d.get("weights"):
            load_resnet2d_weights(net, resnet2d["weights"])
        self.size = int(size)
        self.settings = {"size": self.size, "resnet2d": resnet2d, "layers": [int(v) for v in layers],
                         "grid": [int(g) for g in grid], "aggregator_args": dict(aggregator_args or {}),
                         "readout": dict(readout or {})}
        self.matcher = Matcher(FrameBackbone(net), self.settings["layers"], self.settings["grid"], "st-cats",
                               self.settings["aggregator_args"], Readout(**self.settings["readout"]),
                               finetune_backbone=True, channels_last=False)

    @property
    def config(self) -> dict[str, Any]:
        return {"kind": "cats2d", **self.settings, "resnet2d": {**self.settings["resnet2d"], "weights": None}}

    @property
    def backbone(self) -> nn.Module:
        return self.matcher.backbone

    def _clips(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) in [0, 1] -> normalised one-frame clips (B, 3, 1, S, S)."""
        return normalize_frames(frames).unsqueeze(2)

    @staticmethod
    def _points(xy: torch.Tensor) -> torch.Tensor:
        """(B, K, 2) frame x, y -> (B, K, 3) clip t, x, y with t = 0."""
        return torch.cat([torch.zeros_like(xy[..., :1]), xy], dim=-1)

    def match(self, src: torch.Tensor, tgt: torch.Tensor, src_xy: torch.Tensor) -> torch.Tensor:
        """Frames (B, 3, S, S) in [0, 1] and source points (B, K, 2) x, y -> target points (B, K, 2)."""
        predicted, _ = self.matcher.match(self._clips(src), self._clips(tgt), self._points(src_xy))
        return predicted[..., 1:]

    def loss(self, src: torch.Tensor, tgt: torch.Tensor, src_xy: torch.Tensor, tgt_xy: torch.Tensor,
             valid: torch.Tensor) -> torch.Tensor:
        """Mean normalised L2 error of the soft arg-max prediction at the valid points (B, K)."""
        return self.matcher.loss(self._clips(src), self._clips(tgt), self._points(src_xy), self._points(tgt_xy), valid)


def cats2d_from_config(config: Mapping[str, Any]) -> Cats2d:
    """The architecture ``Cats2d.config`` describes (weights come from the checkpoint)."""
    if config.get("kind") != "cats2d":
        raise StcorrError(f"not a 2D CATs model: kind {config.get('kind')!r}")
    settings = {k: v for k, v in config.items() if k != "kind"}
    return Cats2d(**settings)


def build_cats2d(settings: Mapping[str, Any]) -> Cats2d:
    """A 2D CATs model from the baseline's ``cats2d`` settings."""
    return Cats2d(settings["size"], settings["resnet2d"], settings["layers"], settings["grid"],
                  settings["aggregator_args"], settings["readout"])
