"""Per-frame embeddings (N, D) of a whole video, for aligning videos in time.

Two encoders, both fed every native frame of the video resized to ``size x size`` pixels
(no cropping, aspect ratio not kept):

- ``ResNet2dFrames``: the 2D ResNet-18-style frame encoder (``stcorr.models.backbones.resnet2d``),
  global average pool of its last stage.
- ``BackboneFrames``: the space-time backbone (the config's ``model.*``) run over consecutive
  windows of ``clip_len`` frames; one layer's output is averaged over space and interpolated
  linearly in time (align_corners=False) back to one vector per frame.

Row t of the result belongs to native frame t. ``FrameFeatures`` caches the result per video.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from stcorr.data.frames import read_frames
from stcorr.data.video import Video
from stcorr.errors import StcorrError
from stcorr.models.backbones import build_backbone, load_backbone_weights, normalize_clip
from stcorr.models.backbones.resnet2d import ResNet2d, load_resnet2d_weights, normalize_frames

FEATURE_KINDS = ("resnet2d", "backbone")


def native_to_frame(xy: np.ndarray, native_size: tuple[int, int], size: int) -> np.ndarray:
    """Native (N, 2) x, y -> pixels of the frame resized to ``size x size`` (align_corners=False)."""
    width, height = native_size
    scale = np.array([size / width, size / height])
    return (np.asarray(xy, dtype=np.float64) + 0.5) * scale - 0.5


def frame_to_native(xy: np.ndarray, native_size: tuple[int, int], size: int) -> np.ndarray:
    """Inverse of ``native_to_frame``."""
    width, height = native_size
    scale = np.array([width / size, height / size])
    return (np.asarray(xy, dtype=np.float64) + 0.5) * scale - 0.5


class FrameEncoder(nn.Module):
    """Frames (N, 3, S, S) in [0, 1] of one video, in time order -> embeddings (N, D)."""

    kind = ""
    dim = 0

    @property
    def config(self) -> dict[str, Any]:
        raise NotImplementedError

    def encode(self, frames: torch.Tensor, batch: int) -> torch.Tensor:
        raise NotImplementedError

    def frames_per_call(self, batch: int) -> int:
        """How many consecutive frames ``encode`` may take at once without changing its result."""
        return 4 * batch


class ResNet2dFrames(FrameEncoder):
    """The 2D ResNet frame encoder, each frame on its own."""

    kind = "resnet2d"

    def __init__(self, width_multiplier: float = 0.25, blocks: Sequence[int] = (1, 1, 1, 1), last_layer: int = 4,
                 weights: str | None = None):
        super().__init__()
        self.net = ResNet2d(width_multiplier, list(blocks), last_layer)
        self.settings = {"width_multiplier": width_multiplier, "blocks": list(blocks), "last_layer": last_layer,
                         "weights": weights}
        if weights:
            load_resnet2d_weights(self.net, weights)
        self.dim = self.net.embedding_dim

    @property
    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.settings}

    def encode(self, frames: torch.Tensor, batch: int) -> torch.Tensor:
        return self.net.frame_embeddings(normalize_frames(frames), batch_size=batch)


class BackboneFrames(FrameEncoder):
    """The space-time backbone over windows of ``clip_len`` frames, one layer pooled per frame."""

    kind = "backbone"

    def __init__(self, backbone: str = "r3d18", width: int = 16, blocks: Sequence[int] | None = (1, 1, 1, 1),
                 weights: str | None = None, layer: int | None = None, clip_len: int = 16):
        super().__init__()
        if clip_len < 2:
            raise StcorrError(f"baseline.frames.backbone_clip_len must be at least 2, got {clip_len}")
        self.backbone = build_backbone(backbone, width=width, blocks=blocks)
        if weights:
            load_backbone_weights(self.backbone, weights)
        self.layer = self.backbone.num_layers - 1 if layer is None else int(layer)
        self.dim = self.backbone.layer_channels(self.layer)
        self.clip_len = int(clip_len)
        self.settings = {"backbone": backbone, "width": width, "blocks": list(self.backbone.blocks),
                         "weights": weights, "layer": self.layer, "clip_len": self.clip_len}

    @property
    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.settings}

    def frames_per_call(self, batch: int) -> int:
        return self.clip_len * max(1, 4 * batch // self.clip_len)

    def encode(self, frames: torch.Tensor, batch: int) -> torch.Tensor:
        n = frames.shape[0]
        windows = -(-n // self.clip_len)
        padded = torch.cat([frames, frames[-1:].expand(windows * self.clip_len - n, -1, -1, -1)])
        clips = normalize_clip(padded.reshape(windows, self.clip_len, *frames.shape[1:]).transpose(1, 2))
        per_step = max(1, batch // self.clip_len)
        pooled = []
        for chunk in clips.split(per_step):
            feature = self.backbone.layer_features(chunk, [self.layer])[0].mean(dim=(3, 4))  # (B, C, T')
            pooled.append(F.interpolate(feature, size=self.clip_len, mode="linear", align_corners=False))
        return torch.cat(pooled).transpose(1, 2).reshape(windows * self.clip_len, -1)[:n]


def build_frame_encoder(kind: str, frames_settings: Mapping[str, Any], model_cfg: Mapping[str, Any],
                        seed: int = 0) -> FrameEncoder:
    """A frame encoder from the baseline's ``frames`` settings (and ``model.*`` for the backbone);
    random weights are drawn from ``seed`` without touching the global random state."""
    if kind not in FEATURE_KINDS:
        raise StcorrError(f"unknown frame features {kind!r} (use {' or '.join(FEATURE_KINDS)})")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if kind == "resnet2d":
            net = frames_settings["resnet2d"]
            return ResNet2dFrames(float(net["width_multiplier"]), net["blocks"], int(net["last_layer"]), net["weights"])
        return BackboneFrames(model_cfg["backbone"], int(model_cfg["width"]), model_cfg["blocks"], model_cfg["weights"],
                              frames_settings["backbone_layer"], int(frames_settings["backbone_clip_len"]))


def frame_encoder_from_config(config: Mapping[str, Any]) -> FrameEncoder:
    """The encoder ``encoder.config`` describes, without reading weight files (a checkpoint's state follows)."""
    settings = {k: v for k, v in config.items() if k not in ("kind", "weights")}
    if config.get("kind") == "resnet2d":
        return ResNet2dFrames(**settings)
    if config.get("kind") == "backbone":
        return BackboneFrames(**settings)
    raise StcorrError(f"unknown frame encoder in checkpoint: {config.get('kind')!r}")


class FrameFeatures:
    """Per-frame embeddings of whole videos, cached per video (by its path)."""

    def __init__(self, encoder: FrameEncoder, size: int, batch: int = 64, device: torch.device | str = "cpu"):
        self.encoder = encoder.to(device).eval()
        self.size, self.batch, self.device = int(size), int(batch), torch.device(device)
        self._cache: dict[str, np.ndarray] = {}

    @property
    def dim(self) -> int:
        return self.encoder.dim

    def __call__(self, video: Video) -> np.ndarray:
        """(N, D) float32: row t embeds native frame t of ``video``."""
        key = str(video.path)
        if key not in self._cache:
            self._cache[key] = self._compute(video)
        return self._cache[key]

    @torch.no_grad()
    def _compute(self, video: Video) -> np.ndarray:
        step = self.encoder.frames_per_call(self.batch)
        rows = []
        for start in range(0, video.num_frames, step):
            frames = read_frames(video, range(start, min(video.num_frames, start + step)), self.size)
            rows.append(self.encoder.encode(frames.to(self.device), self.batch).float().cpu())
        return torch.cat(rows).numpy()


_SHARED: dict[str, FrameFeatures] = {}


def shared_frame_features(kind: str, cfg: Mapping[str, Any], settings: Mapping[str, Any],
                          device: torch.device | str) -> FrameFeatures:
    """One ``FrameFeatures`` per (kind, settings, device) in this process, so that the methods of
    one ``stcorr table`` run share the untrained features of each video."""
    frames = settings["frames"]
    model = {k: cfg["model"][k] for k in ("backbone", "width", "blocks", "weights")}
    key = json.dumps([kind, frames, model if kind == "backbone" else None, cfg["seed"], str(device)], sort_keys=True)
    if key not in _SHARED:
        encoder = build_frame_encoder(kind, frames, model, cfg["seed"])
        _SHARED[key] = FrameFeatures(encoder, frames["size"], frames["batch"], device)
    return _SHARED[key]
