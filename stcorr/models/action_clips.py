"""The motion-centric classification task of CPNet's learner: each action played forward or reversed.

Classes: for the sorted actions a_0, a_1, ... of a Penn Action-layout data set, class 2i is
"a_i forward" and class 2i + 1 is "a_i reversed" (14 classes for the synthetic set's 7 actions).
A clip is ``clip_len`` native frames of one video resized to ``size x size`` (aspect not kept),
played in increasing frame order (forward) or in decreasing order (reversed); a network that
averages per-frame features over time sees the same thing both ways.

Scoring (``evaluate_classifier``): every video of the split whose action is a class is scored on
two clips, its ``clip_len`` frames evenly spread over its clip window (the model's ``window``:
the whole video, or the key moments' span widened, ``clip_window``; frame
start + floor((i + 0.5) n / clip_len) of its n frames) forward, and the same frames reversed.
Accuracy is over the clips; action accuracy counts the action right whatever the direction; direction accuracy counts
the direction right whatever the action.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from stcorr.data.clips import Clip
from stcorr.data.frames import read_frames
from stcorr.data.datasets import Dataset
from stcorr.data.penn import VideoLabels
from stcorr.data.video import Video
from stcorr.errors import StcorrError
from stcorr.pose.cache import MediaPipePose
from stcorr.pose.maps import clip_input, dataset_joints, mirror_input, uses_pose
from stcorr.pose.track import JointTrack
from stcorr.progress import progress_bar

DIRECTIONS = ("forward", "reversed")


def class_names(actions: Sequence[str]) -> list[str]:
    """['a_0 forward', 'a_0 reversed', 'a_1 forward', ...]: class 2i + d is action i, direction d."""
    return [f"{action} {direction}" for action in actions for direction in DIRECTIONS]


def actions_of(classes: Sequence[str]) -> list[str]:
    """The actions of ``class_names(actions)``, in their order."""
    return [name.rsplit(" ", 1)[0] for name in classes[::2]]


def labelled_videos_by_action(dataset: Dataset, split: str) -> dict[str, list[str]]:
    """``dataset.videos_by_action(split)``; the data set must have labels (Penn Action layout)."""
    if not dataset.labels:
        raise StcorrError("classifying actions needs a Penn Action-layout data set (its label files name the action)",
                          dataset.root)
    return dataset.videos_by_action(split)


WINDOWS = ("video", "moments")


def clip_window(labels: VideoLabels, n: int, window: str) -> tuple[int, int]:
    """Frames [start, stop) of an ``n``-frame video that its clips are drawn from. "video": all of them;
    "moments": the span of the video's key moments widened by half of it, and at least 4 frames, on
    each side (the motion itself, not the waits before and after); a video without key moments: all."""
    if window not in WINDOWS:
        raise StcorrError(f"clip window must be one of {', '.join(WINDOWS)}, not {window!r}")
    moments = labels.key_moments
    if window == "video" or not moments:
        return 0, n
    first, last = min(moments), max(moments)
    margin = max(4, (last - first) // 2)
    return max(0, first - margin), min(n, last + margin + 1)


def even_times(n: int, length: int) -> np.ndarray:
    """``length`` frames of an ``n``-frame video evenly spread over it (repeats when n < length)."""
    return np.floor((np.arange(length) + 0.5) * n / length).astype(np.int64)


def read_clip(video: Video, times: Sequence[int], size: int,
              crop: tuple[float, float, float, float] | None = None, flip: bool = False) -> torch.Tensor:
    """Native frames ``times`` (in that order) of ``video``, the box ``crop`` (x0, y0, w, h; None: the
    whole frame) resized to ``size x size`` and mirrored left-right when ``flip``: float
    (3, T, size, size) in [0, 1]."""
    return read_frames(video, times, size, crop, flip).transpose(0, 1)


def read_input(video: Video, times: Sequence[int], size: int, mode: str, joints: JointTrack | None,
               crop: tuple[float, float, float, float] | None = None, flip: bool = False) -> torch.Tensor:
    """What a classifier of input ``mode`` (``stcorr.pose.maps.INPUT_MODES``) takes: ``read_clip``'s
    (3, T, size, size) in [0, 1], with (or replaced by) the pose maps of ``joints`` (the video's native
    joints, needed unless ``mode`` is rgb) drawn where the crop and resize put them; ``flip`` mirrors
    both (``mirror_input``)."""
    frames = read_clip(video, times, size, crop)
    if not uses_pose(mode):
        return frames.flip(-1) if flip else frames
    box = crop if crop is not None else (0.0, 0.0, *map(float, video.size))
    clip = Clip(frames, np.asarray(times, dtype=np.int64), 0, 1, box, video.size, video.num_frames)
    both = clip_input(clip, mode, frames, joints)
    return mirror_input(both, mode) if flip else both


@torch.no_grad()
def evaluate_classifier(model: nn.Module, dataset: Dataset, split: str = "val", batch: int = 8,
                        progress: bool = False, videos: Sequence[str] | None = None,
                        mediapipe: dict | None = None) -> dict:
    """Scores a ``ClipClassifier`` (``stcorr.models.cpnet``) on ``split``: accuracy over both clips of
    every video (of ``videos`` when given) whose action is one of the model's classes, and its parts
    (module docstring). Pose-input models take the annotated joints, or with ``mediapipe`` (the
    ``baseline.pose`` settings) MediaPipe's for every video."""
    settings = model.config
    mode = settings["input"]
    actions = actions_of(settings["classes"])
    groups = labelled_videos_by_action(dataset, split)
    if videos is not None:
        chosen = set(videos)
        groups = {action: [name for name in names if name in chosen] for action, names in groups.items()}
    known = [(name, actions.index(action)) for action, names in groups.items() if action in actions for name in names]
    skipped = sum(len(names) for action, names in groups.items() if action not in actions)
    if not known:
        raise StcorrError(f"no {split} video of the model's actions ({', '.join(actions)}) to score", dataset.root)
    device = next(model.parameters()).device
    model.eval()
    predicted = []
    with progress_bar(f"classify {split}", len(known), progress) as bar:
        for start in range(0, len(known), batch):
            clips = []
            for name, _ in known[start:start + batch]:
                video, labels = dataset.video(name), dataset.labels[name]
                first, stop = clip_window(labels, min(video.num_frames, labels.num_frames), settings["window"])
                times = first + even_times(stop - first, settings["clip_len"])
                joints = None
                if uses_pose(mode):
                    joints = (dataset_joints(dataset, name, None, None) if mediapipe is None
                              else MediaPipePose.shared(mediapipe).seen(video))
                forward = read_input(video, times, settings["size"], mode, joints)
                clips += [forward, forward.flip(1)]
            predicted.append(model(torch.stack(clips).to(device)).argmax(-1).cpu())
            bar.advance(len(clips) // 2)
    guesses = torch.cat(predicted).numpy().reshape(-1, 2)  # (videos, direction)
    truth = np.array([[2 * a, 2 * a + 1] for _, a in known])
    return _figures(guesses, truth, [actions[a] for _, a in known], split, skipped, len(settings["classes"]))


def _figures(guesses: np.ndarray, truth: np.ndarray, video_actions: list[str], split: str, skipped: int,
             classes: int) -> dict:
    def scores(rows: np.ndarray) -> dict:
        g, t = guesses[rows], truth[rows]
        return {"accuracy": float((g == t).mean()), "action_accuracy": float((g // 2 == t // 2).mean()),
                "direction_accuracy": float((g % 2 == t % 2).mean()), "n_videos": int(len(g))}

    everything = np.arange(len(truth))
    per_action = {a: scores(everything[np.array(video_actions) == a]) for a in sorted(set(video_actions))}
    return {"task": "classify", "split": split, **scores(everything), "n_clips": int(truth.size),
            "chance": 1.0 / classes, "skipped_videos": skipped,
            "per_action": per_action}
