"""The backbone registry: name -> builder(width, blocks, in_channels) -> VideoBackbone."""

from __future__ import annotations

from importlib import import_module
from typing import Callable, Sequence

from stcorr.errors import StcorrError
from stcorr.models.backbones.r2plus1d18 import r2plus1d18
from stcorr.models.backbones.r2plus1d34 import r2plus1d34
from stcorr.models.backbones.r3d18 import r3d18
from stcorr.models.backbones.video_resnet import VideoBackbone

BACKBONES: dict[str, Callable[..., VideoBackbone]] = {
    "r3d18": r3d18,
    "r2plus1d18": r2plus1d18,
    "r2plus1d34": r2plus1d34,
}
#: Each architecture's own residual blocks per group (what ``blocks=None`` builds).
OWN_BLOCKS: dict[str, tuple[int, ...]] = {name: import_module(b.__module__).BLOCKS for name, b in BACKBONES.items()}


def build_backbone(name: str, width: int = 64, blocks: Sequence[int] | None = None,
                   in_channels: int = 3) -> VideoBackbone:
    """A randomly initialised backbone; ``width`` 64, ``blocks`` None and ``in_channels`` 3 give the
    published model (more input channels: RGB and then other maps, ``stcorr.pose.maps``)."""
    if name not in BACKBONES:
        raise StcorrError(f"unknown backbone {name!r}; known: {', '.join(BACKBONES)}")
    return BACKBONES[name](width=width, blocks=blocks, in_channels=in_channels)
