"""Label propagation speed and peak memory on a 300-frame 480x360 video (prints JSON, asserts nothing).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/propagation.py [--frames 300] [--max-sides 160,320]
        [--features pixels,untrained,checkpoint --checkpoint CKPT]

The video is a frame folder of a moving smooth texture written to a temporary folder (frames are
read a few at a time, so memory should not grow with the video's length). Each configuration
runs in its own process: ``peak_rss_mb`` is that process's peak resident memory (Python, torch
and all), ``baseline_rss_mb`` its resident memory after the imports, before propagating.
13 keypoints are followed from the first frame to the last.

Memory note (measured): with the shared video frame cache on (stcorr/data/video.py, default 256 MB)
a single 300-frame pass fills it with 300 decoded 480x360 frames, and glibc's heap fragments
around them: resident memory grew ~4 MB a frame (peak 1.3 GB with pixel features) although the
cache held ~155 MB. With ``STCORR_FRAME_CACHE_MB=0`` (or ``MALLOC_MMAP_THRESHOLD_=131072``) it
stays flat (~300 MB): propagation itself keeps only the query frame and 3 recent frames.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_video(folder: Path, frames: int, width: int = 480, height: int = 360) -> None:
    from PIL import Image
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(0)
    big = np.stack([gaussian_filter(rng.random((height + frames, width + 2 * frames)), 4.0) for _ in range(3)], -1)
    big = ((big - big.min()) / (big.max() - big.min()) * 255).astype(np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    for t in range(frames):
        Image.fromarray(big[t // 2: t // 2 + height, 2 * t: 2 * t + width]).save(folder / f"{t + 1:06d}.jpg", quality=90)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(video: str, features: str, max_side: int, checkpoint: str | None) -> dict:
    import torch

    from stcorr.config import load_config
    from stcorr.data.video import Video
    from stcorr.evaluation.tracking import tracking_features
    from stcorr.models.propagation import PropagationSettings, propagate_keypoints

    torch.set_num_threads(1)
    cfg = load_config(None)
    settings = PropagationSettings.checked({**cfg["corrflow"]["propagation"], "max_side": max_side})
    frame_features = tracking_features(Path(checkpoint) if features == "checkpoint" else None,
                                       None if features == "checkpoint" else features, cfg)
    clip = Video(video)
    points = np.column_stack([np.linspace(60, 420, 13), np.linspace(50, 310, 13)])
    before = rss_mb()
    started = time.perf_counter()
    tracks = propagate_keypoints(clip, 0, points, frame_features, settings)
    seconds = time.perf_counter() - started
    return {"features": features, "max_side": max_side, "frames": len(tracks), "seconds": round(seconds, 2),
            "fps": round(len(tracks) / seconds, 2), "baseline_rss_mb": round(before, 1), "peak_rss_mb": round(rss_mb(), 1),
            "settings": dict(settings.__dict__)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--max-sides", default="160,320")
    parser.add_argument("--features", default="pixels,untrained", help="pixels, untrained, checkpoint (comma separated)")
    parser.add_argument("--one", nargs=3, metavar=("VIDEO", "FEATURES", "MAX_SIDE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], args.one[1], int(args.one[2]), args.checkpoint)))
        return
    kinds = args.features.split(",")
    if "checkpoint" in kinds and not args.checkpoint:
        parser.error("--features checkpoint needs --checkpoint")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "video"
        write_video(video, args.frames)
        for max_side in (int(s) for s in args.max_sides.split(",")):
            for kind in kinds:
                command = [sys.executable, __file__, "--one", str(video), kind, str(max_side)]
                if args.checkpoint:
                    command += ["--checkpoint", args.checkpoint]
                done = subprocess.run(command, capture_output=True, text=True, check=True)
                results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(json.dumps({"video": f"{args.frames} frames, 480x360, frame folder", "threads": 1, "results": results}, indent=1))


if __name__ == "__main__":
    main()
