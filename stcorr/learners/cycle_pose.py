"""Cross-video cycle consistency over pose: ``stcorr train --config cycle-pose``.

The cycle learner's idea (``stcorr.learners.cycle``, Purushwalkam et al., ECCV 2020) with a body's
pose in place of pixels and whole frames in place of patches. Example g takes two train videos of
one action; each one's annotated joints are perturbed as MediaPipe errs (``perturb_joints``: missed
frames, swapped sides, dropped joints, jitter, outliers) and the second is also replayed at a
random speed (up to ``cycle_pose.speed`` times faster or slower), then both become pose
descriptors (``stcorr.pose.descriptors``, MediaPipe's settings) and ``cycle_pose.frames`` frames of
each are sampled. The cycles are V_m -> W_j -> V_k over the frames j of the other video (the soft
maximum kappa of ``stcorr.alignment.cycle`` with each frame one patch of one time step); the
margin loss wants the cycle to come back near where it started: an end frame k is a positive when
its window of ``cycle_pose.window`` x the video's length overlaps the start frame's with IoU >=
``cycle_pose.iou_threshold``, a negative otherwise. Both directions (V -> W -> V, W -> V -> W).
Settings: the ``cycle_pose`` section of the config (``CyclePoseSettings``).
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import ConfigDict, Field
from torch import nn

from stcorr.alignment.cycle import kappa, margin_loss
from stcorr.data.datasets import Dataset
from stcorr.errors import StcorrError
from stcorr.learners.alignment import sample_times, train_videos_by_action
from stcorr.learners.base import Learner
from stcorr.models.cycle_pose import PoseCycleEmbedding, PoseCycleSettings, finite_descriptors
from stcorr.pose.descriptors import MEDIAPIPE_SETTINGS, pose_descriptors
from stcorr.pose.maps import perturb_joints
from stcorr.pose.track import JointTrack, labelled_track


class CyclePoseSettings(PoseCycleSettings):
    """The ``cycle_pose`` section: the embedding's keys, then the learner's."""

    model_config = ConfigDict(extra="forbid")
    frames: int = Field(ge=2)
    temperature: float = Field(gt=0)
    margin: float = Field(ge=0)
    window: float = Field(gt=0)
    iou_threshold: float = Field(gt=0, le=1)
    speed: float = Field(ge=1)


def replayed(joints: JointTrack, speed: float) -> JointTrack:
    """``joints`` played ``speed`` times as fast (nearest frames; at least 2 frames)."""
    n = len(joints.xy)
    index = np.round(np.linspace(0, n - 1, max(2, int(round(n / speed))))).astype(np.int64)
    return JointTrack(joints.xy[index], joints.visibility[index])


def time_boxes(times: np.ndarray, length: int, window: float) -> torch.Tensor:
    """(F, 1, 4) boxes in (time, unused) of each frame's window of ``window`` x ``length`` frames,
    so that ``margin_loss``'s IoU is the windows' overlap in time."""
    centre = torch.from_numpy(np.asarray(times, dtype=np.float32)) / max(length - 1, 1)
    half = window / 2
    return torch.stack([centre - half, torch.zeros_like(centre), centre + half, torch.ones_like(centre)], -1)[:, None]


class CyclePoseLearner(Learner):
    name, description = "cycle-pose", "a pose cycle-consistency"
    section = CyclePoseSettings
    tiny = {"cycle_pose.hidden": 16, "cycle_pose.dim": 8, "cycle_pose.frames": 8}

    def __init__(self, cfg: dict, dataset: Dataset, device: torch.device):
        super().__init__(cfg, dataset, device)
        self.part = cfg["cycle_pose"]
        labels = dataset.labels
        if not labels:
            raise StcorrError("the cycle-pose learner needs a Penn Action-layout data set (its annotated joints)",
                              dataset.root)
        self.groups = {a: [n for n in names if n in labels and labels[n].num_frames >= 2]
                       for a, names in train_videos_by_action(dataset).items()}
        self.groups = {a: names for a, names in self.groups.items() if len(names) >= 2}
        if not self.groups:
            raise StcorrError("the cycle-pose learner needs two annotated train videos of one action", dataset.root)
        self.actions = list(self.groups)
        counts = np.array([len(self.groups[a]) for a in self.actions], dtype=np.float64)
        self.weights = counts / counts.sum()

    def build_model(self) -> PoseCycleEmbedding:
        return PoseCycleEmbedding(PoseCycleSettings.checked(self.part))

    def num_examples(self) -> int:
        return max(sum(len(n) for n in self.groups.values()) // 2, 1)

    def example(self, index: int, rng: np.random.Generator) -> dict:
        """Descriptors of both videos [(T_v, 70), (T_w, 70)], the sampled frames of each and their time boxes."""
        names = self.groups[self.actions[rng.choice(len(self.actions), p=self.weights)]]
        pair = [names[i] for i in rng.choice(len(names), size=2, replace=False)]
        speed = float(np.exp(rng.uniform(-1, 1) * np.log(self.part["speed"])))
        example: dict = {"descriptors": [], "times": [], "boxes": []}
        for v, name in enumerate(pair):
            joints = perturb_joints(labelled_track(self.dataset.labels[name]), rng)
            if v == 1:
                joints = replayed(joints, speed)
            n = len(joints.xy)
            times = sample_times(n, int(self.part["frames"]), rng, span=float(rng.uniform(0.7, 1.0)))
            example["descriptors"].append(finite_descriptors(pose_descriptors(joints.xy, joints.visibility,
                                                                              MEDIAPIPE_SETTINGS)))
            example["times"].append(torch.from_numpy(times))
            example["boxes"].append(time_boxes(times, n, float(self.part["window"])))
        return example

    def loss(self, model: nn.Module, examples: list[dict]) -> torch.Tensor:
        losses = []
        for e in examples:
            emb = [model(d[None].to(self.device))[0][t.to(self.device)][:, None]  # (F, 1, dim): frames as patches
                   for d, t in zip(e["descriptors"], e["times"])]
            boxes = [b.to(self.device) for b in e["boxes"]]
            valid = [torch.ones(b.shape[:2], dtype=torch.bool, device=self.device) for b in boxes]
            for a, b in ((0, 1), (1, 0)):
                kappas = kappa(emb[a], valid[a], emb[b], valid[b], temperature=self.part["temperature"],
                               temporal_search=False)
                losses.append(margin_loss(kappas, boxes[a], valid[a], boxes[a], valid[a],
                                          self.part["margin"], self.part["iou_threshold"]))
        return torch.stack(losses).mean()

    def summary(self, steps: int, seconds: float) -> str:
        return f"trained the pose cycle-consistency embedding {steps} steps in {seconds:.0f} s"
