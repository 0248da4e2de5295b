"""Shared test helpers: tiny data sets written in the real formats."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

N_JOINTS = 13


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """stcorr's caches (pose results) go to a folder of the test run, not the user's ~/.cache."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))


def write_label_file(path: Path, action: str, x, y, visibility, *, train: int = 1, pose: str = "front",
                     coord_dtype=np.float64, nframes_dtype=np.uint16, bbox_rows: int | None = None,
                     size: tuple[int, int] = (64, 48)) -> None:
    """A Penn Action label file, with the field types of the real data set."""
    n = len(x)
    rows = n if bbox_rows is None else bbox_rows
    savemat(str(path), {
        "action": action,
        "pose": pose,
        "x": np.asarray(x).astype(coord_dtype),
        "y": np.asarray(y).astype(coord_dtype),
        "visibility": np.asarray(visibility).astype(np.uint8),
        "bbox": np.tile(np.array([[1.0, 2.0, 30.0, 40.0]]), (rows, 1)),
        "dimensions": np.array([[size[1], size[0], n]], dtype=np.uint16),
        "nframes": np.array([[n]], dtype=nframes_dtype),
        "train": np.array([[train]], dtype=np.int16),
    })


def write_frames(folder: Path, n: int, size: tuple[int, int] = (64, 48), seed: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for t in range(n):
        Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(folder / f"{t + 1:06d}.jpg")


def make_penn(root: Path, videos: dict[str, dict], objects: dict | None = None) -> Path:
    """videos: name -> {action, train, n, key_moments, x, y, visibility (optional arrays), ...label kwargs}."""
    (root / "labels").mkdir(parents=True)
    moments = {}
    for name, spec in videos.items():
        spec = dict(spec)
        n = spec.pop("n")
        rng = np.random.default_rng(int(name))
        x = spec.pop("x", rng.uniform(5, 60, (n, N_JOINTS)).round())
        y = spec.pop("y", rng.uniform(5, 44, (n, N_JOINTS)).round())
        vis = spec.pop("visibility", np.ones((n, N_JOINTS)))
        if "key_moments" in spec:
            moments[name] = spec.pop("key_moments")
        write_label_file(root / "labels" / f"{name}.mat", spec.pop("action"), x, y, vis, **spec)
        write_frames(root / "frames" / name, n, seed=int(name))
    (root / "key_moments.json").write_text(json.dumps(moments))
    if objects is not None:
        (root / "object_keypoints.json").write_text(json.dumps(objects))
    return root


def add_3d_stand_ins(root: Path) -> None:
    """For every video of a Penn-layout set: true 3D joints in ``joints3d/`` (as ``stcorr synth``
    writes them) and, where MediaPipe is installed, a stand-in MediaPipe track in the pose cache
    (the real file format and key) whose world joints are the truth with its depth halved and
    noise: what the lifter learner reads."""
    from stcorr.data.datasets import open_dataset
    from stcorr.data.synthetic.build import CAMERA_JOINTS

    (root / CAMERA_JOINTS).mkdir(exist_ok=True)
    dataset = open_dataset(root)
    try:
        from stcorr.pose.cache import MediaPipePose, track_to_bytes
        from stcorr.pose.mediapipe import LANDMARKS, PENN_INDEX
        from stcorr.pose.skeleton import JOINTS
        from stcorr.pose.track import JointTrack

        from stcorr.pose.mediapipe import MissingExtra

        cache = MediaPipePose().cache  # not .shared(): tests that hide MediaPipe need a fresh one
    except (ImportError, MissingExtra):  # MediaPipe not installed: the truth only
        cache = None
    for name in dataset.videos():
        rng = np.random.default_rng(int(name))
        n = dataset.labels[name].num_frames
        truth = rng.normal(0, 0.3, (1, 13, 3)) + rng.normal(0, 0.05, (n, 13, 3))
        np.save(root / CAMERA_JOINTS / f"{name}.npy", truth.astype(np.float32))
        if cache is None:
            continue
        video = dataset.video(name)
        seen = truth * [1, 1, 0.5] + rng.normal(0, 0.02, truth.shape)
        world = np.repeat(seen[:, JOINTS.index("head"), None], len(LANDMARKS), 1)  # the face's landmarks at the head
        world[:, PENN_INDEX] = seen
        world[n // 2] = np.nan  # nobody found in one frame
        xy = 20 + 10 * world[..., :2]
        track = JointTrack(xy, np.where(np.isfinite(xy[..., 0]), 0.9, 0.0), LANDMARKS, video.size, world,
                           np.zeros((n, len(LANDMARKS))))
        (cache.folder).mkdir(parents=True, exist_ok=True)
        (cache.folder / f"{cache.key(video)}.npz").write_bytes(track_to_bytes(track))


@pytest.fixture(scope="module")
def golf(tmp_path_factory) -> Path:
    """Eight golf videos (five train, three val) of 20-27 frames with two key moments each; with
    the 3D stand-ins of ``add_3d_stand_ins``."""
    videos = {f"{i + 1:04d}": {"action": "golf_swing", "train": 1 if i < 5 else -1, "n": 20 + i, "key_moments": [3, 15 + i]}
              for i in range(8)}
    root = make_penn(tmp_path_factory.mktemp("golf") / "penn", videos)
    add_3d_stand_ins(root)
    return root


@pytest.fixture
def tiny_penn(tmp_path: Path) -> Path:
    """Three golf videos per split (two key moments each), one val video without key moments."""
    videos = {}
    for i, (split, n) in enumerate([(1, 12), (1, 10), (1, 14), (-1, 11), (-1, 13), (-1, 9), (-1, 8)]):
        spec = {"action": "golf_swing", "train": split, "n": n}
        if i != 6:
            spec["key_moments"] = [2, n - 3]
        videos[f"{i + 1:04d}"] = spec
    objects = {"0004": {"2": {"club_head": [10.0, 11.0]}}, "0005": {"2": {"club_head": [20.0, 21.0]}}}
    return make_penn(tmp_path / "penn", videos, objects)
