"""A 3D lifter over MediaPipe's world joints (``stcorr train --config lifter``; shipped as ``stcorr:lifter``).

MediaPipe's world landmarks misjudge depth from one view, so the same pose filmed from two sides
gives 3D angles that differ (docs/compare.md, "Views"). The lifter corrects them: the 13 world joints
of ``2 side + 1`` frames around a frame (hip-centred, divided by the clip's median torso length) and
whether a body was found go through a small MLP that adds a correction to each bone's direction
(knee from hip, ankle from knee, ...; hips, shoulders and head from the hip midpoint); the body is
rebuilt along the corrected directions with the clip's median bone lengths, so a bone keeps its
length. ``lift_world`` averages the answer with that of the mirrored clip mirrored back, so a
mirrored video gets the mirrored answer exactly.

    model = load_model("stcorr:lifter")
    world = lift_world(model, track.world)       # (T, 13, 3) metres, hip-centred; NaN where nobody was found

Joints are the 13 Penn joints (``stcorr.pose.skeleton.JOINTS``) in MediaPipe's world axes (x right,
y down, z away from the camera, metres).
"""

from __future__ import annotations

from typing import Any, ClassVar, Iterable

import numpy as np
import torch
from pydantic import ConfigDict, Field
from torch import nn

from stcorr.pose.angles import J, angle_series
from stcorr.pose.skeleton import JOINTS, MIRRORED_JOINTS
from stcorr.settings import Section

PER_FRAME = 3 * len(JOINTS) + 1  # 13 x 3 world joints and the found flag
LH, RH, LS, RS = J["left_hip"], J["right_hip"], J["left_shoulder"], J["right_shoulder"]
_PARENT = {"left_knee": "left_hip", "right_knee": "right_hip", "left_ankle": "left_knee", "right_ankle": "right_knee",
           "left_elbow": "left_shoulder", "right_elbow": "right_shoulder", "left_wrist": "left_elbow",
           "right_wrist": "right_elbow"}  # the others hang from the hip midpoint
PARENTS: list[int | None] = [J[_PARENT[name]] if name in _PARENT else None for name in JOINTS]


def _depth(j: int) -> int:
    parent = PARENTS[j]
    return 0 if parent is None else 1 + _depth(parent)


ROOTS_FIRST = sorted(range(len(JOINTS)), key=_depth)


class LifterSettings(Section):
    """The lifter's keys of the ``lifter`` section (the learner's are left out); saved in checkpoints."""

    cpu_yaml_key: ClassVar[str] = "lifter"
    model_config = ConfigDict(extra="ignore")
    side: int = Field(ge=0)
    width: int = Field(ge=1)
    dropout: float = Field(ge=0, lt=1)


def torso_scale(joints: np.ndarray) -> float:
    """The clip's median distance from the hip midpoint to the shoulder midpoint (1 when unknown)."""
    hips = (joints[:, LH] + joints[:, RH]) / 2
    torso = np.linalg.norm((joints[:, LS] + joints[:, RS]) / 2 - hips, axis=-1)
    scale = float(np.nanmedian(torso)) if np.isfinite(torso).any() else 1.0
    return scale if scale > 0 else 1.0


def normalised(joints: np.ndarray) -> np.ndarray:
    """(T, 13, 3) joints minus the hip midpoint, divided by the clip's ``torso_scale``. Not
    ``stcorr.pose.descriptors.normalise``: once any frame lacks its hips (nobody found), that one
    centres every frame on the joints' mean, which is not the input the shipped weights learned from."""
    hips = (joints[:, LH] + joints[:, RH]) / 2
    return (joints - hips[:, None]) / torso_scale(joints)


def mirrored(joints: np.ndarray) -> np.ndarray:
    """(T, 13, 3) world joints of the mirror image: x negated, left and right swapped."""
    return joints[:, MIRRORED_JOINTS] * np.array([-1.0, 1.0, 1.0])


def windows(world: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    """The lifter's input of every frame of ``world`` (T, 13, 3): (T, (2 side + 1) PER_FRAME) float32,
    and (T,) whether a body was found (every joint finite); the clip's ends repeat."""
    found = np.isfinite(world).all(axis=(1, 2))
    per_frame = np.concatenate([np.nan_to_num(normalised(world)).reshape(len(world), -1), found[:, None]], 1)
    per_frame[~found] = 0
    index = np.clip(np.arange(len(world))[:, None] + np.arange(-side, side + 1), 0, len(world) - 1)
    return per_frame[index].reshape(len(world), -1).astype(np.float32), found


def bone_vectors(joints):
    """(..., 13, 3) each joint minus its parent (the hip midpoint for the roots); numpy or torch."""
    hips = (joints[..., LH, :] + joints[..., RH, :]) / 2
    parents = [hips if p is None else joints[..., p, :] for p in PARENTS]
    stack = torch.stack if isinstance(joints, torch.Tensor) else np.stack
    return joints - stack(parents, -2)


def rebuilt(directions, lengths):
    """(..., 13, 3) joints, hips at 0, from unit bone ``directions`` (..., 13, 3) and ``lengths`` (..., 13)."""
    joints: list = [None] * len(JOINTS)
    for j in ROOTS_FIRST:
        parent = PARENTS[j]
        joints[j] = (0 if parent is None else joints[parent]) + directions[..., j, :] * lengths[..., j, None]
    return torch.stack(joints, -2) if isinstance(directions, torch.Tensor) else np.stack(joints, -2)


class WorldLifter(nn.Module):
    """Inputs (N, (2 side + 1) PER_FRAME) of ``windows`` -> unit bone directions (N, 13, 3) of the middle frame."""

    def __init__(self, settings: LifterSettings):
        super().__init__()
        self.settings = settings
        width, drop = settings.width, settings.dropout
        self.net = nn.Sequential(nn.Linear(PER_FRAME * (2 * settings.side + 1), width), nn.ReLU(), nn.Dropout(drop),
                                 nn.Linear(width, width), nn.ReLU(), nn.Dropout(drop), nn.Linear(width, 3 * len(JOINTS)))

    @property
    def config(self) -> dict[str, Any]:
        return {"kind": "world_lifter", **self.settings.model_dump()}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        start = self.settings.side * PER_FRAME
        middle = x[:, start:start + 3 * len(JOINTS)].view(-1, len(JOINTS), 3)
        v = bone_vectors(middle) + self.net(x).view(-1, len(JOINTS), 3)
        return v / (v.norm(dim=-1, keepdim=True) + 1e-6)


def lifter_from_config(config: dict[str, Any]) -> WorldLifter:
    return WorldLifter(LifterSettings.checked(config))


def _directions(model: WorldLifter, world: np.ndarray) -> np.ndarray:
    x, _ = windows(world, model.settings.side)
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy().astype(np.float64)


def lift_world(model: WorldLifter, world: np.ndarray, symmetric: bool = True) -> np.ndarray:
    """MediaPipe's world joints of a clip (T, 13, 3), lifted: hip-centred, in the clip's own scale
    (metres), NaN in the frames where nobody was found. ``symmetric``: averaged with the lift of the
    mirrored clip, mirrored back (a mirrored clip then gets exactly the mirrored answer)."""
    world = np.asarray(world, dtype=np.float64)
    found = np.isfinite(world).all(axis=(1, 2))
    if not found.any():
        return np.full_like(world, np.nan)
    model.eval()
    directions = _directions(model, world)
    if symmetric:
        directions = directions + mirrored(_directions(model, mirrored(world)))
        directions /= np.linalg.norm(directions, axis=-1, keepdims=True) + 1e-9
    bones = np.linalg.norm(bone_vectors(normalised(world)), axis=-1)
    lengths = np.nan_to_num(np.nanmedian(bones[found], axis=0), nan=1.0)
    out = rebuilt(directions, np.broadcast_to(lengths, directions.shape[:2])) * torso_scale(world)
    out[~found] = np.nan
    return out


def angle_errors(model: WorldLifter, clips: Iterable[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """The median absolute error (degrees) of the nine joint angles over every frame of ``clips``, each
    (MediaPipe's world joints, the true joints), both (T, 13, 3): ``mediapipe`` of the joints as given,
    ``lifted`` of ``lift_world``'s."""
    raw, lifted = [], []
    for world, truth in clips:
        true_angles = angle_series(np.asarray(truth, dtype=np.float64))
        raw.append(np.abs(angle_series(world) - true_angles).ravel())
        lifted.append(np.abs(angle_series(lift_world(model, world)) - true_angles).ravel())
    return {"mediapipe": float(np.nanmedian(np.concatenate(raw))), "lifted": float(np.nanmedian(np.concatenate(lifted)))}
