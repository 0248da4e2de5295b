"""Checkpoints of every learner: one folder, written whole (``stcorr.files.folder_writer``).

    CKPT/model.safetensors       the model's state dict
    CKPT/optimizer.safetensors   AdamW moments and step counts, by parameter name (resume)
    CKPT/backbone.safetensors    a pretraining model's video backbone, torchvision's names (models with
                                 ``backbone_state_dict``: corrflow-st), for --backbone-weights and --init
    CKPT/checkpoint.json         {"format", "task" (the learner), "config" (the full run config),
                                  "model" (the model's own config, to rebuild it), "step", "epoch",
                                  "metrics", "world_size", "log_pending" (losses not yet in a log row)}

Loading reads safetensors and JSON only: nothing from a user's file is unpickled. A crash
between the two renames of the folder swap leaves ``.checkpoint.old``; reading puts it back.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from stcorr.errors import StcorrError
from stcorr.files import folder_writer, read_json, recover_folder

FORMAT = "stcorr-checkpoint/1"
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
        info = {"format": FORMAT, "task": config.get("task", "correspondence"), "config": config,
                "model": model.config, "step": step, "epoch": epoch, "metrics": metrics or {},
                "world_size": world_size, "log_pending": list(log_pending or [])}
        (tmp / "checkpoint.json").write_text(json.dumps(info, indent=1))
    return Path(folder)


def read_checkpoint_info(path: Path) -> tuple[Path, dict]:
    """(checkpoint folder, its checkpoint.json) for a folder or a file inside it."""
    path = recover_folder(Path(path))
    folder = path if path.is_dir() else path.parent
    info_file = folder / "checkpoint.json"
    if not path.exists():
        raise StcorrError("checkpoint not found", path)
    if not info_file.is_file() or not (folder / "model.safetensors").is_file():
        raise StcorrError("not an stcorr checkpoint (expected checkpoint.json and model.safetensors)", folder)
    info = read_json(info_file)
    if not isinstance(info, dict) or info.get("format") != FORMAT or not isinstance(info.get("model"), dict):
        raise StcorrError(f"not a {FORMAT} checkpoint", info_file)
    return folder, info


def read_learner_checkpoint(path: Path, task: str) -> tuple[Path, dict]:
    """(folder, checkpoint.json) of a checkpoint that holds ``task``'s model, else a one-line error."""
    from stcorr.learners import describe_task

    folder, info = read_checkpoint_info(path)
    held = info.get("task") or "correspondence"
    if held != task:
        hint = ""
        if held in ("tcc", "lrprop", "cats2d") and task == "correspondence":
            hint = f": give it to a baseline method with --set baseline.{held}_checkpoint=..."
        raise StcorrError(f"expected {describe_task(task)} checkpoint, but it holds {describe_task(held)} model{hint}", folder)
    return folder, info


def load_learned(path: Path, task: str) -> tuple[nn.Module, dict]:
    """The trained model of learner ``task`` in a checkpoint (in eval mode), and the checkpoint's info."""
    from stcorr.learners import learner_class

    folder, info = read_learner_checkpoint(path, task)
    check_model_size(lambda: learner_class(task).model_from_config(info["model"]), folder / "model.safetensors")
    try:
        model = learner_class(task).model_from_config(info["model"])
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:  # a hand-edited or foreign file
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise StcorrError(f"the model settings in checkpoint.json cannot build a model ({detail})", folder) from None
    load_model_state(model, folder / "model.safetensors")
    return model.eval(), info


def load_matcher(path: Path):
    """The space-time Matcher saved in a checkpoint, and the checkpoint's info."""
    return load_learned(path, "correspondence")


def restore_run(run: Path, model: nn.Module, optimizer: torch.optim.Optimizer, cfg: dict, world_size: int) -> tuple[int, dict]:
    """Loads RUN/checkpoint into ``model`` and ``optimizer`` to resume; returns (its step, its info)."""
    folder = recover_folder(Path(run) / "checkpoint")
    if not folder.exists():
        raise StcorrError("nothing to resume: no checkpoint in the run folder", run)
    folder, info = read_learner_checkpoint(folder, cfg.get("task", "correspondence"))
    check_resume_config(info, cfg, folder)
    saved_world = int(info.get("world_size", 1))
    if saved_world != world_size:
        raise StcorrError(f"--resume with {world_size} process(es): the run was trained with {saved_world}, and "
                          f"another count changes the order of examples; resume with {saved_world}", folder)
    load_model_state(model, folder / "model.safetensors")
    if (folder / "optimizer.safetensors").is_file():
        load_optimizer_state(model, optimizer, folder / "optimizer.safetensors")
    return int(info["step"]), info


def check_resume_config(info: dict, cfg: dict, folder: Path) -> None:
    """``--resume`` continues a run only with the config it was started with."""
    if info["config"] != cfg:
        changed = sorted(k for k in cfg if cfg[k] != info["config"].get(k))
        raise StcorrError(f"--resume with a different config (section {changed[0] if changed else '?'} differs)", folder)


MODEL_SLACK_BYTES = 256 << 20  # buffers and parameters a model may build that its weights file leaves out


def check_model_size(build, weights: Path) -> None:
    """Refuses model settings that would build a model far larger than the weights file beside them
    (a hand-edited checkpoint.json with width 200000 asks for terabytes): ``build()`` runs on
    PyTorch's meta device, which allocates nothing."""
    try:
        with torch.device("meta"):
            model = build()
        wanted = sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])
    except Exception:  # noqa: BLE001 - settings that cannot build a model are reported when it is built for real
        return
    held = weights.stat().st_size if weights.is_file() else 0
    if wanted > 2 * held + MODEL_SLACK_BYTES:
        raise StcorrError(f"the model settings in checkpoint.json ask for {wanted / 2**30:.1f} GiB of weights, "
                          f"but the weights file holds {held / 2**30:.2f} GiB", weights.parent)


def load_model_state(model: nn.Module, file: Path) -> None:
    state = read_safetensors(file)
    for key, value in state.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise StcorrError(f"checkpoint holds NaN or infinite weights ({key}): the run that wrote it diverged", file)
    missing, unexpected = _key_mismatch(model.state_dict(), state)
    if missing or unexpected:
        what = f"lacks {missing[0]!r}" if missing else f"has unexpected {unexpected[0]!r}"
        raise StcorrError(f"checkpoint is from another model: it {what}", file)
    for key, value in model.state_dict().items():
        if value.shape != state[key].shape:
            raise StcorrError(f"checkpoint is from another model: {key} has shape {tuple(state[key].shape)}, "
                              f"expected {tuple(value.shape)}", file)
    model.load_state_dict(state)


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


def read_safetensors(file: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(file))
    except (SafetensorError, OSError, ValueError) as exc:
        raise StcorrError(f"corrupt or unreadable safetensors file ({str(exc).splitlines()[0]})", file) from None


def _key_mismatch(expected: dict, given: dict) -> tuple[list[str], list[str]]:
    return sorted(set(expected) - set(given)), sorted(set(given) - set(expected))
