"""The one video reader of stcorr: a video file (through PyAV) or a folder of frames.

Frames are read lazily, a few at a time; nothing holds a whole video unless asked to.
All frames come back as ``uint8`` arrays of shape ``(H, W, 3)`` (RGB).
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from stcorr.errors import StcorrError

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
FRAME_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


class Video:
    """A video, either a file or a folder of numbered frames (sorted by the number in the name)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise StcorrError("no such video file or frame folder", self.path)
        if self.path.is_dir():
            if not self.frame_files:
                raise StcorrError("frame folder holds no images", self.path)
        elif self.path.suffix.lower() not in VIDEO_SUFFIXES:
            raise StcorrError(f"not a video file (expected one of {', '.join(VIDEO_SUFFIXES)})", self.path)

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
        return len(self._decoded)

    @cached_property
    def size(self) -> tuple[int, int]:
        """(width, height) of the native frames."""
        frame = self.frame(0)
        return frame.shape[1], frame.shape[0]

    def frame(self, t: int) -> np.ndarray:
        return self.frames([t])[0]

    def frames(self, indices: Sequence[int]) -> np.ndarray:
        """Frames at the given 0-based indices, as an array (N, H, W, 3) uint8."""
        indices = [int(i) for i in indices]
        n = self.num_frames
        bad = [i for i in indices if not 0 <= i < n]
        if bad:
            raise StcorrError(f"frame index {bad[0]} is outside the video's {n} frames", self.path)
        if self.path.is_dir():
            return np.stack([_read_image(self.frame_files[i]) for i in indices])
        return np.stack([self._decoded[i] for i in indices])

    @cached_property
    def _decoded(self) -> list[np.ndarray]:
        # Video files are decoded once, whole: seeking in compressed streams is not frame exact.
        import av

        try:
            with av.open(str(self.path)) as container:
                frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        except (av.error.FFmpegError, IndexError, ValueError) as exc:
            raise StcorrError(f"cannot decode video ({_first_line(exc)})", self.path) from None
        if not frames:
            raise StcorrError("video holds no frames", self.path)
        return frames


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


def write_video(path: str | Path, frames: np.ndarray | Sequence[np.ndarray], fps: float = 25.0) -> Path:
    """Writes frames (N, H, W, 3) uint8 as H.264 mp4 (even sizes are padded), atomically."""
    import av

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    frames = [np.asarray(f, dtype=np.uint8) for f in frames]
    h, w = frames[0].shape[:2]
    ph, pw = h + h % 2, w + w % 2
    with av.open(str(tmp), mode="w") as container:
        stream = container.add_stream("libx264", rate=int(round(fps)))
        stream.width, stream.height, stream.pix_fmt = pw, ph, "yuv420p"
        for frame in frames:
            if (ph, pw) != (h, w):
                frame = np.pad(frame, ((0, ph - h), (0, pw - w), (0, 0)))
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    tmp.replace(path)
    return path


def _read_image(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, UnidentifiedImageError) as exc:
        raise StcorrError(f"cannot read image ({_first_line(exc)})", path) from None


def _frame_number(path: Path) -> tuple[int, str]:
    digits = re.findall(r"\d+", path.stem)
    return (int(digits[-1]) if digits else -1, path.name)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
