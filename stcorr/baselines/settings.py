"""Settings of the sequential baselines: the ``baseline:`` mapping of a config over these defaults.

The default config (``cpu.yaml``) leaves ``baseline: {}`` open, so every key has its default
here; ``--set baseline.KEY=VALUE`` or a packaged config (``tcc``, ``lrprop``, ``cats2d``)
overrides it. An unknown key is an error naming it.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

from stcorr.errors import StcorrError

DEFAULTS: dict[str, Any] = {
    # Per-frame features (frame_features.py): what nn / dtw compare, what tcc / lrprop re-embed.
    "frames": {
        "size": 64,                 # frames resized to size x size pixels
        "batch": 64,                # frames per forward pass
        "resnet2d": {               # the 2D ResNet-18-style encoder (random init unless weights)
            "width_multiplier": 0.25,
            "blocks": [1, 1, 1, 1],
            "last_layer": 4,
            "weights": None,        # torchvision-named resnet18 state dict (width_multiplier 1 only)
        },
        "backbone_layer": None,     # space-time backbone (model.*) layer pooled per frame; null: deepest
        "backbone_clip_len": 16,    # frames per window of the space-time backbone
    },
    "metric": "cosine",             # frame distance of nn / dtw: cosine, euclidean or sqeuclidean
    "tcc_checkpoint": None,         # RUN/checkpoint of `stcorr train --config tcc`
    "lrprop_checkpoint": None,      # RUN/checkpoint of `stcorr train --config lrprop`
    "cats2d_checkpoint": None,      # RUN/checkpoint of `stcorr train --config cats2d`
    "pose": {                       # MediaPipe Pose (the `pose` extra)
        "min_visibility": 0.5,      # landmarks below this visibility are not joints
        "model_complexity": 1,      # only 1 works offline (0 and 2 download their model)
    },
    "tcc": {                        # TCC embedder: context frames -> MLP -> embedding
        "features": "resnet2d",     # resnet2d or backbone (the space-time backbone pooled per frame)
        "embedding_dim": 128,
        "hidden": 256,
        "context": 3,               # frames stacked around each frame (odd)
        "context_stride": 2,        # native frames between context frames
        "seq_len": 20,              # frames sampled per video in training
        "videos_per_step": 4,       # videos of one action per step (cycles run between all of them)
        "loss_type": "regression_mse_var",
        "similarity": "l2",
        "temperature": 0.1,
        "variance_lambda": 0.001,
    },
    "lrprop": {                     # LRProp: a transformer over the frame features
        "features": "resnet2d",
        "embedding_dim": 64,
        "d_model": 64,
        "layers": 2,
        "heads": 4,
        "ff_dim": 128,
        "dropout": 0.1,
        "seq_len": 24,
        "sigma": 1.0,
        "temperature": 1.0,
        "gamma": 0.1,
        "weights": {"propagation": 1.0, "same_video": 1.0, "soft_dtw": 0.1},
    },
    "cats2d": {                     # 2D CATs: st-cats over single frames (grid 1 x H x W)
        "size": 64,                 # frames resized to size x size pixels
        "resnet2d": {"width_multiplier": 0.25, "blocks": [1, 1, 1, 1], "last_layer": 3, "weights": None},
        "layers": [1, 2, 3],        # hyperpixel layers: 0 = stem, then one per residual block
        "grid": [1, 16, 16],
        "aggregator_args": {"feature_proj": 32, "embed_dim": 64, "depth": 1, "heads": 4},
        "readout": {"kind": "soft_argmax", "temperature": 0.05, "kernel_sigma": None},
    },
}

OPEN = {"cats2d.aggregator_args", "cats2d.readout"}


def baseline_settings(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """``cfg["baseline"]`` merged onto ``DEFAULTS``; StcorrError names an unknown key."""
    return _merge(DEFAULTS, cfg.get("baseline") or {}, "")


def _merge(base: dict, update: Mapping, prefix: str) -> dict:
    out = copy.deepcopy(base)
    if not isinstance(update, Mapping):
        raise StcorrError(f"config: baseline.{prefix.rstrip('.') or ''} must be a mapping of settings")
    for key, value in update.items():
        dotted = f"{prefix}{key}"
        if key not in out:
            raise StcorrError(f"config: unknown key 'baseline.{dotted}'")
        if isinstance(out[key], dict) and dotted not in OPEN:
            out[key] = _merge(out[key], value or {}, dotted + ".")
        elif dotted in OPEN:
            out[key] = {**out[key], **(value or {})}
        else:
            out[key] = copy.deepcopy(value)
    return out
