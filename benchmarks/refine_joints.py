"""Would local matching correct MediaPipe's joints? The ``pose`` matcher with every body joint it
places (MediaPipe's target joint) moved by the local refiner (``stcorr.baselines.refine``: learned
features matched in a window around it, from the source point) as it moves points that are no joint.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/refine_joints.py DATA [--split val] [--method gt-time+pose]
        [--refiner stcorr:corrflow-cpu] [--max-pairs N]

Prints one JSON line each for the matcher as it is ("off") and with its joints refined ("on"): T@1/3/5
and T@5 per point type, in %, on every pair of the split (``--max-pairs`` draws that many, seed 0).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import stcorr.baselines.spatial as spatial  # noqa: E402
from stcorr.config import load_config  # noqa: E402
from stcorr.data.datasets import open_dataset  # noqa: E402
from stcorr.evaluation.methods import build_method  # noqa: E402
from stcorr.evaluation.results import score_pairs  # noqa: E402
from stcorr.evaluation.runner import predict_pairs  # noqa: E402

AS_IT_IS = spatial.DetectedPose.match_scored


def joints_refined(self, dataset, pair, target_times):
    """``DetectedPose.match_scored`` with each body joint's placement then refined locally."""
    out, confidence = AS_IT_IS(self, dataset, pair, target_times)
    source, target = dataset.video(pair.source), dataset.video(pair.target)
    for (s, t), rows in spatial.frame_pairs(pair, target_times).items():
        src_poses, tgt_poses = self.detector.poses(source, s), self.detector.poses(target, t)
        if not src_poses or not tgt_poses:
            continue
        src_pose = spatial.person_nearest_points(src_poses, pair.src[rows, 1:])
        tgt_pose = spatial.most_similar_pose(src_pose, tgt_poses)
        for i in rows:
            xy = pair.src[i, 1:]
            carried = spatial.body_map(xy, src_pose, tgt_pose)
            if spatial.keypoint_type(pair.names[i]) != "hum" or carried is None:
                continue
            out[i] = self.refiner.refine(self.refiner.frame(source, s), xy, self.refiner.frame(target, t), out[i],
                                         carried[2], spatial.person_extent(src_pose)).xy
    return out, confidence


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--split", default="val")
    parser.add_argument("--method", default="gt-time+pose")
    parser.add_argument("--refiner", default="stcorr:corrflow-cpu")
    parser.add_argument("--max-pairs", type=int, default=None)
    args = parser.parse_args()
    cfg = load_config(None, {"baseline.refine_checkpoint": args.refiner})
    dataset = open_dataset(args.data)
    pairs = dataset.pairs(args.split, cfg["data"]["setup"], cfg["data"]["min_visible"]).sample(args.max_pairs, 0)
    for mode, match in (("off", AS_IT_IS), ("on", joints_refined)):
        spatial.DetectedPose.match_scored = match
        predictions, _, _ = predict_pairs(build_method(args.method, cfg, torch.device("cpu")), dataset, pairs, progress=False)
        scores = score_pairs(pairs, predictions, (1, 3, 5))
        print(json.dumps({"joints refined": mode, **{f"T@{k}": round(100 * scores[f"T@{k}"], 1) for k in (1, 3, 5)},
                          "T@5 by type": {t: round(100 * v["T@5"], 1) for t, v in scores["per_type"].items()},
                          "pairs": len(pairs)}), flush=True)


if __name__ == "__main__":
    main()
