"""Would dropping MediaPipe's unsure frames help? ``dtw-pose+pose`` with the frames whose 13 joints'
mean visibility is below a threshold treated as frames where nobody was found.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/pose_frame_gate.py DATA --split train --thresholds 0,0.5,0.6,0.7,0.8

On the synthetic realism-1 renders MediaPipe often places a body on the background photograph (a
flower, a building) with a lower mean visibility than where it finds the drawn person; dropped,
those frames leave the time aligner's descriptors to interpolate from the frames around them and the
matcher to its fallback. Every pair of ``--split`` (``--max-pairs`` draws that many, seed 0); prints one
JSON line per threshold: T@1/3/5 and T@5 per point type, in %. The default pose pass, its cache.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import stcorr.pose.cache as pose_cache  # noqa: E402
from stcorr.config import load_config  # noqa: E402
from stcorr.data.datasets import open_dataset  # noqa: E402
from stcorr.evaluation.methods import build_method  # noqa: E402
from stcorr.evaluation.results import score_pairs  # noqa: E402
from stcorr.evaluation.runner import predict_pairs  # noqa: E402


def gated(track_of, threshold: float):
    """``MediaPipePose.track`` with the frames under ``threshold`` mean visibility emptied."""
    def track(self, video):
        found = track_of(self, video)
        unsure = found.visibility.mean(axis=1) < threshold
        if not unsure.any():
            return found
        xy, visibility = found.xy.copy(), found.visibility.copy()
        xy[unsure], visibility[unsure] = np.nan, 0.0
        return replace(found, xy=xy, visibility=visibility)

    return track


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--split", default="train")
    parser.add_argument("--thresholds", default="0,0.5,0.6,0.7,0.8")
    parser.add_argument("--max-pairs", type=int, default=None)
    args = parser.parse_args()
    cfg = load_config(None, {})
    dataset = open_dataset(args.data)
    pairs = dataset.pairs(args.split, cfg["data"]["setup"], cfg["data"]["min_visible"]).sample(args.max_pairs, 0)
    plain_track = pose_cache.MediaPipePose.track
    for threshold in (float(t) for t in args.thresholds.split(",")):
        pose_cache.MediaPipePose.track = gated(plain_track, threshold)
        method = build_method("dtw-pose+pose", cfg, torch.device("cpu"))
        predictions, _, _ = predict_pairs(method, dataset, pairs, progress=False)
        scores = score_pairs(pairs, predictions, (1, 3, 5))
        print(json.dumps({"threshold": threshold, **{f"T@{k}": round(100 * scores[f"T@{k}"], 1) for k in (1, 3, 5)},
                          "T@5 by type": {t: round(100 * v["T@5"], 1) for t, v in scores.get("per_type", {}).items()},
                          "pairs": len(pairs)}), flush=True)


if __name__ == "__main__":
    main()
