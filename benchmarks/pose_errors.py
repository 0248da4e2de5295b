"""How MediaPipe Pose errs on a synthetic data set, against the generator's true joints.

    python benchmarks/pose_errors.py DATA [--cache FOLDER]

MediaPipe's landmarks come through the pose cache (``baseline.pose.cache``: FOLDER, else the
default folder); the script prints how many tracks it had to compute (0 = all cache hits).
Figures (JSON), per frame with a visible person in the truth:

- ``missed_frames``: fraction of frames where MediaPipe finds nobody;
- ``swapped_frames``: of the found frames, those whose left/right labels fit the truth better
  swapped (summed error over the six left/right pairs, swapped below 0.5 x unswapped);
- ``dropped_joints``: of the truly visible joints in found frames, those below
  ``min_visibility``;
- ``error_*``: distance of each kept joint (after undoing a whole-frame swap) to the truth, in
  units of the person's size (the longer side of the box around the visible true joints):
  median, 90th percentile, the robust sigma of one axis (1.4826 x median absolute deviation of x
  and y errors pooled) and ``outliers`` (fraction beyond 0.25 of the size).

``stcorr.pose.maps.MEDIAPIPE_ERRORS`` holds what this printed on the seed-0 set.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from stcorr.pose.cache import mediapipe_cache
from stcorr.pose.mediapipe import penn_track
from stcorr.data.datasets import open_dataset
from stcorr.pose.maps import MIRROR

PAIRS = [(a, b) for a, b in enumerate(MIRROR) if a < b]


def video_errors(labels, track, min_visibility: float) -> dict[str, list]:
    penn = penn_track(track)
    xy, visibility = penn.xy, penn.visibility
    truth = np.stack([labels.x, labels.y], axis=-1)
    out = {"missed": [], "swapped": [], "dropped": [], "dx": [], "error": []}
    for t in range(labels.num_frames):
        visible = labels.visible[t]
        if visible.sum() < 2:
            continue
        size = float(np.ptp(truth[t, visible], axis=0).max())
        found = bool(np.isfinite(xy[t, 0, 0]))
        out["missed"].append(not found)
        if not found or size <= 0:
            continue
        straight = np.linalg.norm(xy[t] - truth[t], axis=1)
        mirrored = np.linalg.norm(xy[t, list(MIRROR)] - truth[t], axis=1)
        both = visible & visible[list(MIRROR)]
        swapped = both.any() and mirrored[both].sum() < 0.5 * straight[both].sum()
        out["swapped"].append(bool(swapped))
        predicted = xy[t, list(MIRROR)] if swapped else xy[t]
        kept = visible & ((visibility[t, list(MIRROR)] if swapped else visibility[t]) >= min_visibility)
        out["dropped"] += list(~kept[visible])
        out["dx"] += list(((predicted[kept] - truth[t, kept]) / size).ravel())
        out["error"] += list(np.linalg.norm(predicted[kept] - truth[t, kept], axis=1) / size)
    return out


def summarise(errors: dict[str, list]) -> dict[str, float]:
    dx, error = np.asarray(errors["dx"]), np.asarray(errors["error"])
    return {
        "frames": len(errors["missed"]),
        "missed_frames": float(np.mean(errors["missed"])),
        "swapped_frames": float(np.mean(errors["swapped"])),
        "dropped_joints": float(np.mean(errors["dropped"])),
        "error_median": float(np.median(error)),
        "error_p90": float(np.percentile(error, 90)),
        "error_sigma": float(1.4826 * np.median(np.abs(dx - np.median(dx)))),
        "outliers": float(np.mean(error > 0.25)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--cache", default=None)
    parser.add_argument("--min-visibility", type=float, default=0.5)
    args = parser.parse_args()
    dataset = open_dataset(Path(args.data))
    cache = mediapipe_cache({"model_complexity": 1, "cache": args.cache})
    total: dict[str, list] = {}
    per_split: dict[str, dict[str, list]] = {}
    for name, labels in sorted(dataset.labels.items()):
        found = video_errors(labels, cache.track(dataset.video(name)), args.min_visibility)
        for bucket in (total, per_split.setdefault(labels.split, {})):
            for key, values in found.items():
                bucket.setdefault(key, []).extend(values)
    report = {"data": args.data, "videos": len(dataset.labels), "tracks_computed": cache.computed,
              "all": summarise(total), **{split: summarise(e) for split, e in sorted(per_split.items())}}
    json.dump(report, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
