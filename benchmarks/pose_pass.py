"""Pose pass speed: MediaPipe over some videos of a data set with 1 process, then with N, alternately.

    .venv/bin/python benchmarks/pose_pass.py DATA [--videos 6] [--processes 2] [--rounds 1]

Takes the first ``--videos`` train videos of DATA (sorted by name), and each round runs
``stcorr.baselines.pose_pass.pose_pass`` over them with 1 process and with ``--processes``, each
time into a fresh, empty cache folder (every track computed). Prints one JSON object: wall seconds
frames per second and CPU seconds (this process and its workers) of each run, the median speed-up,
and whether the tracks of both runs are equal. Other processes on the machine change these figures: the speed-up of N processes can only
show when N cores are free. Measures, asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stcorr.pose.cache import mediapipe_cache, stored_landmarks  # noqa: E402
from stcorr.baselines.pose_pass import pose_pass  # noqa: E402
from stcorr.config import load_config  # noqa: E402
from stcorr.data.datasets import open_dataset  # noqa: E402
from stcorr.data.video import Video  # noqa: E402


def train_videos(data: Path, count: int) -> list[Path]:
    dataset = open_dataset(data)
    names = sorted({name for pair in dataset.pairs(split="train") for name in (pair.source, pair.target)})[:count]
    return [dataset.video(name).path for name in names]


def timed_pass(paths: list[Path], settings: dict, processes: int) -> tuple[dict, dict]:
    """(figures of one pass into a fresh cache, the tracks it wrote by video)."""
    with tempfile.TemporaryDirectory() as cache:
        settings = {**settings, "cache": cache}
        cpu = _cpu_seconds()
        result = pose_pass(paths, settings, processes=processes, rank=0, world_size=1)
        cpu = _cpu_seconds() - cpu
        reader = mediapipe_cache(settings)
        tracks = {str(p): stored_landmarks(reader.track(Video(p))) for p in paths}
    figures = {"processes": processes, "wall_s": round(result.seconds, 2), "frames": result.frames,
               "computed": result.computed, "frames_per_s": round(result.frames / result.seconds, 2),
               "cpu_s": round(cpu, 2)}
    return figures, tracks


def _cpu_seconds() -> float:
    """CPU seconds of this process and of its finished workers (the pool is joined when a pass returns)."""
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--videos", type=int, default=6)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    settings = dict(load_config()["baseline"]["pose"])
    paths = train_videos(args.data, args.videos)
    runs, speedups, equal = [], [], True
    for _ in range(args.rounds):
        one, one_tracks = timed_pass(paths, settings, 1)
        many, many_tracks = timed_pass(paths, settings, args.processes)
        runs += [one, many]
        speedups.append(one["wall_s"] / many["wall_s"])
        equal &= all(np.array_equal(one_tracks[k], many_tracks[k], equal_nan=True) for k in one_tracks)
    print(json.dumps({"videos": len(paths), "runs": runs, "speedup": round(statistics.median(speedups), 2),
                      "tracks_equal": bool(equal)}))


if __name__ == "__main__":
    main()
