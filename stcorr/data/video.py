"""The one video reader of stcorr: a video file (through PyAV) or a folder of frames.

Frames are read lazily, only those asked for; nothing holds a whole video. All frames come
back as ``uint8`` arrays of shape ``(H, W, 3)`` (RGB); frame ``t`` is the ``t``-th frame of the
video in presentation order (0-based), as in docs/formats.md#coordinates.

Video files: the frame count and each frame's timestamp come from the container's packet
index (read once per file, without decoding). ``frames(indices)`` seeks to the keyframe before
each wanted frame and decodes forward from there, or keeps decoding when the wanted frame lies
ahead in the same stretch, so reading a whole video in order is one streaming pass. Files
whose packets carry no timestamps are read by counting decoded frames from the start.

Decoded frames are kept in one cache shared by every ``Video`` of the process, bounded in
bytes (``STCORR_FRAME_CACHE_MB``, default 256; 0 turns it off), least recently used first out.
Training grows it to hold its training videos' frames (``reserve_frame_cache``, at most 1 GB):
each is read again at every visit, and JPEG decoding was most of the data work of a step.
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from stcorr.errors import StcorrError
from stcorr.files import MARK, file_writer

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
FRAME_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
DEFAULT_CACHE_MB = 256


class FrameCache:
    """Decoded frames by (source, index), at most ``max_bytes`` in all, least recently used out."""

    def __init__(self, max_bytes: int):
        self.max_bytes = int(max_bytes)
        self.bytes = 0
        self._frames: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> np.ndarray | None:
        with self._lock:
            frame = self._frames.get(key)
            if frame is not None:
                self._frames.move_to_end(key)
            return frame

    def put(self, key: tuple, frame: np.ndarray) -> None:
        if frame.nbytes > self.max_bytes:
            return
        frame.setflags(write=False)  # shared: nobody may change a cached frame in place
        with self._lock:
            old = self._frames.pop(key, None)
            self.bytes -= 0 if old is None else old.nbytes
            self._frames[key] = frame
            self.bytes += frame.nbytes
            while self.bytes > self.max_bytes:
                _, dropped = self._frames.popitem(last=False)
                self.bytes -= dropped.nbytes

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()
            self.bytes = 0

    def __len__(self) -> int:
        return len(self._frames)


def _cache_limit() -> int:
    try:
        megabytes = float(os.environ.get("STCORR_FRAME_CACHE_MB", DEFAULT_CACHE_MB))
    except ValueError:
        megabytes = DEFAULT_CACHE_MB
    return max(0, int(megabytes * 2**20))


FRAME_CACHE = FrameCache(_cache_limit())
#: The most ``reserve_frame_cache`` grows the shared cache to (MB): a training set's frames up to this.
TRAINING_CACHE_CAP_MB = 1024


def reserve_frame_cache(videos: Iterable["Video"]) -> int:
    """Grows the shared cache to hold every frame of ``videos`` (a training set, read again and
    again), at most ``TRAINING_CACHE_CAP_MB``; never shrinks it, and leaves it alone when
    ``STCORR_FRAME_CACHE_MB`` is set. Returns the cache's budget in bytes."""
    if "STCORR_FRAME_CACHE_MB" in os.environ:
        return FRAME_CACHE.max_bytes
    needed = sum(v.num_frames * v.size[0] * v.size[1] * 3 for v in videos)
    FRAME_CACHE.max_bytes = max(FRAME_CACHE.max_bytes, min(needed, TRAINING_CACHE_CAP_MB * 2**20))
    return FRAME_CACHE.max_bytes


class Video:
    """A video, either a file or a folder of numbered frames (sorted by the number in the name)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise StcorrError("no such video file or frame folder", self.path)
        if self.path.is_dir():
            if not self.frame_files:
                raise StcorrError("frame folder holds no images", self.path)
            _check_numbering(self.frame_files, self.path)
        elif self.path.suffix.lower() not in VIDEO_SUFFIXES:
            raise StcorrError(f"not a video file (expected one of {', '.join(VIDEO_SUFFIXES)})", self.path)
        self._decoder: _Decoder | None = None

    @property
    def name(self) -> str:
        return self.path.stem if self.path.is_file() else self.path.name

    @cached_property
    def frame_files(self) -> list[Path]:
        files = [p for p in self.path.iterdir() if p.suffix.lower() in FRAME_SUFFIXES]
        return sorted(files, key=_frame_number)

    def __len__(self) -> int:
        return self.num_frames

    @cached_property
    def num_frames(self) -> int:
        if self.path.is_dir():
            return len(self.frame_files)
        return self._index.num_frames

    @cached_property
    def size(self) -> tuple[int, int]:
        """(width, height) of the native frames."""
        frame = self.frame(0)
        return frame.shape[1], frame.shape[0]

    @property
    def frames_decoded(self) -> int:
        """How many frames this object's decoder has decoded so far (video files; 0 for folders)."""
        return 0 if self._decoder is None else self._decoder.decoded

    def frame(self, t: int) -> np.ndarray:
        return self.frames([t])[0]

    def frames(self, indices: Sequence[int]) -> np.ndarray:
        """Frames at the given 0-based indices, as an array (N, H, W, 3) uint8."""
        indices = [int(i) for i in indices]
        n = self.num_frames
        bad = [i for i in indices if not 0 <= i < n]
        if bad:
            raise StcorrError(f"frame index {bad[0]} is outside the video's {n} frames", self.path)
        found = {i: FRAME_CACHE.get(self._cache_key(i)) for i in set(indices)}
        missing = sorted(i for i, frame in found.items() if frame is None)
        if missing:
            for i, frame in self._read(missing):
                FRAME_CACHE.put(self._cache_key(i), frame)
                found[i] = frame
        frames = [found[i] for i in indices]
        odd = next((i for i, frame in zip(indices, frames) if frame.shape != frames[0].shape), None)
        if odd is not None:
            where = self.frame_files[odd] if self.path.is_dir() else self.path
            raise StcorrError(f"frame {odd} is {_size(frames[odd])}, frame {indices[0]} {_size(frames[0])}: "
                              "frames of one video must have one size", where)
        return np.stack(frames)

    def iter_frames(self, indices: Iterable[int] | None = None, chunk: int = 32) -> Iterator[np.ndarray]:
        """Frames one at a time (all of them by default), read ``chunk`` at a time."""
        indices = list(range(self.num_frames) if indices is None else indices)
        for start in range(0, len(indices), chunk):
            yield from self.frames(indices[start:start + chunk])

    def close(self) -> None:
        """Closes the open video file, if any (it reopens when frames are asked for again)."""
        if self._decoder is not None:
            self._decoder.close()
            self._decoder = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_decoder"] = None  # an open file does not travel to another process
        return state

    def _read(self, indices: list[int]) -> Iterator[tuple[int, np.ndarray]]:
        if self.path.is_dir():
            return self._read_files(indices)
        if self._decoder is None or self._decoder.pid != os.getpid():
            self._decoder = _Decoder(self.path, self._index)
        return self._decoder.read(indices)

    def _read_files(self, indices: list[int]) -> Iterator[tuple[int, np.ndarray]]:
        """Frames of a folder. Before the first frame is read every frame's size is read from its
        header (once per folder version), so a frame of another size is an error before any work is
        done; each decoded frame is checked again (a file may change after that)."""
        expected = _folder_frame_size(str(self.path), self.path.stat().st_mtime_ns,
                                      tuple(f.name for f in self.frame_files))
        for i in indices:
            frame = _read_image(self.frame_files[i])
            if (frame.shape[1], frame.shape[0]) != expected:
                raise StcorrError(f"frame {i} is {_size(frame)}, the video's first frame {expected[0]}x{expected[1]}: "
                                  "frames of one video must have one size", self.frame_files[i])
            yield i, frame

    def _cache_key(self, index: int) -> tuple:
        if self.path.is_dir():
            return (*_file_identity(self.frame_files[index]), 0)
        return (*self._index.identity, index)

    @cached_property
    def _index(self) -> "VideoIndex":
        return _video_index(_file_identity(self.path))


@dataclass(frozen=True)
class VideoIndex:
    """Where each frame of a video file is: its presentation timestamp, and the keyframes.

    ``pts``: (N,) int64, sorted, in the stream's time base, or None when the packets carry no
    timestamps (then frames are found by counting). ``keyframes``: (K,) sorted frame indices.
    """

    identity: tuple
    num_frames: int
    pts: np.ndarray | None
    keyframes: np.ndarray

    def keyframe_before(self, index: int) -> int:
        """The last keyframe at or before frame ``index`` (0 when there is none)."""
        position = int(np.searchsorted(self.keyframes, index, side="right")) - 1
        return int(self.keyframes[position]) if position >= 0 else 0


@lru_cache(maxsize=256)
def _video_index(identity: tuple) -> VideoIndex:
    """Reads the packet index of a video file without decoding (cached per file version)."""
    # PyAV loads when a video file (not a frame folder) is first read
    import av

    path = Path(identity[0])
    pts, keyframe_pts, untimed = [], [], False
    try:
        with av.open(str(path)) as container:
            for packet in container.demux(_video_stream(container, path)):
                if packet.size == 0:
                    continue
                untimed |= packet.pts is None
                pts.append(packet.pts)
                if packet.is_keyframe:
                    keyframe_pts.append(packet.pts)
    except (av.error.FFmpegError, IndexError, ValueError) as exc:
        raise StcorrError(f"cannot decode video ({_first_line(exc)})", path) from None
    if not pts:
        raise StcorrError("video holds no frames", path)
    if untimed or len(set(pts)) != len(pts):
        return VideoIndex(identity, len(pts), None, np.zeros(1, dtype=np.int64))
    order = np.sort(np.asarray(pts, dtype=np.int64))
    keyframes = np.searchsorted(order, np.asarray(keyframe_pts, dtype=np.int64))
    return VideoIndex(identity, len(order), order, np.unique(np.append(keyframes, 0)))


class _Decoder:
    """An open video file and the position of its decoder, to read frames in increasing order."""

    def __init__(self, path: Path, index: VideoIndex):
        # PyAV loads when a video file (not a frame folder) is first read
        import av

        self.path, self.index, self.pid = path, index, os.getpid()
        self.decoded = 0
        try:
            self.container = av.open(str(path))
            self.stream = _video_stream(self.container, path)
        except (av.error.FFmpegError, IndexError, ValueError) as exc:
            raise StcorrError(f"cannot decode video ({_first_line(exc)})", path) from None
        self._frames: Iterator | None = None
        self._last = -1  # index of the frame decoded last; -1 before the first

    def read(self, indices: list[int]) -> Iterator[tuple[int, np.ndarray]]:
        """(index, RGB frame) for each of the sorted, distinct ``indices``."""
        # PyAV loads when a video file (not a frame folder) is first read
        import av

        try:
            for index in indices:
                yield index, self._frame(index).to_ndarray(format="rgb24")
        except av.error.FFmpegError as exc:
            self.close()
            raise StcorrError(f"cannot decode video ({_first_line(exc)})", self.path) from None

    def _frame(self, index: int):
        if self.index.pts is None:
            return self._counted_frame(index)
        start = self.index.keyframe_before(index)
        for attempt in range(3):
            # Keep decoding when the decoder already stands between the keyframe and the frame.
            if attempt or self._frames is None or not start <= self._last < index:
                self._seek(start)
            frame = self._decode_until(index)
            if frame is not None:
                return frame
            start = self.index.keyframe_before(max(start - 1, 0))  # missed after a seek: one keyframe earlier
        raise StcorrError(f"cannot decode frame {index}", self.path)

    def _seek(self, index: int) -> None:
        self.container.seek(int(self.index.pts[index]), stream=self.stream, backward=True, any_frame=False)
        self._frames = self.container.decode(self.stream)
        self._last = -1

    def _decode_until(self, index: int):
        """Decodes forward to frame ``index``; None when the decoder passed it without showing it."""
        target = int(self.index.pts[index])
        for frame in self._frames:
            self.decoded += 1
            if frame.pts is None:
                continue
            self._last = int(np.searchsorted(self.index.pts, frame.pts))
            if frame.pts == target:
                return frame
            if frame.pts > target:
                return None
        return None

    def _counted_frame(self, index: int):
        """Frames without timestamps: decode from the start, counting."""
        if self._frames is None or self._last >= index:
            self.container.seek(0, stream=self.stream, backward=True, any_frame=False)
            self._frames, self._last = self.container.decode(self.stream), -1
        for frame in self._frames:
            self.decoded += 1
            self._last += 1
            if self._last == index:
                return frame
        raise StcorrError(f"cannot decode frame {index}", self.path)

    def close(self) -> None:
        self._frames = None
        self.container.close()


def _video_stream(container, path: Path):
    if not container.streams.video:
        raise StcorrError("file holds no video stream", path)
    return container.streams.video[0]


def _file_identity(path: Path) -> tuple:
    stat = path.stat()
    return (str(path.resolve()), stat.st_mtime_ns, stat.st_size)


def find_video(root: str | Path, name: str) -> Video:
    """The video NAME of a data set: ROOT/frames/NAME/ (Penn Action and pairs layouts) or ROOT/videos/NAME.*"""
    root = Path(root)
    folder = root / "frames" / name
    if folder.is_dir():
        return Video(folder)
    for suffix in VIDEO_SUFFIXES:
        for candidate in (root / "videos" / f"{name}{suffix}", root / "videos" / f"{name}{suffix.upper()}"):
            if candidate.is_file():
                return Video(candidate)
    raise StcorrError(f"no video named {name!r} (looked in frames/ and videos/)", root)


MAX_VIDEO_SIDE = 16384  # libx264 refuses a wider or taller frame (avcodec_open2 fails)


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float = 25.0,
                options: dict[str, str] | None = None) -> Path:
    """Writes RGB frames (H, W, 3) uint8, given as an array (N, H, W, 3) or any iterable (streamed,
    one frame in memory at a time), as H.264 mp4, atomically. Odd sizes are padded to even ones.
    ``options``: libx264 settings, e.g. {"preset": "ultrafast", "g": "30"}."""
    # PyAV loads when a video file (not a frame folder) is first read
    import av

    path = Path(path)
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise StcorrError("no frames to write", path)
    h, w = np.asarray(first).shape[:2]
    ph, pw = h + h % 2, w + w % 2
    if max(ph, pw) > MAX_VIDEO_SIDE:
        raise StcorrError(f"frames of {w}x{h} pixels are past what H.264 (libx264) encodes: at most "
                          f"{MAX_VIDEO_SIDE} a side", path)
    with file_writer(path) as tmp, av.open(str(tmp), mode="w") as container:
        container.metadata["comment"] = MARK
        stream = container.add_stream("libx264", rate=int(round(fps)), options=dict(options or {}))
        stream.width, stream.height, stream.pix_fmt = pw, ph, "yuv420p"
        for frame in _chain(first, frames):
            frame = np.asarray(frame, dtype=np.uint8)
            if frame.shape[:2] != (h, w):
                raise StcorrError(f"frame of size {frame.shape[1]}x{frame.shape[0]} in a {w}x{h} video", path)
            if (ph, pw) != (h, w):
                frame = np.pad(frame, ((0, ph - h), (0, pw - w), (0, 0)))
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


def _chain(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield first
    yield from rest


def _read_image(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as image:
            if image.mode.startswith("I"):  # 16-bit grey (PNG): PIL's convert("RGB") would clip it to white
                return _sixteen_bit_grey(np.asarray(image))
            return np.asarray(image.convert("RGB"))
    except (OSError, UnidentifiedImageError) as exc:
        raise StcorrError(f"cannot read image ({_first_line(exc)})", path) from None


def _sixteen_bit_grey(values: np.ndarray) -> np.ndarray:
    """(H, W) grey values 0..65535 -> (H, W, 3) uint8 RGB."""
    grey = np.clip(np.round(values.astype(np.float64) / 257.0), 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def _image_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image, from its header."""
    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, UnidentifiedImageError) as exc:
        raise StcorrError(f"cannot read image ({_first_line(exc)})", path) from None


@lru_cache(maxsize=1024)
def _folder_frame_size(folder: str, mtime_ns: int, names: tuple[str, ...]) -> tuple[int, int]:
    """(width, height) shared by every frame of a folder, from the headers; an error naming the
    first frame of another size (cached per folder version: its path, change time and file names)."""
    expected = _image_size(Path(folder) / names[0])
    for i, name in enumerate(names[1:], 1):
        size = _image_size(Path(folder) / name)
        if size != expected:
            raise StcorrError(f"frame {i} is {size[0]}x{size[1]}, the video's first frame {expected[0]}x{expected[1]}: "
                              "frames of one video must have one size", Path(folder) / name)
    return expected


def _size(frame: np.ndarray) -> str:
    return f"{frame.shape[1]}x{frame.shape[0]}"


def _check_numbering(files: list[Path], folder: Path) -> None:
    """Numbered frames must be consecutive (the first number is free: 0, 1 or any): a missing
    number would shift every later frame. Folders whose names are not all numbered are taken
    in name order."""
    numbers = [_frame_number(f)[0] for f in files]
    if min(numbers) < 0:
        return
    for previous, number, name in zip(numbers, numbers[1:], files[1:]):
        if number == previous:
            raise StcorrError(f"two frames have number {number} ({name.name} and another)", folder)
        if number != previous + 1:
            missing = _numbered_like(name, previous + 1)
            more = f" (and {number - previous - 2} more)" if number - previous > 2 else ""
            raise StcorrError(f"frame {missing} is missing{more}: frame numbers must be consecutive", folder)


def _numbered_like(path: Path, number: int) -> str:
    """The name ``path`` would have with frame number ``number`` (the last run of digits replaced, same width)."""
    runs = list(re.finditer(r"\d+", path.stem))
    last = runs[-1]
    return f"{path.stem[:last.start()]}{number:0{len(last.group())}d}{path.stem[last.end():]}{path.suffix}"


def _frame_number(path: Path) -> tuple[int, str]:
    digits = re.findall(r"\d+", path.stem)
    return (int(digits[-1]) if digits else -1, path.name)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
