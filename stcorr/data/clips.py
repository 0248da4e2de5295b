"""Clips: a fixed-size window of a native video for the 3D CNN, and the exact map back.

Native coordinates (docs/formats.md#coordinates): ``t`` is the 0-based native frame index; ``x``, ``y`` are native
pixels with pixel centres at integers. Clip coordinates: ``t`` is in clip frames (continuous,
frame ``j`` at ``t = j``); ``x``, ``y`` are clip pixels with pixel centres at integers.

Time: clip frame ``j`` shows native frame ``start + j * stride``, clamped to the video (frames
past the end repeat the last frame). Native ``t`` maps to clip ``(t - start) / stride``
(interpolated or extrapolated); clip ``t`` maps back to the nearest native frame of
``start + t * stride``, clamped to ``[0, num_native_frames - 1]``.

Space: the clip shows the native crop ``(x0, y0, w, h)`` (pixel-edge coordinates, native pixel
``i`` spans ``[i, i + 1]``) resized to ``W x H`` clip pixels without keeping the aspect ratio,
in the align_corners=False convention::

    x_clip = (x_native - x0 + 0.5) * (W / w) - 0.5
    y_clip = (y_native - y0 + 0.5) * (H / h) - 0.5
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from stcorr.data.augment import AugmentParams, ClipAugment, Crop
from stcorr.data.frames import crop_resize
from stcorr.data.video import Video
from stcorr.errors import StcorrError


@dataclass
class Clip:
    """A clip of a native video, with the exact map between clip and native coordinates.

    ``frames``: float tensor (3, T, H, W) in [0, 1], RGB, not normalised.
    ``native_times``: (T,) int64, the native frame shown by each clip frame.
    ``start``, ``stride``: clip frame ``j`` is native frame ``start + j * stride`` (before clamping).
    ``crop``: (x0, y0, w, h), the native region shown, in pixel-edge coordinates.
    ``native_size``: (width, height) of the native frames.
    """

    frames: torch.Tensor
    native_times: np.ndarray
    start: int
    stride: int
    crop: Crop
    native_size: tuple[int, int]
    num_native_frames: int
    augment_params: AugmentParams | None = None

    @property
    def clip_len(self) -> int:
        return int(self.frames.shape[1])

    @property
    def size(self) -> tuple[int, int]:
        """(W, H) of the clip frames."""
        return int(self.frames.shape[3]), int(self.frames.shape[2])

    @property
    def padded(self) -> np.ndarray:
        """(T,) bool: clip frames past the end of the video (they repeat its last frame)."""
        return self._grid_times() > self.num_native_frames - 1

    def to_clip(self, points: np.ndarray) -> np.ndarray:
        """Native (N, 3) rows t, x, y -> clip (N, 3) float64 rows t, x, y (see module docstring)."""
        native = _as_points(points)
        x0, y0, w, h = self.crop
        width, height = self.size
        return np.stack([
            (native[:, 0] - self.start) / self.stride,
            (native[:, 1] - x0 + 0.5) * (width / w) - 0.5,
            (native[:, 2] - y0 + 0.5) * (height / h) - 0.5,
        ], axis=1)

    def to_native(self, points: np.ndarray) -> np.ndarray:
        """Clip (N, 3) rows t, x, y -> native (N, 3) float64; t is an integral native frame index."""
        clip = _as_points(points)
        x0, y0, w, h = self.crop
        width, height = self.size
        t = np.floor(self.start + clip[:, 0] * self.stride + 0.5)
        return np.stack([
            np.clip(t, 0, self.num_native_frames - 1),
            (clip[:, 1] + 0.5) * (w / width) - 0.5 + x0,
            (clip[:, 2] + 0.5) * (h / height) - 0.5 + y0,
        ], axis=1)

    def inside(self, points_clip: np.ndarray) -> np.ndarray:
        """(N,) bool: clip points with 0 <= t <= T - 1 and x, y within the frame's pixel edges
        (-0.5 <= x <= W - 0.5, -0.5 <= y <= H - 0.5); non-finite points are outside."""
        clip = _as_points(points_clip)
        width, height = self.size
        with np.errstate(invalid="ignore"):
            return ((clip[:, 0] >= 0) & (clip[:, 0] <= self.clip_len - 1)
                    & (clip[:, 1] >= -0.5) & (clip[:, 1] <= width - 0.5)
                    & (clip[:, 2] >= -0.5) & (clip[:, 2] <= height - 0.5))

    def _grid_times(self) -> np.ndarray:
        return self.start + np.arange(self.clip_len, dtype=np.int64) * self.stride


def clip_keypoints(clip: Clip, points_native: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Native (N, 3) rows t, x, y -> (clip points (N, 3), valid (N,) bool: inside the clip)."""
    points_clip = clip.to_clip(points_native)
    return points_clip, clip.inside(points_clip)


def sample_clip(
    video: Video,
    clip_len: int,
    size: int | tuple[int, int],
    key_frames: Sequence[int] | None = None,
    rng: np.random.Generator | None = None,
    augment: ClipAugment | None = None,
    time_jitter: bool = False,
    *,
    min_stride: int = 1,
    keep_points: np.ndarray | None = None,
) -> Clip:
    """Samples a clip of ``clip_len`` frames resized to ``size`` (int: square, or (W, H)).

    The window covers every key frame, with the smallest stride >= ``min_stride`` that allows
    it; it is centred on the key frames, or shifted at random (still covering them, and inside
    the video where it fits) when ``time_jitter`` and ``rng`` are given. ``key_frames`` None or
    empty covers the whole video. ``augment`` needs ``rng``; its crop keeps ``keep_points``
    (native (N, 3) t, x, y or (N, 2) x, y) inside. Only the frames shown are read.
    """
    width, height = _clip_size(size)
    if clip_len < 2:
        raise StcorrError(f"a clip needs at least 2 frames, got clip_len={clip_len}")
    if augment is not None and augment.enabled and rng is None:
        raise ValueError("sample_clip: augmentation needs an rng")
    n = video.num_frames
    first, last = _key_span(video, key_frames)
    stride = temporal_stride(last - first, clip_len, min_stride)
    start = window_start(first, last, n, clip_len, stride, rng if time_jitter else None)
    native_times = np.clip(start + np.arange(clip_len, dtype=np.int64) * stride, 0, n - 1)

    unique_times, which = np.unique(native_times, return_inverse=True)
    # Native frames are resized as they are read: a clip never holds all of them at full size.
    native = video.iter_frames(unique_times.tolist(), chunk=8)
    first = next(native)
    native_size = (int(first.shape[1]), int(first.shape[0]))
    params = augment.sample(rng, native_size, keep_points) if augment is not None and augment.enabled else None
    crop = params.crop if params is not None and params.crop is not None else (0.0, 0.0, *map(float, native_size))
    frames = np.concatenate([crop_resize(f[None], crop, (width, height)) for f in itertools.chain([first], native)])[which]
    if params is not None:
        frames = params.apply(frames)
    tensor = torch.from_numpy(np.require(frames, np.uint8, ["C", "W"])).permute(3, 0, 1, 2).float().div_(255.0)
    return Clip(tensor.contiguous(), native_times, int(start), int(stride), crop, native_size, n, params)


def temporal_stride(span: int, clip_len: int, min_stride: int = 1) -> int:
    """Smallest stride s >= min_stride with span <= (clip_len - 1) * s."""
    return max(int(min_stride), 1, math.ceil(span / (clip_len - 1)))


def window_start(first: int, last: int, num_frames: int, clip_len: int, stride: int,
                 rng: np.random.Generator | None = None) -> int:
    """First native frame of a window covering [first, last]: centred on them when ``rng`` is
    None, uniform among the covering windows otherwise; kept inside the video where it fits,
    else starting as early as the key frames allow (the tail is then padded)."""
    length = (clip_len - 1) * stride
    low = max(last - length, 0)
    high = max(min(first, num_frames - 1 - length), low)
    if rng is not None:
        return int(rng.integers(low, high + 1))
    centred = (first + last - length) // 2
    return int(min(max(centred, low), high))


def _key_span(video: Video, key_frames: Sequence[int] | None) -> tuple[int, int]:
    n = video.num_frames
    if key_frames is None or len(key_frames) == 0:
        return 0, n - 1
    keys = []
    for k in key_frames:
        if float(k) != int(k):
            raise StcorrError(f"key frame {k} is not a whole frame index", video.path)
        if not 0 <= int(k) < n:
            raise StcorrError(f"key frame {int(k)} is outside the video's {n} frames", video.path)
        keys.append(int(k))
    return min(keys), max(keys)


def _clip_size(size: int | tuple[int, int]) -> tuple[int, int]:
    width, height = (size, size) if isinstance(size, (int, np.integer)) else size
    if int(width) < 1 or int(height) < 1:
        raise StcorrError(f"clip size must be positive, got {size}")
    return int(width), int(height)


def _as_points(points: np.ndarray) -> np.ndarray:
    array = np.asarray(points, dtype=np.float64)
    if array.size == 0:
        return array.reshape(0, 3)
    if array.ndim == 1 and array.shape[0] == 3:
        array = array[None]
    if array.ndim != 2 or array.shape[1] != 3:
        raise ValueError(f"points must have shape (N, 3) rows t, x, y, got {array.shape}")
    return array
