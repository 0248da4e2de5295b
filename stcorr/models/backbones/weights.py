"""Loading published backbone weights (torchvision / IG65M state dicts) into a VideoBackbone."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from stcorr.errors import StcorrError

_WRAPPER_KEYS = ("state_dict", "model")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a ``.safetensors`` file or a ``.pth`` (read with ``weights_only=True``).

    Unwraps ``{"state_dict": ...}`` / ``{"model": ...}`` and a ``module.`` prefix (DataParallel).
    """
    path = Path(path)
    if not path.is_file():
        raise StcorrError("no such weights file", path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a corrupt file shows up as any of several exception types
        raise StcorrError(f"cannot read weights ({type(error).__name__}: {_first_line(error)})", path) from error
    state = _unwrap(state, path)
    if any(key.startswith("module.") for key in state):
        state = {key.removeprefix("module."): value for key, value in state.items()}
    return state


def load_backbone_weights(model: nn.Module, path: str | Path) -> None:
    """Load a state dict with torchvision's parameter names into ``model``.

    The classifier ``fc.*`` is optional and skipped when its shape differs (IG65M: 359 or 487
    classes), BatchNorm's ``num_batches_tracked`` counters are optional; every other key must match by name and shape, else StcorrError names the file and
    the first missing or unexpected key.
    """
    state = read_state_dict(path)
    own = model.state_dict()
    for key in [k for k in state if k.startswith("fc.")]:
        if key not in own or own[key].shape != state[key].shape:
            del state[key]
    for key in own:
        optional = key.startswith("fc.") or key.endswith("num_batches_tracked")
        if optional and key not in state:
            state[key] = own[key]
    missing = [key for key in own if key not in state]
    unexpected = [key for key in state if key not in own]
    if missing or unexpected:
        name = getattr(model, "name", type(model).__name__)
        parts = []
        if missing:
            parts.append(f"missing key {missing[0]!r} ({len(missing)} missing)")
        if unexpected:
            parts.append(f"unexpected key {unexpected[0]!r} ({len(unexpected)} unexpected)")
        raise StcorrError(f"weights do not fit backbone {name}: {', '.join(parts)}", path)
    for key, value in state.items():
        if value.shape != own[key].shape:
            raise StcorrError(
                f"weights do not fit: {key!r} has shape {tuple(value.shape)}, the model {tuple(own[key].shape)}", path
            )
    model.load_state_dict(state, strict=True)


def _unwrap(state: Any, path: Path) -> dict[str, torch.Tensor]:
    while isinstance(state, Mapping) and not _is_tensor_dict(state):
        inner = next((state[key] for key in _WRAPPER_KEYS if key in state), None)
        if inner is None:
            break
        state = inner
    if not isinstance(state, Mapping) or not _is_tensor_dict(state):
        raise StcorrError("not a state dict (expected a mapping of parameter names to tensors)", path)
    return dict(state)


def _is_tensor_dict(state: Mapping) -> bool:
    return bool(state) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items())


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else "unreadable"
