"""Time alignment by the pose cycle embedding (``cycle-pose``) against DTW on pose descriptors
(``dtw-pose``), time only (no spatial matching): for each aligner, the fraction of a data set's
correspondences whose matched target frame is within k frames of the truth, the mean frame error,
per action and over all. Prints JSON.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/cycle_pose_alignment.py DATA --checkpoint RUN/checkpoint
        [--split val] [--setup 13+3] [--joints mediapipe,labels] [--max-pairs N]

Aligners, each on MediaPipe's joints (``--joints mediapipe``, the pose cache) and on the annotated
ones (``labels``; descriptors with MediaPipe's settings, as the embedding was trained):
- ``dtw-pose``: DTW over pose descriptors (stcorr.baselines.pose_descriptors, with its speed pass);
- ``cycle-pose``: DTW (cosine) over the embedding; ``cycle-pose-nn``: each frame's nearest target
  frame in the embedding (what the cycle loss trains directly);
- ``dtw-pose+cycle-W``: DTW over dtw-pose's cost plus W x the embedding's cosine cost (each over its median);
- ``dtw-pose-raw``: DTW over the embedding's input (descriptors with MediaPipe's settings), no speed pass.

MediaPipe's joints are read as the methods read them (cpu.yaml's ``baseline.pose``, ``--cache`` its folder).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from typing import Callable

import numpy as np

from stcorr.alignment.dtw import align_frames, cosine_cost, dtw, dtw_align
from stcorr.baselines.pose_descriptors import PoseTimeAligner, detector_describer, oracle_describer
from stcorr.baselines.time_alignment import match_frames
from stcorr.config import load_config
from stcorr.data.datasets import Dataset, open_dataset
from stcorr.data.pairs import Pair, source_frames
from stcorr.models.checkpoint import load_model
from stcorr.models.cycle_pose import embed_descriptors
from stcorr.pose.descriptors import MEDIAPIPE_SETTINGS, descriptor_cost

KS = (1, 3, 5)
Align = Callable[[Dataset, Pair], np.ndarray]


def embedder(model, describe):
    cache: dict[str, np.ndarray] = {}

    def embedded(dataset: Dataset, name: str) -> np.ndarray:
        if name not in cache:
            cache[name] = embed_descriptors(model, describe(dataset, name))
        return cache[name]

    return embedded


def embedding_aligner(model, describe, rule: str) -> Align:
    embedded = embedder(model, describe)

    def align(dataset: Dataset, pair: Pair) -> np.ndarray:
        matched = match_frames(embedded(dataset, pair.source), embedded(dataset, pair.target), rule, "cosine")  # type: ignore[arg-type]
        return matched[source_frames(pair, dataset.video(pair.source))]

    return align


def summed_aligner(model, describe, pose: PoseTimeAligner, weight: float) -> Align:
    """DTW over dtw-pose's cost plus ``weight`` x the embedding's cosine cost, each over its median."""
    embedded = embedder(model, describe)

    def align(dataset: Dataset, pair: Pair) -> np.ndarray:
        a, b = pose.pair_descriptors(dataset, pair)
        costs = [descriptor_cost(a, b), cosine_cost(embedded(dataset, pair.source), embedded(dataset, pair.target))]
        cost = sum(w * c / max(float(np.median(c)), 1e-9) for w, c in zip((1.0, weight), costs))
        return align_frames(dtw(cost)[1], len(a))[source_frames(pair, dataset.video(pair.source))]

    return align


def raw_dtw_aligner(describe) -> Align:
    def align(dataset: Dataset, pair: Pair) -> np.ndarray:
        a, b = describe(dataset, pair.source), describe(dataset, pair.target)
        shared = np.isfinite(a).all(axis=0) & np.isfinite(b).all(axis=0)
        matched = dtw_align(a[:, shared], b[:, shared], "euclidean") if shared.any() else np.zeros(len(a), np.int64)
        return matched[source_frames(pair, dataset.video(pair.source))]

    return align


def time_scores(align: Align, dataset: Dataset, pairs) -> dict:
    errors: dict[str, list] = defaultdict(list)
    for pair in pairs:
        errors[pair.action].append(np.abs(align(dataset, pair) - pair.tgt[:, 0]))
    errors = {a: np.concatenate(e) for a, e in sorted(errors.items())}
    errors["all"] = np.concatenate(list(errors.values()))
    return {a: {f"T@{k}": round(float(np.mean(e <= k)), 4) for k in KS}
            | {"mean_error": round(float(np.mean(e)), 2), "n": int(len(e))} for a, e in errors.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--split", default="val")
    parser.add_argument("--setup", default="13+3")
    parser.add_argument("--joints", default="mediapipe,labels")
    parser.add_argument("--max-pairs", type=int, default=0)
    parser.add_argument("--cache", default=None)
    args = parser.parse_args()
    dataset = open_dataset(args.data)
    pairs = list(dataset.pairs(args.split, args.setup))
    if args.max_pairs:
        pairs = [pairs[i] for i in np.random.default_rng(0).choice(len(pairs), min(args.max_pairs, len(pairs)), replace=False)]
    model = load_model(args.checkpoint, "cycle-pose")
    results = {}
    for joints in args.joints.split(","):
        if joints == "labels":
            dtw_pose = oracle_describer()
            describe = oracle_describer(MEDIAPIPE_SETTINGS)
        else:
            from stcorr.pose.cache import MediaPipePose  # the pose extra

            pose = load_config(None)["baseline"]["pose"]
            mediapipe = MediaPipePose({**pose, "cache": args.cache or pose["cache"]})
            dtw_pose = describe = detector_describer(mediapipe, MEDIAPIPE_SETTINGS)
        pose = PoseTimeAligner("dtw-pose", dtw_pose, "dtw")
        aligners: dict[str, Align] = {
            "dtw-pose": pose.align,
            "dtw-pose+cycle-0.5": summed_aligner(model, describe, pose, 0.5),
            "dtw-pose+cycle-1": summed_aligner(model, describe, pose, 1.0),
            "cycle-pose": embedding_aligner(model, describe, "dtw"),
            "cycle-pose-nn": embedding_aligner(model, describe, "nn"),
            "dtw-pose-raw": raw_dtw_aligner(describe),
        }
        results[joints] = {name: time_scores(align, dataset, pairs) for name, align in aligners.items()}
    print(json.dumps({"data": args.data, "split": args.split, "setup": args.setup, "pairs": len(pairs),
                      "checkpoint": args.checkpoint, "results": results}, indent=1))


if __name__ == "__main__":
    main()
