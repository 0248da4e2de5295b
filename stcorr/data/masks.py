"""Object masks as indexed PNGs, DAVIS style: a palette image whose pixel values are labels,
0 = background and 1..K = the objects (any values 1..255; the colours are the palette's).

    mask = read_mask(path, size=video.size)       # IndexedMask: labels (H, W) uint8, palette
    write_mask(folder / mask_file_name(t, n), labels, mask.palette)

A propagated mask is written with the palette of the mask it came from, so that every frame's
objects keep their colours. Greyscale PNGs (mode L) whose pixel values are the labels are read
too and written back as greyscale.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from stcorr.errors import StcorrError
from stcorr.files import png_mark


@dataclass(frozen=True)
class IndexedMask:
    labels: np.ndarray        # (H, W) uint8, native pixels
    palette: list[int] | None  # PIL's flat [r, g, b, r, g, b, ...] of a palette image; None: greyscale

    @property
    def objects(self) -> list[int]:
        """The object labels present (non-zero values), ascending."""
        return [int(v) for v in np.unique(self.labels) if v != 0]


def read_mask(path: str | Path, size: tuple[int, int] | None = None) -> IndexedMask:
    """The indexed PNG at ``path``; with ``size`` (width, height) it must have the video's frame size.

    One-line StcorrError naming the file when it is missing, not a PNG, not indexed (palette or
    greyscale), of another size, or holds no object.
    """
    path = Path(path)
    if not path.is_file():
        raise StcorrError("mask file not found" if not path.exists() else "is not a file, expected a PNG mask", path)
    try:
        with Image.open(path) as image:
            image.load()
            kind, mode = image.format, image.mode
            labels = np.array(image) if mode in ("P", "L") else None
            palette = image.getpalette() if mode == "P" else None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        detail = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise StcorrError(f"cannot read the mask as an image ({detail})", path) from None
    if kind != "PNG":
        raise StcorrError(f"masks are indexed PNGs; this is {kind or 'an unknown format'}", path)
    if labels is None:
        raise StcorrError(f"not an indexed PNG (mode {mode}): a mask is a palette image whose values are "
                          "0 for the background and 1..K for the objects", path)
    if size is not None and (labels.shape[1], labels.shape[0]) != tuple(size):
        raise StcorrError(f"the mask is {labels.shape[1]}x{labels.shape[0]}, the video's frames are "
                          f"{size[0]}x{size[1]}", path)
    mask = IndexedMask(labels.astype(np.uint8), palette)
    if not mask.objects:
        raise StcorrError("the mask holds no object (every pixel is 0, the background)", path)
    return mask


def mask_file_name(t: int, num_frames: int) -> str:
    """Frame ``t``'s mask file: the 0-based frame index, zero-padded to 5 digits (DAVIS), more when needed."""
    return f"{t:0{max(5, len(str(max(num_frames - 1, 0))))}d}.png"


def write_mask(path: str | Path, labels: np.ndarray, palette: list[int] | None) -> None:
    """Writes (H, W) uint8 ``labels`` as a palette PNG with ``palette`` (greyscale PNG when None).

    Callers write into a ``stcorr.files.folder_writer`` folder (a mask folder appears whole)."""
    labels = np.ascontiguousarray(labels, dtype=np.uint8)
    image = Image.frombytes("L" if palette is None else "P", (labels.shape[1], labels.shape[0]), labels.tobytes())
    if palette is not None:
        image.putpalette(palette)
    image.save(path, format="PNG", pnginfo=png_mark())
