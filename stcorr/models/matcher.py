"""The space-time matcher: backbone -> hyperpixel features -> correlation -> aggregator -> readout.

Clips are float (B, C, T, H, W): RGB normalised with the Kinetics mean/std
(``stcorr.models.backbones.normalize_clip``), with pose maps after it or instead of it as
``input`` says (``stcorr.pose.maps``); source and target clips have the same shape.
Points are clip coordinates (t, x, y), see ``stcorr.models.readout`` for the conventions.

Config (``build_matcher``), every key optional::

    {"backbone": "r3d18", "width": 64, "blocks": null, "weights": null,
     "input": "rgb",               # rgb, rgb+pose, pose, rgb+joints or joints: what the stem takes
     "layers": null,               # paper layer numbers; null = the backbone's default
     "grid": [8, 8, 8],            # (T, H, W) cells of the correlation volumes
     "aggregator": "ants", "aggregator_args": {},
     "readout": {"kind": "soft_argmax", "temperature": 0.05, "kernel_sigma": null},
     "refine": null,               # null: the paper's one-stage matcher; "local": + the fine stage
     "refine_args": {},            # options of the fine stage (stcorr.models.refine.LocalRefiner)
     "finetune_backbone": true, "channels_last": true}

With ``refine`` on, ``match`` returns the fine stage's last estimate; its scores stay the coarse
readout's peak probability.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from stcorr.pose.maps import input_channels, uses_rgb
from stcorr.errors import StcorrError
from stcorr.models.aggregators import aggregator_options, build_aggregator
from stcorr.models.aggregators.sparse import SparseVolume
from stcorr.models.backbones import VideoBackbone, build_backbone, load_backbone_weights
from stcorr.models.correlation import correlation_volumes
from stcorr.models.features import HyperpixelFeatures
from stcorr.models.readout import FlowField, Readout, keypoint_loss
from stcorr.models.refine import REFINERS, RefineStep, default_fine_layers, refine_options

DEFAULT_CONFIG: dict[str, Any] = {
    "backbone": "r3d18",
    "width": 64,
    "blocks": None,
    "weights": None,
    "input": "rgb",
    "layers": None,
    "grid": [8, 8, 8],
    "aggregator": "ants",
    "aggregator_args": {},
    "readout": {"kind": "soft_argmax", "temperature": 0.05, "kernel_sigma": None},
    "refine": None,
    "refine_args": {},
    "finetune_backbone": True,
    "channels_last": True,
}


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

    def __init__(self, backbone: VideoBackbone, layers: Sequence[int], grid: Sequence[int],
                 aggregator: str = "ants", aggregator_args: Mapping[str, Any] | None = None,
                 readout: Readout | None = None, finetune_backbone: bool = True, channels_last: bool = True,
                 refine: str | None = None, refine_args: Mapping[str, Any] | None = None):
        super().__init__()
        self.features = HyperpixelFeatures(backbone, layers, grid)
        self.aggregator_name = aggregator
        self.aggregator_args = aggregator_options(aggregator, aggregator_args)
        self.aggregator = build_aggregator(
            aggregator, len(self.features.layers), self.features.channels, self.features.grid, self.aggregator_args
        )
        self.readout = readout or Readout()
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


def resolve_config(cfg: Mapping[str, Any] | None) -> dict[str, Any]:
    """``cfg`` over the defaults; StcorrError names an unknown or ill-typed key."""
    cfg = dict(cfg or {})
    unknown = [key for key in cfg if key not in DEFAULT_CONFIG]
    if unknown:
        raise StcorrError(f"unknown model config key {unknown[0]!r} (known: {', '.join(DEFAULT_CONFIG)})")
    readout = dict(cfg.get("readout") or {})
    unknown = [key for key in readout if key not in DEFAULT_CONFIG["readout"]]
    if unknown:
        raise StcorrError(f"unknown model config key 'readout.{unknown[0]}'")
    resolved = {**copy.deepcopy(DEFAULT_CONFIG), **copy.deepcopy(cfg)}
    resolved["readout"] = {**DEFAULT_CONFIG["readout"], **readout}
    resolved["aggregator_args"] = aggregator_options(resolved["aggregator"], resolved["aggregator_args"])
    resolved["refine_args"] = refine_options(resolved["refine"], resolved["refine_args"])
    _check_int_list(resolved, "grid", 3)
    if resolved["blocks"] is not None:
        _check_int_list(resolved, "blocks", 4)
    if resolved["layers"] is not None:
        _check_int_list(resolved, "layers", None)
    if not isinstance(resolved["width"], int) or resolved["width"] < 1:
        raise StcorrError(f"model config key 'width' must be a positive integer, got {resolved['width']!r}")
    return resolved


def _check_int_list(cfg: dict[str, Any], key: str, length: int | None) -> None:
    value = cfg[key]
    ok = isinstance(value, (list, tuple)) and all(isinstance(v, int) and v >= 0 for v in value)
    if not ok or (length is not None and len(value) != length) or not value:
        size = f"{length} " if length else ""
        raise StcorrError(f"model config key {key!r} must be a list of {size}non-negative integers, got {value!r}")
    cfg[key] = list(value)


def build_matcher(cfg: Mapping[str, Any] | None = None, load_weights: bool = True) -> Matcher:
    """A Matcher from a plain config dict (see the module docstring).

    ``load_weights=False`` skips reading ``weights`` (when a checkpoint's state dict follows).
    """
    cfg = resolve_config(cfg)
    backbone = build_backbone(cfg["backbone"], width=cfg["width"], blocks=cfg["blocks"],
                              in_channels=input_channels(cfg["input"]))
    if cfg["weights"] and not uses_rgb(cfg["input"]):
        raise StcorrError(f"model.weights are RGB weights: they cannot start a backbone that takes no RGB (model.input: {cfg['input']})")
    if cfg["weights"] and load_weights:
        load_backbone_weights(backbone, cfg["weights"])
    readout = Readout(**cfg["readout"])
    matcher = Matcher(
        backbone, cfg["layers"] or backbone.default_layers, cfg["grid"], cfg["aggregator"],
        cfg["aggregator_args"], readout, bool(cfg["finetune_backbone"]), bool(cfg["channels_last"]),
        cfg["refine"], cfg["refine_args"],
    )
    matcher.weights = None if cfg["weights"] is None else str(cfg["weights"])
    matcher.input = cfg["input"]
    return matcher
