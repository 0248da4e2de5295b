"""`stcorr compare` of a clip against itself played at another speed, and mirrored: the truth is known. Prints one JSON line.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/compare_self.py --frames FRAME_FOLDER --key-moments 18,24 [--work DIR]

Copies (H.264 mp4, 30 fps): ``fast``, every second frame (reference frame t is attempt frame t / 2);
``slow_mirrored``, 1.5 times slower and flipped left to right (t is 1.5 t). The reference is the clip
itself, as an mp4 too, so both sides went through the same encoder. Per copy: the key moments'
attempt frames against the truth, the alignment's mean and largest error over every reference
frame (attempt frames), whether the sides were found swapped, and the largest angle difference
at a key moment (0 when everything is right: it is the same performance). Joints: MediaPipe.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from stcorr.compare import analyse
from stcorr.data.video import Video, write_video

COPIES = {"fast": 0.5, "slow_mirrored": 1.5}  # attempt frames per reference frame


def make_copies(source: Video, work: Path) -> dict[str, Path]:
    frames = source.frames(range(source.num_frames))
    n = len(frames)
    paths = {"reference": write_video(work / "reference.mp4", frames, fps=30)}
    paths["fast"] = write_video(work / "fast.mp4", frames[::2], fps=30)
    slow = [frames[min(int(round(u / 1.5)), n - 1)][:, ::-1] for u in range(int(round((n - 1) * 1.5)) + 1)]
    paths["slow_mirrored"] = write_video(work / "slow_mirrored.mp4", slow, fps=30)
    return paths


def score(record: dict, rate: float) -> dict:
    errors = [abs(u - rate * t) for t, u in record["time_alignment"]]
    moments = record["key_moments"]
    return {
        "key_moments": [[m["reference_t"], m["attempt_t"], round(rate * m["reference_t"], 2)] for m in moments],
        "mean_error_frames": round(float(np.mean(errors)), 2), "max_error_frames": round(float(np.max(errors)), 2),
        "attempt_sides": record["attempt_sides"],
        "max_angle_difference_deg": max((abs(a["difference_deg"]) for m in moments for a in m["angles"]), default=None),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", required=True, type=Path)
    parser.add_argument("--key-moments", required=True, help="0-based frames of the clip, e.g. 18,24")
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="compare-self-"))
    moments = [int(t) for t in args.key_moments.split(",")]
    paths = make_copies(Video(args.frames), work)
    result = {name: score(analyse(paths["reference"], paths[name], key_moments=moments).record, rate)
              for name, rate in COPIES.items()}
    print(json.dumps({"clip": str(args.frames), **result}))


if __name__ == "__main__":
    main()
