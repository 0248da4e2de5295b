"""The same performance seen from two camera views: joint angles from 2D image joints against 3D world joints. Prints one JSON line.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/compare_views.py [--actions squat,golf_swing,...] [--seeds 0,1]
        [--views front,left] [--size 256] [--flip] [--crop 256 [--crop-margin 1.0]] [--tracking]

Each synthetic video (``stcorr.data.synthetic``, plain look) is rendered twice from one seed: the
same performer and motion, the camera on two sides (``--views``; each side's azimuth carries the
same random offset, so they are 90 degrees apart for front,left). MediaPipe Pose runs on every
frame of both; frame t of one view shows the same pose as frame t of the other, so every angle
should agree. Per video and over all: the median absolute difference of the angles
(``stcorr.pose.angles``, flexion convention) over frames and angles, from 2D joints and from
3D world joints; the 3D median where 2D differs by more than 30 degrees; the truth's own 2D
median (the drawn joints, no detector); and ``view.view_difference`` against the true 90.
``--flip``: MediaPipe on each frame and its mirror image, averaged (``pose.augment``: world
landmarks too). ``--crop``: also a square around the person (the plain pass's landmarks'
box, ``--crop-margin`` of its size beyond it) resized larger, averaged with the plain pass by
visibility times zoom (``pose.augment``: world landmarks too). ``--tracking``: the plain pass in
MediaPipe's video mode (what ``stcorr predict`` and ``compare`` run: the person followed from frame
to frame, landmarks and world landmarks smoothed by MediaPipe; a fresh graph per video; the flip
and crop passes stay single-frame, as in ``pose.cache``). ``variants``: the same detections' world joints post-processed
(``stcorr.compare.world``): smoothed over time (sigma 1, 2, 4 frames), bone lengths kept, both.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from stcorr.pose.augment import AugmentedLandmarker
from stcorr.pose.cache import MediaPipeLandmarker
from stcorr.pose.mediapipe import PENN_INDEX
from stcorr.pose.angles import angle_series
from stcorr.compare.view import view_difference
from stcorr.compare.world import lengths_kept, smoothed_world

VARIANTS = {"raw": lambda w: w, "smooth1": lambda w: smoothed_world(w, 1.0), "smooth2": lambda w: smoothed_world(w, 2.0),
            "smooth4": lambda w: smoothed_world(w, 4.0), "lengths": lengths_kept,
            "smooth2+lengths": lambda w: lengths_kept(smoothed_world(w, 2.0))}
from stcorr.data.synthetic.clip import make_clip, render_frames


def detect_all(frames, landmarker) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(T, 13, 3) world joints (every joint MediaPipe gives, NaN where nobody is found), (T, 13)
    visibility and (T, 13, 2) image joints in pixels."""
    world, visibility = np.full((len(frames), 13, 3), np.nan), np.zeros((len(frames), 13))
    image = np.full((len(frames), 13, 2), np.nan)
    for t, frame in enumerate(frames):
        frame = np.asarray(frame)
        found = landmarker(frame)
        if found is not None:
            world[t], visibility[t] = found[1][PENN_INDEX], found[0][PENN_INDEX, 3]
            image[t] = found[0][PENN_INDEX, :2] * [frame.shape[1], frame.shape[0]]
    return world, visibility, image


def detect(landmarker, frames: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(T, 13, 2) pixels and (T, 13, 3) world joints, NaN where nobody (or a joint under 0.5 visibility) is found."""
    world, visibility, image = detect_all(frames, landmarker)
    unseen = visibility < 0.5
    image[unseen], world[unseen] = np.nan, np.nan
    return image, world


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", default="squat,golf_swing,tennis_serve,baseball_pitch")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--views", default="front,left")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--flip", action="store_true", help="MediaPipe on the frame and its mirror image, averaged")
    parser.add_argument("--crop", type=int, default=None, help="Also a square around the person resized to this many pixels, "
                        "averaged with the plain pass by visibility times zoom (pose.augment)")
    parser.add_argument("--crop-margin", type=float, default=1.0)
    parser.add_argument("--tracking", action="store_true", help="The plain pass in MediaPipe's video mode (a fresh graph per video)")
    args = parser.parse_args()
    views = args.views.split(",")
    augmented = args.flip or args.crop is not None

    def make_landmarker():
        plain = MediaPipeLandmarker(tracking=args.tracking)
        single_frames = MediaPipeLandmarker() if args.tracking else plain  # mirrored frames and crops break a track
        return (AugmentedLandmarker(plain, flip=args.flip, crop_size=args.crop, crop_margin=args.crop_margin, extra=single_frames)
                if augmented else plain)

    landmarker = make_landmarker()
    calls = 0
    per_video, flat2, flat3, truth2 = [], [], [], []
    variants = {name: {"d3": [], "far": [], "views": []} for name in VARIANTS}
    for action in args.actions.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            clips = [make_clip(action, seed, (args.size, args.size), view=v) for v in views]
            found = []
            for clip in clips:
                if args.tracking:  # the video mode follows one person: a fresh graph per video
                    calls += getattr(landmarker, "calls", 0) or 0
                    landmarker = make_landmarker()
                found.append(detect(landmarker, [np.asarray(f) for f, _, _ in render_frames(clip)]))
            d2 = np.abs(angle_series(found[0][0]) - angle_series(found[1][0]))
            d3 = np.abs(angle_series(found[0][1]) - angle_series(found[1][1]))
            dt = np.abs(angle_series(clips[0].joints_xy()) - angle_series(clips[1].joints_xy()))
            both = np.isfinite(d2) & np.isfinite(d3)
            flat2.append(d2[both]), flat3.append(d3[both]), truth2.append(dt[np.isfinite(dt)])
            view = view_difference(found[0][1], found[1][1], np.arange(len(d2)), mirrored=False)
            for name, steady in VARIANTS.items():
                worlds = [steady(f[1]) for f in found]
                dv = np.abs(angle_series(worlds[0]) - angle_series(worlds[1]))
                variants[name]["d3"].append(dv[both]), variants[name]["far"].append(dv[both & (d2 > 30)])
                variants[name]["views"].append(view_difference(worlds[0], worlds[1], np.arange(len(d2)), mirrored=False))
            per_video.append({"action": action, "seed": seed, "frames": len(d2),
                              "found": [round(float(np.isfinite(f[0][:, 1, 0]).mean()), 2) for f in found],
                              "median_2d_deg": round(float(np.median(d2[both])), 1) if both.any() else None,
                              "median_3d_deg": round(float(np.median(d3[both])), 1) if both.any() else None,
                              "truth_median_2d_deg": round(float(np.nanmedian(dt)), 1), "view_difference_deg": view})
    d2, d3, dt = np.concatenate(flat2), np.concatenate(flat3), np.concatenate(truth2)
    far = d2 > 30
    print(json.dumps({"views": views, "median_2d_deg": round(float(np.median(d2)), 1),
                      "median_3d_deg": round(float(np.median(d3)), 1),
                      "share_2d_over_30": round(float(far.mean()), 3),
                      "median_3d_where_2d_over_30_deg": round(float(np.median(d3[far])), 1) if far.any() else None,
                      "truth_median_2d_deg": round(float(np.median(dt)), 1), "flip": args.flip,
                      "crop": args.crop, "crop_margin": args.crop_margin, "tracking": args.tracking,
                      "landmarker_calls": calls + getattr(landmarker, "calls", 0) if augmented else None,
                      "variants": {name: {"median_3d_deg": round(float(np.median(np.concatenate(v["d3"]))), 1),
                                          "median_3d_where_2d_over_30_deg": round(float(np.median(np.concatenate(v["far"]))), 1),
                                          "view_difference_deg": [x for x in v["views"]]}
                                   for name, v in variants.items()},
                      "videos": per_video}))


if __name__ == "__main__":
    main()
