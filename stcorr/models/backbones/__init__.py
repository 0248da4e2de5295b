"""Video backbones: a registry of name -> builder(width, blocks) -> VideoBackbone.

Adding a backbone: one file with a builder function and its ``BLOCKS`` (residual blocks per
group), one line in ``BACKBONES`` (``registry.py``).
"""

from __future__ import annotations

from stcorr.models.backbones.normalization import KINETICS_MEAN, KINETICS_STD, frames_to_clip, normalize_clip
from stcorr.models.backbones.registry import BACKBONES, OWN_BLOCKS, build_backbone
from stcorr.models.backbones.video_resnet import VideoBackbone
from stcorr.models.backbones.weights import load_backbone_weights, read_state_dict

__all__ = [
    "BACKBONES", "OWN_BLOCKS", "KINETICS_MEAN", "KINETICS_STD", "VideoBackbone", "build_backbone", "frames_to_clip",
    "load_backbone_weights", "normalize_clip", "read_state_dict",
]
