"""Models: video backbones, hyperpixel features, correlation, aggregators, readout, the Matcher."""

from stcorr.models.aggregators import AGGREGATORS, build_aggregator
from stcorr.models.backbones import (
    BACKBONES, KINETICS_MEAN, KINETICS_STD, VideoBackbone, build_backbone, frames_to_clip, load_backbone_weights,
    normalize_clip,
)
from stcorr.models.matcher import Matcher, MatchOutput, ModelSettings, build_matcher
from stcorr.models.readout import FlowField, Readout, keypoint_loss

__all__ = [
    "AGGREGATORS", "BACKBONES", "FlowField", "KINETICS_MEAN", "KINETICS_STD", "MatchOutput",
    "Matcher", "ModelSettings", "Readout", "VideoBackbone", "build_aggregator", "build_backbone", "build_matcher",
    "frames_to_clip", "keypoint_loss", "load_backbone_weights", "normalize_clip",
]
