"""`stcorr compare` on a pair of WIDTHxHEIGHT videos of --seconds: time per stage and peak memory. Prints one JSON line.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/compare_speed.py --frames FRAME_FOLDER [--seconds 10] [--size 1280x720]
        [--fps 30] [--pose mediapipe|fake] [--video-mode]

Both videos are made from one folder of frames of a person (e.g. a Penn Action clip) played back
and forth, resized to --size, at --fps (30): the reference at the clip's pace, the attempt at 0.8
of it. Stages: pose on every frame of both (MediaPipe as compare runs it, ``pipeline.default_pose``;
``--video-mode``: MediaPipe's video mode, as ``stcorr predict`` runs it; ``fake``: a fixed skeleton swaying, to time
the rest alone), alignment and key moments (``analyse`` less pose), the
side-by-side video, the overlay video, the page, in wall and CPU seconds (the CPU figure counts this process's threads
only while it runs; on a shared machine the wall figure depends on the load, also printed). Peak
memory is this process's maxrss. Nothing about time is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from stcorr.compare import analyse
from stcorr.compare.pipeline import default_pose
from stcorr.pose.track import JointTrack
from stcorr.compare.overlay import write_overlay
from stcorr.compare.page import build_page
from stcorr.compare.render import write_side_by_side
from stcorr.pose.skeleton import JOINTS
from stcorr.data.video import Video, write_video

FPS = 30


def back_and_forth(n: int, count: int, pace: float) -> list[int]:
    """Frame indices of a clip of n frames played forwards then backwards, ``count`` of them, at ``pace``."""
    period = max(1, 2 * (n - 1))
    steps = [int(round(i * pace)) % period for i in range(count)]
    return [k if k < n else period - k for k in steps]


def make_video(frames: Video, path: Path, seconds: float, fps: float, size: tuple[int, int], pace: float) -> Path:
    indices = back_and_forth(frames.num_frames, int(seconds * fps), pace)
    resized = (np.asarray(Image.fromarray(frames.frame(i)).resize(size, Image.BILINEAR)) for i in indices)
    return write_video(path, resized, fps=fps, options={"preset": "veryfast"})


class TimedPose:
    """A pose source that adds up the wall and CPU seconds spent in ``track``."""

    def __init__(self, inner):
        self.inner, self.name, self.seconds, self.cpu_seconds = inner, inner.name, 0.0, 0.0

    def track(self, video: Video) -> JointTrack:
        start, cpu = time.perf_counter(), time.process_time()
        found = self.inner.track(video)
        self.seconds += time.perf_counter() - start
        self.cpu_seconds += time.process_time() - cpu
        return found


class SwayingPose:
    """Stand-in joints: a fixed skeleton around the frame's centre swaying sideways (period 2 s)."""

    name = "fake"

    def track(self, video: Video) -> JointTrack:
        width, height = video.size
        rng = np.random.default_rng(0)
        body = np.array([width / 2, height / 2]) + rng.uniform(-0.3, 0.3, (len(JOINTS), 2)) * [width, height]
        sway = 0.1 * width * np.sin(2 * np.pi * np.arange(video.num_frames) / (2 * FPS))
        xy = body[None] + np.stack([sway, np.zeros_like(sway)], axis=1)[:, None, :] * (body[:, 1] / height)[None, :, None]
        return JointTrack(xy, np.ones((video.num_frames, len(JOINTS))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", required=True, type=Path, help="A folder of frames (or a video) of a person.")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--fps", type=float, default=30.0, help="Frame rate of both videos (a low rate keeps a long encode short).")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--pose", choices=("mediapipe", "fake"), default="mediapipe")
    parser.add_argument("--video-mode", action="store_true", help="MediaPipe in its video mode (stcorr predict's), "
                        "not compare's own static pass (pipeline.default_pose)")
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    work = args.work or Path(tempfile.mkdtemp(prefix="compare-speed-"))
    source = Video(args.frames)
    reference = make_video(source, work / "reference.mp4", args.seconds, args.fps, size, 1.0)
    attempt = make_video(source, work / "attempt.mp4", args.seconds, args.fps, size, 0.8)
    # a cache of its own: the poses are computed, never read back from an earlier run
    settings = {"cache": str(work / "pose-cache"), **({"tracking": True} if args.video_mode else {})}
    pose = TimedPose(default_pose(**settings) if args.pose == "mediapipe" else SwayingPose())
    times, cpu = {}, {}
    start, cpu_start = time.perf_counter(), time.process_time()
    comparison = analyse(reference, attempt, pose=pose)
    times["pose_s"], cpu["pose_cpu_s"] = round(pose.seconds, 2), round(pose.cpu_seconds, 2)
    times["align_and_key_moments_s"] = round(time.perf_counter() - start - pose.seconds, 2)
    cpu["align_and_key_moments_cpu_s"] = round(time.process_time() - cpu_start - pose.cpu_seconds, 2)
    for name, write in (("side_by_side", lambda: write_side_by_side(comparison, work / "side_by_side.mp4")),
                        ("overlay", lambda: write_overlay(comparison, work / "overlay.mp4")),
                        ("page", lambda: build_page(comparison, work / "index.html"))):
        start, cpu_start = time.perf_counter(), time.process_time()
        write()
        times[f"{name}_s"] = round(time.perf_counter() - start, 2)
        cpu[f"{name}_cpu_s"] = round(time.process_time() - cpu_start, 2)
    print(json.dumps({
        "frames": comparison.record["frames"], "size": list(size), "pose": args.pose, "video_mode": args.video_mode, **times,
        "total_s": round(sum(times.values()), 2), **cpu, "total_cpu_s": round(sum(cpu.values()), 2),
        "load_average_1min": round(os.getloadavg()[0], 1),
        "page_mb": round((work / "index.html").stat().st_size / 2**20, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "key_moments": [[m["reference_t"], m["attempt_t"]] for m in comparison.record["key_moments"]],
        "python": sys.version.split()[0],
    }))


if __name__ == "__main__":
    main()
