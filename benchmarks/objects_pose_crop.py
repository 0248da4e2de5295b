"""Would finding the person be enough? MediaPipe on a crop around the ANNOTATED person (an oracle crop).

On the clips where the default pose pass loses the person (PCK@0.1 below ``--below`` over the clip,
read from ``benchmarks/pose_pck.py``'s JSON line), every ``--step``-th frame, MediaPipe Pose (static
mode) runs on the square around the annotated joints (half side the larger side of their box,
resized to 256 pixels) and on the whole frame. Prints JSON: PCK@0.1 of the 13 joints over those
frames (a joint not seen counts as wrong; the side naming that fits better per frame) for the
default pass (from the pose cache), the oracle crop and the whole frame, per clip and over all.

    PYTHONPATH=$PWD python benchmarks/objects_pose_crop.py DATA PCK.json [--step 4] [--below 0.1]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stcorr.baselines.methods import shared_mediapipe  # noqa: E402
from stcorr.config import default_config  # noqa: E402
from stcorr.data.datasets import open_dataset  # noqa: E402
from stcorr.metrics.tracking import box_normaliser  # noqa: E402
from stcorr.pose.cache import MediaPipeLandmarker, landmark_track  # noqa: E402
from stcorr.pose.mediapipe import penn_track  # noqa: E402
from stcorr.pose.skeleton import MIRRORED_JOINTS  # noqa: E402

CROP = 256


def correct(xy: np.ndarray, truth: np.ndarray, labelled: np.ndarray, size: float) -> int:
    """Joints (13, 2) within 0.1 x size of the labelled truth, under the better side naming (NaN: not seen)."""
    def hits(points: np.ndarray) -> int:
        distance = np.linalg.norm(np.nan_to_num(points, nan=1e9) - truth, axis=1)
        return int((distance[labelled] <= 0.1 * size).sum())

    return max(hits(xy), hits(xy[list(MIRRORED_JOINTS)]))


def detect(landmarker: MediaPipeLandmarker, image: np.ndarray, min_visibility: float) -> np.ndarray:
    """(13, 2) Penn joints MediaPipe finds in ``image`` (its pixels), NaN where not seen."""
    found = landmarker(image)
    if found is None:
        return np.full((13, 2), np.nan)
    height, width = image.shape[:2]
    landmarks = found[0].copy()
    landmarks[:, 0] = landmarks[:, 0] * width - 0.5
    landmarks[:, 1] = landmarks[:, 1] * height - 0.5
    track = penn_track(landmark_track(landmarks[None], found[1][None], (width, height)))
    return np.where((track.visibility[0] >= min_visibility)[:, None], track.xy[0], np.nan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("pck", help="pose_pck.py's output (its first line: the default pass)")
    parser.add_argument("--step", type=int, default=4)
    parser.add_argument("--below", type=float, default=0.1)
    args = parser.parse_args()
    dataset = open_dataset(args.data)
    per_clip = json.loads(Path(args.pck).read_text().splitlines()[0])["per_clip"]
    lost = [key.split()[0] for key, value in per_clip.items() if value["PCK@0.1"] < args.below]
    pose = default_config()["baseline"]["pose"]
    mediapipe, landmarker = shared_mediapipe(pose), MediaPipeLandmarker(pose["model_complexity"], tracking=False)
    rules = ("default pass", "oracle crop", "whole frame")
    totals = {rule: [0, 0] for rule in rules}
    out = {}
    for name in lost:
        video, labels = dataset.video(name), dataset.labels[name]
        track = mediapipe.track(video)
        counts = {rule: [0, 0] for rule in rules}
        for t in range(0, video.num_frames, args.step):
            truth, labelled = np.stack([labels.x[t], labels.y[t]], -1), labels.visible[t].astype(bool)
            if not labelled.any():
                continue
            size = float(box_normaliser(truth[None], labelled[None])[0])
            low, high = truth[labelled].min(0), truth[labelled].max(0)
            centre, half = (low + high) / 2, max(float((high - low).max()), 16.0)
            corner = centre - half
            frame = video.frame(t)
            box = tuple(int(round(v)) for v in (*corner, *(centre + half)))
            crop = np.asarray(Image.fromarray(frame).crop(box).resize((CROP, CROP)))
            found = {"default pass": np.where((track.visibility[t] >= pose["min_visibility"])[:, None], track.xy[t], np.nan),
                     "oracle crop": detect(landmarker, crop, pose["min_visibility"]) / CROP * (box[2] - box[0]) + np.array(box[:2]),
                     "whole frame": detect(landmarker, frame, pose["min_visibility"])}
            for rule, xy in found.items():
                counts[rule][0] += correct(xy, truth, labelled, size)
                counts[rule][1] += int(labelled.sum())
        out[f"{name} {labels.action}"] = {rule: round(100 * c / max(n, 1), 1) for rule, (c, n) in counts.items()}
        totals = {rule: [totals[rule][0] + counts[rule][0], totals[rule][1] + counts[rule][1]] for rule in rules}
    print(json.dumps({"data": args.data, "lost clips": len(lost), "step": args.step,
                      "PCK@0.1": {rule: round(100 * c / max(n, 1), 1) for rule, (c, n) in totals.items()},
                      "per_clip": out}, indent=1))


if __name__ == "__main__":
    main()
