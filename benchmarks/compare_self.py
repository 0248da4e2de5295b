"""`stcorr compare` of clips against themselves played at another speed, and mirrored: the truth is known. Prints one JSON line.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/compare_self.py --frames FRAME_FOLDER [FRAME_FOLDER ...]
        [--action ACTION] [--work DIR]

Copies of each clip (H.264 mp4, 30 fps): ``fast``, every second frame (reference frame t is
attempt frame t / 2); ``slow_mirrored``, 1.5 times slower and flipped left to right (t is 1.5 t).
The reference is the clip itself, as an mp4 too, so both sides went through the same encoder.
Per clip and copy: the key moments' attempt frames against the truth, the alignment's mean and
largest error (attempt frames), whether the sides were found swapped, the largest angle
difference at a key moment and the differences the summary lists (none when right: it is the
same performance). Over every clip and copy: the noise floor, the 95th percentile of the
absolute angle differences over every aligned frame, 2D (image) and 3D (world), which
``stcorr.compare.summary`` takes (rounded up). Joints: MediaPipe.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from stcorr.compare import analyse
from stcorr.compare.align import filled_joints
from stcorr.compare.angles import angle_series
from stcorr.data.video import Video, write_video

COPIES = {"fast": 0.5, "slow_mirrored": 1.5}  # attempt frames per reference frame


def make_copies(source: Video, work: Path) -> dict[str, Path]:
    work.mkdir(parents=True, exist_ok=True)
    frames = source.frames(range(source.num_frames))
    n = len(frames)
    paths = {"reference": write_video(work / "reference.mp4", frames, fps=30)}
    paths["fast"] = write_video(work / "fast.mp4", frames[::2], fps=30)
    slow = [frames[min(int(round(u / 1.5)), n - 1)][:, ::-1] for u in range(int(round((n - 1) * 1.5)) + 1)]
    paths["slow_mirrored"] = write_video(work / "slow_mirrored.mp4", slow, fps=30)
    return paths


def angle_noise(comparison) -> dict[str, np.ndarray]:
    """|attempt - reference| of every angle over every aligned frame, 2D and (with world joints) 3D."""
    times = comparison.attempt_times
    ref, att = comparison.reference_joints, comparison.attempt_joints
    out = {"2d": np.abs(angle_series(filled_joints(att))[times] - angle_series(filled_joints(ref)))}
    if ref.world is not None and att.world is not None:
        out["3d"] = np.abs(angle_series(att.world)[times] - angle_series(ref.world))
    return {k: v[np.isfinite(v)] for k, v in out.items()}


def score(comparison, rate: float) -> dict:
    record = comparison.record
    errors = [abs(u - rate * t) for t, u in record["time_alignment"]]
    moments = record["key_moments"]
    return {
        "key_moments": [[m["name"], m["reference_t"], m["attempt_t"], round(rate * m["reference_t"], 2)] for m in moments],
        "mean_error_frames": round(float(np.mean(errors)), 2), "max_error_frames": round(float(np.max(errors)), 2),
        "attempt_sides": record["attempt_sides"], "angles_from": record["angles_from"],
        "max_angle_difference_deg": max((abs(a["difference_deg"]) for m in moments for a in m["angles"]), default=None),
        "differences_listed": [line for line in record["summary"] if " than " in line],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", required=True, type=Path, nargs="+")
    parser.add_argument("--action", default=None)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="compare-self-"))
    result, noise = {}, {"2d": [], "3d": []}
    for folder in args.frames:
        paths = make_copies(Video(folder), work / folder.name)
        result[folder.name] = {}
        for name, rate in COPIES.items():
            comparison = analyse(paths["reference"], paths[name], action=args.action)
            result[folder.name][name] = score(comparison, rate)
            for kind, values in angle_noise(comparison).items():
                noise[kind].append(values)
    floors = {f"noise_floor_{k}_p95_deg": round(float(np.percentile(np.concatenate(v), 95)), 2) for k, v in noise.items() if v}
    medians = {f"noise_{k}_median_deg": round(float(np.median(np.concatenate(v))), 2) for k, v in noise.items() if v}
    print(json.dumps({**floors, **medians, "clips": result}))


if __name__ == "__main__":
    main()
