"""Reader for the Penn Action layout (docs/formats.md#penn-action-layout), also written by ``stcorr synth``.

    ROOT/frames/NNNN/000001.jpg ...   ROOT/labels/NNNN.mat   ROOT/key_moments.json
    ROOT/object_keypoints.json (optional)   ROOT/penn_action_labels/{train,val}/{action}/NNNN.npy (optional)

Label files are read exactly as the real data set stores them: coordinates as float64, uint16 or
uint8; ``nframes`` as a uint8 or uint16 1x1 array; a ``bbox`` whose row count may differ from
``nframes``; unlabelled joints as (0, 0) with visibility 0. Frames are never read here: a
``Video`` opens them lazily.

A label file is refused (``StcorrError``; a data set skips that video and counts it) when:
``nframes``, ``dimensions`` or ``train`` is not numeric, ``dimensions`` holds fewer than two
positive integers (height, width), ``x``/``y``/``visibility`` are not ``nframes`` x 13,
``visibility`` holds a value other than 0 or 1, or a visible joint's coordinate is not finite
or lies outside the frame by more than the frame's size (x outside [-width, 2 * width], y
outside [-height, 2 * height]; real annotations stray a little outside the frame, never that
far). Coordinates of joints that are not visible carry no information: non-finite ones are
read as 0. The data set (``stcorr.data.datasets``) also skips a video whose labels cover more
frames than its frame folder holds (more frames than labels is accepted: the labels cover the
first ``nframes`` frames).

``object_keypoints.json`` is refused when a coordinate is not finite; a data set also refuses
one that places an object at a frame its video does not have. JSON files are read strictly
(``stcorr.files.read_json``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from stcorr.data.phases import key_moments_from_phases
from stcorr.pose.skeleton import JOINTS
from stcorr.errors import StcorrError
from stcorr.files import read_json

LABEL_FIELDS = ("action", "pose", "x", "y", "visibility", "dimensions", "nframes", "train")


@dataclass
class VideoLabels:
    """One video's annotations, in native coordinates (t = 0-based frame, x/y = pixels)."""

    name: str
    action: str
    view: str
    split: str  # "train" or "val" (Penn Action's test split)
    x: np.ndarray  # (n_frames, 13) float64
    y: np.ndarray  # (n_frames, 13) float64
    visible: np.ndarray  # (n_frames, 13) bool
    bbox: np.ndarray  # (rows, 4) float64 [x1, y1, x2, y2]; rows may differ from n_frames
    width: int
    height: int
    key_moments: list[int] | None = None
    objects: dict[int, dict[str, tuple[float, float]]] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return self.x.shape[0]

    def joints_at(self, t: int) -> dict[str, tuple[float, float]]:
        """The joints that are keypoints of frame t (visibility 1), by name."""
        return {j: (float(self.x[t, k]), float(self.y[t, k])) for k, j in enumerate(JOINTS) if self.visible[t, k]}

    def keypoints_at(self, t: int) -> dict[str, tuple[float, float]]:
        """Visible joints and the objects annotated at frame t."""
        return {**self.joints_at(t), **self.objects.get(t, {})}


def read_label_file(path: str | Path) -> VideoLabels:
    """Reads one ``labels/NNNN.mat`` file (MATLAB v5) with every dtype quirk of the real data."""
    # scipy.io loads when a .mat label file is read
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    path = Path(path)
    try:
        mat = loadmat(str(path))
    except (MatReadError, OSError, ValueError, TypeError) as exc:
        raise StcorrError(f"cannot read label file ({str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__})", path) from None
    missing = [f for f in LABEL_FIELDS if f not in mat]
    if missing:
        raise StcorrError(f"label file lacks field(s) {', '.join(missing)}", path)
    n = _integers(mat, "nframes", 1, path)[0]
    if n < 0:
        raise StcorrError(f"field nframes is {n}, expected a frame count", path)
    height, width = _integers(mat, "dimensions", 2, path)[:2]
    if height <= 0 or width <= 0:
        raise StcorrError(f"field dimensions gives a {width}x{height} frame", path)
    split = _integers(mat, "train", 1, path)[0]
    x, y, visible = (_numbers(mat, f, path) for f in ("x", "y", "visibility"))
    for name, array in (("x", x), ("y", y), ("visibility", visible)):
        if array.shape != (n, len(JOINTS)):
            raise StcorrError(f"field {name} has shape {array.shape}, expected ({n}, {len(JOINTS)})", path)
    odd = visible[(visible != 0) & (visible != 1)]
    if odd.size:
        raise StcorrError(f"field visibility holds {odd[0]:g}, expected 0 (not visible) or 1 (visible)", path)
    visible = visible == 1
    x, y = x.astype(np.float64), y.astype(np.float64)
    for name, array, size in (("x", x, width), ("y", y, height)):
        array[~visible & ~np.isfinite(array)] = 0.0  # a joint that is not visible: its coordinates are unused
        bad = visible & ~(np.isfinite(array) & (array >= -size) & (array <= 2 * size))
        if bad.any():
            t, k = (int(i[0]) for i in np.nonzero(bad))
            where = "not a number" if not np.isfinite(array[t, k]) else f"far outside the {width}x{height} frame"
            raise StcorrError(f"visible joint {JOINTS[k]} of frame {t} has {name} = {array[t, k]:g}, {where}", path)
    try:
        bbox = np.asarray(mat.get("bbox", np.zeros((0, 4))), dtype=np.float64).reshape(-1, 4)
    except (TypeError, ValueError):
        raise StcorrError("field bbox is not rows of 4 numbers", path) from None
    return VideoLabels(
        name=path.stem,
        action=_matlab_string(mat["action"]),
        view=_matlab_string(mat["pose"]),
        split="train" if split == 1 else "val",
        x=x,
        y=y,
        visible=visible,
        bbox=bbox,
        width=width,
        height=height,
    )


def _numbers(mat: dict, name: str, path: Path) -> np.ndarray:
    """A numeric field as stored (any integer or float dtype); text or cells are refused."""
    array = np.asarray(mat[name])
    if array.dtype.kind not in "biuf":
        raise StcorrError(f"field {name} is not numeric ({array.dtype})", path)
    return array


def _integers(mat: dict, name: str, count: int, path: Path) -> list[int]:
    """The first values (at least ``count``) of a numeric field, which must be whole numbers."""
    values = _numbers(mat, name, path).ravel()
    if values.size < count:
        raise StcorrError(f"field {name} holds {values.size} value(s), expected at least {count}", path)
    values = values.astype(np.float64)
    if not (np.isfinite(values) & (values == np.round(values))).all():
        raise StcorrError(f"field {name} holds {values.tolist()[:3]}, expected whole numbers", path)
    return [int(v) for v in values]


def _matlab_string(value: np.ndarray) -> str:
    array = np.asarray(value).ravel()
    return str(array[0]).strip() if array.size else ""


def read_key_moments_json(path: Path) -> dict[str, list[int]]:
    """``key_moments.json``: {"NNNN": [t_1, ...]} with 0-based frames, in key-moment order."""
    data = _read_json(path)
    if not isinstance(data, dict) or not all(
        isinstance(v, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in v) for v in data.values()
    ):
        raise StcorrError('expected {"video": [frame, ...]} with integer frames', path)
    return {str(k): list(v) for k, v in data.items()}


def read_phase_labels(root: Path) -> dict[str, list[int]]:
    """Key moments from TCC-style per-frame phase files (``key_moments_from_phases``)."""
    return {npy.stem: key_moments_from_phases(np.load(npy))
            for npy in sorted((root / "penn_action_labels").glob("*/*/*.npy"))}


def read_object_keypoints(path: Path) -> dict[str, dict[int, dict[str, tuple[float, float]]]]:
    """``object_keypoints.json``: {"NNNN": {"<t>": {"<object>": [x, y]}}}, returned with integer t.
    Coordinates must be finite numbers; ``check_objects`` checks the frames against a video."""
    data = _read_json(path)
    shape = 'expected {"video": {"frame": {"object": [x, y]}}}'
    if not isinstance(data, dict):
        raise StcorrError(shape, path)
    objects: dict[str, dict[int, dict[str, tuple[float, float]]]] = {}
    for video, frames in data.items():
        if not isinstance(frames, dict):
            raise StcorrError(f"video {video}: {shape}", path)
        objects[str(video)] = {}
        for t, objs in frames.items():
            try:
                frame = int(t)
            except ValueError:
                raise StcorrError(f"video {video}: frame {t!r} is not a frame number", path) from None
            if not isinstance(objs, dict):
                raise StcorrError(f"video {video} frame {t}: {shape}", path)
            points = {}
            for name, p in objs.items():
                if not (isinstance(p, list) and len(p) == 2
                        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in p)):
                    raise StcorrError(f"video {video} frame {t} object {name}: expected [x, y] numbers", path)
                if not all(_finite(v) for v in p):
                    raise StcorrError(f"video {video} frame {t} object {name}: coordinates {p} are not finite", path)
                points[str(name)] = (float(p[0]), float(p[1]))
            objects[str(video)][frame] = points
    return objects


def check_objects(labels: VideoLabels, objects: dict[int, dict[str, tuple[float, float]]], source: Path) -> None:
    """Objects must be annotated at frames of the video."""
    bad = sorted(t for t in objects if not 0 <= t < labels.num_frames)
    if bad:
        raise StcorrError(f"video {labels.name}: an object at frame {bad[0]}, past the video's end "
                          f"({labels.num_frames} frames)", source)


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def _read_json(path: Path):
    return read_json(path)


def check_key_moments(labels: VideoLabels, moments: list[int], source: Path) -> None:
    """A key moment must be a frame of the video, and key moments come in time order."""
    bad = [t for t in moments if not 0 <= t < labels.num_frames]
    if bad:
        raise StcorrError(
            f"video {labels.name}: key moment {bad[0]} is past the video's end ({labels.num_frames} frames)", source
        )
    if any(b < a for a, b in zip(moments, moments[1:])):
        raise StcorrError(f"video {labels.name}: key moments {moments} are not in time order", source)
