"""Where Penn Action's head is among MediaPipe's landmarks: PCK of candidate head points, per clip.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/pose_head.py DATA [--split val] [--cache FOLDER]

DATA is a Penn Action layout data set with per-frame labels (../shared/real-dev, or a synthetic set).
Penn Action marks one "head" point; MediaPipe gives a nose, eyes, ears and a mouth. Each candidate
(``CANDIDATES``: the mean of some of those landmarks) is scored against the labelled head of every
frame where the head is labelled visible: PCK@0.1 and PCK@0.2 of the box around the frame's labelled
joints (``stcorr.metrics.tracking``), a frame counting as seen where the nose reaches
``min_visibility`` (the head's visibility in ``stcorr.pose.mediapipe.penn_track``). Tracks come from
the pose cache under the default ``baseline.pose`` settings (computed where missing). Prints one JSON
object: per candidate, over all clips and per clip.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from stcorr.config import default_config
from stcorr.data.datasets import open_dataset
from stcorr.metrics.tracking import box_normaliser
from stcorr.pose.cache import mediapipe_cache
from stcorr.pose.skeleton import JOINTS

#: Candidate head points: MediaPipe landmark indices whose mean is the head.
CANDIDATES: dict[str, list[int]] = {
    "nose": [0], "eyes": [2, 5], "ears": [7, 8], "eyes+ears": [2, 5, 7, 8], "face (0-10)": list(range(11)),
}
ALPHAS = (0.1, 0.2)


def head_counts(xy: np.ndarray, nose_visibility: np.ndarray, truth: np.ndarray, labelled: np.ndarray,
                size: np.ndarray, min_visibility: float) -> dict[str, dict[str, int]]:
    """Per candidate: labelled heads (``n``) and those within each alpha. ``xy`` (T, 33, 2) landmarks
    in native pixels; ``truth`` (T, 2) the labelled head; ``size`` (T,) the box normaliser."""
    seen = labelled & (nose_visibility >= min_visibility)
    counts = {}
    for name, landmarks in CANDIDATES.items():
        distance = np.linalg.norm(np.nan_to_num(xy[:, landmarks].mean(axis=1)) - truth, axis=1)
        counts[name] = {"n": int(labelled.sum()),
                        **{f"PCK@{a:g}": int((seen & (distance <= a * size)).sum()) for a in ALPHAS}}
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--split", default="all", help="train, val or all (default)")
    parser.add_argument("--cache", default=None, help="pose cache folder (default: baseline.pose.cache)")
    args = parser.parse_args()
    dataset = open_dataset(args.data)
    pose = dict(default_config()["baseline"]["pose"])
    pose["cache"] = args.cache or pose["cache"]
    cache = mediapipe_cache(pose)
    head = JOINTS.index("head")
    total = {name: {"n": 0, **{f"PCK@{a:g}": 0 for a in ALPHAS}} for name in CANDIDATES}
    per_clip = {}
    for name in dataset.videos(args.split):
        labels = dataset.labels[name]
        track = cache.track(dataset.video(name))
        truth = np.stack([labels.x, labels.y], axis=-1)
        n = min(len(truth), track.num_frames)
        labelled = labels.visible[:n].astype(bool)
        counts = head_counts(track.xy[:n], track.visibility[:n, 0], truth[:n, head], labelled[:, head],
                             box_normaliser(truth[:n], labelled), float(pose["min_visibility"]))
        per_clip[f"{name} {labels.action}"] = {c: round(v["PCK@0.1"] / max(v["n"], 1), 3) for c, v in counts.items()}
        for candidate, values in counts.items():
            total[candidate] = {k: total[candidate][k] + v for k, v in values.items()}
    overall = {c: {k: round(v / max(t["n"], 1), 4) for k, v in t.items() if k != "n"} | {"n": t["n"]}
               for c, t in total.items()}
    print(json.dumps({"data": args.data, "split": args.split, "all": overall, "per_clip_PCK@0.1": per_clip}, indent=1))


if __name__ == "__main__":
    main()
