"""First prediction with no training: `stcorr predict` on two 10-second 720p clips, timed.

The clips are made from two real Penn Action frame folders (default: the baseball pair of
../shared/real-dev, 0280 -> 0191): each folder's frames are stretched over ``--seconds`` at
``--fps`` (a frame repeated as needed) and upscaled to 1280x720, then written as H.264 mp4. KP.json
holds the annotated joints of the source at its first key moment plus two points that are no
joint. `stcorr predict` runs in a child process (a cold pose cache, then again warm) and the
child's CPU seconds (user + system, all threads) and wall seconds are printed as JSON.

    python benchmarks/predict_first.py --data ../shared/real-dev --out /tmp/predict-first [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stcorr.data.datasets import open_dataset  # noqa: E402
from stcorr.data.video import write_video  # noqa: E402


def stretched_frames(video, count: int, size: tuple[int, int]):
    """``count`` frames spread over the video's frames in order, each upscaled to ``size``, one at a time."""
    for t in np.linspace(0, video.num_frames - 1, count).round().astype(int):
        yield np.asarray(Image.fromarray(video.frame(int(t))).resize(size, Image.BILINEAR))


def make_clip(video, path: Path, seconds: float, fps: int, size: tuple[int, int]) -> tuple[int, float]:
    """Writes the clip; returns (frames, clip frames per source frame)."""
    count = int(round(seconds * fps))
    write_video(path, stretched_frames(video, count, size), fps=fps)
    return count, (count - 1) / max(video.num_frames - 1, 1)


def keypoints(dataset, name: str, scale_t: float, scale_xy: tuple[float, float], size: tuple[int, int]) -> dict:
    labels = dataset.labels[name]
    moment = (dataset.key_moments(name) or [labels.num_frames // 2])[0]
    t = int(round(moment * scale_t))
    points = [{"name": joint, "t": t, "x": round((x + 0.5) * scale_xy[0] - 0.5, 2), "y": round((y + 0.5) * scale_xy[1] - 0.5, 2)}
              for joint, (x, y) in labels.joints_at(moment).items()]
    points += [{"name": "marker", "t": t, "x": size[0] * 0.2, "y": size[1] * 0.9}, {"t": t, "x": size[0] * 0.5, "y": size[1] * 0.3}]
    return {"keypoints": points}


def timed(command: list[str], env: dict) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parents[1])
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    method = next((line for line in done.stderr.splitlines() if line.startswith("method:")), None)
    return {"returncode": done.returncode, "cpu_s": round(cpu, 1), "wall_s": round(wall, 1), "said": method,
            "error": done.stderr.strip().splitlines()[-1] if done.returncode else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/real-dev"))
    parser.add_argument("--source", default="0280")
    parser.add_argument("--target", default="0191")
    parser.add_argument("--out", type=Path, default=Path("/tmp/predict-first"))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--method", default=None, help="--method for stcorr predict (default: its own default)")
    parser.add_argument("--set", action="append", default=[], help="--set KEY=VALUE for stcorr predict (repeatable)")
    args = parser.parse_args()
    size = (1280, 720)
    args.out.mkdir(parents=True, exist_ok=True)
    dataset = open_dataset(args.data)
    src, tgt = dataset.video(args.source), dataset.video(args.target)
    made = time.perf_counter()
    n_src, scale_t = make_clip(src, args.out / "source.mp4", args.seconds, args.fps, size)
    n_tgt, _ = make_clip(tgt, args.out / "target.mp4", args.seconds, args.fps, size)
    made = time.perf_counter() - made
    scale_xy = (size[0] / src.size[0], size[1] / src.size[1])
    (args.out / "kp.json").write_text(json.dumps(keypoints(dataset, args.source, scale_t, scale_xy, size)))
    command = [sys.executable, "-m", "stcorr.cli.main", "predict", "--source", str(args.out / "source.mp4"),
               "--target", str(args.out / "target.mp4"), "--keypoints", str(args.out / "kp.json"),
               "--out", str(args.out / "pred.json"), "--viz", str(args.out / "pred.png"), "--device", "cpu"]
    if args.method:
        command += ["--method", args.method]
    for override in args.set:
        command += ["--set", override]
    env = {**os.environ, "XDG_CACHE_HOME": str(args.out / "cache")}
    cold = timed(command, env)
    warm = timed(command, env)
    print(json.dumps({"clips": {"source": n_src, "target": n_tgt, "size": list(size), "fps": args.fps,
                                "seconds_to_make": round(made, 1)},
                      "cold_pose_cache": cold, "warm_pose_cache": warm,
                      "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}, indent=1))


if __name__ == "__main__":
    main()
