"""Any point, with the joints known: how well each rule places the objects of a data set's pairs.

For every object correspondence (club head, ball, bat, ...) of the val pairs, at the TRUE target
frame (or, with ``--time dtw-pose-oracle``, the frame that aligner gives) and with the ANNOTATED
joints of both frames (so the pose detector is not measured), the object is placed by:

- ``body``: ``stcorr.baselines.spatial.body_transfer`` (its offset from the nearest joint,
  carried by the weighted affine map of the nearest eight joints) — what ``pose`` does;
- ``body-similarity``: the rule before: carried by the similarity (no mirroring) of the nearest four;
- ``body+refine``: that placement refined by local matching of CorrFlow features
  (``stcorr.baselines.refine``; ``--refine CHECKPOINT``, default the shipped ``stcorr:corrflow-cpu``)
  — what ``pose`` does with ``baseline.refine_checkpoint``;
- ``nearest-joint``: the target position of its nearest joint (what ``pose`` did before);
- ``relative``: the same fraction of the target frame (the fallback).

Prints JSON: the fraction within alpha x the target's keypoint box (PCK, the metric's space
term; with ``--time dtw-pose-oracle`` also within 5 frames: T@5), per rule, overall and per action.

    python benchmarks/any_point_transfer.py --data DATA [--split val] [--alpha 0.1] [--refine CHECKPOINT]
        [--time truth|dtw-pose-oracle] [--no-refine]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stcorr.baselines.refine import LocalRefiner  # noqa: E402
from stcorr.baselines.pose_descriptors import build_pose_aligner  # noqa: E402
from stcorr.baselines.spatial import (body_map, body_neighbours, body_transfer, carry_by, fit_similarity,  # noqa: E402
                                      keep_relative_position, nearest_joint_transfer, person_extent)
from stcorr.models.checkpoint import load_model  # noqa: E402
from stcorr.data.datasets import open_dataset  # noqa: E402
from stcorr.pose.skeleton import keypoint_type  # noqa: E402

RULES = ("body", "body-similarity", "body+refine", "nearest-joint", "relative")


def similarity_transfer(xy: np.ndarray, source_joints: dict, target_joints: dict) -> np.ndarray | None:
    """The rule before: ``T_a + s R (xy - S_a)``, ``s R`` the similarity of the nearest four joints."""
    used = body_neighbours(xy, source_joints, target_joints, 4)
    if not used:
        return None
    src, tgt = (np.array([joints[n] for n in used], dtype=np.float64) for joints in (source_joints, target_joints))
    scale, rotation = fit_similarity(src, tgt) if len(used) >= 2 else (1.0, np.eye(2))
    linear = scale * rotation if 0.25 <= scale <= 4.0 else np.eye(2)
    return carry_by(xy, (src[0], tgt[0], linear))


def place(rule: str, xy: np.ndarray, source_joints: dict, target_joints: dict, sizes, refine=None) -> np.ndarray:
    found = None
    if rule == "body":
        found = body_transfer(xy, source_joints, target_joints)
    elif rule == "body-similarity":
        found = similarity_transfer(xy, source_joints, target_joints)
    elif rule == "body+refine" and refine is not None:
        carried = body_map(xy, source_joints, target_joints)
        found = None if carried is None else refine(xy, carry_by(xy, carried), carried, person_extent(source_joints))
    elif rule == "nearest-joint":
        found = nearest_joint_transfer(xy, source_joints, target_joints)
    return np.asarray(found) if found is not None else keep_relative_position(xy, *sizes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", default="val")
    parser.add_argument("--alpha", type=float, default=0.1)
    parser.add_argument("--refine", default="stcorr:corrflow-cpu", help="CorrFlow checkpoint of body+refine")
    parser.add_argument("--window", type=float, default=None, help="the refiner's window (default: LocalRefiner's)")
    parser.add_argument("--min-similarity", type=float, default=None, help="the refiner's trust threshold")
    parser.add_argument("--time", choices=("truth", "dtw-pose-oracle"), default="truth",
                        help="the target frame: the true one, or the aligner's (then a hit is also within 5 frames)")
    parser.add_argument("--no-refine", action="store_true", help="leave body+refine out (no CorrFlow features)")
    args = parser.parse_args()
    dataset = open_dataset(args.data)
    tuned = {k: v for k, v in (("window", args.window), ("min_similarity", args.min_similarity)) if v is not None}
    refiner = None if args.no_refine else LocalRefiner(load_model(args.refine, "corrflow"), **tuned)
    aligner = None if args.time == "truth" else build_pose_aligner(args.time, lambda: None)
    hits: dict[str, dict[str, list[bool]]] = {rule: defaultdict(list) for rule in RULES if refiner or rule != "body+refine"}
    for pair in dataset.pairs(args.split, "13+3"):
        source, target = dataset.labels[pair.source], dataset.labels[pair.target]
        sizes = ((source.width, source.height), (target.width, target.height))
        aligned = pair.tgt[:, 0] if aligner is None else aligner.align(dataset, pair)
        for name, src, tgt, ref, t in zip(pair.names, pair.src, pair.tgt, pair.ref_size, aligned.astype(int)):
            if keypoint_type(name) != "obj":
                continue
            s, in_time = int(src[0]), abs(t - int(tgt[0])) <= 5

            def refine(xy, placed, carried, size, s=s, t=t):
                frames = refiner.frame(dataset.video(pair.source), s), refiner.frame(dataset.video(pair.target), t)
                return refiner.refine(frames[0], xy, frames[1], placed, carried[2], size).xy

            for rule in hits:
                xy = place(rule, src[1:], source.joints_at(s), target.joints_at(t), sizes, refiner and refine)
                ok = in_time and bool(np.linalg.norm(xy - tgt[1:]) <= args.alpha * ref)
                hits[rule]["all"].append(ok)
                hits[rule][pair.action].append(ok)
    print(json.dumps({"data": args.data, "split": args.split, "alpha": args.alpha, "time": args.time,
                      "refine": None if refiner is None else args.refine, **tuned,
                      "n_objects": len(hits["body"]["all"]),
                      "pck": {rule: {k: round(100 * float(np.mean(v)), 1) for k, v in sorted(by.items())}
                              for rule, by in hits.items()}}, indent=1))


if __name__ == "__main__":
    main()
