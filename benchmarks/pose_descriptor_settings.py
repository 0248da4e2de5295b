"""How the pose descriptor's settings align time on a data set's pairs: for each setting, the
fraction of correspondences whose DTW-matched target frame is within k frames of the truth
(time only, no spatial matching), per action and over all. Prints JSON.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/pose_descriptor_settings.py DATA [--split train]
        [--joints labels|mediapipe] [--cache FOLDER] [--videos-per-action N] [--world-angles 0,1,1.5,2,3 [--lifter CKPT] [--world-bones 0,1]]

``--joints labels`` uses the annotated joints (no MediaPipe); ``mediapipe`` MediaPipe's joints as the
``*-pose`` methods read them (cpu.yaml's ``baseline.pose``: the augmented pass, the filter) from the
pose cache (``--cache``, else the default folder), computing what is missing.
``--videos-per-action N``: only the pairs among the first N videos of each action (MediaPipe on fewer).
``--world-angles W,...`` (with ``--joints mediapipe``): instead of the grid, MediaPipe's settings with the
block of the world (3D) joints' angles weighted W (0: without it; ``stcorr.pose.descriptors``, 7);
``--lifter CKPT`` (e.g. ``stcorr:lifter``): those world joints lifted by that 3D lifter first
(``baseline.world_lifter``); ``--world-bones B,...``: each angle weight with each weight of the block of
3D bone directions (``stcorr.pose.descriptors``, 8; 0: without it).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
from collections import defaultdict

import numpy as np

from stcorr.baselines.pose_descriptors import PoseTimeAligner, detector_describer, oracle_describer
from stcorr.pose.descriptors import MEDIAPIPE_SETTINGS, DescriptorSettings
from stcorr.data.datasets import open_dataset
from stcorr.settings import default_section

KS = (1, 3, 5)
GRID = {"smooth_sigma": (0.0, 1.0, 2.0), "velocity_weight": (0.0, 0.25, 0.5, 1.0, 2.0)}


def time_scores(aligner: PoseTimeAligner, dataset, pairs) -> dict:
    errors: dict[str, list] = defaultdict(list)
    for pair in pairs:
        action = dataset.labels[pair.source].action
        errors[action].append(np.abs(aligner.align(dataset, pair) - pair.tgt[:, 0]))
    errors = {a: np.concatenate(e) for a, e in errors.items()}
    errors["all"] = np.concatenate(list(errors.values()))
    return {a: {f"T@{k}": round(float(np.mean(e <= k)), 4) for k in KS} | {"n": int(len(e))} for a, e in errors.items()}


def first_videos_pairs(dataset, split: str, per_action: int | None) -> list:
    """The split's pairs, or only those among the first ``per_action`` videos (by name) of each action."""
    pairs = list(dataset.pairs(split))
    if per_action is None:
        return pairs
    names: dict[str, list[str]] = defaultdict(list)
    for name in sorted({n for pair in pairs for n in (pair.source, pair.target)}):
        names[dataset.labels[name].action].append(name)
    kept = {n for listed in names.values() for n in listed[:per_action]}
    return [pair for pair in pairs if pair.source in kept and pair.target in kept]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("--split", default="train")
    parser.add_argument("--joints", choices=("labels", "mediapipe"), default="labels")
    parser.add_argument("--cache", default=None)
    parser.add_argument("--videos-per-action", type=int, default=None)
    parser.add_argument("--world-angles", default=None, help="Weights of a block of 3D angles (with --joints mediapipe)")
    parser.add_argument("--lifter", default=None, help="with --world-angles: the world joints lifted by this checkpoint first")
    parser.add_argument("--world-bones", default="0", help="with --world-angles: weights of the 3D bone directions' block")
    args = parser.parse_args()
    dataset = open_dataset(args.data)
    pairs = first_videos_pairs(dataset, args.split, args.videos_per_action)
    cache = None
    if args.joints == "mediapipe":
        # MediaPipe (the pose extra) only when asked for
        from stcorr.pose.cache import MediaPipePose

        cache = MediaPipePose({**default_section("baseline.pose"), **({"cache": args.cache} if args.cache else {})})
    if args.world_angles is not None:
        if cache is None:
            parser.error("--world-angles needs --joints mediapipe")
        rows = []
        lifter = None
        if args.lifter:
            from stcorr.models.checkpoint import load_model

            lifter = load_model(args.lifter, "lifter")
        for w, b in itertools.product(args.world_angles.split(","), args.world_bones.split(",")):
            settings = dataclasses.replace(MEDIAPIPE_SETTINGS, world_angle_weight=float(w), world_bone_weight=float(b))
            aligner = PoseTimeAligner("dtw-pose", detector_describer(cache, settings, lifter), "dtw")
            rows.append({"world_angle_weight": float(w), "world_bone_weight": float(b), **time_scores(aligner, dataset, pairs)})
        print(json.dumps({"data": args.data, "split": args.split, "pairs": len(pairs), "lifter": args.lifter, "rows": rows}, indent=1))
        return
    rows = []
    for sigma, weight in itertools.product(*GRID.values()):
        settings = DescriptorSettings(smooth_sigma=sigma, velocity_weight=weight)
        describe = oracle_describer(settings) if cache is None else detector_describer(cache, settings)
        aligner = PoseTimeAligner("dtw-pose", describe, "dtw")
        rows.append({"smooth_sigma": sigma, "velocity_weight": weight, **time_scores(aligner, dataset, pairs)})
    best = max(rows, key=lambda r: (r["all"]["T@5"], r["all"]["T@3"], r["all"]["T@1"]))
    print(json.dumps({"data": args.data, "split": args.split, "joints": args.joints, "pairs": len(pairs),
                      "best": {k: best[k] for k in GRID}, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
