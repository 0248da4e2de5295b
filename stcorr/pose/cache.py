"""MediaPipe Pose on every frame of a video, computed once and kept on disk.

A ``JointTrack`` (``stcorr.pose.track``) holds MediaPipe's 33 landmarks (``LANDMARKS``) for each
frame of one video. ``PoseCache.track`` returns it from memory, else from ``FOLDER/KEY.npz``, else
runs the detector on every frame and writes that file (through ``stcorr.files``). ``KEY`` is a
SHA-256 of the video's content (the bytes of the video file, or of each frame file in frame order:
renaming or moving a video keeps its poses, changing one frame drops them) and of the detector's
settings (model, its version, ``model_complexity``, static-image mode, and the test-time
augmentation when there is one); the temporal filter is applied to a track as it is read
(``mediapipe_cache``). Every pose method of a process and of later runs (``eval``, ``table``,
``compare``) shares one track per video, and so do the time aligners (``dtw-pose``) and the
spatial matcher (``pose``): a second method on the same videos spends no time on pose.

The folder is ``baseline.pose.cache`` when set, else ``$XDG_CACHE_HOME/stcorr/pose`` (or
``~/.cache/stcorr/pose``).

``MediaPipePose`` is the one adapter over the cache: the 13 Penn joints of a video (``track``), the
joints the pose maps draw (``seen``) and the ``pose`` matcher's skeletons (``poses``).

Coordinates: landmark x, y in native pixels (x right, y down, pixel centres at integers,
``x = x_normalised * width - 0.5`` as in ``stcorr.pose.mediapipe``), depth MediaPipe's z in the
same scale as x; world landmarks in metres, centred between the hips (MediaPipe's
``pose_world_landmarks``).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol

import numpy as np

from stcorr.data.video import Video
from stcorr.files import write_file
from stcorr.progress import progress_bar
from stcorr.settings import default_section
from stcorr.pose.augment import LIMBS, MIRRORED_LANDMARKS, AugmentedLandmarker
from stcorr.pose.filtering import side_labelling, smooth_track
from stcorr.pose.mediapipe import LANDMARKS, PENN_INDEX, PoseDetector, penn_track, require_mediapipe
from stcorr.pose.skeleton import Joints
from stcorr.pose.track import JointTrack

N_LANDMARKS = len(LANDMARKS)
LONG_VIDEO_FRAMES = 300  # from here (10 s at 30 fps) the pose pass shows a progress bar
FORMAT = 1  # bump when the stored arrays change meaning


class FrameLandmarker(Protocol):
    """What the cache runs on each frame: RGB uint8 (H, W, 3) -> (landmarks (33, 4) x, y, z,
    visibility with x, y normalised to [0, 1]; world (33, 3) metres), or None when nobody is found."""

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None: ...


class MediaPipeLandmarker:
    """MediaPipe Pose, one frame at a time: static-image mode (as the ``pose`` matcher runs it), or
    with ``tracking`` its video mode (the frames of one video, in order)."""

    def __init__(self, model_complexity: int = 1, tracking: bool = False):
        self.detector = PoseDetector(0.0, model_complexity, tracking)

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        found = self.detector.landmarks(frame)
        if found is None:
            return None
        image, world = found
        return (np.array([(m.x, m.y, m.z, m.visibility) for m in image], dtype=np.float64),
                np.array([(m.x, m.y, m.z) for m in world], dtype=np.float64))


def stored_landmarks(track: JointTrack) -> np.ndarray:
    """(T, 33, 4) x, y, depth, visibility of a track of the 33 landmarks, as the cache stores them
    (a landmark not found is NaN throughout, its visibility too)."""
    visibility = np.where(np.isfinite(track.xy[..., 0]), track.visibility, np.nan)
    return np.concatenate([track.xy, track.depth[..., None], visibility[..., None]], axis=2)


def track_to_bytes(track: JointTrack) -> bytes:
    """A track of the 33 landmarks as the cache stores it: ``landmarks`` (``stored_landmarks``),
    ``world`` (T, 33, 3), ``size`` (2,)."""
    buffer = io.BytesIO()
    np.savez(buffer, landmarks=stored_landmarks(track), world=track.world, size=np.array(track.size))
    return buffer.getvalue()


def track_from_bytes(data: bytes) -> JointTrack:
    """The track ``track_to_bytes`` stored (visibility 0 where nobody was found)."""
    with np.load(io.BytesIO(data)) as arrays:
        landmarks, world, size = arrays["landmarks"], arrays["world"], tuple(int(v) for v in arrays["size"])
    return landmark_track(landmarks, world, (size[0], size[1]))


def carried_to_bytes(track: JointTrack) -> bytes:
    """A carried track (``MediaPipePose`` with ``carry``) as stored beside the cache: ``xy``, ``visibility``."""
    buffer = io.BytesIO()
    np.savez(buffer, xy=track.xy, visibility=track.visibility)
    return buffer.getvalue()


def carried_from_bytes(data: bytes, track: JointTrack) -> JointTrack:
    """``track`` with the joints ``carried_to_bytes`` stored."""
    with np.load(io.BytesIO(data)) as arrays:
        return replace(track, xy=arrays["xy"], visibility=arrays["visibility"])


def landmark_track(landmarks: np.ndarray, world: np.ndarray, size: tuple[int, int]) -> JointTrack:
    """The track of ``landmarks`` (T, 33, 4) x, y native pixels, depth, visibility (NaN where nobody
    was found) and ``world`` (T, 33, 3)."""
    return JointTrack(landmarks[..., :2], np.nan_to_num(landmarks[..., 3], nan=0.0), LANDMARKS, size, world,
                      landmarks[..., 2])


def detect_track(video: Video, landmarker: Callable) -> JointTrack:
    """Runs ``landmarker`` on every frame of ``video`` (read in order, a chunk at a time), with a
    progress bar for a video of ``LONG_VIDEO_FRAMES`` frames or more (MediaPipe: ~0.06 CPU s a frame)."""
    n = video.num_frames
    landmarks = np.full((n, N_LANDMARKS, 4), np.nan)
    world = np.full((n, N_LANDMARKS, 3), np.nan)
    width, height = video.size
    if hasattr(landmarker, "new_video"):
        landmarker.new_video()
    with progress_bar(f"pose {video.path.name}", n, enabled=n >= LONG_VIDEO_FRAMES) as bar:
        for t, frame in enumerate(video.iter_frames()):
            bar.advance()
            found = landmarker(frame)
            if found is None:
                continue
            image, world[t] = found
            landmarks[t] = image
            landmarks[t, :, 0] = image[:, 0] * width - 0.5
            landmarks[t, :, 1] = image[:, 1] * height - 0.5
    return landmark_track(landmarks, world, (width, height))


def content_hash(video: Video) -> str:
    """SHA-256 of the video's bytes: the file, or each frame file in frame order."""
    digest = hashlib.sha256()
    files = video.frame_files if video.path.is_dir() else [video.path]
    for path in files:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0frame\0")
    return digest.hexdigest()


def default_cache_folder() -> Path:
    """``$XDG_CACHE_HOME/stcorr/pose``, or ``~/.cache/stcorr/pose``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stcorr" / "pose"


class PoseCache:
    """Pose tracks of whole videos, on disk in ``folder`` and in memory (see the module docstring).

    ``landmarker`` is made on first use (MediaPipe starts only when a track must be computed).
    ``computed`` counts the tracks computed by this object (not read back).
    """

    def __init__(self, make_landmarker: Callable[[], Any], settings: Mapping[str, Any], folder: str | Path | None = None,
                 finish: Callable[[JointTrack], JointTrack] | None = None):
        self.make_landmarker = make_landmarker
        self.settings = dict(settings)
        self.finish = finish or (lambda track: track)
        self.folder = Path(folder) if folder else default_cache_folder()
        self.computed = 0
        self._landmarker: Any = None
        self._tracks: dict[str, JointTrack] = {}
        self._hashes: dict[tuple, str] = {}

    def key(self, video: Video) -> str:
        """The cache key of ``video``: content and detector settings."""
        identity = _identity(video)
        if identity not in self._hashes:
            self._hashes[identity] = content_hash(video)
        text = json.dumps({"video": self._hashes[identity], "detector": self.settings, "format": FORMAT}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def track(self, video: Video) -> JointTrack:
        """The video's track as stored (computed if missing), then ``finish``ed (the temporal filter)."""
        key = self.key(video)
        if key not in self._tracks:
            self._tracks[key] = self.finish(self._read(key) or self._compute(video, key))
        return self._tracks[key]

    def _read(self, key: str) -> JointTrack | None:
        path = self.folder / f"{key}.npz"
        try:
            return track_from_bytes(path.read_bytes())
        except (OSError, ValueError, KeyError, EOFError):  # absent or unreadable: computed again
            return None

    def _compute(self, video: Video, key: str) -> JointTrack:
        if self._landmarker is None or not self.settings.get("static_image_mode", True):
            self._landmarker = self.make_landmarker()  # the video mode follows one person: a fresh graph per video
        track = detect_track(video, self._landmarker)
        self.computed += 1
        write_file(self.folder / f"{key}.npz", track_to_bytes(track))
        return track


def _identity(video: Video) -> tuple:
    """What changes when the video's bytes may have changed (path, size, modification time of each file)."""
    files = video.frame_files if video.path.is_dir() else [video.path]
    return tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files)


def filtered_track(track: JointTrack, filter_settings: Mapping[str, Any], min_visibility: float) -> JointTrack:
    """``track`` (the 33 landmarks) with x, y, depth and world filtered in time (``stcorr.pose.filtering``):
    left and right kept the same from frame to frame (``sides``), then smoothed and gaps filled."""
    values = np.concatenate([track.xy, track.depth[..., None], track.world], axis=2)  # (T, 33, 6): x, y, depth, world
    visibility = track.visibility.copy()
    if filter_settings["sides"]:
        swap = side_labelling(values[..., :2], visibility, MIRRORED_LANDMARKS, LIMBS)
        values[swap], visibility[swap] = values[swap][:, MIRRORED_LANDMARKS], visibility[swap][:, MIRRORED_LANDMARKS]
    smoothed, visibility = smooth_track(values, visibility, int(filter_settings["window"]),
                                        int(filter_settings["degree"]), int(filter_settings["max_gap"]), min_visibility)
    return JointTrack(smoothed[..., :2], visibility, track.names, track.size, smoothed[..., 3:], smoothed[..., 2])


def mediapipe_cache(pose_settings: Mapping[str, Any]) -> PoseCache:
    """The cache of MediaPipe tracks under the config's ``baseline.pose`` settings; MediaPipe is
    checked for now (a one-line MissingExtra without it) but started only when a track is missing.

    ``augment`` (flip, crop, crop_margin) runs the augmented pass (``stcorr.pose.augment``) and is
    part of the key of the stored tracks; ``filter`` (sides, window, degree, max_gap) is applied to the
    tracks as they are read (cheap, not stored). Absent, either is off: the plain pass."""
    mediapipe = require_mediapipe()
    complexity = int(pose_settings["model_complexity"])
    tracking = bool(pose_settings.get("tracking", False))
    settings: dict[str, Any] = {"model": "mediapipe-pose", "version": mediapipe.__version__,
                                "model_complexity": complexity, "static_image_mode": not tracking}
    augment = pose_settings.get("augment") or {"flip": False, "crop": None}
    augmented = bool(augment["flip"]) or augment["crop"] is not None
    if augmented:  # the plain pass keeps the key it always had, so its stored tracks stay valid
        settings["augment"] = {"flip": bool(augment["flip"]), "crop": augment["crop"]}
        if augment["crop"] is not None:  # the margin matters only with a crop
            settings["augment"]["crop_margin"] = float(augment["crop_margin"])
            settings["augment"]["crop_weight"] = "zoom"  # crop passes weighted by their zoom
        for key in ("flip_below", "crop_below", "crop_zoom"):  # the frames the extra passes run on
            if augment.get(key) is not None:
                settings["augment"][key] = float(augment[key])
        for key in ("hold_box", "search_every"):  # absent from earlier keys
            if augment["crop"] is not None and int(augment.get(key) or 0) > 0:
                settings["augment"][key] = int(augment[key])

    def make() -> Callable:
        plain = MediaPipeLandmarker(complexity, tracking)
        if not augmented:
            return plain
        single_frames = MediaPipeLandmarker(complexity) if tracking else plain  # mirrored frames and crops break a track
        return AugmentedLandmarker(plain, augment["flip"], augment["crop"], float(augment["crop_margin"]),
                                   augment.get("flip_below"), augment.get("crop_below"), augment.get("crop_zoom"),
                                   judged=PENN_INDEX, extra=single_frames, hold_box=int(augment.get("hold_box") or 0),
                                   search_every=int(augment.get("search_every") or 0))

    flt = pose_settings.get("filter")
    finish = None
    if flt and (int(flt["window"]) > 0 or int(flt["max_gap"]) > 0 or flt["sides"]):
        min_visibility = float(pose_settings["min_visibility"])
        finish = lambda track: filtered_track(track, flt, min_visibility)  # noqa: E731
    return PoseCache(make, settings, pose_settings.get("cache"), finish)


def pose_settings(pose: Mapping[str, Any] | None) -> dict[str, Any]:
    """``pose`` over cpu.yaml's ``baseline.pose`` values of the keys MediaPipe always needs
    (``min_visibility``, ``model_complexity``, ``cache``); absent ``augment`` and ``filter`` stay
    off (the plain pass, ``mediapipe_cache``)."""
    section = default_section("baseline.pose")
    return {**{key: section[key] for key in ("min_visibility", "model_complexity", "cache")}, **(pose or {})}


class JointCarrier(Protocol):
    """Fills the joints a track does not see from the frames where it does (``stcorr.baselines.carry``)."""

    identity: str  # what changes its answers (features and settings): part of the stored tracks' key

    def __call__(self, video: Video, track: JointTrack) -> JointTrack: ...


class MediaPipePose:
    """MediaPipe's joints of whole videos through the pose cache of the ``baseline.pose`` settings
    (``min_visibility``, ``model_complexity``, ``cache``, ``augment``, ``filter``; absent ones as
    ``pose_settings`` fills them): the one MediaPipe adapter.
    Without MediaPipe installed, building one raises a one-line ``MissingExtra``."""

    def __init__(self, pose: Mapping[str, Any] | None = None, pose_cache: PoseCache | None = None,
                 carry: JointCarrier | None = None):
        """``pose_cache``: tracks from this cache instead of the settings' (a stand-in for MediaPipe).
        ``name`` tells the two passes apart ("mediapipe": single frames; "mediapipe-video": the
        person followed), as compare's noise floors were measured on the first only. ``carry``:
        the unseen joints of every track filled by it (stored beside the cache's tracks)."""
        settings = pose_settings(pose)
        self.name = "mediapipe-video" if settings.get("tracking") else "mediapipe"
        self.min_visibility = settings["min_visibility"]
        self.cache = pose_cache or mediapipe_cache(settings)
        self.carry = carry
        self._carried: dict[str, JointTrack] = {}

    def track(self, video: Video) -> JointTrack:
        """The 13 Penn joints of every frame, with their world joints (a ``compare`` ``PoseSource``)."""
        track = penn_track(self.cache.track(video))
        return track if self.carry is None else self._carried_track(video, track)

    def _carried_track(self, video: Video, track: JointTrack) -> JointTrack:
        """``track`` with ``carry``'s joints: computed once per video and settings, kept on disk."""
        text = json.dumps({"track": self.cache.key(video), "carry": self.carry.identity}, sort_keys=True)
        key = hashlib.sha256(text.encode()).hexdigest()[:32]
        if key not in self._carried:
            path = self.cache.folder / f"{key}.carried.npz"
            try:
                carried = carried_from_bytes(path.read_bytes(), track)
            except (OSError, ValueError, KeyError, EOFError):  # absent or unreadable: carried again
                carried = self.carry(video, track)
                write_file(path, carried_to_bytes(carried))
            self._carried[key] = carried
        return self._carried[key]

    def seen(self, video: Video) -> JointTrack:
        """The track with visibility 1 where a joint reaches ``min_visibility``, else 0: what pose maps draw."""
        return self.track(video).thresholded(self.min_visibility)

    def poses(self, video: Video, t: int) -> list[Joints]:
        """Frame t's skeleton (joints reaching ``min_visibility``), as the ``pose`` matcher's detector gives it."""
        joints = self.track(video).joints_at(int(t), self.min_visibility)
        return [joints] if joints else []

    def visibility(self, video: Video, t: int) -> dict[str, float]:
        """Frame t's MediaPipe visibility of each Penn joint (0 where nobody was found)."""
        track = self.track(video)
        return dict(zip(track.names, track.visibility[int(t)].tolist()))

    @classmethod
    def shared(cls, pose: Mapping[str, Any] | None = None) -> "MediaPipePose":
        """One instance (and so one cache in memory) per distinct settings in a process."""
        key = json.dumps(pose_settings(pose), sort_keys=True)
        if key not in _SHARED:
            _SHARED[key] = cls(pose)
        return _SHARED[key]


_SHARED: dict[str, MediaPipePose] = {}
