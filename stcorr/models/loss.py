"""The training loss of the space-time Matcher on one batch of examples.

    loss = l2_weight * keypoint_loss + ce_weight * cell_cross_entropy

``batch`` is what ``stcorr.training.data.make_example`` returns, with a batch dimension:
"src", "tgt" (B, 3, T, H, W) normalised clips; "src_points", "tgt_points" (B, K, 3) clip
(t, x, y); "valid" (B, K) bool.
"""

from __future__ import annotations

import torch

from stcorr.models.matcher import Matcher
from stcorr.models.readout import cell_cross_entropy, keypoint_loss


def matcher_loss(matcher: Matcher, batch: dict, l2_weight: float = 1.0, ce_weight: float = 0.0) -> torch.Tensor:
    """The paper's L2 loss on the soft-argmax keypoints, plus stcorr's optional cross-entropy of the
    true target cell (``ce_weight``)."""
    clip_size = tuple(batch["src"].shape[2:])
    output = matcher(batch["src"], batch["tgt"], differentiable=True)
    predicted, _ = output.flow.at_points(batch["src_points"])
    loss = l2_weight * keypoint_loss(predicted.float(), batch["tgt_points"], batch["valid"], clip_size)
    if ce_weight:
        loss = loss + ce_weight * cell_cross_entropy(
            output.volume.float(), matcher.grid, clip_size, batch["src_points"], batch["tgt_points"],
            batch["valid"], matcher.readout.temperature)
    return loss
