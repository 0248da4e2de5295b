"""The training loss of the space-time Matcher on one batch of examples.

    loss = l2_weight * keypoint_loss(coarse) + ce_weight * cell_cross_entropy
           + refine_weight * mean over fine iterations of keypoint_loss(refined)
           + part_weight * part_contrast(fine features at the source and target points)

``batch`` is what ``stcorr.learners.correspondence.make_example`` returns, with a batch dimension:
"src", "tgt" (B, 3, T, H, W) normalised clips; "src_points", "tgt_points" (B, K, 3) clip
(t, x, y); "valid" (B, K) bool; optionally "weight" (B, K) float, each point's weight (dense
supervision gives its in-between points their own weight; key-moment points weigh 1).
Without the fine stage (``model.refine: null``) and without "weight" this is the loss as it was.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from stcorr.errors import StcorrError
from stcorr.models.aggregators.sparse import SparseVolume
from stcorr.models.matcher import Matcher
from stcorr.models.readout import cell_cross_entropy, keypoint_loss, sample_at_points, weighted_mean


def matcher_loss(matcher: Matcher, batch: dict, l2_weight: float = 1.0, ce_weight: float = 0.0,
                 refine_weight: float = 1.0, part_weight: float = 0.0, part_temperature: float = 0.1) -> torch.Tensor:
    """The paper's L2 loss on the soft-argmax keypoints, plus stcorr's optional cross-entropy of the
    true target cell (``ce_weight``), plus the fine stage's L2 loss (``refine_weight``, when the
    matcher has a fine stage), plus the part contrast of the fine features (``part_weight``, which
    needs the fine stage)."""
    clip_size = tuple(batch["src"].shape[2:])
    if part_weight and matcher.refiner is None:
        raise StcorrError("train.part_weight contrasts the fine stage's features: it needs model.refine")
    matches = matcher.match_points(batch["src"], batch["tgt"], batch["src_points"], differentiable=True)
    target, valid, weights = batch["tgt_points"], batch["valid"], batch.get("weight")
    loss = l2_weight * keypoint_loss(matches.coarse.float(), target, valid, clip_size, weights)
    if ce_weight:
        volume = matches.volume.float()
        volume = volume.dense() if isinstance(volume, SparseVolume) else volume
        loss = loss + ce_weight * cell_cross_entropy(
            volume, matcher.grid, clip_size, batch["src_points"], target, valid,
            matcher.readout.temperature, weights)
    if matches.refined and refine_weight:
        fine = sum(keypoint_loss(step.points.float(), target, valid, clip_size, weights) for step in matches.refined)
        loss = loss + refine_weight * fine / len(matches.refined)
    if part_weight:
        loss = loss + part_weight * part_contrast(matches.src_fine, matches.tgt_fine, batch["src_points"], target,
                                                  valid, clip_size, part_temperature, weights)
    return loss


def part_contrast(src_maps: Sequence[torch.Tensor], tgt_maps: Sequence[torch.Tensor], src_points: torch.Tensor,
                  tgt_points: torch.Tensor, valid: torch.Tensor, clip_size: Sequence[int], temperature: float = 0.1,
                  weights: torch.Tensor | None = None) -> torch.Tensor:
    """InfoNCE over a pair's correspondences, on features read at the exact points.

    ``src_maps``, ``tgt_maps``: per layer (B, C_m, T_m, H_m, W_m); points (B, K, 3) clip (t, x, y);
    ``valid`` (B, K) bool. A point's feature is its layers' features read trilinearly at the point,
    concatenated and L2-normalised. Source point i must be more similar to target point i than to
    every other valid target point of its pair: the pair's other parts at the same moment (the
    neighbouring parts and the left/right mirror, which the coarse grid cannot tell apart) and,
    with dense supervision, the parts at other moments. Cross-entropy of cosine / ``temperature``,
    mean over the valid points (weighted by ``weights`` (B, K) when given); 0 when none is valid.
    """
    valid = valid.to(torch.bool)
    safe_target = torch.where(valid[..., None], tgt_points.to(src_points.dtype), src_points)
    query = _point_features(src_maps, src_points, clip_size)
    keys = _point_features(tgt_maps, safe_target, clip_size)
    logits = torch.einsum("bic,bjc->bij", query, keys) / temperature
    logits = logits.masked_fill(~valid[:, None, :], float("-inf"))
    labels = torch.arange(valid.shape[1], device=valid.device).expand_as(valid)
    rows = torch.where(valid[..., None], logits, torch.zeros_like(logits))  # rows of invalid points: finite, unused
    losses = F.cross_entropy(rows.flatten(0, 1).float(), labels.flatten(), reduction="none").reshape(valid.shape)
    return weighted_mean(losses, valid, weights)


def _point_features(maps: Sequence[torch.Tensor], points: torch.Tensor, clip_size: Sequence[int]) -> torch.Tensor:
    """(B, K, sum C_m) L2-normalised features of each map read at the clip points (B, K, 3)."""
    return F.normalize(torch.cat([sample_at_points(m, points, clip_size) for m in maps], dim=-1), dim=-1)
