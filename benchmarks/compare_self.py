"""`stcorr compare` of clips against themselves played at another speed, and mirrored: the truth is known. Prints one JSON line.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/compare_self.py --frames FRAME_FOLDER[:ACTION] [...] [--work DIR [--reuse]]
        [--passes static+lifter,static,video,video+filter] [--lifter CHECKPOINT]

Copies of each clip (H.264 mp4, 30 fps): ``fast``, every second frame (reference frame t is
attempt frame t / 2); ``slow_mirrored``, 1.5 times slower and flipped left to right (t is 1.5 t).
The reference is the clip itself, as an mp4 too, so both sides went through the same encoder.
Per clip and copy: the key moments' attempt frames against the truth, the alignment's mean and
largest error (attempt frames), whether the sides were found swapped, the largest angle
difference at a key moment and the differences the summary lists (none when right: it is the
same performance). Over every clip and copy: the absolute angle differences, as compare
measures them at a key moment (``pipeline.steady_angles``), at every third reference frame and
its aligned frame, 2D (image) and 3D (world), per kind of angle: their median, 90th and 95th
percentiles and largest; ``stcorr.compare.summary`` takes the 95th percentile of each kind,
rounded, as its noise floor; ``overall``: key moments within 1 frame of the truth, their median and
mean error, the alignment's mean error, the copies found mirrored and those that list a difference.
Joints: MediaPipe's plain pass, each of ``--passes`` on the same copies, one result per pass, side
by side (``static+lifter``: compare's own, ``pipeline.default_pose``, found anew in every frame, the
world joints lifted by ``stcorr:lifter``; ``static``: the same with MediaPipe's own world joints; ``video``:
MediaPipe's video mode, as ``stcorr predict`` runs it; ``video+filter``: with predict's temporal
filter too, cpu.yaml's ``baseline.pose.filter``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from stcorr.compare import analyse
from stcorr.pose.angles import ANGLE_NAMES
from stcorr.compare.pipeline import default_pose, steady_angles
from stcorr.compare.world import LiftedPose
from stcorr.data.video import Video, write_video
from stcorr.settings import default_section

COPIES = {"fast": 0.5, "slow_mirrored": 1.5}  # attempt frames per reference frame
#: MediaPipe's passes (settings over default_pose's); +lifter: world joints lifted by stcorr:lifter (compare's own);
#: video+filter: with predict's temporal filter (sides, gaps filled)
PASSES = {"static+lifter": {}, "static": {"lifter": None}, "video": {"tracking": True, "lifter": None},
          "video+filter": {"tracking": True, "filter": default_section("baseline.pose")["filter"], "lifter": None}}


def make_copies(source: Video, work: Path, reuse: bool = False) -> dict[str, Path]:
    """The reference and its copies as mp4 under ``work``; ``reuse``: the ones an earlier run left there (x264 is not
    bit-exact from run to run, and MediaPipe answers a re-encode differently: the same copies compare code changes)."""
    names = ("reference", *COPIES)
    if reuse and all((work / f"{name}.mp4").is_file() for name in names):
        return {name: work / f"{name}.mp4" for name in names}
    work.mkdir(parents=True, exist_ok=True)
    frames = source.frames(range(source.num_frames))
    n = len(frames)
    paths = {"reference": write_video(work / "reference.mp4", frames, fps=30)}
    paths["fast"] = write_video(work / "fast.mp4", frames[::2], fps=30)
    slow = [frames[min(int(round(u / 1.5)), n - 1)][:, ::-1] for u in range(int(round((n - 1) * 1.5)) + 1)]
    paths["slow_mirrored"] = write_video(work / "slow_mirrored.mp4", slow, fps=30)
    return paths


def angle_noise(comparison, pose, step: int = 3) -> dict[str, np.ndarray]:
    """|attempt - reference| of every angle at every ``step``-th aligned frame, 2D and (with world joints) 3D;
    with a lifting pose source (compare's own), the 3D angles of the lifter's joints whatever the views read."""
    ref, att = comparison.reference_joints, comparison.attempt_joints
    out = {}
    for kind, world in (("2d", False), ("3d", True)):
        if world and isinstance(pose, LiftedPose):
            ref, att = (pose.lifted(pose.track(video)) for video in (comparison.reference, comparison.attempt))
            att = att.sides_swapped() if comparison.record["attempt_sides"] == "swapped" else att
        if world and (ref.world is None or att.world is None):
            continue
        rows = np.stack([np.abs(steady_angles(att, int(comparison.attempt_times[t]), world) - steady_angles(ref, t, world))
                         for t in range(0, ref.num_frames, step)])
        out[kind] = rows  # (frames, 9) in ANGLE_NAMES order, NaN where not measured
    return out


def score(comparison, rate: float, noise: dict[str, np.ndarray]) -> dict:
    record = comparison.record
    errors = [abs(u - rate * t) for t, u in record["time_alignment"]]
    moments = record["key_moments"]
    return {
        "key_moments": [[m["name"], m["reference_t"], m["attempt_t"], round(rate * m["reference_t"], 2)] for m in moments],
        "mean_error_frames": round(float(np.mean(errors)), 2), "max_error_frames": round(float(np.max(errors)), 2),
        "attempt_sides": record["attempt_sides"], "angles_from": record["angles_from"],
        "max_angle_difference_deg": max((abs(a["difference_deg"]) for m in moments for a in m["angles"]), default=None),
        "differences_listed": [line for line in record["summary"] if line.startswith("at ")],
        **{f"noise_{kind}_p95_deg": round(float(np.nanpercentile(values, 95)), 1) for kind, values in noise.items()
           if np.isfinite(values).any()},
    }


def spread(noise: dict[str, list[np.ndarray]]) -> dict:
    """Median, 90th, 95th percentile and largest of the angle differences, per kind of angle, 2D and 3D."""
    out = {}
    for kind, tables in noise.items():
        if not tables:
            continue
        table = np.concatenate(tables)
        groups = {"all": table.ravel(), **{part: table[:, [k for k, n in enumerate(ANGLE_NAMES) if n.endswith(part)]].ravel()
                                           for part in ("knee", "hip", "elbow", "shoulder", "lean")}}
        out[f"noise_{kind}_deg"] = {
            group: {q: round(float(np.percentile(v[np.isfinite(v)], p)), 2) for q, p in (("median", 50), ("p90", 90), ("p95", 95), ("max", 100))}
            for group, v in groups.items() if np.isfinite(v).any()}
    return out


def overall(clips: dict) -> dict:
    """Over every clip and copy: key moments against the truth, alignment error, sides, differences listed."""
    scores = [(copy, score) for copies in clips.values() for copy, score in copies.items()]
    errors = np.array([abs(attempt - truth) for _, score in scores for _, _, attempt, truth in score["key_moments"]])
    return {"key_moments": len(errors), "within_1_frame": int((errors <= 1).sum()),
            "median_error_frames": round(float(np.median(errors)), 2) if len(errors) else None,
            "mean_error_frames": round(float(np.mean(errors)), 2) if len(errors) else None,
            "alignment_mean_error_frames": round(float(np.mean([score["mean_error_frames"] for _, score in scores])), 2),
            "mirrored_found_swapped": sum(copy == "slow_mirrored" and score["attempt_sides"] == "swapped" for copy, score in scores),
            "copies_listing_a_difference": sum(bool(score["differences_listed"]) for _, score in scores), "copies": len(scores)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", required=True, nargs="+", help="FOLDER or FOLDER:ACTION (the action's rules find the key moments)")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true", help="compare the copies an earlier run left in --work")
    parser.add_argument("--passes", default="static+lifter", help=f"MediaPipe passes, on the same copies: {', '.join(PASSES)}")
    parser.add_argument("--lifter", default="stcorr:lifter", help="The lifter of the +lifter passes (a checkpoint)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="compare-self-"))
    poses = {name: default_pose(**{"lifter": args.lifter, **PASSES[name]}) for name in args.passes.split(",")}
    clips: dict[str, dict] = {name: {} for name in poses}
    noise: dict[str, dict[str, list]] = {name: {"2d": [], "3d": []} for name in poses}
    for given in args.frames:
        folder, _, action = given.partition(":")
        folder = Path(folder)
        paths = make_copies(Video(folder), work / folder.name, args.reuse)
        for pass_name, pose in poses.items():
            clips[pass_name][folder.name] = {}
            for name, rate in COPIES.items():
                comparison = analyse(paths["reference"], paths[name], action=action or None, pose=pose)
                differences = angle_noise(comparison, pose)
                clips[pass_name][folder.name][name] = score(comparison, rate, differences)
                for kind, values in differences.items():
                    noise[pass_name][kind].append(values)
    print(json.dumps({name: {"overall": overall(clips[name]), **spread(noise[name]), "clips": clips[name]} for name in poses}))


if __name__ == "__main__":
    main()
