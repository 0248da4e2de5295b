"""A ResNet-18-style 2D frame encoder in plain PyTorch, with torchvision's parameter names.

Names follow torchvision's ``resnet18`` (``conv1``, ``bn1``, ``layer1``..``layer4`` of
``BasicBlock``s with ``conv1``/``bn1``/``conv2``/``bn2``/``downsample.0``/``downsample.1``, ``fc``),
so its ImageNet state dict loads directly when ``width_multiplier == 1``. Input frames are
(N, 3, H, W) floats, normalised the way the loaded weights expect (``IMAGENET_MEAN``/``STD``
for torchvision's); ``normalize_frames`` does that for frames in [0, 1].
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import torch
from pydantic import Field
from torch import Tensor, nn

from stcorr.errors import StcorrError
from stcorr.models.backbones.weights import read_state_dict
from stcorr.settings import Section

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
STAGE_WIDTHS = (64, 128, 256, 512)


def normalize_frames(frames: Tensor) -> Tensor:
    """Frames (N, 3, H, W) with values in [0, 1] -> ImageNet-normalised frames."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=frames.dtype, device=frames.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=frames.dtype, device=frames.device).view(1, 3, 1, 1)
    return (frames - mean) / std


class ResNet2dSettings(Section):
    """A ``resnet2d`` entry of the config (cpu.yaml says what each key does)."""

    width_multiplier: float = Field(gt=0)
    blocks: list[int]
    last_layer: int = Field(ge=1, le=4)
    weights: Optional[str]


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (a 1x1 projection when the shape changes)."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, channels, 1, stride, bias=False),
                                            nn.BatchNorm2d(channels))

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + shortcut)


class ResNet2d(nn.Module):
    """ResNet-18-style frame encoder.

    Args:
        width_multiplier: scales every stage's channel count (64, 128, 256, 512); 1.0 is resnet18.
        blocks_per_stage: BasicBlocks in each stage (resnet18: 2 each).
        last_layer: the last stage built and used (1..4); later stages do not exist.
        projection_dim: if set, a linear projection of the pooled features to this size.
        num_classes: if set, an ``fc`` classifier as in torchvision (unused by ``frame_embeddings``).
        in_channels: channels of the frames the stem takes (3: RGB; more: RGB and then pose maps).
    """

    def __init__(self, width_multiplier: float = 1.0, blocks_per_stage: Sequence[int] = (2, 2, 2, 2),
                 last_layer: int = 4, projection_dim: int | None = None, num_classes: int | None = None,
                 in_channels: int = 3):
        super().__init__()
        if not 1 <= last_layer <= 4:
            raise ValueError(f"last_layer must be 1..4, got {last_layer}")
        widths = [max(1, int(round(w * width_multiplier))) for w in STAGE_WIDTHS]
        self.last_layer = last_layer
        self.conv1 = nn.Conv2d(in_channels, widths[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        in_channels = widths[0]
        for stage in range(last_layer):
            stride = 1 if stage == 0 else 2
            blocks = [BasicBlock(in_channels if b == 0 else widths[stage], widths[stage], stride if b == 0 else 1)
                      for b in range(blocks_per_stage[stage])]
            self.add_module(f"layer{stage + 1}", nn.Sequential(*blocks))
            in_channels = widths[stage]
        self.feature_dim = in_channels
        self.projection = nn.Linear(in_channels, projection_dim) if projection_dim else None
        self.fc = nn.Linear(in_channels, num_classes) if num_classes else None
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    @property
    def embedding_dim(self) -> int:
        """Size D of ``frame_embeddings``."""
        return self.projection.out_features if self.projection is not None else self.feature_dim

    def features(self, frames: Tensor) -> Tensor:
        """Feature map of the last used stage: (N, 3, H, W) -> (N, C, H', W')."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(frames))))
        for stage in range(1, self.last_layer + 1):
            x = getattr(self, f"layer{stage}")(x)
        return x

    def frame_embeddings(self, frames: Tensor, batch_size: int | None = None) -> Tensor:
        """(N, 3, H, W) frames -> (N, D): global average pool of ``features``, then the projection if any.

        ``batch_size`` runs the frames through in chunks of that many (same result, less memory).
        """
        if frames.dim() != 4 or frames.shape[1] != 3:
            raise ValueError(f"frames must be (N, 3, H, W), got {tuple(frames.shape)}")
        chunks = [frames] if not batch_size else frames.split(batch_size)
        pooled = torch.cat([self.features(chunk).mean(dim=(2, 3)) for chunk in chunks])
        return pooled if self.projection is None else self.projection(pooled)

    def forward(self, frames: Tensor) -> Tensor:
        """``fc`` logits if the model has a classifier, else ``frame_embeddings``."""
        if self.fc is None:
            return self.frame_embeddings(frames)
        return self.fc(self.features(frames).mean(dim=(2, 3)))


def _loadable_part(model: ResNet2d, state: dict[str, Tensor]) -> dict[str, Tensor]:
    """The file's entries the model is expected to hold: no classifier, no stage beyond the last used."""
    unused = ("fc.",) + tuple(f"layer{s}." for s in range(model.last_layer + 1, 5))
    return {k: v for k, v in state.items() if not k.startswith(unused)}


def load_resnet2d_weights(model: ResNet2d, path: str | Path) -> ResNet2d:
    """Load a torchvision-named resnet18 state dict (.pth/.pt read with ``weights_only``, or .safetensors).

    The file's ``fc.*`` entries and stages beyond ``model.last_layer`` are dropped; the model's
    ``projection`` and ``fc`` keep their initialisation; every other parameter and buffer must be
    present with the same shape (BatchNorm's ``num_batches_tracked`` may be absent, as in old
    torchvision files). The file is read by ``read_state_dict`` (wrappers and a ``module.``
    prefix are accepted).

    Raises:
        StcorrError: naming the file, when it cannot be read or does not fit the model.
    """
    path = Path(path)
    state = _loadable_part(model, read_state_dict(path))
    expected = {k: v for k, v in model.state_dict().items() if not k.startswith(("fc.", "projection."))}
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    wrong_shape = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
                   if k in state and state[k].shape != v.shape]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} entries (e.g. {', '.join(missing[:3])})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected entries (e.g. {', '.join(unexpected[:3])})")
    if wrong_shape:
        problems.append(f"{len(wrong_shape)} shape mismatches (e.g. {'; '.join(wrong_shape[:2])}; file vs model)")
    if problems:
        raise StcorrError("weights do not fit the ResNet-18 frame encoder: " + "; ".join(problems), path)
    model.load_state_dict(state, strict=False)
    return model
