"""Part contrast (stcorr/models/loss.py): fine features must tell a pair's parts apart."""

from __future__ import annotations

import math

import pytest
import torch

from stcorr.config import load_config
from stcorr.errors import StcorrError
from stcorr.models.loss import matcher_loss, part_contrast
from stcorr.models.matcher import build_matcher

CLIP = (4, 16, 16)


def _maps_with_parts(where: list[tuple[int, int, int]], codes: torch.Tensor) -> torch.Tensor:
    """(1, C, T, H, W) zeros with feature ``codes[i]`` at clip voxel ``where[i]`` = (t, x, y)."""
    maps = torch.zeros(1, codes.shape[1], *CLIP)
    for (t, x, y), code in zip(where, codes):
        maps[0, :, t, y, x] = code
    return maps


def test_lower_when_each_part_matches_its_own_than_when_parts_are_swapped():
    codes = torch.eye(3)
    src_at = [(0, 2, 2), (1, 8, 8), (2, 12, 4)]
    tgt_at = [(1, 3, 3), (2, 9, 10), (3, 13, 5)]
    src = _maps_with_parts(src_at, codes)
    right = _maps_with_parts(tgt_at, codes)
    swapped = _maps_with_parts(tgt_at, codes[[1, 0, 2]])  # the first two parts trade features in the target
    points = lambda at: torch.tensor([at], dtype=torch.float32)
    valid = torch.ones(1, 3, dtype=torch.bool)
    good = part_contrast([src], [right], points(src_at), points(tgt_at), valid, CLIP, temperature=0.1)
    bad = part_contrast([src], [swapped], points(src_at), points(tgt_at), valid, CLIP, temperature=0.1)
    assert good < 1e-3 and bad > 5.0
    # a point without a valid target neither counts nor serves as a negative, whatever it holds
    lookalike = _maps_with_parts(tgt_at, codes[[0, 0, 2]])  # the second part looks like the first
    confused = part_contrast([src], [lookalike], points(src_at), points(tgt_at), valid, CLIP, temperature=0.1)
    nan_target = points(tgt_at).clone()
    nan_target[0, 1] = float("nan")
    only_two = torch.tensor([[True, False, True]])
    apart = part_contrast([src], [lookalike], points(src_at), nan_target, only_two, CLIP, temperature=0.1)
    assert confused > 0.5 and math.isfinite(float(apart)) and apart < 1e-3


def test_gradients_reach_both_clips_features_and_the_loss_needs_the_fine_stage():
    src = torch.randn(1, 4, *CLIP, requires_grad=True)
    tgt = torch.randn(1, 4, *CLIP, requires_grad=True)
    pts = torch.tensor([[[1.0, 3.0, 4.0], [2.0, 10.0, 12.0]]])
    part_contrast([src], [tgt], pts, pts + 0.5, torch.ones(1, 2, dtype=torch.bool), CLIP).backward()
    assert src.grad.abs().sum() > 0 and tgt.grad.abs().sum() > 0
    cfg = load_config("cpu")["model"]
    matcher = build_matcher({**cfg, "grid": [2, 2, 2]})
    clip = torch.randn(1, 3, 8, 32, 32)
    batch = {"src": clip, "tgt": clip, "src_points": pts, "tgt_points": pts, "valid": torch.ones(1, 2, dtype=torch.bool)}
    with pytest.raises(StcorrError, match="model.refine"):
        matcher_loss(matcher, batch, part_weight=1.0)
    refined = build_matcher({**cfg, "grid": [2, 2, 2], "refine": "local"})
    assert torch.isfinite(matcher_loss(refined, batch, part_weight=1.0))


def test_a_config_with_part_contrast_but_no_fine_stage_is_refused_when_loaded():
    with pytest.raises(StcorrError, match="train.part_weight.*model.refine"):
        load_config("cpu", {"train.part_weight": 0.5})
    assert load_config("cpu", {"train.part_weight": 0.5, "model.refine": "local"})["train"]["part_weight"] == 0.5
    assert load_config("tcc", {"train.part_weight": 0.5})["task"] == "tcc"  # only the matcher reads the key
