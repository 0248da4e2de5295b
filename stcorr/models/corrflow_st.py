"""CorrFlow on the space-time backbone (``corrflow-st``): the matcher's video ResNet learns from
unlabelled video by copying colours, then starts ANTs / st-MATCH (``stcorr train --init``).

    model = CorrFlowST("r3d18", width=16, blocks=[1, 1, 1, 1], layers=[1, 2, 3, 4])
    loss = corrflow_loss(model, clip, use_true)     # clip (F, 3, H, W) in [0, 1]: one video clip
    model.backbone_state_dict()                     # torchvision names: --backbone-weights, --init

The frames of a clip go through the backbone together, as one (1, 3, F, H, W) clip normalised
with the Kinetics statistics; the matcher's hyperpixel layers (stem and layer1 at full time
resolution, deeper layers at 1/2, 1/4, 1/8 of it) are resampled trilinearly to (F, H/4, W/4),
L2-normalised each, concatenated and projected by a 1x1 convolution to unit features of ``dim``
channels: one feature map per frame at stride 4, as CorrFlow's 2D encoder gives. The objective
(colour dropout, restricted attention, Lab clusters, scheduled sampling, backward cycle) is
CorrFlow's own (``stcorr.models.corrflow``).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stcorr.models.backbones import VideoBackbone, build_backbone, normalize_clip
from stcorr.models.corrflow import STRIDE, ColourCopier


class SpaceTimeEncoder(nn.Module):
    """(F, 3, H, W) frames of one clip in [0, 1] -> (F, dim, H/4, W/4) unit features per frame,
    from the hyperpixel ``layers`` (paper numbering) of a video backbone."""

    def __init__(self, backbone: VideoBackbone, layers: Sequence[int], dim: int):
        super().__init__()
        self.backbone = backbone
        self.layers = [int(layer) for layer in layers]
        self.project = nn.Conv2d(sum(backbone.layer_channels(layer) for layer in self.layers), dim, 1)

    def forward(self, frames: Tensor) -> Tensor:
        count, _, height, width = frames.shape
        clip = normalize_clip(frames.permute(1, 0, 2, 3).unsqueeze(0))
        grid = (count, height // STRIDE, width // STRIDE)
        maps = [F.normalize(F.interpolate(x, size=grid, mode="trilinear", align_corners=False), dim=1)
                for x in self.backbone.layer_features(clip, self.layers)]
        per_frame = torch.cat(maps, 1)[0].transpose(0, 1)  # (F, C, H/4, W/4)
        return F.normalize(self.project(per_frame), dim=1)


class CorrFlowST(ColourCopier):
    """CorrFlow with ``SpaceTimeEncoder`` on the video backbone ``backbone`` (width, blocks as in the
    matcher's ``model`` config; ``layers`` None: the backbone's default hyperpixel layers)."""

    def __init__(self, backbone: str = "r3d18", width: int = 16, blocks: Sequence[int] | None = (1, 1, 1, 1),
                 layers: Sequence[int] | None = None, dim: int = 64, clusters: int = 16, drop_prob: float = 0.5,
                 jitter: float = 0.4):
        video = build_backbone(backbone, width=width, blocks=blocks)
        layers = list(video.default_layers if layers is None else layers)
        settings = {"kind": "corrflow-st", "backbone": backbone, "width": int(width), "blocks": list(video.blocks),
                    "layers": [int(layer) for layer in layers], "dim": int(dim), "clusters": int(clusters),
                    "drop_prob": float(drop_prob), "jitter": float(jitter)}
        super().__init__(SpaceTimeEncoder(video, layers, dim), settings)

    @property
    def backbone(self) -> VideoBackbone:
        return self.encoder.backbone

    def backbone_state_dict(self) -> dict[str, Tensor]:
        """The video backbone's weights with torchvision's names (what ``--backbone-weights`` takes)."""
        return self.backbone.state_dict()
