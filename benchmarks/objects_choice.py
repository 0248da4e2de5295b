"""Choosing per point between two methods' saved predictions: how far can a choice go?

Reads two PREDS.json of ``stcorr eval --save-predictions`` on the same pairs (A: e.g. ``dtw-pose+pose``,
B: e.g. ``--checkpoint stcorr:cpu-long-pose``) and prints JSON, per keypoint type: T@k of A, of B,
of a perfect chooser (either right: the ceiling of any choice), of both right, and of the rule "A's
point where A's score reaches a threshold, else B's" for each threshold; and the share of points
within k frames for each.

    python benchmarks/objects_choice.py A.preds.json B.preds.json [--k 5] [--thresholds 0.05,0.1,0.2,0.3,0.5]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def points(path: str) -> list[dict]:
    """Every keypoint of every pair of a PREDS.json, in order."""
    return [point for pair in json.loads(Path(path).read_text()) for point in pair["keypoints"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--thresholds", default="0.05,0.1,0.2,0.3,0.5")
    args = parser.parse_args()
    a, b = points(args.a), points(args.b)
    if len(a) != len(b) or any(p["truth"] != q["truth"] for p, q in zip(a, b)):
        raise SystemExit("the two files do not hold the same pairs and points")
    out = {}
    for kind in ("hum", "obj"):
        rows = [(p, q) for p, q in zip(a, b) if p["type"] == kind]
        right_a = np.array([p["correct"][str(args.k)] for p, _ in rows])
        right_b = np.array([q["correct"][str(args.k)] for _, q in rows])
        score_a = np.array([p["score"] for p, _ in rows])

        def timely(which: int) -> float:
            return round(100 * float(np.mean([abs(pair[which]["target"][0] - pair[which]["truth"][0]) <= args.k for pair in rows])), 1)

        def pct(hits: np.ndarray) -> float:
            return round(100 * float(np.mean(hits)), 1)

        out[kind] = {"n": len(rows), "A": pct(right_a), "B": pct(right_b), "either (ceiling)": pct(right_a | right_b),
                     "both": pct(right_a & right_b), "A within k frames": timely(0), "B within k frames": timely(1),
                     "A where its score >= th, else B": {th: pct(np.where(score_a >= float(th), right_a, right_b))
                                                         for th in args.thresholds.split(",")}}
    print(json.dumps({"a": args.a, "b": args.b, f"T@{args.k}": out}, indent=1))


if __name__ == "__main__":
    main()
