"""The space-time matcher: backbone -> hyperpixel features -> correlation -> aggregator -> readout.

Clips are float (B, C, T, H, W): RGB normalised with the Kinetics mean/std
(``stcorr.models.backbones.normalize_clip``), with pose maps after it or instead of it as
``input`` says (``stcorr.pose.maps``); source and target clips have the same shape.
Points are clip coordinates (t, x, y), see ``stcorr.models.readout`` for the conventions.

Settings: ``ModelSettings``, the ``model`` section of the config (its values and what each does:
``stcorr/configs/cpu.yaml``). ``build_matcher`` also takes a mapping of some of its keys, completed
from cpu.yaml (how a checkpoint saved before a key existed still loads).

With ``refine`` on, ``match`` returns the fine stage's last estimate; its scores stay the coarse
readout's peak probability.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Mapping, Optional, Sequence

import torch
from pydantic import Field, NonNegativeInt, model_validator
from torch import nn

from stcorr.pose.maps import input_channels, uses_rgb
from stcorr.errors import StcorrError
from stcorr.models.aggregators import aggregator_options, build_aggregator
from stcorr.models.aggregators.sparse import SparseVolume
from stcorr.models.backbones import VideoBackbone, build_backbone, load_backbone_weights
from stcorr.models.correlation import correlation_volumes
from stcorr.models.features import HyperpixelFeatures
from stcorr.models.readout import FlowField, Readout, ReadoutSettings, keypoint_loss
from stcorr.models.refine import REFINERS, RefineStep, default_fine_layers, refine_options
from stcorr.settings import Section


class ModelSettings(Section):
    """The ``model`` section: what ``build_matcher`` builds (``Matcher.config`` gives it back)."""

    cpu_yaml_key: ClassVar[str] = "model"
    backbone: Literal["r3d18", "r2plus1d18", "r2plus1d34"]
    width: int = Field(ge=1)
    blocks: Optional[list[NonNegativeInt]] = Field(min_length=4, max_length=4)
    weights: Optional[str]
    input: Literal["rgb", "rgb+pose", "pose", "rgb+joints", "joints"]
    layers: Optional[list[NonNegativeInt]] = Field(min_length=1)
    grid: list[NonNegativeInt] = Field(min_length=3, max_length=3)
    aggregator: str
    aggregator_args: dict[str, Any]
    readout: ReadoutSettings
    refine: Optional[str]  # a name in stcorr.models.refine.REFINERS
    refine_args: dict[str, Any]
    finetune_backbone: bool
    channels_last: bool

    @model_validator(mode="after")
    def _known_aggregator_and_refine_args(self) -> "ModelSettings":
        aggregator_options(self.aggregator, self.aggregator_args)
        refine_options(self.refine, self.refine_args)
        return self


@dataclass
class MatchOutput:
    """``volume`` (B, N_src, N_tgt) refined costs (a ``SparseVolume`` from a sparse aggregator);
    ``flow`` on the grid; ``dense_flow`` (B, 3, T, H, W) as (dt, dy, dx) when upsampling was asked
    for; ``src_fine``, ``tgt_fine`` the fine stage's layer maps (B, C_m, T_m, H_m, W_m), when it is on."""

    volume: torch.Tensor
    flow: FlowField
    dense_flow: torch.Tensor | None = None
    src_fine: list[torch.Tensor] | None = None
    tgt_fine: list[torch.Tensor] | None = None


@dataclass
class PointMatches:
    """Matches of source points: ``coarse`` (B, K, 3) clip (t, x, y) from the readout, its
    ``scores`` (B, K), one ``RefineStep`` per fine iteration (empty without the fine stage), the
    refined cost ``volume`` (B, N_src, N_tgt) and the fine layer maps of both clips (as in
    ``MatchOutput``; None without the fine stage)."""

    coarse: torch.Tensor
    scores: torch.Tensor
    refined: list[RefineStep]
    volume: torch.Tensor
    src_fine: list[torch.Tensor] | None = None
    tgt_fine: list[torch.Tensor] | None = None

    @property
    def points(self) -> torch.Tensor:
        """The final estimate (B, K, 3)."""
        return self.refined[-1].points if self.refined else self.coarse


class Matcher(nn.Module):
    """Predicts where points of a source clip go in a target clip."""

    def __init__(self, backbone: VideoBackbone, layers: Sequence[int], grid: Sequence[int], aggregator: str,
                 aggregator_args: Mapping[str, Any], readout: Readout, finetune_backbone: bool, channels_last: bool,
                 refine: str | None = None, refine_args: Mapping[str, Any] | None = None):
        super().__init__()
        self.features = HyperpixelFeatures(backbone, layers, grid)
        self.aggregator_name = aggregator
        self.aggregator_args = aggregator_options(aggregator, aggregator_args)
        self.aggregator = build_aggregator(
            aggregator, len(self.features.layers), self.features.channels, self.features.grid, self.aggregator_args
        )
        self.readout = readout
        self.refine_name = refine
        self.refine_args = refine_options(refine, refine_args)
        self.refiner = None
        if refine is not None:
            self.refine_args["layers"] = list(self.refine_args["layers"] or default_fine_layers(backbone.blocks))
            channels = [backbone.layer_channels(layer) for layer in self.refine_args["layers"]]
            self.refiner = REFINERS[refine](channels, **self.refine_args)
        self.finetune_backbone = finetune_backbone
        self.channels_last = channels_last
        self.weights: str | None = None
        self.input = "rgb"
        backbone.requires_grad_(finetune_backbone)
        if not finetune_backbone:
            backbone.eval()

    @property
    def backbone(self) -> VideoBackbone:
        return self.features.backbone

    @property
    def grid(self) -> tuple[int, int, int]:
        return self.features.grid

    @property
    def config(self) -> dict[str, Any]:
        """The resolved config: ``build_matcher(matcher.config)`` builds the same architecture."""
        return copy.deepcopy({
            "backbone": self.backbone.name,
            "width": self.backbone.width,
            "blocks": list(self.backbone.blocks),
            "weights": self.weights,
            "input": self.input,
            "layers": list(self.features.layers),
            "grid": list(self.grid),
            "aggregator": self.aggregator_name,
            "aggregator_args": dict(self.aggregator_args),
            "readout": {"kind": self.readout.kind, "temperature": self.readout.temperature,
                        "kernel_sigma": self.readout.kernel_sigma},
            "refine": self.refine_name,
            "refine_args": dict(self.refine_args),
            "finetune_backbone": self.finetune_backbone,
            "channels_last": self.channels_last,
        })

    def train(self, mode: bool = True) -> "Matcher":
        """A frozen backbone stays in eval mode (its BatchNorm statistics do not move)."""
        super().train(mode)
        if not self.finetune_backbone:
            self.backbone.eval()
        return self

    def cost_volume(self, src_clip: torch.Tensor, tgt_clip: torch.Tensor) -> torch.Tensor:
        """Refined cost volume (B, N_src, N_tgt) on the grid; higher = better match."""
        return self._volume_and_fine(src_clip, tgt_clip)[0]

    def _volume_and_fine(self, src_clip: torch.Tensor, tgt_clip: torch.Tensor):
        """(volume, source fine maps or None, target fine maps or None)."""
        if src_clip.shape != tgt_clip.shape:
            raise StcorrError(
                f"source and target clips must have the same shape, got {tuple(src_clip.shape)} "
                f"and {tuple(tgt_clip.shape)}"
            )
        (src_feats, tgt_feats), fine = self._hyperpixels(src_clip, tgt_clip)
        sparse = getattr(self.aggregator, "sparse", False)  # it finds its own proposals: no dense volume
        needs_volume = not sparse and getattr(self.aggregator, "needs_volume", True)
        corr = correlation_volumes(src_feats, tgt_feats) if needs_volume else None
        return self.aggregator(corr, src_feats, tgt_feats), *fine

    def _hyperpixels(self, src_clip: torch.Tensor, tgt_clip: torch.Tensor):
        """Both clips through the backbone as one batch; returns ((source, target) hyperpixel
        lists, (source, target) fine-layer maps at their own resolution, or (None, None))."""
        clips = torch.cat([src_clip, tgt_clip], dim=0)
        if self.channels_last and clips.device.type == "cpu":
            clips = clips.contiguous(memory_format=torch.channels_last_3d)
        fine_layers = self.refine_args.get("layers", [])
        with torch.set_grad_enabled(self.finetune_backbone and torch.is_grad_enabled()):
            if self.refiner is None:
                feats, fine = self.features(clips), None
            else:
                raw = self.backbone.layer_features(clips, self.features.layers + fine_layers)
                feats = [self.features._resample(f) for f in raw[: len(self.features.layers)]]
                fine = raw[len(self.features.layers):]
        batch = src_clip.shape[0]
        split = ([f[:batch] for f in feats], [f[batch:] for f in feats])
        return split, (None, None) if fine is None else ([f[:batch] for f in fine], [f[batch:] for f in fine])

    def forward(self, src_clip: torch.Tensor, tgt_clip: torch.Tensor, upsample: bool = False,
                differentiable: bool = False) -> MatchOutput:
        """Volume and flow; ``upsample`` adds the flow at clip resolution; ``differentiable``
        forces the soft arg-max readout."""
        volume, src_fine, tgt_fine = self._volume_and_fine(src_clip, tgt_clip)
        clip_size = tuple(src_clip.shape[2:])
        if isinstance(volume, SparseVolume):
            flow = volume.read_out(self.readout, self.grid, clip_size, differentiable)
        else:
            flow = self.readout(volume, self.grid, clip_size, differentiable=differentiable)
        return MatchOutput(volume, flow, flow.dense() if upsample else None, src_fine, tgt_fine)

    def match_points(self, src_clip: torch.Tensor, tgt_clip: torch.Tensor, src_points: torch.Tensor,
                     differentiable: bool = False) -> PointMatches:
        """Coarse matches of source points (B, K, 3) clip (t, x, y), then the fine stage's, if on."""
        output = self(src_clip, tgt_clip, differentiable=differentiable)
        coarse, scores = output.flow.at_points(src_points)
        refined = []
        if self.refiner is not None:
            refined = self.refiner(output.src_fine, output.tgt_fine, src_points, coarse, tuple(src_clip.shape[2:]))
        return PointMatches(coarse, scores, refined, output.volume, output.src_fine, output.tgt_fine)

    def match(self, src_clip: torch.Tensor, tgt_clip: torch.Tensor,
              src_points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Source points (B, K, 3) as clip (t, x, y) -> target points (B, K, 3) (t, x, y), scores (B, K).

        Runs under the caller's grad mode; wrap in ``torch.no_grad()`` for inference.
        """
        matches = self.match_points(src_clip, tgt_clip, src_points)
        return matches.points, matches.scores

    def loss(self, src_clip: torch.Tensor, tgt_clip: torch.Tensor, src_points: torch.Tensor,
             tgt_points: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """``keypoint_loss`` of the soft arg-max prediction (the final one) at the valid points (B, K)."""
        predicted = self.match_points(src_clip, tgt_clip, src_points, differentiable=True).points
        return keypoint_loss(predicted, tgt_points, valid, tuple(src_clip.shape[2:]))


def build_matcher(settings: ModelSettings | Mapping[str, Any], load_weights: bool = True) -> Matcher:
    """A Matcher of the ``model`` section; a mapping of some of its keys is completed from cpu.yaml.

    ``load_weights=False`` skips reading ``weights`` (when a checkpoint's state dict follows).
    """
    if not isinstance(settings, ModelSettings):
        settings = ModelSettings.filled(settings, source="model")
    backbone = build_backbone(settings.backbone, width=settings.width, blocks=settings.blocks,
                              in_channels=input_channels(settings.input))
    if settings.weights and not uses_rgb(settings.input):
        raise StcorrError(f"model.weights are RGB weights: they cannot start a backbone that takes no RGB (model.input: {settings.input})")
    if settings.weights and load_weights:
        load_backbone_weights(backbone, settings.weights)
    matcher = Matcher(
        backbone, settings.layers or backbone.default_layers, settings.grid, settings.aggregator,
        settings.aggregator_args, Readout(**settings.readout.model_dump()), settings.finetune_backbone,
        settings.channels_last, settings.refine, settings.refine_args,
    )
    matcher.weights = settings.weights
    matcher.input = settings.input
    return matcher
