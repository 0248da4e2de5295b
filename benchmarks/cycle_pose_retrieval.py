"""Retrieval by the pose cycle embedding (``cycle-pose``, ``stcorr.baselines.cycle_pose.CyclePoseDistance``)
beside ``pose`` (``stcorr.baselines.retrieval``): every video of a split queries the others; P@1 with
its chance level, per feature set, and where given the rank of one video for another. Prints JSON.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/cycle_pose_retrieval.py DATA --checkpoint RUN/checkpoint
        [--split all] [--partner 0280,0191]
"""

from __future__ import annotations

import argparse
import json

from stcorr.baselines.cycle_pose import CyclePoseDistance, pose_cycle_embed
from stcorr.baselines.retrieval import PoseDistance, mediapipe_joints, precision_at_1, rank_videos
from stcorr.config import load_config
from stcorr.data.datasets import open_dataset
from stcorr.models.checkpoint import load_model
from stcorr.pose.cache import MediaPipePose


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--split", default="all")
    parser.add_argument("--partner", default=None, help="QUERY,PARTNER: report PARTNER's rank for QUERY")
    args = parser.parse_args()
    dataset = open_dataset(args.data)
    mediapipe = MediaPipePose(load_config(None)["baseline"]["pose"])
    pose = PoseDistance(mediapipe_joints(mediapipe))
    cycle = CyclePoseDistance(pose_cycle_embed(load_model(args.checkpoint, "cycle-pose"), lambda: mediapipe))
    videos = {name: dataset.video(name) for name in dataset.videos(args.split)}
    rows = []
    for features in ([pose], [cycle], [pose, cycle]):
        rankings = {q: rank_videos(videos[q], {n: v for n, v in videos.items() if n != q}, features) for q in videos}
        p1, chance, queries = precision_at_1(rankings, dataset.actions())
        row = {"features": "+".join(f.name for f in features), "P@1": round(p1, 3), "P@1_chance": round(chance, 3),
               "queries": queries}
        if args.partner:
            query, partner = args.partner.split(",")
            ranking = rankings[query]
            names = [r.name for r in ranking]
            at = names.index(partner)
            row[f"rank of {partner} for {query}"] = f"{at + 1} of {len(names)}"
            row["margin"] = round(ranking[at].margin, 3)
        rows.append(row)
    print(json.dumps({"data": args.data, "split": args.split, "checkpoint": args.checkpoint, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
