"""Mask propagation quality: region similarity J (DAVIS) of the performer's silhouette on synthetic
videos, whose true silhouette of every frame the renderer's part map gives.

    OMP_NUM_THREADS=1 python benchmarks/mask_propagation.py [--videos-per-action 3] [--checkpoint CKPT ...]

The videos are the val videos of ``stcorr synth OUT --seed S --videos-per-action N --size WxH``
(drawn again here from the same seeds, never written to the data set), saved as JPEG frames like
the data set's. The first frame's silhouette (label 1; every drawn part of the performer and the
props the part map marks) propagates through the video with ``stcorr propagate``'s settings;
J is the mean over frames 1..T-1 of each video, then over videos. References: ``no-motion`` (the
first mask kept on every frame), ``pixels`` (raw Lab), ``untrained`` (a random CorrFlow encoder),
and each CorrFlow checkpoint given. Prints JSON; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from stcorr.config import load_config
from stcorr.data.synthetic import ACTIONS
from stcorr.data.synthetic.clip import JPEG_QUALITY, make_clip, render_frames
from stcorr.data.video import Video
from stcorr.evaluation.tracking import tracking_features
from stcorr.metrics.masks import region_similarity
from stcorr.models.propagation import PropagationSettings, propagate_masks

VAL_SPLIT = 1  # the split index of val in the synthetic set's seeds (train 0, val 1)


def silhouette(clip, t: int) -> np.ndarray:
    """(H, W) uint8: 1 where the renderer's part map marks the performer (or a marked prop) at frame t."""
    width, height = clip.size
    canvas = Image.new("RGB", (width * clip.ss, height * clip.ss))
    part_map = Image.new("L", canvas.size, 0)
    clip.painter.draw(t, canvas, part_map)
    marked = Image.fromarray((np.asarray(part_map) > 0).astype(np.uint8) * 255)
    return (np.asarray(marked.resize((width, height), Image.BOX)) >= 128).astype(np.uint8)


def render_video(action: str, entropy: tuple, size: tuple[int, int], folder: Path) -> tuple[Video, list[np.ndarray]]:
    clip = make_clip(action, entropy, size)
    folder.mkdir(parents=True)
    for t, (image, _, _) in enumerate(render_frames(clip)):
        image.save(folder / f"{t + 1:06d}.jpg", format="JPEG", quality=JPEG_QUALITY)
    return Video(folder), [silhouette(clip, t) for t in range(clip.n_frames)]


def video_j(predicted: dict[int, np.ndarray], truths: list[np.ndarray]) -> float:
    return float(np.mean([region_similarity(predicted[t], truths[t], [1])[0] for t in range(1, len(truths))]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--videos-per-action", type=int, default=3)
    parser.add_argument("--size", default="128x128")
    parser.add_argument("--checkpoint", action="append", default=[], help="a CorrFlow checkpoint (repeatable)")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    cfg = load_config(None, {})
    settings = PropagationSettings.checked(cfg["corrflow"]["propagation"])
    methods = {"pixels": tracking_features(None, "pixels", cfg), "untrained": tracking_features(None, "untrained", cfg)}
    methods.update({f"corrflow:{c}": tracking_features(Path(c), None, cfg) for c in args.checkpoint})
    scores: dict[str, list[float]] = {"no-motion": [], **{name: [] for name in methods}}
    seconds = {name: 0.0 for name in methods}
    frames = 0
    with tempfile.TemporaryDirectory() as scratch:
        for a, action in enumerate(ACTIONS):
            for i in range(args.videos_per_action):
                video, truths = render_video(action, (args.seed, VAL_SPLIT, a, i), size, Path(scratch) / f"{action}-{i}")
                frames += len(truths) - 1
                scores["no-motion"].append(video_j({t: truths[0] for t in range(len(truths))}, truths))
                for name, features in methods.items():
                    started = time.process_time()
                    predicted = dict(propagate_masks(video, 0, truths[0], features, settings))
                    seconds[name] += time.process_time() - started
                    scores[name].append(video_j(predicted, truths))
    print(json.dumps({
        "videos": len(scores["no-motion"]), "frames_scored": frames, "size": list(size), "seed": args.seed,
        "settings": dict(settings.__dict__),
        "J": {name: round(float(np.mean(values)), 4) for name, values in scores.items()},
        "J_per_video": {name: [round(v, 3) for v in values] for name, values in scores.items()},
        "cpu_seconds": {name: round(s, 1) for name, s in seconds.items()},
    }, indent=1))


if __name__ == "__main__":
    main()
