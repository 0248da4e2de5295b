"""CPNet's video classification (Liu, Lee & Jin, CVPR 2019) on a motion-centric task: ``stcorr
train --config cpnet --data ROOT`` (any Penn Action-layout data set).

The task (``stcorr.models.action_clips``): each train video's action, played forward or reversed
in time: 2 x actions classes (14 for the synthetic set's 7). Example g takes a train video and a
direction (rng), ``cpnet.clip_len`` frames spread over a random window of ``min_span`` to 1 x the
video's clip window (``cpnet.window``: the whole video, or its key moments' span widened, see
``stcorr.models.action_clips.clip_window``; one frame drawn in each of clip_len slots), a random
crop of ``crop`` to 1 x the frame (its aspect kept) and a left-right mirror half the time, the same
for every frame. With pose input (``cpnet.input``, as ``model.input``: ``stcorr.pose.maps``) the
clip carries the maps of the video's annotated joints, perturbed as MediaPipe errs (MediaPipe's
joints where the data set has no per-frame labels). Loss: cross-entropy. The network (``cpnet.network``): c2d (the 2D ResNet on every frame, averaged over
time: it cannot tell the directions apart), cpnet (the same with CP modules at
``cpnet.placements``) or r3d (a small R3D); all share ``width_multiplier`` and ``blocks``.
Validation: accuracy on the val split's clips, forward and reversed (``val_log.csv``).
Settings: the ``cpnet`` section (``CPNetSettings``).
"""

from __future__ import annotations

from typing import Literal, Optional

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from stcorr.data.datasets import Dataset
from stcorr.errors import StcorrError
from stcorr.models.action_clips import class_names, clip_window, evaluate_classifier, labelled_videos_by_action, read_input
from stcorr.learners.base import Learner
from stcorr.models.cpnet import ClipClassifier
from stcorr.pose.maps import dataset_joints, uses_pose
from stcorr.settings import Section


class CPNetSettings(Section):
    cpu_yaml_key = "cpnet"
    network: Literal["c2d", "cpnet", "r3d"]
    clip_len: int = Field(ge=2)
    size: int = Field(ge=16)
    width_multiplier: float = Field(gt=0)
    blocks: list[int] = Field(min_length=4, max_length=4)
    placements: list[str]
    k: int = Field(ge=1)
    bottleneck: Optional[float] = Field(gt=0, le=1)
    spatial_stride: int = Field(ge=1)
    min_span: float = Field(gt=0, le=1)
    window: Literal["video", "moments"]
    crop: float = Field(gt=0, le=1)
    val_batch: int = Field(ge=1)
    input: Literal["rgb", "rgb+pose", "pose", "rgb+joints", "joints"]
    oriented: bool
    cp_init_scale: float = Field(ge=0)


def clip_times(n: int, length: int, rng: np.random.Generator, min_span: float) -> np.ndarray:
    """``length`` strictly increasing frames of an ``n``-frame video: a random window of ``min_span`` to
    1 x the video cut into ``length`` slots of whole frames, one frame drawn in each; a video of fewer
    than ``length`` frames gives sorted frames with repeats."""
    if n < length:
        return np.sort(rng.integers(0, n, size=length))
    window = max(length, int(round(rng.uniform(min_span, 1.0) * n)))
    start = int(rng.integers(0, n - window + 1))
    edges = np.round(np.linspace(start, start + window, length + 1)).astype(np.int64)
    return edges[:-1] + np.floor(rng.random(length) * np.diff(edges)).astype(np.int64)


def random_crop(width: int, height: int, smallest: float, rng: np.random.Generator) -> tuple[float, float, float, float]:
    """A box (x0, y0, w, h) of ``smallest`` to 1 x the frame, the frame's aspect kept, placed at random."""
    scale = float(rng.uniform(smallest, 1.0))
    w, h = width * scale, height * scale
    return float(rng.uniform(0, width - w)), float(rng.uniform(0, height - h)), w, h


class CPNetLearner(Learner):
    name, description = "cpnet", "a CPNet clip classifier"
    per_example = False  # a step's clips go through together (BatchNorm sees them all; faster 3D convs)
    section = CPNetSettings
    tiny = {"cpnet.clip_len": 4, "cpnet.size": 32, "cpnet.width_multiplier": 0.125, "cpnet.blocks": [1, 1, 1, 1],
            "cpnet.placements": ["res3.0"], "cpnet.k": 2, "cpnet.val_batch": 3, "train.batch_size": 4}

    def __init__(self, cfg: dict, dataset: Dataset, device: torch.device):
        super().__init__(cfg, dataset, device)
        self.settings = cfg["cpnet"]
        self.pose = cfg["baseline"]["pose"]  # MediaPipe, for pose input on data without per-frame joints
        groups = labelled_videos_by_action(dataset, "train")
        if not groups:
            raise StcorrError("no train videos to classify", dataset.root)
        self.actions = list(groups)
        self.videos = [(name, a) for a, action in enumerate(self.actions) for name in groups[action]]
        val = labelled_videos_by_action(dataset, "val")
        self.has_val = any(action in val for action in self.actions)

    def build_model(self) -> ClipClassifier:
        s = self.settings
        return ClipClassifier(s["network"], class_names(self.actions), s["clip_len"], s["size"], s["width_multiplier"],
                              s["blocks"], s["placements"], s["k"], s["bottleneck"], s["spatial_stride"], s["window"],
                              s["input"], s["oriented"], s["cp_init_scale"])

    def num_examples(self) -> int:
        return 2 * len(self.videos)

    def example(self, index: int, rng: np.random.Generator) -> dict:
        """A clip (C, T, S, S) (``read_input``) and its class 2 x action + reversed."""
        s = self.settings
        name, action = self.videos[int(rng.integers(len(self.videos)))]
        reverse = bool(rng.random() < 0.5)
        video, labels = self.dataset.video(name), self.dataset.labels[name]
        start, stop = clip_window(labels, min(video.num_frames, labels.num_frames), s["window"])
        times = start + clip_times(stop - start, s["clip_len"], rng, s["min_span"])
        crop = random_crop(*video.size, s["crop"], rng)
        joints = dataset_joints(self.dataset, name, self.pose, rng) if uses_pose(s["input"]) else None
        clip = read_input(video, times[::-1] if reverse else times, s["size"], s["input"], joints, crop,
                          flip=bool(rng.random() < 0.5))
        return {"clip": clip, "label": 2 * action + int(reverse)}

    def loss(self, model: nn.Module, examples: list[dict]) -> torch.Tensor:
        clips = torch.stack([e["clip"] for e in examples]).to(self.device)
        labels = torch.tensor([e["label"] for e in examples], device=self.device)
        return F.cross_entropy(model(clips), labels)

    def validate(self, model: nn.Module, step: int) -> dict[str, float] | None:
        if not self.has_val:
            return None
        results = evaluate_classifier(model, self.dataset, "val", batch=int(self.settings["val_batch"]))
        return {k: results[k] for k in ("accuracy", "action_accuracy", "direction_accuracy")}

    def summary(self, steps: int, seconds: float) -> str:
        return (f"trained {self.settings['network']} to classify {len(self.actions)} actions x forward/reversed "
                f"{steps} steps in {seconds:.0f} s")
