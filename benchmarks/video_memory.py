"""`stcorr predict` on a long 1080p mp4: peak memory and time. Prints one JSON line.

    .venv/bin/python benchmarks/video_memory.py [--minutes 10] [--fps 10] [--work DIR]

Writes a WIDTHxHEIGHT H.264 video of a plain moving pattern (libx264 ultrafast, a keyframe every
250 frames, x264's default), a tiny checkpoint (`stcorr synth` + a 1-step `stcorr train`), and
runs `stcorr predict --viz` with the video as source and target. The frame rate is low by default
(10 fps: 6000 frames for 10 minutes) only to keep the encode short on a small CPU; the reader's
work per clip does not depend on it. Reports the predict process's peak resident memory (its
maxrss, measured by a parent that runs nothing else) and whether it stayed within --limit-mb;
exits 1 when it did not. Nothing about time is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from stcorr.data.video import Video, write_video

STCORR = [sys.executable, "-m", "stcorr.cli.main"]
MEASURE = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:]).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)
"""


def moving_pattern(frames: int, width: int, height: int):
    """A grey gradient with a bright square crossing it: cheap to make and to encode."""
    x = np.linspace(40, 200, width, dtype=np.float32)
    y = np.linspace(0, 40, height, dtype=np.float32)[:, None]
    background = np.repeat((x + y).astype(np.uint8)[:, :, None], 3, axis=2)
    side = height // 6
    for t in range(frames):
        frame = background.copy()
        left = (t * 7) % (width - side)
        top = (t * 3) % (height - side)
        frame[top:top + side, left:left + side] = (250, 60 + t % 100, 30)
        yield frame


def make_video(path: Path, minutes: float, fps: int, width: int, height: int) -> float:
    """Writes the video unless it is already there; returns the seconds spent encoding."""
    if path.exists():
        return 0.0
    start = time.perf_counter()
    write_video(path, moving_pattern(int(round(minutes * 60 * fps)), width, height), fps=fps,
                options={"preset": "ultrafast"})
    return time.perf_counter() - start


def make_checkpoint(work: Path) -> Path:
    data, run = work / "synth", work / "run"
    if not (run / "checkpoint").exists():
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        subprocess.run([*STCORR, "synth", str(data), "--videos-per-action", "2", "--size", "64x64"],
                       check=True, capture_output=True, env=env)
        subprocess.run([*STCORR, "train", "--data", str(data), "--out", str(run), "--max-steps", "1",
                        "--set", "train.val_every=0", "--no-progress"], check=True, capture_output=True, env=env)
    return run / "checkpoint"


def measured_predict(checkpoint: Path, video: Path, work: Path, frames: int, width: int, height: int) -> dict:
    times = np.linspace(0, frames - 1, 5).round().astype(int)
    keypoints = [{"name": f"p{i}", "t": int(t), "x": width * (0.2 + 0.15 * i), "y": height * 0.5}
                 for i, t in enumerate(times)]
    (work / "kp.json").write_text(json.dumps({"keypoints": keypoints}))
    command = [*STCORR, "predict", "--checkpoint", str(checkpoint), "--source", str(video), "--target", str(video),
               "--keypoints", str(work / "kp.json"), "--out", str(work / "pred.json"), "--viz", str(work / "pred.png"),
               "--device", "cpu"]
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    maxrss_kb, code = run.stdout.split()[-2:]
    if int(code) != 0:
        sys.exit(f"stcorr predict failed:\n{run.stderr[-2000:]}")
    return {"predict_s": round(seconds, 1), "predict_peak_rss_mb": round(int(maxrss_kb) / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--size", default="1920x1080", help="WIDTHxHEIGHT")
    parser.add_argument("--limit-mb", type=float, default=2048.0)
    parser.add_argument("--work", type=Path, default=None, help="folder for the video and checkpoint (kept)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    work = args.work or Path(tempfile.mkdtemp(prefix="stcorr-video-memory-"))
    work.mkdir(parents=True, exist_ok=True)
    video = work / f"long_{args.minutes:g}min_{args.fps}fps_{width}x{height}.mp4"
    encode_s = make_video(video, args.minutes, args.fps, width, height)
    frames = Video(video).num_frames
    checkpoint = make_checkpoint(work)
    result = {
        "video": str(video), "size": [width, height], "fps": args.fps, "minutes": args.minutes, "frames": frames,
        "file_mb": round(video.stat().st_size / 2**20, 1), "encode_s": round(encode_s, 1),
        **measured_predict(checkpoint, video, work, frames, width, height),
    }
    result["limit_mb"] = args.limit_mb
    result["within_limit"] = result["predict_peak_rss_mb"] <= args.limit_mb
    result["benchmark_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result))
    sys.exit(0 if result["within_limit"] else 1)


if __name__ == "__main__":
    main()
