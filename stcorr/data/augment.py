"""Clip augmentation: one draw of parameters per clip, applied identically to every frame.

Photometric operations (grayscale, posterize, equalize, brightness/contrast, solarize) change
pixel values only and never move a keypoint. The one geometric operation is a crop, chosen in
native pixels before resizing, so that the clip's native <-> clip mapping stays an exact affine
map (see ``stcorr.data.clips.Clip``). A crop ``(x0, y0, w, h)`` covers the native region
``[x0, x0 + w] x [y0, y0 + h]`` in pixel-edge coordinates: native pixel ``i`` spans ``[i, i + 1]``,
so a point with native pixel-centre coordinate ``x`` lies in the crop when
``x0 - 0.5 <= x <= x0 + w - 0.5``.

Source and target clips of a pair are augmented independently: the caller draws each clip's
parameters with its own generator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

import numpy as np
from PIL import Image, ImageOps
from pydantic import AfterValidator, ConfigDict, Field

from stcorr.settings import Section

Crop = tuple[float, float, float, float]

_PROBABILITIES = ("grayscale", "posterize", "equalize", "brightness_contrast", "solarize", "crop")
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _bounds(low: float, high: float) -> AfterValidator:
    """A [low, high] pair within [``low``, ``high``]."""
    def check(pair: list) -> list:
        if not low <= pair[0] <= pair[1] <= high:
            raise ValueError(f"must be [low, high] with {low} <= low <= high <= {high}")
        return pair
    return AfterValidator(check)


Probability = Annotated[float, Field(ge=0, le=1)]
IntPair = Annotated[list[int], Field(min_length=2, max_length=2)]
FloatPair = Annotated[list[float], Field(min_length=2, max_length=2)]


class ClipAugment(Section):
    """``data.augment``: the probability of each augmentation and the range it draws from
    (inclusive ``[low, high]`` pairs; cpu.yaml holds the values and says what each does).
    ``crop_scale`` is the fraction of each native side that the crop keeps, drawn independently
    for width and height."""

    cpu_yaml_key: ClassVar[str] = "data.augment"
    model_config = ConfigDict(frozen=True)
    grayscale: Probability
    posterize: Probability
    posterize_bits: Annotated[IntPair, _bounds(1, 8)]
    equalize: Probability
    brightness_contrast: Probability
    brightness: Annotated[FloatPair, _bounds(0.0, math.inf)]
    contrast: Annotated[FloatPair, _bounds(0.0, math.inf)]
    solarize: Probability
    solarize_threshold: Annotated[IntPair, _bounds(0, 256)]
    crop: Probability
    crop_scale: Annotated[FloatPair, _bounds(1e-6, 1.0)]
    crop_tries: int = Field(ge=1)

    @classmethod
    def only(cls, **changes: Any) -> ClipAugment:
        """Every augmentation off but those ``changes`` turn on (ranges: cpu.yaml's, unless changed)."""
        return cls.defaults(**{**{name: 0.0 for name in _PROBABILITIES}, **changes})

    @classmethod
    def none(cls) -> ClipAugment:
        """No augmentation at all."""
        return cls.only()

    @classmethod
    def typical(cls) -> ClipAugment:
        """A moderate training setting: every operation on, none too often."""
        return cls.only(grayscale=0.2, posterize=0.2, equalize=0.2, brightness_contrast=0.8, solarize=0.1, crop=0.5)

    @property
    def enabled(self) -> bool:
        return any(getattr(self, name) > 0 for name in _PROBABILITIES)

    def sample(self, rng: np.random.Generator, native_size: tuple[int, int],
               keep_points: np.ndarray | None = None) -> AugmentParams:
        """Draws one clip's parameters.

        ``native_size`` is (width, height) of the native frames. ``keep_points``, (N, 3) rows
        t, x, y or (N, 2) rows x, y in native pixels, must stay inside the crop; points outside
        the native frame or not finite are ignored. When no crop that keeps them is found in
        ``crop_tries`` draws, the clip is not cropped.
        """
        def hit(probability: float) -> bool:
            return probability > 0 and rng.random() < probability

        grayscale = hit(self.grayscale)
        bits = int(rng.integers(*_inclusive(self.posterize_bits))) if hit(self.posterize) else None
        equalize = hit(self.equalize)
        brightness, contrast = 1.0, 1.0
        if hit(self.brightness_contrast):
            brightness, contrast = float(rng.uniform(*self.brightness)), float(rng.uniform(*self.contrast))
        threshold = int(rng.integers(*_inclusive(self.solarize_threshold))) if hit(self.solarize) else None
        crop = self._sample_crop(rng, native_size, keep_points) if hit(self.crop) else None
        return AugmentParams(grayscale, bits, equalize, brightness, contrast, threshold, crop)

    def _sample_crop(self, rng: np.random.Generator, native_size: tuple[int, int],
                     keep_points: np.ndarray | None) -> Crop | None:
        box = _points_box(keep_points, native_size)
        for _ in range(self.crop_tries):
            x0, w = _crop_side(rng, native_size[0], self.crop_scale, box[0::2] if box else None)
            y0, h = _crop_side(rng, native_size[1], self.crop_scale, box[1::2] if box else None)
            if x0 is not None and y0 is not None:
                return float(x0), float(y0), float(w), float(h)
        return None


@dataclass(frozen=True)
class AugmentParams:
    """One clip's drawn augmentation. ``crop`` is (x0, y0, w, h) in native pixels or None."""

    grayscale: bool = False
    posterize_bits: int | None = None
    equalize: bool = False
    brightness: float = 1.0
    contrast: float = 1.0
    solarize_threshold: int | None = None
    crop: Crop | None = None

    def apply(self, frames: np.ndarray) -> np.ndarray:
        """Applies the photometric operations to uint8 frames (T, H, W, 3), all frames alike.

        The frames are treated as one image stacked along H, so equalize and contrast use one
        histogram / one mean over the whole clip. The crop is not applied here.
        """
        t, h, w, _ = frames.shape
        image = Image.fromarray(np.ascontiguousarray(frames).reshape(t * h, w, 3))
        if self.grayscale:
            image = ImageOps.grayscale(image).convert("RGB")
        if self.posterize_bits is not None:
            image = ImageOps.posterize(image, self.posterize_bits)
        if self.equalize:
            image = ImageOps.equalize(image)
        out = np.asarray(image)
        if self.brightness != 1.0 or self.contrast != 1.0:
            out = _brightness_contrast(out, self.brightness, self.contrast)
        if self.solarize_threshold is not None:
            out = np.asarray(ImageOps.solarize(Image.fromarray(out), self.solarize_threshold))
        return out.reshape(t, h, w, 3)


def _brightness_contrast(image: np.ndarray, brightness: float, contrast: float) -> np.ndarray:
    scaled = image.astype(np.float32) * brightness
    mean = float((scaled @ _LUMA).mean())
    blended = (scaled - mean) * contrast + mean
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def _crop_side(rng: np.random.Generator, length: int, scale: tuple[float, float],
               keep: tuple[float, float] | None) -> tuple[int | None, int]:
    """Draws (offset, size) of a crop along one side; offset None when ``keep`` cannot fit."""
    size = min(length, max(1, round(length * rng.uniform(*scale))))
    low, high = 0, length - size
    if keep is not None:
        # points p must satisfy offset - 0.5 <= p <= offset + size - 0.5
        low = max(low, math.ceil(keep[1] + 0.5 - size))
        high = min(high, math.floor(keep[0] + 0.5))
    if low > high:
        return None, size
    return int(rng.integers(low, high + 1)), size


def _points_box(points: np.ndarray | None, native_size: tuple[int, int]) -> tuple[float, ...] | None:
    """(x_min, y_min, x_max, y_max) of the finite points inside the native frame, or None."""
    if points is None:
        return None
    xy = np.asarray(points, dtype=np.float64).reshape(-1, np.shape(points)[-1])[:, -2:]
    w, h = native_size
    inside = np.isfinite(xy).all(axis=1) & (xy[:, 0] >= -0.5) & (xy[:, 0] <= w - 0.5) \
        & (xy[:, 1] >= -0.5) & (xy[:, 1] <= h - 0.5)
    xy = xy[inside]
    if len(xy) == 0:
        return None
    return (*xy.min(axis=0), *xy.max(axis=0))


def _inclusive(bounds: tuple[int, int]) -> tuple[int, int]:
    return bounds[0], bounds[1] + 1
