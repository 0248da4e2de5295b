"""The training loss of the space-time Matcher on one batch of examples.

    loss = l2_weight * keypoint_loss(coarse) + ce_weight * cell_cross_entropy
           + refine_weight * mean over fine iterations of keypoint_loss(refined)

``batch`` is what ``stcorr.training.data.make_example`` returns, with a batch dimension:
"src", "tgt" (B, 3, T, H, W) normalised clips; "src_points", "tgt_points" (B, K, 3) clip
(t, x, y); "valid" (B, K) bool; optionally "weight" (B, K) float, each point's weight (dense
supervision gives its in-between points their own weight; key-moment points weigh 1).
Without the fine stage (``model.refine: null``) and without "weight" this is the loss as it was.
"""

from __future__ import annotations

import torch

from stcorr.models.aggregators.sparse import SparseVolume
from stcorr.models.matcher import Matcher
from stcorr.models.readout import cell_cross_entropy, keypoint_loss


def matcher_loss(matcher: Matcher, batch: dict, l2_weight: float = 1.0, ce_weight: float = 0.0,
                 refine_weight: float = 1.0) -> torch.Tensor:
    """The paper's L2 loss on the soft-argmax keypoints, plus stcorr's optional cross-entropy of the
    true target cell (``ce_weight``), plus the fine stage's L2 loss (``refine_weight``, when the
    matcher has a fine stage)."""
    clip_size = tuple(batch["src"].shape[2:])
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
    return loss
