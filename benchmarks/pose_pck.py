"""How close MediaPipe's joints come to the annotated ones, per clip, for each variant of the pose pass.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/pose_pck.py DATA [--cache FOLDER] [--variants plain,flip,...] [--clips A,B]

DATA is a Penn Action layout data set with per-frame labels (e.g. ../shared/real-dev). Each
variant is the default ``baseline.pose`` settings with its ``augment`` and ``filter`` replaced
(``VARIANTS``); tracks come through the pose cache (FOLDER, else the default folder), so a
variant computed once is read back later. Per clip and over all clips, for every (frame, joint)
labelled visible: ``PCK@0.1`` / ``PCK@0.2``, the fraction whose MediaPipe joint counts as seen
(visibility >= ``min_visibility``, as the ``pose`` matcher reads them) and lies within alpha x
max(w, h) of the box around the frame's labelled joints (``stcorr.metrics.tracking``); a joint
not seen counts as wrong. ``seen``: the fraction seen. ``s_per_frame``: wall seconds per frame
spent computing a variant's tracks (null when all came from the cache). Prints one JSON line
per variant.

Left and right: Penn Action's labels name the sides one way in some clips and the other way in
others (on ../shared/real-dev, 0191, 0280, 0992 and 1198 name them as the person seen in a mirror
would, against MediaPipe in every frame), so each clip is scored under the labelling, as given or
with left and right swapped, whose median distance to the seen joints of the first variant
(plain) is lower, the same for every variant (``mirrored_labels``: 1 when swapped, a count of
clips over all). A side MediaPipe swaps in some frames of a clip still counts as wrong.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from stcorr.pose.cache import mediapipe_cache
from stcorr.pose.mediapipe import penn_track
from stcorr.config import default_config
from stcorr.data.datasets import open_dataset
from stcorr.pose.skeleton import MIRRORED_JOINTS
from stcorr.metrics.tracking import ALPHAS, box_normaliser

PLAIN = {"flip": False, "crop": None, "crop_margin": 1.0}
FLIP = {**PLAIN, "flip": True}
FLIP_CROP = {**PLAIN, "flip": True, "crop": 256}
#: The extra passes only on the frames the plain pass finds hard or small (the default since they cost 3.5x).
WHERE_NEEDED = {"flip_below": 0.7, "crop_below": 0.9, "crop_zoom": 1.5}
NO_FILTER = {"sides": False, "window": 0, "degree": 2, "max_gap": 0}
FILTER = {**NO_FILTER, "sides": True, "max_gap": 16}
VARIANTS: dict[str, dict] = {
    "plain": {"augment": PLAIN, "filter": NO_FILTER},
    "flip": {"augment": FLIP, "filter": NO_FILTER},
    "crop": {"augment": {**PLAIN, "crop": 256}, "filter": NO_FILTER},
    "sides": {"augment": PLAIN, "filter": {**NO_FILTER, "sides": True}},
    "gaps": {"augment": PLAIN, "filter": {**NO_FILTER, "max_gap": 16}},
    "smooth": {"augment": PLAIN, "filter": {**NO_FILTER, "window": 2}},
    "filter": {"augment": PLAIN, "filter": FILTER},
    "flip+crop": {"augment": FLIP_CROP, "filter": NO_FILTER},
    "flip+filter": {"augment": FLIP, "filter": FILTER},
    "all": {"augment": FLIP_CROP, "filter": FILTER},
    "where-needed": {"augment": {**FLIP_CROP, **WHERE_NEEDED}, "filter": FILTER},
    "tracking": {"augment": PLAIN, "filter": NO_FILTER, "tracking": True},
    "tracking+filter": {"augment": PLAIN, "filter": FILTER, "tracking": True},
    "where-needed+tracking": {"augment": {**FLIP_CROP, **WHERE_NEEDED}, "filter": FILTER, "tracking": True},
    "where-needed+hold": {"augment": {**FLIP_CROP, **WHERE_NEEDED, "hold_box": 15}, "filter": FILTER},
    "where-needed+tracking+hold": {"augment": {**FLIP_CROP, **WHERE_NEEDED, "hold_box": 15}, "filter": FILTER,
                                   "tracking": True},
    "where-needed+tracking+search": {"augment": {**FLIP_CROP, **WHERE_NEEDED, "hold_box": 15, "search_every": 8},
                                     "filter": FILTER, "tracking": True},
}


def clip_counts(labels, xy: np.ndarray, visibility: np.ndarray, min_visibility: float,
                mirrored: bool | None = None) -> dict[str, int]:
    """Counts of labelled (frame, joint) points, seen ones and correct ones at each alpha, under the
    clip's left/right convention (``mirrored``: 1 when the labels name the sides the other way;
    None: the labelling nearer these joints)."""
    truth = np.stack([labels.x, labels.y], axis=-1)
    n = min(len(truth), len(xy))
    truth, labelled, xy, visibility = truth[:n], labels.visible[:n].astype(bool), xy[:n], visibility[:n]
    given = np.isfinite(xy[..., 0]) & (visibility >= min_visibility)
    seen = labelled & given
    distance = np.linalg.norm(np.nan_to_num(xy) - truth, axis=-1)
    mirrored_distance = np.linalg.norm(np.nan_to_num(xy[:, list(MIRRORED_JOINTS)]) - truth, axis=-1)
    if mirrored is None:
        mirrored = bool(np.median(mirrored_distance[seen]) < np.median(distance[seen])) if seen.any() else False
    if mirrored:
        distance = mirrored_distance
        seen = labelled & given[:, list(MIRRORED_JOINTS)]
    size = box_normaliser(truth, labelled)[:, None]
    counts = {"n": int(labelled.sum()), "seen": int(seen.sum()), "mirrored": int(mirrored)}
    for alpha in ALPHAS:
        counts[f"PCK@{alpha:g}"] = int((seen & (distance <= alpha * size)).sum())
    return counts


def fractions(counts: dict[str, int]) -> dict:
    n = max(counts["n"], 1)
    return {"n_points": counts["n"], **{k: round(v / n, 4) for k, v in counts.items() if k not in ("n", "mirrored")},
            "mirrored_labels": counts.get("mirrored", 0)}


def measure(dataset, names: list[str], pose: dict, conventions: dict[str, bool]) -> dict:
    """The variant ``pose``'s figures; ``conventions`` (clip -> labels mirrored) is filled on first use."""
    cache = mediapipe_cache(pose)
    frames, start, per_clip, total = 0, time.perf_counter(), {}, {}
    for name in names:
        video = dataset.video(name)
        before = cache.computed
        penn = penn_track(cache.track(video))
        xy, visibility = penn.xy, penn.visibility
        frames += video.num_frames if cache.computed > before else 0
        counts = clip_counts(dataset.labels[name], xy, visibility, pose["min_visibility"], conventions.get(name))
        conventions[name] = bool(counts["mirrored"])
        per_clip[f"{name} {dataset.labels[name].action}"] = fractions(counts)
        total = {k: total.get(k, 0) + v for k, v in counts.items()}
    seconds = time.perf_counter() - start
    return {"all": fractions(total), "per_clip": per_clip, "s_per_frame": round(seconds / frames, 3) if frames else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--cache", default=None, help="pose cache folder (default: baseline.pose.cache)")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--clips", default=None, help="comma-separated clip names (default: every labelled clip)")
    args = parser.parse_args()
    dataset = open_dataset(args.data)
    names = args.clips.split(",") if args.clips else sorted(dataset.labels)
    defaults = default_config()["baseline"]["pose"]
    conventions: dict[str, bool] = {}
    for variant in args.variants.split(","):
        pose = {**defaults, "tracking": False, **VARIANTS[variant], "cache": args.cache or defaults["cache"]}
        print(json.dumps({"variant": variant, **VARIANTS[variant], **measure(dataset, names, pose, conventions)}), flush=True)


if __name__ == "__main__":
    main()
