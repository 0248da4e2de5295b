"""Reader for the Penn Action layout (SPEC §2), also written by ``stcorr synth``.

    ROOT/frames/NNNN/000001.jpg ...   ROOT/labels/NNNN.mat   ROOT/key_moments.json
    ROOT/object_keypoints.json (optional)   ROOT/penn_action_labels/{train,val}/{action}/NNNN.npy (optional)

Label files are read exactly as the real data set stores them: coordinates as float64, uint16 or
uint8; ``nframes`` as a uint8 or uint16 1x1 array; a ``bbox`` whose row count may differ from
``nframes``; unlabelled joints as (0, 0) with visibility 0. Frames are never read here: a
``Video`` opens them lazily.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from stcorr.data.skeleton import JOINTS
from stcorr.errors import StcorrError

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
    n = int(np.asarray(mat["nframes"]).ravel()[0])
    x, y, visible = (np.asarray(mat[f]) for f in ("x", "y", "visibility"))
    for name, array in (("x", x), ("y", y), ("visibility", visible)):
        if array.shape != (n, len(JOINTS)):
            raise StcorrError(f"field {name} has shape {array.shape}, expected ({n}, {len(JOINTS)})", path)
    height, width = (int(v) for v in np.asarray(mat["dimensions"]).ravel()[:2])
    split = int(np.asarray(mat["train"]).ravel()[0])
    bbox = np.asarray(mat.get("bbox", np.zeros((0, 4))), dtype=np.float64).reshape(-1, 4)
    return VideoLabels(
        name=path.stem,
        action=_matlab_string(mat["action"]),
        view=_matlab_string(mat["pose"]),
        split="train" if split == 1 else "val",
        x=x.astype(np.float64),
        y=y.astype(np.float64),
        visible=visible.astype(bool),
        bbox=bbox,
        width=width,
        height=height,
    )


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
    """Key moments from TCC-style per-frame phase files: key moment i is the first frame of phase i + 1."""
    moments: dict[str, list[int]] = {}
    for npy in sorted((root / "penn_action_labels").glob("*/*/*.npy")):
        phases = np.load(npy).astype(int).ravel()
        moments[npy.stem] = [int(np.argmax(phases == p)) for p in range(1, int(phases.max()) + 1) if (phases == p).any()]
    return moments


def read_object_keypoints(path: Path) -> dict[str, dict[int, dict[str, tuple[float, float]]]]:
    """``object_keypoints.json``: {"NNNN": {"<t>": {"<object>": [x, y]}}}, returned with integer t."""
    data = _read_json(path)
    try:
        return {
            str(video): {int(t): {str(o): (float(p[0]), float(p[1])) for o, p in objs.items()} for t, objs in frames.items()}
            for video, frames in data.items()
        }
    except (AttributeError, TypeError, ValueError, IndexError, KeyError):
        raise StcorrError('expected {"video": {"frame": {"object": [x, y]}}}', path) from None


def _read_json(path: Path):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise StcorrError("file not found", path) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StcorrError(f"not valid JSON ({exc})", path) from None


def check_key_moments(labels: VideoLabels, moments: list[int], source: Path) -> None:
    """A key moment must be a frame of the video, and key moments come in time order."""
    bad = [t for t in moments if not 0 <= t < labels.num_frames]
    if bad:
        raise StcorrError(
            f"video {labels.name}: key moment {bad[0]} is past the video's end ({labels.num_frames} frames)", source
        )
    if any(b < a for a, b in zip(moments, moments[1:])):
        raise StcorrError(f"video {labels.name}: key moments {moments} are not in time order", source)
