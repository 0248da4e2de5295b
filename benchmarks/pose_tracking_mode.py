"""What MediaPipe's own tracking (video) mode saves and costs against the static-image mode stcorr runs.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/pose_tracking_mode.py DATA [--clips A,B] [--modes static,tracking,...]

DATA is a Penn Action layout data set with per-frame labels (e.g. ../shared/real-dev). Each mode
runs MediaPipe Pose (model complexity 1, no pose cache) over every frame of each clip, in order:
``static`` finds the person anew in every frame (``static_image_mode=True``, what the pose cache
stores); ``tracking`` runs the person detector only when the landmark model loses the person and
otherwise crops around the last frame's pose (``static_image_mode=False``); ``tracking+smooth`` adds
MediaPipe's own landmark smoothing. Scored as ``benchmarks/pose_pck.py`` scores a variant (PCK@0.1 /
0.2 of the 13 Penn joints against the labels, each clip under the left/right labelling the static
mode's joints fit better). ``cpu_s_per_frame``: CPU seconds of this process per frame (decoding
included, the same for every mode); ``graph_start_cpu_s``: building the graph, once per clip.
Prints one JSON line per mode.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from pose_pck import clip_counts, fractions
from stcorr.config import default_config
from stcorr.data.datasets import open_dataset
from stcorr.pose.cache import detect_track
from stcorr.pose.mediapipe import native_stderr_silenced, penn_track, require_mediapipe

MODES = {"static": {"static_image_mode": True, "smooth_landmarks": False},
         "tracking": {"static_image_mode": False, "smooth_landmarks": False},
         "tracking+smooth": {"static_image_mode": False, "smooth_landmarks": True}}


class Landmarker:
    """MediaPipe Pose in one mode, called frame by frame as ``detect_track`` calls a landmarker."""

    def __init__(self, mode: dict):
        mediapipe = require_mediapipe()
        with native_stderr_silenced():
            self.pose = mediapipe.solutions.pose.Pose(model_complexity=1, **mode)

    def __call__(self, frame: np.ndarray):
        result = self.pose.process(np.ascontiguousarray(frame))
        if result.pose_landmarks is None:
            return None
        return (np.array([(m.x, m.y, m.z, m.visibility) for m in result.pose_landmarks.landmark]),
                np.array([(m.x, m.y, m.z) for m in result.pose_world_landmarks.landmark]))


def measure(dataset, names: list[str], mode: dict, min_visibility: float, conventions: dict[str, bool]) -> dict:
    """One mode's figures over ``names``; ``conventions`` (clip -> labels mirrored) is filled on first use."""
    frames, start_cpu, run_cpu, per_clip, total = 0, 0.0, 0.0, {}, {}
    for name in names:
        video = dataset.video(name)
        before = time.process_time()
        landmarker = Landmarker(mode)  # a fresh graph per clip: tracking must not carry over between videos
        started = time.process_time()
        track = penn_track(detect_track(video, landmarker))
        run_cpu += time.process_time() - started
        start_cpu += started - before
        frames += video.num_frames
        counts = clip_counts(dataset.labels[name], track.xy, track.visibility, min_visibility, conventions.get(name))
        conventions[name] = bool(counts["mirrored"])
        per_clip[f"{name} {dataset.labels[name].action}"] = fractions(counts)
        total = {k: total.get(k, 0) + v for k, v in counts.items()}
    return {"all": fractions(total), "per_clip": per_clip, "frames": frames,
            "cpu_s_per_frame": round(run_cpu / max(frames, 1), 4), "graph_start_cpu_s": round(start_cpu / len(names), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--clips", default=None, help="comma-separated clip names (default: every labelled clip)")
    parser.add_argument("--modes", default=",".join(MODES))
    args = parser.parse_args()
    dataset = open_dataset(args.data)
    names = args.clips.split(",") if args.clips else sorted(dataset.labels)
    min_visibility = float(default_config()["baseline"]["pose"]["min_visibility"])
    conventions: dict[str, bool] = {}
    for mode in args.modes.split(","):
        print(json.dumps({"mode": mode, **MODES[mode], **measure(dataset, names, MODES[mode], min_visibility, conventions)}),
              flush=True)


if __name__ == "__main__":
    main()
