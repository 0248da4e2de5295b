"""Any point, with the joints known: how well each rule places the objects of a data set's pairs.

For every object correspondence (club head, ball, bat, ...) of the val pairs, at the TRUE target
frame and with the ANNOTATED joints of both frames (so neither time alignment nor the pose
detector is measured), the object is placed by:

- ``body``: ``stcorr.baselines.spatial.body_transfer`` (its offset from the nearest joint,
  carried by the local similarity of the nearest four joints) — what ``pose`` does;
- ``body+refine``: that placement refined by local matching of CorrFlow features
  (``stcorr.baselines.refine``; ``--refine CHECKPOINT``, default the shipped ``stcorr:corrflow-cpu``)
  — what ``pose`` does with ``baseline.refine_checkpoint``;
- ``nearest-joint``: the target position of its nearest joint (what ``pose`` did before);
- ``relative``: the same fraction of the target frame (the fallback).

Prints JSON: the fraction within alpha x the target's keypoint box (PCK, the metric's space
term), per rule, overall and per action.

    python benchmarks/any_point_transfer.py --data DATA [--split val] [--alpha 0.1] [--refine CHECKPOINT]
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
from stcorr.baselines.spatial import (body_similarity, body_transfer, carry_by, keep_relative_position,  # noqa: E402
                                      nearest_joint_transfer, person_extent)
from stcorr.models.checkpoint import load_model  # noqa: E402
from stcorr.data.datasets import open_dataset  # noqa: E402
from stcorr.pose.skeleton import keypoint_type  # noqa: E402

RULES = ("body", "body+refine", "nearest-joint", "relative")


def place(rule: str, xy: np.ndarray, source_joints: dict, target_joints: dict, sizes, refine=None) -> np.ndarray:
    found = None
    if rule == "body":
        found = body_transfer(xy, source_joints, target_joints)
    elif rule == "body+refine":
        carried = body_similarity(xy, source_joints, target_joints)
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
    args = parser.parse_args()
    dataset = open_dataset(args.data)
    tuned = {k: v for k, v in (("window", args.window), ("min_similarity", args.min_similarity)) if v is not None}
    refiner = LocalRefiner(load_model(args.refine, "corrflow"), **tuned)
    hits: dict[str, dict[str, list[bool]]] = {rule: defaultdict(list) for rule in RULES}
    for pair in dataset.pairs(args.split, "13+3"):
        source, target = dataset.labels[pair.source], dataset.labels[pair.target]
        sizes = ((source.width, source.height), (target.width, target.height))
        for name, src, tgt, ref in zip(pair.names, pair.src, pair.tgt, pair.ref_size):
            if keypoint_type(name) != "obj":
                continue
            s, t = int(src[0]), int(tgt[0])

            def refine(xy, placed, carried, size):
                frames = refiner.frame(dataset.video(pair.source), s), refiner.frame(dataset.video(pair.target), t)
                return refiner.refine(frames[0], xy, frames[1], placed, carried[2], carried[3], size).xy

            for rule in RULES:
                xy = place(rule, src[1:], source.joints_at(s), target.joints_at(t), sizes, refine)
                ok = bool(np.linalg.norm(xy - tgt[1:]) <= args.alpha * ref)
                hits[rule]["all"].append(ok)
                hits[rule][pair.action].append(ok)
    print(json.dumps({"data": args.data, "split": args.split, "alpha": args.alpha, "refine": args.refine, **tuned,
                      "n_objects": len(hits["body"]["all"]),
                      "pck": {rule: {k: round(100 * float(np.mean(v)), 1) for k, v in sorted(by.items())}
                              for rule, by in hits.items()}}, indent=1))


if __name__ == "__main__":
    main()
