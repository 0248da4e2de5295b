"""Checkpoints: a folder written atomically (temporary folder, then rename).

    CKPT/model.safetensors       the Matcher's state dict
    CKPT/optimizer.safetensors   AdamW moments and step counts, by parameter name (resume)
    CKPT/checkpoint.json         {"format", "config" (the full run config), "model" (the Matcher's
                                  config), "step", "epoch", "metrics"}

Loading reads safetensors and JSON only: nothing from a user's file is unpickled.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from stcorr.errors import StcorrError
from stcorr.models.matcher import Matcher, build_matcher

FORMAT = "stcorr-checkpoint/1"


def save_checkpoint(folder: Path, matcher: Matcher, optimizer: torch.optim.Optimizer | None, config: dict,
                    step: int, epoch: float, metrics: dict | None = None, task: str = "correspondence") -> Path:
    """``task`` says what the folder holds: a space-time Matcher, or a baseline's part (tcc, lrprop, cats2d)."""
    folder = Path(folder)
    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    state = {k: v.detach().contiguous().cpu() for k, v in matcher.state_dict().items()}
    save_file(state, str(tmp / "model.safetensors"))
    if optimizer is not None:
        save_file(_optimizer_tensors(matcher, optimizer), str(tmp / "optimizer.safetensors"))
    info = {"format": FORMAT, "task": task, "config": config, "model": matcher.config, "step": step, "epoch": epoch,
            "metrics": metrics or {}}
    (tmp / "checkpoint.json").write_text(json.dumps(info, indent=1))
    old = folder.with_name(f".{folder.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)
    return folder


def read_checkpoint_info(path: Path) -> tuple[Path, dict]:
    """(checkpoint folder, its checkpoint.json) for a folder or a file inside it."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    info_file = folder / "checkpoint.json"
    if not path.exists():
        raise StcorrError("checkpoint not found", path)
    if not info_file.is_file() or not (folder / "model.safetensors").is_file():
        raise StcorrError("not an stcorr checkpoint (expected checkpoint.json and model.safetensors)", folder)
    try:
        info = json.loads(info_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise StcorrError("checkpoint.json is not valid JSON", info_file) from None
    if not isinstance(info, dict) or info.get("format") != FORMAT or not isinstance(info.get("model"), dict):
        raise StcorrError(f"not a {FORMAT} checkpoint", info_file)
    return folder, info


def load_matcher(path: Path) -> tuple[Matcher, dict]:
    """The Matcher saved in a checkpoint, and the checkpoint's info."""
    folder, info = read_checkpoint_info(path)
    task = info.get("task", "correspondence")
    if task != "correspondence":
        raise StcorrError(f"this is a {task} checkpoint of a sequential baseline, not a space-time model: give it "
                          f"to a baseline method with --set baseline.{task}_checkpoint=...", folder)
    matcher = build_matcher(info["model"], load_weights=False)
    load_model_state(matcher, folder / "model.safetensors")
    return matcher, info


def check_resume_config(info: dict, cfg: dict, folder: Path) -> None:
    """``--resume`` continues a run only with the config it was started with."""
    if info["config"] != cfg:
        changed = sorted(k for k in cfg if cfg[k] != info["config"].get(k))
        raise StcorrError(f"--resume with a different config (section {changed[0] if changed else '?'} differs)", folder)


def load_model_state(matcher: Matcher, file: Path) -> None:
    state = read_safetensors(file)
    missing, unexpected = _key_mismatch(matcher.state_dict(), state)
    if missing or unexpected:
        what = f"lacks {missing[0]!r}" if missing else f"has unexpected {unexpected[0]!r}"
        raise StcorrError(f"checkpoint is from another model: it {what}", file)
    for key, value in matcher.state_dict().items():
        if value.shape != state[key].shape:
            raise StcorrError(f"checkpoint is from another model: {key} has shape {tuple(state[key].shape)}, "
                              f"expected {tuple(value.shape)}", file)
    matcher.load_state_dict(state)


def load_optimizer_state(matcher: Matcher, optimizer: torch.optim.Optimizer, file: Path) -> None:
    tensors = read_safetensors(file)
    names = {id(p): n for n, p in matcher.named_parameters()}
    state = {}
    for group in optimizer.param_groups:
        for p in group["params"]:
            entries = {k.split("|", 1)[1]: v for k, v in tensors.items() if k.split("|", 1)[0] == names[id(p)]}
            if entries:
                state[p] = entries
    optimizer.state.clear()
    for p, entries in state.items():
        optimizer.state[p] = {k: v.to(p.device) if k != "step" else v for k, v in entries.items()}


def _optimizer_tensors(matcher: Matcher, optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    names = {id(p): n for n, p in matcher.named_parameters()}
    out = {}
    for p, entries in optimizer.state.items():
        for key, value in entries.items():
            tensor = value if torch.is_tensor(value) else torch.tensor(value)
            out[f"{names[id(p)]}|{key}"] = tensor.detach().contiguous().cpu()
    return out


def read_safetensors(file: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(file))
    except (SafetensorError, OSError, ValueError) as exc:
        raise StcorrError(f"corrupt or unreadable safetensors file ({str(exc).splitlines()[0]})", file) from None


def _key_mismatch(expected: dict, given: dict) -> tuple[list[str], list[str]]:
    return sorted(set(expected) - set(given)), sorted(set(given) - set(expected))
