"""Time from two shipped aligners at once: ``dtw-pose`` (MediaPipe's joints) and a joint model's frame.

For every correspondence of a data set's pairs, the target frame is taken from ``dtw-pose``, from
the joint model (``--checkpoint``, default the shipped ``stcorr:cpu-long-pose``: the frame of its
own prediction), or from their mean (rounded), and the point is placed in that frame by the ``pose``
matcher (MediaPipe's joints: a joint goes to the same joint, any other point by the body around
it) and, to see the time alone, by the same rules on the annotated joints. ``joint-model`` alone is
the model's own (t, x, y). Prints JSON: T@k (within ``--k`` frames and alpha x the keypoint box) by
keypoint type and action, and the share of points whose frame is within k.

    PYTHONPATH=$PWD python benchmarks/objects_hybrid_time.py --data DATA [--split val] [--checkpoint stcorr:cpu-long-pose]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from objects_limits import place  # noqa: E402  (the same rules, on given joints)

from stcorr.baselines.methods import shared_mediapipe  # noqa: E402
from stcorr.baselines.pose_descriptors import build_pose_aligner  # noqa: E402
from stcorr.baselines.spatial import DetectedPose  # noqa: E402
from stcorr.config import default_config  # noqa: E402
from stcorr.data.datasets import open_dataset  # noqa: E402
from stcorr.predictor import CorrespondencePredictor  # noqa: E402
from stcorr.pose.skeleton import keypoint_type  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", default="val")
    parser.add_argument("--checkpoint", default="stcorr:cpu-long-pose")
    parser.add_argument("--max-pairs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--alpha", type=float, default=0.1)
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()
    dataset = open_dataset(args.data)
    mediapipe = shared_mediapipe(default_config()["baseline"]["pose"])
    aligner = build_pose_aligner("dtw-pose", lambda: mediapipe)
    matcher = DetectedPose(mediapipe)
    model = CorrespondencePredictor.from_checkpoint(args.checkpoint, "cpu")
    hits: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for pair in dataset.pairs(args.split, "13+3").sample(args.max_pairs, args.seed):
        source, target = dataset.labels[pair.source], dataset.labels[pair.target]
        sizes = ((source.width, source.height), (target.width, target.height))
        learned, _ = model.predict(dataset.video(pair.source), dataset.video(pair.target), pair.src)
        times = {"dtw-pose": np.asarray(aligner.align(dataset, pair)).astype(int),
                 "joint-model": np.clip(np.rint(learned[:, 0]), 0, target.num_frames - 1).astype(int)}
        times["mean"] = np.rint((times["dtw-pose"] + times["joint-model"]) / 2).astype(int)
        placed = {f"{name} time, MediaPipe": matcher.match(dataset, pair, t) for name, t in times.items()}
        placed["joint-model alone"] = learned[:, 1:]
        frames = {**{key: times[key.split(" time")[0]] for key in placed if " time" in key}, "joint-model alone": learned[:, 0]}
        for name, t in times.items():
            key = f"{name} time, annotated"
            frames[key] = t
            placed[key] = np.array([place(src[1:], "hum" if keypoint_type(n) == "hum" else "obj",
                                          source.joints_at(int(src[0])), target.joints_at(int(ti)), sizes)
                                    for n, src, ti in zip(pair.names, pair.src, t)])
        for i, (name, tgt, ref) in enumerate(zip(pair.names, pair.tgt, pair.ref_size)):
            kind = "hum" if keypoint_type(name) == "hum" else "obj"
            for key, xy in placed.items():
                timely = abs(frames[key][i] - tgt[0]) <= args.k
                ok = bool(timely and np.linalg.norm(xy[i] - tgt[1:]) <= args.alpha * ref)
                hits[f"{kind} {key}"]["all"].append(ok)
                hits[f"{kind} {key}"][pair.action].append(ok)
                hits[f"{kind} {key}"]["right time"].append(bool(timely))
    print(json.dumps({"data": args.data, "split": args.split, "checkpoint": args.checkpoint,
                      f"T@{args.k}": {key: {a: round(100 * float(np.mean(v)), 1) for a, v in sorted(by.items())}
                                      for key, by in sorted(hits.items())}}, indent=1))


if __name__ == "__main__":
    main()
