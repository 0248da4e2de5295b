"""Writing checkpoints of every learner, and resuming a run from one: one folder, written whole
(``stcorr.files.folder_writer``); ``stcorr.models.checkpoint`` reads them into models.

    CKPT/model.safetensors       the model's state dict
    CKPT/optimizer.safetensors   AdamW moments and step counts, by parameter name (resume)
    CKPT/backbone.safetensors    a pretraining model's video backbone, torchvision's names (models with
                                 ``backbone_state_dict``: corrflow-st), for --backbone-weights and --init
    CKPT/checkpoint.json         {"format", "task" (the learner), "config" (the full run config),
                                  "model" (the model's own config, to rebuild it), "step", "epoch",
                                  "metrics", "world_size", "log_pending" (losses not yet in a log row)}

A crash between the two renames of the folder swap leaves ``.checkpoint.old``; reading puts it back.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

from stcorr.errors import StcorrError
from stcorr.files import folder_writer, recover_folder
from stcorr.models.checkpoint import FORMAT, load_model_state, read_kind_checkpoint, read_safetensors

BACKBONE_FILE = "backbone.safetensors"


def save_checkpoint(folder: Path, model: nn.Module, optimizer: torch.optim.Optimizer | None, config: dict,
                    step: int, epoch: float, metrics: dict | None = None, world_size: int = 1,
                    log_pending: list[float] | None = None) -> Path:
    """Writes ``model`` (which has a ``config`` property) and the optimizer; ``config["task"]`` names the learner."""
    with folder_writer(folder) as tmp:
        state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / "model.safetensors"))
        if optimizer is not None:
            save_file(_optimizer_tensors(model, optimizer), str(tmp / "optimizer.safetensors"))
        if hasattr(model, "backbone_state_dict"):
            backbone = {k: v.detach().contiguous().cpu() for k, v in model.backbone_state_dict().items()}
            save_file(backbone, str(tmp / BACKBONE_FILE))
        info = {"format": FORMAT, "task": config["task"], "config": config,
                "model": model.config, "step": step, "epoch": epoch, "metrics": metrics or {},
                "world_size": world_size, "log_pending": list(log_pending or [])}
        (tmp / "checkpoint.json").write_text(json.dumps(info, indent=1))
    return Path(folder)


def restore_run(run: Path, model: nn.Module, optimizer: torch.optim.Optimizer, cfg: dict, world_size: int) -> tuple[int, dict]:
    """Loads RUN/checkpoint into ``model`` and ``optimizer`` to resume; returns (its step, its info)."""
    folder = recover_folder(Path(run) / "checkpoint")
    if not folder.exists():
        raise StcorrError("nothing to resume: no checkpoint in the run folder", run)
    folder, info = read_kind_checkpoint(folder, cfg["task"])
    check_resume_config(info, cfg, folder)
    saved_world = int(info.get("world_size", 1))
    if saved_world != world_size:
        raise StcorrError(f"--resume with {world_size} process(es): the run was trained with {saved_world}, and "
                          f"another count changes the order of examples; resume with {saved_world}", folder)
    load_model_state(model, folder / "model.safetensors")
    if (folder / "optimizer.safetensors").is_file():
        load_optimizer_state(model, optimizer, folder / "optimizer.safetensors")
    return int(info["step"]), info


# (section, key) of settings that change how a run computes, not what: they may differ on --resume
RESUME_FREE_KEYS = (("train", "prefetch"),)


def check_resume_config(info: dict, cfg: dict, folder: Path) -> None:
    """``--resume`` continues a run only with the config it was started with (``RESUME_FREE_KEYS`` aside)."""
    saved, cfg = _without_free_keys(info["config"]), _without_free_keys(cfg)
    if saved != cfg:
        changed = sorted(k for k in cfg if cfg[k] != saved.get(k))
        raise StcorrError(f"--resume with a different config (section {changed[0] if changed else '?'} differs)", folder)


def _without_free_keys(config: dict) -> dict:
    trimmed = {name: dict(section) if isinstance(section, dict) else section for name, section in config.items()}
    for name, key in RESUME_FREE_KEYS:
        if isinstance(trimmed.get(name), dict):
            trimmed[name].pop(key, None)
    return trimmed


def load_optimizer_state(model: nn.Module, optimizer: torch.optim.Optimizer, file: Path) -> None:
    tensors = read_safetensors(file)
    names = {id(p): n for n, p in model.named_parameters()}
    by_name: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        name, _, entry = key.partition("|")
        by_name.setdefault(name, {})[entry] = value
    optimizer.state.clear()
    for group in optimizer.param_groups:
        for p in group["params"]:
            entries = by_name.get(names[id(p)])
            if entries:
                optimizer.state[p] = {k: v.to(p.device) if k != "step" else v for k, v in entries.items()}


def _optimizer_tensors(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    names = {id(p): n for n, p in model.named_parameters()}
    out = {}
    for p, entries in optimizer.state.items():
        for key, value in entries.items():
            tensor = value if torch.is_tensor(value) else torch.tensor(value)
            out[f"{names[id(p)]}|{key}"] = tensor.detach().contiguous().cpu()
    return out
