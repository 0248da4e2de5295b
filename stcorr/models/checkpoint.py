"""Reading checkpoints (the folder ``stcorr.training.checkpoint`` writes) into models, with no
training code: any model ``stcorr.models.registry`` knows, from its recorded kind.

    CKPT/model.safetensors   the model's state dict
    CKPT/checkpoint.json     {"format", "task" (the model's kind), "config" (the run's config),
                              "model" (the model's own config, to rebuild it), "step", ...}

A checkpoint written before a config key existed reads as if it held cpu.yaml's value of the key
(its run config here; its model entry where the model's settings are built, e.g. ``build_matcher``).

A checkpoint is named by a path, or by ``stcorr:NAME`` for a model that ships with stcorr
(``stcorr.models.shipped``). Loading reads safetensors and JSON only: nothing from a user's file
is unpickled. A crash between the two renames of the writer's folder swap leaves
``.checkpoint.old``; reading puts it back.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from stcorr.errors import StcorrError
from stcorr.files import read_json, recover_folder
from stcorr.models.registry import describe_kind, model_kind
from stcorr.settings import default_config, merged

FORMAT = "stcorr-checkpoint/1"
SHIPPED_PREFIX = "stcorr:"
#: Trained parts of the sequential baselines, for the hint of a checkpoint given to the wrong place.
BASELINE_PARTS = ("tcc", "lrprop", "cats2d")


def checkpoint_path(path: str | Path) -> Path:
    """A checkpoint's folder or file: ``stcorr:NAME`` names a shipped model, anything else is a path."""
    text = str(path)
    if text.startswith(SHIPPED_PREFIX):
        from stcorr.models.shipped import resolve_checkpoint  # shipped.py lists the packaged models

        return resolve_checkpoint(text)
    return Path(path)


def read_checkpoint_info(path: str | Path) -> tuple[Path, dict]:
    """(checkpoint folder, its checkpoint.json) for a folder or a file inside it."""
    path = recover_folder(checkpoint_path(path))
    folder = path if path.is_dir() else path.parent
    info_file = folder / "checkpoint.json"
    if not path.exists():
        raise StcorrError("checkpoint not found", path)
    if not info_file.is_file() or not (folder / "model.safetensors").is_file():
        raise StcorrError("not an stcorr checkpoint (expected checkpoint.json and model.safetensors)", folder)
    info = read_json(info_file)
    if not isinstance(info, dict) or info.get("format") != FORMAT or not isinstance(info.get("model"), dict):
        raise StcorrError(f"not a {FORMAT} checkpoint", info_file)
    if not isinstance(info.get("config", {}), dict):
        raise StcorrError(f"not a {FORMAT} checkpoint (its config is not a mapping)", info_file)
    info["config"] = merged(default_config(), info.get("config", {}))  # keys added since it was written: cpu.yaml's
    return folder, info


def checkpoint_kind(info: dict) -> str:
    """The kind of model a checkpoint.json records (checkpoints before kinds: correspondence)."""
    return info.get("task") or "correspondence"


def read_kind_checkpoint(path: str | Path, kind: str) -> tuple[Path, dict]:
    """(folder, checkpoint.json) of a checkpoint that holds a ``kind`` model, else a one-line error."""
    folder, info = read_checkpoint_info(path)
    held = checkpoint_kind(info)
    if held != kind:
        hint = ""
        if held in BASELINE_PARTS and kind == "correspondence":
            hint = f": give it to a baseline method with --set baseline.{held}_checkpoint=..."
        raise StcorrError(f"expected {describe_kind(kind)} checkpoint, but it holds {describe_kind(held)} model{hint}", folder)
    return folder, info


def load_checkpoint(path: str | Path, kind: str | None = None) -> tuple[nn.Module, dict]:
    """The trained model in a checkpoint (eval mode) and the checkpoint's info; ``kind``: the kind
    the caller needs (None: whatever the checkpoint holds)."""
    folder, info = read_checkpoint_info(path) if kind is None else read_kind_checkpoint(path, kind)
    builder = model_kind(checkpoint_kind(info)).build
    check_model_size(lambda: builder(info["model"]), folder / "model.safetensors")
    try:
        model = builder(info["model"])
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:  # a hand-edited or foreign file
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise StcorrError(f"the model settings in checkpoint.json cannot build a model ({detail})", folder) from None
    load_model_state(model, folder / "model.safetensors")
    return model.eval(), info


def load_model(path: str | Path, kind: str | None = None) -> nn.Module:
    """The trained model saved at ``path`` (a checkpoint folder or ``stcorr:NAME``), in eval mode."""
    return load_checkpoint(path, kind)[0]


def load_matcher(path: str | Path) -> tuple[nn.Module, dict]:
    """The space-time Matcher saved in a checkpoint, and the checkpoint's info."""
    return load_checkpoint(path, "correspondence")


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


def read_safetensors(file: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(file))
    except (SafetensorError, OSError, ValueError) as exc:
        raise StcorrError(f"corrupt or unreadable safetensors file ({str(exc).splitlines()[0]})", file) from None


def _key_mismatch(expected: dict, given: dict) -> tuple[list[str], list[str]]:
    return sorted(set(expected) - set(given)), sorted(set(given) - set(expected))
