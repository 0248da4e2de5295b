"""Video retrieval on a data set, every figure with its chance level; prints JSON.

    python benchmarks/retrieval.py [--data ROOT] [--split val|train|all] [--features pose,pose-oracle,cycle,pose+cycle]
                                   [--checkpoint CKPT] [--per-action N] [--partner QUERY=VIDEO ...]
                                   [--velocity-weight W] [--world-angle-weight W] [--lifter CKPT] [--world-bone-weight W]

Every video of the split queries all the others (``stcorr.baselines.retrieval.rank_videos``, what
`stcorr retrieve` runs). Per feature set: P@1 over the queries that have a same-action partner among
the candidates, with its chance level (the mean share of same-action candidates), the mean
probability the calibrated score gives the first candidate, and for each ``--partner QUERY=VIDEO``
the rank (1 = first) of VIDEO for QUERY with the number of candidates (chance: the middle rank).

Features: ``pose`` MediaPipe's joints (cached per video content), ``pose-oracle`` the annotated
joints (a Penn Action-layout data set), ``cycle`` the cycle embedding (``--checkpoint``, e.g.
stcorr:cycle; untrained without it), ``pose+cycle`` both (``retrieval.CYCLE_WEIGHT``).
Defaults: ../shared/real-dev, all of its videos, partner 0280=0191.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from stcorr.baselines.retrieval import (ANNOTATED_RETRIEVAL, LIFTED_RETRIEVAL, MEDIAPIPE_RETRIEVAL, CycleDistance, PoseDistance,
                                        mediapipe_joints, precision_at_1, rank_videos)
from stcorr.pose.descriptors import DescriptorSettings
from stcorr.config import load_config
from stcorr.data.datasets import open_dataset

REAL_DEV = Path(__file__).resolve().parents[2] / "shared" / "real-dev"


def measures(name: str, dataset, checkpoint: str | None, cfg: dict, velocity_weight: float | None,
             world_angle_weight: float | None = None, lifter: str | None = None,
             world_bone_weight: float | None = None) -> list:
    def settings(base: DescriptorSettings) -> DescriptorSettings:
        if velocity_weight is not None:
            base = dataclasses.replace(base, velocity_weight=velocity_weight)
        if world_bone_weight is not None:
            base = dataclasses.replace(base, world_bone_weight=world_bone_weight)
        return base if world_angle_weight is None else dataclasses.replace(base, world_angle_weight=world_angle_weight)

    out = []
    for part in name.split("+"):
        if part == "pose":
            from stcorr.pose.cache import MediaPipePose  # MediaPipe: the optional `pose` extra

            if lifter is None:
                out.append(PoseDistance(mediapipe_joints(MediaPipePose(cfg["baseline"]["pose"])), settings(MEDIAPIPE_RETRIEVAL)))
            else:
                from stcorr.models.checkpoint import load_model

                joints = mediapipe_joints(MediaPipePose(cfg["baseline"]["pose"]), load_model(lifter, "lifter"))
                out.append(PoseDistance(joints, settings(LIFTED_RETRIEVAL)))
        elif part == "pose-oracle":
            names = {str(dataset.video(n).path): n for n in dataset.videos()}

            def annotated(video, labels=dataset.labels):
                label = labels[names[str(video.path)]]
                return np.stack([label.x, label.y], axis=2), label.visible.astype(np.float64)

            out.append(PoseDistance(annotated, settings(ANNOTATED_RETRIEVAL)))
        elif part == "cycle":
            from stcorr.models.cycle_use import CycleFeatures

            out.append(CycleDistance(CycleFeatures.load(checkpoint, cfg)))
        else:
            raise SystemExit(f"unknown feature {part!r}")
    return out


def chosen_videos(dataset, split: str, per_action: int | None) -> dict:
    videos, actions = {name: dataset.video(name) for name in dataset.videos(split)}, dataset.actions()
    if per_action:
        kept: dict[str, int] = {}
        chosen = {}
        for name, video in videos.items():
            action = actions.get(name)
            if kept.get(action, 0) < per_action:
                kept[action] = kept.get(action, 0) + 1
                chosen[name] = video
        videos = chosen
    return videos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REAL_DEV)
    parser.add_argument("--split", default="all", choices=["all", "train", "val"])
    parser.add_argument("--features", default="pose,pose-oracle")
    parser.add_argument("--checkpoint")
    parser.add_argument("--per-action", type=int)
    parser.add_argument("--partner", action="append", default=None)
    parser.add_argument("--velocity-weight", type=float, help="the pose descriptors' (default: retrieval's own)")
    parser.add_argument("--world-angle-weight", type=float,
                        help="the weight of MediaPipe's 3D angles in the pose descriptors (default: retrieval's own)")
    parser.add_argument("--lifter", help="pose: MediaPipe's world joints lifted by this 3D lifter (e.g. stcorr:lifter) first")
    parser.add_argument("--world-bone-weight", type=float, help="the weight of the 3D bone directions (default: retrieval's own, 0)")
    args = parser.parse_args()
    partners = [p.split("=") for p in (args.partner if args.partner is not None else
                                        (["0280=0191"] if args.data == REAL_DEV else []))]
    dataset = open_dataset(args.data)
    cfg = load_config(None)
    videos = chosen_videos(dataset, args.split, args.per_action)
    actions = dataset.actions()
    report = {"data": str(args.data), "split": args.split, "velocity_weight": args.velocity_weight,
              "world_angle_weight": args.world_angle_weight, "lifter": args.lifter,
              "world_bone_weight": args.world_bone_weight, "videos": len(videos),
              "actions": len({actions.get(n) for n in videos}), "checkpoint": args.checkpoint, "features": {}}
    for name in args.features.split(","):
        start = time.process_time()
        features = measures(name, dataset, args.checkpoint, cfg, args.velocity_weight, args.world_angle_weight, args.lifter,
                            args.world_bone_weight)
        rankings = {q: rank_videos(videos[q], {n: v for n, v in videos.items() if n != q}, features) for q in videos}
        p1, chance, queries = precision_at_1(rankings, actions)
        row = {"P@1": p1, "P@1_chance": chance, "queries_with_partner": queries,
               "mean_top_probability": float(np.mean([r[0].probability for r in rankings.values()])),
               "top_probability_chance": 1 / max(len(videos) - 1, 1), "cpu_s": round(time.process_time() - start, 1)}
        for query, partner in partners:
            names = [r.name for r in rankings[query]]
            row[f"rank of {partner} for {query}"] = {"rank": names.index(partner) + 1, "of": len(names),
                                                     "chance_rank": (len(names) + 1) / 2,
                                                     "probability": rankings[query][names.index(partner)].probability}
        report["features"][name] = row
        print(json.dumps({name: row}), flush=True)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
