"""Checkpoints of the baselines' trained parts, in the project's checkpoint format.

    CKPT/model.safetensors, CKPT/optimizer.safetensors   as stcorr.training.checkpoint writes them
    CKPT/checkpoint.json   {"format", "task": "tcc" | "lrprop" | "cats2d", "config", "model", "step", ...}

``task`` tells what the folder holds; ``model`` is the part's own config (``module.config``),
from which ``load_part`` rebuilds it before reading the weights. Writing is atomic: the folder
is written whole under another name, then swapped in (stcorr.training.checkpoint).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from stcorr.baselines.cats2d import cats2d_from_config
from stcorr.baselines.embedders import embedder_from_config
from stcorr.errors import StcorrError
from stcorr.training.checkpoint import check_resume_config, load_model_state, load_optimizer_state, read_checkpoint_info, save_checkpoint

TASK_NAMES = {"tcc": "TCC", "lrprop": "LRProp", "cats2d": "2D CATs"}


def save_part(folder: Path, module: nn.Module, optimizer: torch.optim.Optimizer | None, config: dict,
              step: int, epoch: float, metrics: dict | None = None) -> Path:
    """Writes ``module`` (with a ``config`` property) and the optimizer; ``config["task"]`` names the part."""
    return save_checkpoint(folder, module, optimizer, config, step, epoch, metrics, task=config["task"])  # type: ignore[arg-type]


def read_part_info(path: Path, task: str) -> tuple[Path, dict]:
    """(folder, checkpoint.json) of a checkpoint that holds ``task``, else a one-line error."""
    folder, info = read_checkpoint_info(Path(path))
    held = info.get("task") or "correspondence"
    if held != task:
        what = TASK_NAMES.get(held, "a space-time correspondence model" if held == "correspondence" else held)
        raise StcorrError(f"expected a {TASK_NAMES[task]} checkpoint, but it holds {what}", folder)
    return folder, info


def build_part(task: str, model_config: dict) -> nn.Module:
    """The untrained architecture of a part from its saved ``model`` config."""
    return cats2d_from_config(model_config) if task == "cats2d" else embedder_from_config(model_config)


def load_part(path: Path, task: str) -> tuple[nn.Module, dict]:
    """The trained part (an AlignmentEmbedder or Cats2d) in a checkpoint, and its info."""
    folder, info = read_part_info(path, task)
    module = build_part(task, info["model"])
    load_model_state(module, folder / "model.safetensors")  # type: ignore[arg-type]
    return module.eval(), info


def restore_part(folder: Path, task: str, module: nn.Module, optimizer: torch.optim.Optimizer, cfg: dict) -> int:
    """Loads a run's checkpoint into ``module`` and ``optimizer`` to resume it; returns its step."""
    if not Path(folder).exists():
        raise StcorrError("nothing to resume: no checkpoint in the run folder", Path(folder).parent)
    folder, info = read_part_info(folder, task)
    check_resume_config(info, cfg, folder)
    load_model_state(module, folder / "model.safetensors")  # type: ignore[arg-type]
    if (folder / "optimizer.safetensors").is_file():
        load_optimizer_state(module, optimizer, folder / "optimizer.safetensors")  # type: ignore[arg-type]
    return int(info["step"])
