"""The baselines' trained parts (TCC, LRProp, 2D CATs) as stcorr checkpoints of their learners
(``stcorr.learners``, written by ``stcorr.training.engine``, read by ``stcorr.models.checkpoint``)."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from stcorr.models.checkpoint import load_checkpoint

TASK_NAMES = {"tcc": "TCC", "lrprop": "LRProp", "cats2d": "2D CATs", "cycle": "cycle-consistency",
              "cycle_pose": "pose cycle-consistency"}


def load_part(path: Path, task: str) -> tuple[nn.Module, dict]:
    """The trained part (an AlignmentEmbedder or Cats2d) in a checkpoint, and its info."""
    return load_checkpoint(path, task)
