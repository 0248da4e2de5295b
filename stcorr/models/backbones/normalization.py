"""Pixel normalisation of clips for the Kinetics-trained video backbones."""

from __future__ import annotations

import numpy as np
import torch

#: RGB mean and std of Kinetics-400, as used by torchvision's and IG65M's video models.
KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)


def normalize_clip(clip: torch.Tensor) -> torch.Tensor:
    """Normalise a clip laid out ``(..., 3, T, H, W)``.

    ``uint8`` input is read as 0..255, float input as 0..1. Returns float32 ``(x - mean) / std``
    per RGB channel.
    """
    if clip.shape[-4] != 3:
        raise ValueError(f"expected (..., 3, T, H, W), got shape {tuple(clip.shape)}")
    clip = clip.float() / 255.0 if clip.dtype == torch.uint8 else clip.float()
    shape = (3, 1, 1, 1)
    mean = torch.tensor(KINETICS_MEAN, device=clip.device).view(shape)
    std = torch.tensor(KINETICS_STD, device=clip.device).view(shape)
    return (clip - mean) / std


def frames_to_clip(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 RGB frames ``(T, H, W, 3)`` (as ``Video.frames`` returns them) -> normalised ``(3, T, H, W)``."""
    frames = torch.as_tensor(np.asarray(frames)) if not isinstance(frames, torch.Tensor) else frames
    return normalize_clip(frames.permute(3, 0, 1, 2))
