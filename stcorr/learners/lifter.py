"""The 3D lifter of MediaPipe's world joints (``stcorr.models.lifter``): ``stcorr train --config lifter``.

Data: a ``stcorr synth`` set (it writes each video's true 3D joints in the camera's axes,
``joints3d/``) and MediaPipe's plain pass over its videos (static-image mode, the pass ``stcorr
compare`` reads; through the pose cache, so ``scripts/pose_pass`` can fill it in parallel first).
Every frame of a train video where MediaPipe found a body is an example, and so is the same frame
of the mirrored clip (x negated, sides swapped). Example g draws one of them and the input's noise
(``lifter.noise``, Gaussian). Loss: the squared error of the rebuilt joints (hip-centred, over the
clip's torso length; bones at the truth's lengths) plus ``lifter.angle_weight`` x the absolute error
of the nine joint angles (radians). Validation: the median angle error against the truth over the
first ``lifter.val_videos`` val videos of each action, MediaPipe's world joints and the lifted ones.
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import ConfigDict, Field
from torch import nn

from stcorr.data.datasets import Dataset
from stcorr.data.synthetic.build import CAMERA_JOINTS, read_camera_joints
from stcorr.errors import StcorrError
from stcorr.learners.base import Learner
from stcorr.models.lifter import (LifterSettings, WorldLifter, angle_errors, bone_vectors, mirrored, normalised, rebuilt,
                                  windows)
from stcorr.pose.angles import ANGLE_JOINTS, J
from stcorr.pose.track import JointTrack
from stcorr.progress import progress_bar

ANGLE_TRIPLES = [tuple(J[n] for n in names) for names in ANGLE_JOINTS.values()]


class LifterLearnerSettings(LifterSettings):
    """The ``lifter`` section: the model's keys, then the learner's."""

    model_config = ConfigDict(extra="forbid")
    noise: float = Field(ge=0)
    angle_weight: float = Field(ge=0)
    val_videos: int = Field(ge=0)


def joint_angles(joints: torch.Tensor) -> torch.Tensor:
    """(N, 13, 3) joints -> (N, 9) angles in radians (``stcorr.pose.angles``' triples)."""
    u = torch.stack([joints[:, a] - joints[:, b] for a, b, _ in ANGLE_TRIPLES], 1)
    v = torch.stack([joints[:, c] - joints[:, b] for _, b, c in ANGLE_TRIPLES], 1)
    cos = (u * v).sum(-1) / (u.norm(dim=-1) * v.norm(dim=-1) + 1e-6)
    return torch.acos(cos.clamp(-0.999, 0.999))


def mediapipe_world(pose, video) -> np.ndarray:
    """MediaPipe's world joints (T, 13, 3) of ``video`` from ``pose`` (its plain static pass, pose cache)."""
    track: JointTrack = pose.track(video)
    if track.world is None:
        raise StcorrError("MediaPipe gave no world joints", video.path)
    return track.world


class LifterLearner(Learner):
    name, description = "lifter", "a 3D lifter of MediaPipe's world joints"
    section = LifterLearnerSettings
    per_example = False
    tiny = {"lifter.width": 16, "lifter.val_videos": 1}

    def __init__(self, cfg: dict, dataset: Dataset, device: torch.device):
        super().__init__(cfg, dataset, device)
        self.part = cfg["lifter"]
        self.side = int(self.part["side"])
        truth = dataset.root / CAMERA_JOINTS
        with_truth = {n for n in dataset.videos() if (truth / f"{n}.npy").is_file()} if dataset.labels else set()
        train = [n for n in dataset.videos("train") if n in with_truth]
        if not train:
            raise StcorrError("the lifter learner needs a `stcorr synth` set with true 3D joints (joints3d/)",
                              dataset.root)
        self.val_names = [n for names in dataset.videos_by_action("val").values()
                          for n in [m for m in names if m in with_truth][:int(self.part["val_videos"])]]
        self.clips = self._read(train + self.val_names)
        inputs, targets = [], []
        for n in train:
            world, truth = self.clips[n]
            for w, t in ((world, truth), (mirrored(world), mirrored(truth))):
                x, found = windows(w, self.side)
                inputs.append(x[found]), targets.append(normalised(t)[found].astype(np.float32))
        self.inputs = torch.from_numpy(np.concatenate(inputs))
        self.targets = torch.from_numpy(np.concatenate(targets))
        if not len(self.inputs):
            raise StcorrError("MediaPipe found no body in the train videos", dataset.root)

    def _read(self, names: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        from stcorr.pose.cache import MediaPipePose  # MediaPipe: the optional `pose` extra

        pose, clips = MediaPipePose(), {}  # its own instance, not .shared(): the tracks are read once, kept as arrays
        with progress_bar("MediaPipe's world joints", len(names)) as bar:
            for n in names:
                video = self.dataset.video(n)
                clips[n] = (mediapipe_world(pose, video), read_camera_joints(self.dataset.root, n).astype(np.float64))
                video.close()
                bar.advance()
        return clips

    def build_model(self) -> WorldLifter:
        return WorldLifter(LifterSettings.checked(self.part))

    def num_examples(self) -> int:
        return len(self.inputs)

    def example(self, index: int, rng: np.random.Generator) -> tuple[int, np.ndarray]:
        """A frame (an index into the train frames) and the noise added to its input."""
        return int(rng.integers(len(self.inputs))), rng.normal(0, self.part["noise"], self.inputs.shape[1]).astype(np.float32)

    def loss(self, model: nn.Module, examples: list[tuple[int, np.ndarray]]) -> torch.Tensor:
        index = torch.tensor([i for i, _ in examples])
        x = (self.inputs[index] + torch.from_numpy(np.stack([n for _, n in examples]))).to(self.device)
        truth = self.targets[index].to(self.device)
        joints = rebuilt(model(x), bone_vectors(truth).norm(dim=-1))
        angles = (joint_angles(joints) - joint_angles(truth)).abs().mean()
        return ((joints - truth) ** 2).mean() + self.part["angle_weight"] * angles

    def validate(self, model: nn.Module, step: int) -> dict[str, float] | None:
        if not self.val_names:
            return None
        errors = angle_errors(model, (self.clips[n] for n in self.val_names))
        return {"angle_error_deg": errors["lifted"], "mediapipe_angle_error_deg": errors["mediapipe"]}

    def summary(self, steps: int, seconds: float) -> str:
        return f"trained the 3D lifter {steps} steps in {seconds:.0f} s"
