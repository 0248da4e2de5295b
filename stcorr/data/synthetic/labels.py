"""Penn Action label files (MATLAB v5), written byte-for-byte reproducibly.

Fields as in the real data set (docs/formats.md#penn-action-layout): ``action``, ``pose`` (strings),
``x``, ``y`` (nframes x 13; float64 in most files, uint16 in some, uint8 in a few, integer ones rounded), ``visibility``
(nframes x 13 uint8), ``bbox`` (rows of [x1, y1, x2, y2]; a few files have fewer rows than
frames), ``dimensions`` ([height, width, nframes] uint16), ``nframes`` (uint8 or uint16, 1x1),
``train`` (1 or -1). Joints outside the frame are (0, 0) with visibility 0; occluded joints keep
their coordinates with visibility 0.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import scipy.io

from stcorr.files import write_file

# scipy writes the current time into the 116-byte text header; a fixed text keeps files reproducible
MAT_HEADER = b"MATLAB 5.0 MAT-file, Platform: GLNXA64, Created by: stcorr synth".ljust(116, b" ")


def coordinate_dtype(number: int, size: tuple[int, int]) -> type:
    """The storage type of x and y for video ``number``: mostly float64, some uint16, a few uint8."""
    kind = number % 10
    if kind == 8 and max(size) <= 256:
        return np.uint8
    if kind in (1, 6, 8):
        return np.uint16
    return np.float64


def bbox_rows(number: int, n_frames: int) -> int:
    """How many bbox rows video ``number`` stores: a few files miss the last one or two."""
    return n_frames - 1 - (number // 11) % 2 if number % 11 == 5 else n_frames


def label_record(*, number: int, action: str, view: str, train: bool, size: tuple[int, int],
                 xy: np.ndarray, inside: np.ndarray, visible: np.ndarray, bbox: np.ndarray) -> dict:
    """The fields of one label file. ``xy`` (T, 13, 2) pixels; ``inside``, ``visible`` (T, 13) bool."""
    width, height = size
    n = len(xy)
    dtype = coordinate_dtype(number, size)
    x = np.where(inside, xy[..., 0], 0.0)
    y = np.where(inside, xy[..., 1], 0.0)
    if dtype is np.float64:
        x, y = np.round(x, 3), np.round(y, 3)
    else:
        x, y = np.round(x), np.round(y)
    unlabelled = (x == 0) & (y == 0)  # a joint that rounds onto the origin would read as unlabelled
    vis = (visible & inside & ~unlabelled).astype(np.uint8)
    return {
        "action": action,
        "pose": view,
        "x": x.astype(dtype),
        "y": y.astype(dtype),
        "visibility": vis,
        "bbox": np.round(bbox[: bbox_rows(number, n)], 3).astype(np.float64),
        "dimensions": np.array([[height, width, n]], dtype=np.uint16),
        "nframes": np.array([[n]], dtype=np.uint16 if n > 255 or number % 3 == 0 else np.uint8),
        "train": np.array([[1 if train else -1]], dtype=np.int16),
    }


def mat_bytes(record: dict) -> bytes:
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, record, format="5", do_compression=False)
    data = buffer.getvalue()
    return MAT_HEADER + data[len(MAT_HEADER):]


def write_mat(path: Path, record: dict) -> None:
    write_file(path, mat_bytes(record))
