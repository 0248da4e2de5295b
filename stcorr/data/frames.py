"""The one frame reader of the models: native frames of a video, a box of each resized with one
resampling, so every learner, evaluator and predictor sees the same pixels.

    frames = read_frames(video, times, (width, height))              # float (N, 3, H, W) in [0, 1]
    frames = read_frames(video, times, 64, box=(x0, y0, w, h), flip=True)

Resampling: bilinear, antialiased when shrinking (PIL), align_corners=False: output pixel centre
``X`` samples native pixel-edge coordinate ``x0 + (X + 0.5) * w / W`` (likewise y). Resized
frames are rounded to uint8 (what augmentation works on) before they become floats; a frame
already of the asked size with the whole frame as its box comes back unchanged.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from PIL import Image

from stcorr.data.video import Video

#: A box of a native frame: (x0, y0, w, h) in pixel-edge coordinates.
Box = tuple[float, float, float, float]
READ_CHUNK = 32  # native frames decoded at once (bounds memory on long, large videos)


def crop_resize(frames: np.ndarray, crop: Box, size: tuple[int, int]) -> np.ndarray:
    """uint8 frames (N, h, w, 3) -> the crop (x0, y0, w, h) resized to size (W, H), uint8 (N, H, W, 3)
    (the module's resampling)."""
    x0, y0, w, h = crop
    box = (x0, y0, x0 + w, y0 + h)
    return np.stack([
        np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.BILINEAR, box=box))
        for frame in frames
    ])


def whole_frame(frames: np.ndarray) -> Box:
    """The box of whole frames (N, H, W, 3)."""
    return 0.0, 0.0, float(frames.shape[2]), float(frames.shape[1])


def as_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float (N, 3, H, W) in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div_(255.0)


def read_frames(video: Video, times: Sequence[int], size: int | tuple[int, int], box: Box | None = None,
                flip: bool = False) -> torch.Tensor:
    """Native frames ``times`` (in that order) of ``video``, the box ``box`` of each (None: the whole
    frame) resized to ``size`` (S: S x S; or (W, H)), mirrored left-right when ``flip``: float
    (N, 3, H, W) in [0, 1]."""
    width, height = (size, size) if isinstance(size, (int, np.integer)) else size
    times = [int(t) for t in times]
    chunks = []
    for start in range(0, len(times), READ_CHUNK):
        native = video.frames(times[start:start + READ_CHUNK])
        chunks.append(crop_resize(native, box if box is not None else whole_frame(native), (int(width), int(height))))
    frames = as_tensor(np.concatenate(chunks) if chunks else np.zeros((0, int(height), int(width), 3), np.uint8))
    return frames.flip(-1) if flip else frames
