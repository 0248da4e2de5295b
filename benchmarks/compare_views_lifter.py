"""The 3D lifter of compare's angles across views (``stcorr:lifter`` or a checkpoint), measured. Prints one JSON line.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/compare_views_lifter.py --work /tmp/lifter [--checkpoint stcorr:lifter]
        [--data SYNTH] [--real ../shared/real-dev] [--tracking]

MediaPipe's world landmarks misjudge depth from one view, so the same pose filmed from two sides
gives 3D angles far apart (docs/compare.md, "Views"). The lifter (``stcorr.models.lifter``, trained by
``stcorr train --config lifter`` on synthetic renders with their 3D truth) corrects them. Measured,
with MediaPipe's plain static pass (compare's; ``--tracking``: its video mode), MediaPipe's world
joints against the lifted ones (``lift_world``, symmetric, as compare runs it):

1. the views benchmark's pairs (``compare_views.py``'s: squat, golf swing, tennis serve, baseball pitch,
   seeds 0 and 1, 256 x 256, front against left): the median angle difference between the two views,
   overall and where 2D angles differ by more than 30 degrees, and the view difference each reads (true
   90). Detections are stored in ``--work`` and reused.
2. ``--data``: the first ``--val-videos`` val videos of each action of a ``stcorr synth`` set (true 3D
   joints in ``joints3d/``; MediaPipe through the pose cache): every frame's angles against the truth, median.
3. ``--real``: each real clip against its mirror image (MediaPipe on the flipped frames, sides swapped
   back): the median and 90th percentile angle difference (no 3D truth there; a consistency check).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from compare_views import detect_all  # the views benchmark's MediaPipe pass (benchmarks/, beside this script)
from stcorr.compare.view import view_difference
from stcorr.data.datasets import open_dataset
from stcorr.data.synthetic.build import read_camera_joints
from stcorr.data.synthetic.clip import make_clip, render_frames
from stcorr.data.video import Video
from stcorr.models.checkpoint import load_model
from stcorr.models.lifter import WorldLifter, angle_errors, lift_world
from stcorr.pose.angles import angle_series
from stcorr.pose.cache import MediaPipeLandmarker, MediaPipePose
from stcorr.pose.skeleton import MIRRORED_JOINTS

BENCH_ACTIONS, BENCH_SEEDS, BENCH_VIEWS = ("squat", "golf_swing", "tennis_serve", "baseball_pitch"), (0, 1), ("front", "left")


def views_clip(work: Path, action: str, seed: int, view: str, tracking: bool) -> dict:
    """MediaPipe's detections of one clip of the views benchmark, stored in ``work``."""
    path = work / f"{action}-{seed}-{view}{'-video' if tracking else ''}.npz"
    if not path.exists():
        clip = make_clip(action, seed, (256, 256), view=view)
        world, visibility, image = detect_all([f for f, _, _ in render_frames(clip)], MediaPipeLandmarker(tracking=tracking))
        np.savez(path, world=world, visibility=visibility, image=image)
    return dict(np.load(path))


def median(values: list[np.ndarray]) -> float | None:
    flat = np.concatenate(values) if values else np.array([])
    return round(float(np.median(flat)), 1) if flat.size else None


def seen(world: np.ndarray, visibility: np.ndarray) -> np.ndarray:
    out = world.copy()
    out[visibility < 0.5] = np.nan
    return out


def views_benchmark(model: WorldLifter, work: Path, tracking: bool) -> dict:
    d2, d3, dl, far3, farl, read = [], [], [], [], [], {"mediapipe": [], "lifted": []}
    for action in BENCH_ACTIONS:
        for seed in BENCH_SEEDS:
            a, b = (views_clip(work, action, seed, view, tracking) for view in BENCH_VIEWS)
            two = [seen(c["image"], c["visibility"]) for c in (a, b)]
            raw = [seen(c["world"], c["visibility"]) for c in (a, b)]
            lift = [seen(lift_world(model, c["world"]), c["visibility"]) for c in (a, b)]
            diff3 = np.abs(angle_series(raw[0]) - angle_series(raw[1]))
            diffl = np.abs(angle_series(lift[0]) - angle_series(lift[1]))
            diff2 = np.abs(angle_series(two[0]) - angle_series(two[1]))
            both = np.isfinite(diff3) & np.isfinite(diffl) & np.isfinite(diff2)
            d2.append(diff2[both]), d3.append(diff3[both]), dl.append(diffl[both])
            far3.append(diff3[both & (diff2 > 30)]), farl.append(diffl[both & (diff2 > 30)])
            times = np.arange(len(diff3))
            read["mediapipe"].append(view_difference(a["world"], b["world"], times, mirrored=False))
            read["lifted"].append(view_difference(lift_world(model, a["world"]), lift_world(model, b["world"]), times,
                                                  mirrored=False))
    return {"median_2d_deg": median(d2), "median_3d_mediapipe_deg": median(d3), "median_3d_lifted_deg": median(dl),
            "share_2d_over_30": round(float((np.concatenate(d2) > 30).mean()), 3),
            "where_2d_over_30": {"mediapipe_deg": median(far3), "lifted_deg": median(farl)},
            "views_read_deg": {k: [None if x is None else round(float(x)) for x in v] for k, v in read.items()}}


def truth_errors(model: WorldLifter, data: Path, tracking: bool, per_action: int) -> dict:
    dataset = open_dataset(data)
    pose = MediaPipePose({"tracking": tracking})
    names = [n for videos in dataset.videos_by_action("val").values() for n in videos[:per_action]
             if read_camera_joints(data, n) is not None]
    errors = angle_errors(model, ((pose.track(dataset.video(n)).world, read_camera_joints(data, n)) for n in names))
    return {"videos": len(names), **{f"{k}_deg": round(v, 1) for k, v in errors.items()}}


def real_mirror(model: WorldLifter, real: Path, work: Path, tracking: bool) -> dict:
    per_clip, raw_all, lift_all = {}, [], []
    for folder in sorted((real / "frames").iterdir()):
        path = work / f"real-{folder.name}{'-video' if tracking else ''}.npz"
        if not path.exists():
            frames = list(Video(folder).iter_frames())
            plain = detect_all(frames, MediaPipeLandmarker(tracking=tracking))[:2]
            flipped = detect_all([f[:, ::-1].copy() for f in frames], MediaPipeLandmarker(tracking=tracking))[:2]
            np.savez(path, world=plain[0], visibility=plain[1], world_m=flipped[0], visibility_m=flipped[1])
        c = np.load(path)
        raw = [seen(c["world"], c["visibility"]), seen(c["world_m"], c["visibility_m"])[:, MIRRORED_JOINTS]]
        lift = [seen(lift_world(model, c["world"]), c["visibility"]),
                seen(lift_world(model, c["world_m"]), c["visibility_m"])[:, MIRRORED_JOINTS]]
        r = np.abs(angle_series(raw[0]) - angle_series(raw[1]))
        l_ = np.abs(angle_series(lift[0]) - angle_series(lift[1]))
        both = np.isfinite(r) & np.isfinite(l_)
        raw_all.append(r[both]), lift_all.append(l_[both])
        per_clip[folder.name] = {"mediapipe_deg": median([r[both]]), "lifted_deg": median([l_[both]])}
    flat_raw, flat_lift = np.concatenate(raw_all), np.concatenate(lift_all)
    return {"median": {"mediapipe_deg": median(raw_all), "lifted_deg": median(lift_all)},
            "p90": {"mediapipe_deg": round(float(np.percentile(flat_raw, 90)), 1),
                    "lifted_deg": round(float(np.percentile(flat_lift, 90)), 1)}, "clips": per_clip}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="Folder for the detections (reused between runs)")
    parser.add_argument("--checkpoint", default="stcorr:lifter")
    parser.add_argument("--data", type=Path, default=None, help="A stcorr synth set: its val videos against their 3D truth")
    parser.add_argument("--val-videos", type=int, default=2, help="With --data: the first N val videos of each action")
    parser.add_argument("--real", type=Path, default=None, help="A Penn Action-layout folder of real clips (frames/)")
    parser.add_argument("--tracking", action="store_true", help="MediaPipe's video mode (compare runs its static pass)")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    model = load_model(args.checkpoint, "lifter")
    result: dict = {"checkpoint": args.checkpoint, "mediapipe": "video" if args.tracking else "static",
                    "views": views_benchmark(model, args.work, args.tracking)}
    if args.data is not None:
        result["truth_val"] = truth_errors(model, args.data, args.tracking, args.val_videos)
    if args.real is not None:
        result["real_mirrored"] = real_mirror(model, args.real, args.work, args.tracking)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
