"""Loading published backbone weights (torchvision / IG65M state dicts) into a VideoBackbone."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import re

import torch
from torch import nn
from safetensors.torch import load_file

from stcorr.errors import StcorrError
from stcorr.models.backbones.registry import OWN_BLOCKS

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
    the first missing or unexpected key. A backbone that takes more than RGB (``in_channels`` > 3:
    RGB, then other maps) gets the file's RGB filters of its first convolution and zeros for the
    other channels, so that it starts out computing what the published model computes.
    """
    state = read_state_dict(path)
    own = model.state_dict()
    _widen_first_conv(state, own)
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
        raise StcorrError(f"weights do not fit backbone {name}: {', '.join(parts)}{fit_hint(model, state)}", path)
    for key, value in state.items():
        if value.shape != own[key].shape:
            raise StcorrError(
                f"weights do not fit: {key!r} has shape {tuple(value.shape)}, the model {tuple(own[key].shape)}"
                f"{fit_hint(model, state)}", path
            )
    model.load_state_dict(state, strict=True)


def _widen_first_conv(state: dict[str, torch.Tensor], own: Mapping[str, torch.Tensor]) -> None:
    """RGB filters of ``stem.0.weight`` padded with zero filters for a model's extra input channels."""
    key = "stem.0.weight"
    if key not in state or key not in own or state[key].shape == own[key].shape:
        return
    given, wanted = state[key], own[key]
    if given.shape[1] != 3 or wanted.shape[1] < 3 or given.shape[:1] + given.shape[2:] != wanted.shape[:1] + wanted.shape[2:]:
        return  # the shape check names the mismatch
    widened = torch.zeros_like(wanted)
    widened[:, :3] = given
    state[key] = widened


def state_dict_architecture(state: Mapping[str, torch.Tensor]) -> tuple[str, int, list[int]] | None:
    """(family "r3d" or "r2plus1d", width, blocks per group) of a torchvision-named video ResNet
    state dict, read from its keys and shapes; None when it is not one."""
    blocks = []
    for stage in range(1, 5):
        indices = {int(m.group(1)) for key in state if (m := re.match(rf"layer{stage}\.(\d+)\.", key))}
        blocks.append(len(indices))
    width_key = "layer1.0.conv1.1.weight"  # the BatchNorm after layer1's first conv: width channels
    if min(blocks) < 1 or width_key not in state:
        return None
    family = "r2plus1d" if "stem.3.weight" in state else "r3d"
    return family, int(state[width_key].shape[0]), blocks


def fit_hint(model: nn.Module, state: Mapping[str, torch.Tensor]) -> str:
    """'; the file holds ...: ask for it with ...' naming the backbone, width and blocks a state
    dict needs and the options that build it; '' when the file's architecture cannot be told."""
    found = state_dict_architecture(state)
    if found is None:
        return ""
    family, width, blocks = found
    same_family = [name for name in OWN_BLOCKS if name.startswith(family)]
    exact = [name for name in same_family if list(OWN_BLOCKS[name]) == blocks]
    current = getattr(model, "name", "")
    name = current if current in exact or (not exact and current in same_family) else (exact or same_family or [current])[0]
    own = name in OWN_BLOCKS and list(OWN_BLOCKS[name]) == blocks
    options = ([] if name == current else [f"--backbone {name}"]) + [
        f"--set model.width={width}", "--set model.blocks=" + ("null" if own else "[" + ",".join(map(str, blocks)) + "]")]
    return f"; the file holds {name} of width {width}, blocks {blocks}: ask for it with {' '.join(options)}"


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
