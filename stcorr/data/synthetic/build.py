"""``stcorr synth``: write the synthetic benchmark in the Penn Action layout (docs/formats.md#penn-action-layout).

    ROOT/frames/NNNN/000001.jpg ...   JPEG frames, 1-based
    ROOT/labels/NNNN.mat              label files
    ROOT/key_moments.json             {"NNNN": [t, ...]}  0-based frames, in the action's key-moment order
    ROOT/object_keypoints.json        {"NNNN": {"t": {"object": [x, y]}}}  0-based frames, native pixels
    ROOT/penn_action_labels/{train,val}/{action}/NNNN.npy   TCC-style phase index per frame
                                                            (docs/formats.md#penn-action-layout)
    ROOT/motion_phase.json            {"NNNN": [p, ...]}  the motion's phase per frame (stcorr.data.dense)
    ROOT/joints3d/NNNN.npy            (T, 13, 3) float32 true 3D joints (Penn order, metres) in the camera's
                                      axes: x right, y down, z away (MediaPipe's world frame, translated)
    ROOT/synth.json                   how the set was made (marks the folder as synth output); with
                                      realism above 0 also the level and the photographs used (name, sha256)

Over an earlier synth output, the folder is replaced only when it holds nothing but what synth
writes; a folder with anything else in it (the user's files) is refused.

Videos are numbered from 0001 over the actions (in the order asked for), each action's training
videos before its validation ones. Video i of an action and split comes from the seed sequence
(seed, split, action, i) alone, so the same arguments give the same bytes whatever the number of
workers, and training and validation videos never coincide.
"""

from __future__ import annotations

import json
import multiprocessing
import operator
import os
import re
import shutil
import tempfile
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from stcorr.data.phases import MOTION_PHASE_FILE, phases_from_key_moments
from stcorr.data.synthetic.actions import ACTIONS
from stcorr.data.synthetic.clip import JPEG_QUALITY, make_clip, render_frames
from stcorr.data.synthetic.labels import label_record, write_mat
from stcorr.data.synthetic.realism import Photo, folder_photos, packaged_photos
from stcorr.errors import StcorrError

MANIFEST = "synth.json"
GENERATOR = "stcorr synth"
FORMAT_VERSION = 1
SPLITS = ("train", "val")
PHASE_LABELS = "penn_action_labels"
CAMERA_JOINTS = "joints3d"
OWN_ENTRIES = {"frames", "labels", "key_moments.json", "object_keypoints.json", PHASE_LABELS, MOTION_PHASE_FILE, MANIFEST,
               CAMERA_JOINTS}


@dataclass(frozen=True)
class VideoTask:
    number: int
    action: str
    split: str
    entropy: tuple[int, ...]
    size: tuple[int, int]
    root: str
    realism: float = 0.0
    photos: tuple[Photo, ...] = ()


def make_video(task: VideoTask) -> dict:
    """Draw one video into ``task.root``; return its key moments and object keypoints."""
    clip = make_clip(task.action, task.entropy, task.size, realism=task.realism, photos=task.photos)
    name = f"{task.number:04d}"
    folder = Path(task.root) / "frames" / name
    folder.mkdir(parents=True)
    inside, visible = [], []
    for t, (image, ins, vis) in enumerate(render_frames(clip)):
        image.save(folder / f"{t + 1:06d}.jpg", format="JPEG", quality=JPEG_QUALITY)
        inside.append(ins)
        visible.append(vis)
    record = label_record(number=task.number, action=task.action, view=clip.camera.view, train=task.split == "train",
                          size=task.size, xy=clip.joints_xy(), inside=np.array(inside), visible=np.array(visible),
                          bbox=clip.body_box())
    write_mat(Path(task.root) / "labels" / f"{name}.mat", record)
    objects = {str(t): points for t, points in clip.object_points().items()}
    phase_folder = Path(task.root) / PHASE_LABELS / task.split / task.action
    phase_folder.mkdir(parents=True, exist_ok=True)
    np.save(phase_folder / f"{name}.npy", phases_from_key_moments(clip.n_frames, clip.key_moments))
    (Path(task.root) / CAMERA_JOINTS).mkdir(exist_ok=True)
    np.save(Path(task.root) / CAMERA_JOINTS / f"{name}.npy", clip.camera_joints().astype(np.float32))
    return {"number": task.number, "split": task.split, "frames": clip.n_frames, "key_moments": clip.key_moments,
            "objects": objects, "phase": [round(float(p), 4) for p in clip.performance.phase()]}


def read_camera_joints(root: str | Path, name: str) -> np.ndarray | None:
    """Video ``name``'s true 3D joints in the camera's axes (T, 13, 3), or None where the set has none
    (not made by synth, or by a synth before they were written)."""
    path = Path(root) / CAMERA_JOINTS / f"{name}.npy"
    return np.load(path) if path.is_file() else None


def video_tasks(root: Path, seed: int, videos_per_action: int, size: tuple[int, int],
                actions: list[str], realism: float = 0.0, photos: Sequence[Photo] = ()) -> list[VideoTask]:
    """The videos of a set, numbered as in the layout, each with the seed it is drawn from."""
    order = list(ACTIONS)
    tasks, number = [], 0
    for action in actions:
        for split_index, split in enumerate(SPLITS):
            for i in range(videos_per_action):
                number += 1
                entropy = (seed, split_index, order.index(action), i)
                tasks.append(VideoTask(number, action, split, entropy, size, str(root), realism, tuple(photos)))
    return tasks


def _integer(value, name: str, least: int) -> int:
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)
    except TypeError:
        raise StcorrError(f"{name} must be an integer, got {value!r}") from None
    if number < least:
        raise StcorrError(f"{name} must be at least {least}, got {number}")
    return number


def _check_arguments(seed, videos_per_action, size, actions, workers) -> tuple[tuple[int, int], list[str]]:
    _integer(seed, "seed", 0)
    _integer(videos_per_action, "videos_per_action", 1)
    try:
        width, height = (int(v) for v in size)
    except (TypeError, ValueError):
        raise StcorrError(f"size must be (width, height), got {size!r}") from None
    if not (32 <= width <= 4096 and 32 <= height <= 4096):
        raise StcorrError(f"frame size must be 32 to 4096 pixels a side, got {width}x{height}")
    chosen = list(dict.fromkeys(actions)) if actions is not None else list(ACTIONS)
    unknown = [a for a in chosen if a not in ACTIONS]
    if unknown or not chosen:
        raise StcorrError(f"unknown action(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(ACTIONS)}")
    _integer(workers, "workers", 1)
    return (width, height), chosen


def is_synth_output(folder: Path) -> bool:
    try:
        return json.loads((folder / MANIFEST).read_text()).get("generator") == GENERATOR
    except (OSError, ValueError, AttributeError):
        return False


def _check_target(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise StcorrError("exists and is not a folder", out)
    if out.is_dir() and any(out.iterdir()) and not is_synth_output(out):
        raise StcorrError(f"folder is not empty and not an earlier `stcorr synth` output (no {MANIFEST}); "
                          "choose a new or empty folder", out)
    foreign = sorted(p.name for p in out.iterdir() if p.name not in OWN_ENTRIES) if out.is_dir() else []
    foreign = foreign or (_foreign_inside(out) if out.is_dir() else [])
    if foreign:
        raise StcorrError(f"earlier `stcorr synth` output holds files synth did not write ({', '.join(foreign[:3])}); "
                          "move them or choose another folder", out)


# what synth writes inside its folders (the module docstring); anything else there is the user's
OWN_INSIDE = {"frames": re.compile(r"\d+/\d+\.jpg"), "labels": re.compile(r"\d+\.mat"),
              PHASE_LABELS: re.compile(r"(train|val)/[a-z_]+/\d+\.npy"), CAMERA_JOINTS: re.compile(r"\d+\.npy")}


def _foreign_inside(out: Path) -> list[str]:
    """Files (and links) inside an earlier synth output's folders that synth does not write there, as paths from ``out``."""
    foreign = []
    for name, pattern in OWN_INSIDE.items():
        folder = out / name
        if folder.is_symlink() or not folder.is_dir():
            continue
        for entry in folder.rglob("*"):
            relative = entry.relative_to(folder).as_posix()
            if (entry.is_symlink() or not entry.is_dir()) and not pattern.fullmatch(relative):
                foreign.append(f"{name}/{relative}")
    return sorted(foreign)


def _replace(tmp: Path, out: Path) -> None:
    """Move the finished set into place; an earlier synth output there is removed only afterwards."""
    old = None
    if out.is_dir():
        if any(out.iterdir()):
            old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
            out.rename(old)
        else:
            out.rmdir()
    try:
        tmp.rename(out)
    except BaseException:
        if old is not None:
            old.rename(out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _pool_context():
    """Fork where there is fork: workers start at once, and a user's script without a
    ``__main__`` guard is not run again in them (as spawn and forkserver would)."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _run(tasks: list[VideoTask], workers: int, progress: bool) -> list[dict]:
    results: dict[int, dict] = {}
    bar = None
    try:
        if workers == 1 or len(tasks) == 1:
            bar = _ProgressBar(len(tasks)) if progress else None
            for task in tasks:
                results[task.number] = make_video(task)
                if bar:
                    bar.advance()
        else:
            with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=_pool_context()) as pool:
                pending: set[Future] = {pool.submit(make_video, task) for task in tasks}
                bar = _ProgressBar(len(tasks)) if progress else None  # its thread starts after the workers
                try:
                    while pending:
                        done, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for future in done:
                            result = future.result()
                            results[result["number"]] = result
                            if bar:
                                bar.advance()
                except BaseException:
                    for future in pending:
                        future.cancel()
                    raise
    finally:
        if bar:
            bar.stop()
    return [results[n] for n in sorted(results)]


class _ProgressBar:
    def __init__(self, total: int):
        # rich.progress costs ~0.5 s at start-up: loaded when a bar is shown
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.progress = Progress(TextColumn("synth"), BarColumn(), MofNCompleteColumn(), TextColumn("videos"),
                                 TimeElapsedColumn(), TimeRemainingColumn())
        self.task = self.progress.add_task("synth", total=total)
        self.progress.start()

    def advance(self) -> None:
        self.progress.advance(self.task)

    def stop(self) -> None:
        self.progress.stop()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, separators=(",", ":")) + "\n")


def _realism_arguments(realism, backgrounds) -> tuple[float, list[Photo]]:
    """The realism level and the background photographs: the folder given, else those inside
    installed packages (none is fine: the drawn backgrounds stay)."""
    try:
        level = float(realism)
    except (TypeError, ValueError):
        raise StcorrError(f"realism must be a number from 0 to 1, got {realism!r}") from None
    if not 0 <= level <= 1:
        raise StcorrError(f"realism must be from 0 to 1, got {realism!r}")
    if backgrounds is not None and level == 0:
        raise StcorrError("background photographs are used only with realism above 0", backgrounds)
    if level == 0:
        return level, []
    return level, folder_photos(backgrounds) if backgrounds is not None else packaged_photos()


def generate(out: str | Path, seed: int = 0, videos_per_action: int = 20, size: tuple[int, int] = (128, 128),
             actions: Sequence[str] | None = None, workers: int = 2, progress: bool = False,
             realism: float = 0.0, backgrounds: str | Path | None = None) -> dict:
    """Write the synthetic benchmark into ``out`` (a new, empty, or earlier synth folder).

    ``videos_per_action`` videos per action and per split (train, val); ``size`` is (width, height)
    of the frames. ``realism`` from 0 (the plain look) to 1 adds photographs as backgrounds (from
    the folder ``backgrounds``, else those inside installed packages), textures, motion blur,
    lighting changes, camera motion and zoom, occluders and compression (realism.py). The set is
    built in a hidden sibling folder and moved into place at the end, so a failure leaves nothing
    half-written. Returns counts of videos and frames per split and the seconds taken.
    """
    size, chosen = _check_arguments(seed, videos_per_action, size, actions, workers)
    realism, photos = _realism_arguments(realism, backgrounds)
    seed, videos_per_action, workers = int(seed), int(videos_per_action), int(workers)
    out = Path(out).expanduser().absolute()
    _check_target(out)
    start = time.perf_counter()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    except OSError as err:
        raise StcorrError(f"cannot write there ({err.strerror or err})", out.parent) from None
    try:
        (tmp / "frames").mkdir()
        (tmp / "labels").mkdir()
        results = _run(video_tasks(tmp, seed, videos_per_action, size, chosen, realism, photos), workers, progress)
        _write_json(tmp / "key_moments.json", {f"{r['number']:04d}": r["key_moments"] for r in results})
        _write_json(tmp / "object_keypoints.json", {f"{r['number']:04d}": r["objects"] for r in results})
        _write_json(tmp / MOTION_PHASE_FILE, {f"{r['number']:04d}": r["phase"] for r in results})
        counts = {split: sum(r["split"] == split for r in results) for split in SPLITS}
        frames = {split: sum(r["frames"] for r in results if r["split"] == split) for split in SPLITS}
        manifest = {"generator": GENERATOR, "format": FORMAT_VERSION, "seed": seed, "videos_per_action": videos_per_action,
                    "size": list(size), "actions": chosen, "videos": counts, "frames": frames}
        if realism > 0:
            manifest.update(realism=realism, backgrounds=[{"file": Path(p.path).name, "sha256": p.sha256} for p in photos])
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; the set is an ordinary folder
        _replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"root": str(out), "seed": seed, "videos": counts, "frames": frames,
            "seconds": round(time.perf_counter() - start, 2)}
