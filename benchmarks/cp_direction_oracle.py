"""Can forward be told from reversed at all? A direction oracle on the annotated joints.

    OMP_NUM_THREADS=1 python benchmarks/cp_direction_oracle.py --data DATA [--clip-len 8] [--min-span 0.7]
        [--train-clips 40] [--test-clips 20] [--seed 0] [--window video|moments] [--features joints|speed|pixels]

DATA: a Penn Action-layout set (e.g. ``stcorr synth DATA --videos-per-action 6 --seed 0``). The clips
are those of the ``cpnet`` learner, but read from the labels instead of the pixels: ``clip_len``
frames (train: ``stcorr.learners.cpnet.clip_times``, a random window of ``min_span`` to 1 x the video,
mirrored left-right half the time; test: the val split, both the evaluation's clip, frames evenly spread
over the clip window, and ``test_clips`` random ones per video), played forward or reversed; the window
is the whole video or, ``--window moments``, the key moments' span widened
(``stcorr.models.action_clips.clip_window``). Features of a clip: its 13 joints' (x, y) per frame in
frame units (x / width, y / height), in play order, and their frame-to-frame steps; or
``--features speed``, only the mean step length between consecutive frames; or ``--features pixels``,
the clip's grey frames at 16 x 16 and their differences (the rendered video, not the labels).
Classifiers of the direction (forward / reversed), per action and over all actions: a logistic
regression and a small MLP (scikit-learn, standardised features). Chance is 0.5.

An action whose joints oracle stays near 0.5 cannot be told forward from reversed by its pose: all a
network could use is what the joints do not show (the objects). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from stcorr.data.datasets import open_dataset
from stcorr.data.penn import VideoLabels
from stcorr.models.action_clips import WINDOWS, clip_window, even_times
from stcorr.learners.cpnet import clip_times


FEATURES = ("joints", "speed", "pixels")
PIXELS = 16  # "pixels": grey frames of PIXELS x PIXELS
SMALL_FRAMES: dict[str, np.ndarray] = {}  # video name -> (n, PIXELS, PIXELS) grey in [0, 1], for "pixels"


def load_small_frames(dataset, names: list[str]) -> None:
    """Every frame of the videos ``names``, grey and resized to PIXELS x PIXELS, into SMALL_FRAMES."""
    import torch
    import torch.nn.functional as F

    for name in names:
        frames = torch.from_numpy(dataset.video(name).frames(range(dataset.labels[name].num_frames))).float()
        grey = frames.mean(-1, keepdim=True).permute(0, 3, 1, 2) / 255.0
        SMALL_FRAMES[name] = F.interpolate(grey, size=(PIXELS, PIXELS), mode="area")[:, 0].numpy()


def clip_features(labels: VideoLabels, times: np.ndarray, mirror: bool = False, kind: str = "joints") -> np.ndarray:
    """"joints": (T * 26 + (T - 1) * 26,) the joints of frames ``times`` (play order) in frame units, then
    their steps; "speed": (T - 1,) the mean joint step length between consecutive frames, in box heights
    (what the motion's timing alone says, blind to the view and the mirror); "pixels": the clip's grey
    frames at PIXELS x PIXELS and their differences (a linear look at the rendered video)."""
    if kind == "pixels":
        frames = SMALL_FRAMES[labels.name][times]
        frames = frames[..., ::-1] if mirror else frames
        return np.concatenate([frames.ravel(), np.diff(frames, axis=0).ravel()])
    x = labels.x[times] / labels.width
    y = labels.y[times] / labels.height
    if mirror:
        x = 1.0 - x
    joints = np.stack([x, y], axis=-1)  # (T, 13, 2)
    steps = np.diff(joints, axis=0)
    if kind == "speed":
        height = np.ptp(joints[..., 1], axis=1).mean() + 1e-6
        return np.linalg.norm(steps, axis=-1).mean(-1) / height
    return np.concatenate([joints.ravel(), steps.ravel()])


def random_times(lab: VideoLabels, args: argparse.Namespace, rng: np.random.Generator) -> np.ndarray:
    """A train clip's frames (``stcorr.learners.cpnet.clip_times``) inside the video's clip window."""
    start, stop = clip_window(lab, lab.num_frames, args.window)
    return start + clip_times(stop - start, args.clip_len, rng, args.min_span)


def evaluation_times(lab: VideoLabels, args: argparse.Namespace) -> np.ndarray:
    """The evaluation's clip: frames evenly spread over the video's clip window."""
    start, stop = clip_window(lab, lab.num_frames, args.window)
    return start + even_times(stop - start, args.clip_len)


def train_set(labels: list[VideoLabels], args: argparse.Namespace,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``train_clips`` random clips per video, half of them reversed: features (N, F), reversed (N,)."""
    rows, reversed_ = [], []
    for lab in labels:
        for _ in range(args.train_clips):
            times = random_times(lab, args, rng)
            backwards = bool(rng.random() < 0.5)
            mirror = bool(rng.random() < 0.5)
            rows.append(clip_features(lab, times[::-1] if backwards else times, mirror, args.features))
            reversed_.append(int(backwards))
    return np.stack(rows), np.array(reversed_)


def test_sets(labels: list[VideoLabels], args: argparse.Namespace,
              rng: np.random.Generator) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """"evaluation": each video's evaluation clip forward and reversed; "random": ``test_clips`` random
    clips per video, each forward and reversed."""
    def both(lab: VideoLabels, times: np.ndarray) -> list[np.ndarray]:
        return [clip_features(lab, times, kind=args.features), clip_features(lab, times[::-1], kind=args.features)]

    even = [f for lab in labels for f in both(lab, evaluation_times(lab, args))]
    random = [f for lab in labels for _ in range(args.test_clips) for f in both(lab, random_times(lab, args, rng))]
    return {"evaluation": (np.stack(even), np.tile([0, 1], len(even) // 2)),
            "random": (np.stack(random), np.tile([0, 1], len(random) // 2))}


def classifiers(seed: int) -> dict:
    return {"logistic": make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000)),
            "mlp": make_pipeline(StandardScaler(), MLPClassifier((64,), alpha=1e-2, max_iter=500, random_state=seed))}


def oracle(train: list[VideoLabels], val: list[VideoLabels], args: argparse.Namespace) -> dict:
    """Direction accuracy of each classifier on each test set, trained on ``train``'s clips."""
    rng = np.random.default_rng(args.seed)
    features, targets = train_set(train, args, rng)
    tests = test_sets(val, args, rng)
    out = {}
    for name, model in classifiers(args.seed).items():
        model.fit(features, targets)
        out[name] = {"train": round(float(model.score(features, targets)), 3),
                     **{test: round(float(model.score(x, y)), 3) for test, (x, y) in tests.items()}}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--clip-len", type=int, default=8)
    parser.add_argument("--min-span", type=float, default=0.7)
    parser.add_argument("--train-clips", type=int, default=40)
    parser.add_argument("--test-clips", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--window", choices=WINDOWS, default="video",
                        help="clips from the whole video or around its key moments")
    parser.add_argument("--features", choices=FEATURES, default="joints")
    args = parser.parse_args()
    dataset = open_dataset(args.data)
    if args.features == "pixels":
        load_small_frames(dataset, sorted(dataset.labels))
    splits = {split: {a: [dataset.labels[n] for n in names] for a, names in dataset.videos_by_action(split).items()}
              for split in ("train", "val")}
    per_action = {a: oracle(splits["train"][a], splits["val"].get(a, []), args) for a in splits["train"]
                  if splits["val"].get(a)}
    every = oracle([lab for labs in splits["train"].values() for lab in labs],
                   [lab for labs in splits["val"].values() for lab in labs], args)
    print(json.dumps({"data": str(args.data), "clip_len": args.clip_len, "min_span": args.min_span,
                      "window": args.window, "features": args.features, "chance": 0.5,
                      "all_actions": every, "per_action": per_action}, indent=1))


if __name__ == "__main__":
    main()
