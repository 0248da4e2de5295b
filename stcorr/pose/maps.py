"""Pose maps: what a pose estimator's joints add to a clip as input channels of the backbone.

``model.input`` (``INPUT_MODES``) says what the backbone's stem sees: ``rgb`` (the clip alone),
``rgb+pose`` (the clip's 3 channels, then ``POSE_CHANNELS`` maps of joint groups), ``pose`` (those maps
alone), ``rgb+joints`` or ``joints`` (the same with ``JOINT_CHANNELS`` maps, one per joint).

Maps, (5, T, H, W) float32 in [0, 1], one per joint group (``GROUPS``): head, left arm, right arm,
left leg, right leg. Each joint of a group is a Gaussian bump of standard deviation
``sigma_for(size)`` clip pixels centred on its clip position in every clip frame, with a peak
height that says where along the limb it is (``HEIGHTS``: shoulder/hip 0.4, elbow/knee 0.7,
wrist/ankle/head 1.0); a group's map is the maximum of its joints' bumps. Why five: the stem's
cost grows with its input channels (R3D width 16 at 32x64x64, forward and backward: 3 channels
0.89 s, 8 channels 1.21 s, 16 channels 1.76 s), left and right stay apart because that is what
a correspondence must not confuse (and where MediaPipe errs: ``MEDIAPIPE_ERRORS``), and the
joints of one limb are told apart by their heights and by where the limb starts.
The ``joints`` maps give each of the 13 joints a map of its own (peak 1.0): elbow and wrist need not be
told apart by height. Measured (docs/results/joint-model.md#pose-informed-joint-model): no better
than the five at equal steps, and a training step of ``cpu-long-pose`` takes 1.8 s against 1.4.

Coordinates: joints come in native pixels (x right, y down, pixel centres at integers) and go to
clip pixels with ``Clip.to_clip`` (its crop and resize, docs/formats.md#coordinates), so a bump's centre lies exactly
where that native point appears in the clip frame. Clip frame j takes the joints of the native
frame it shows (``clip.native_times[j]``). A joint not seen (not visible, not found) draws nothing,
nor does a frame past the last one with joints (labels of fewer frames than the video).

Where joints come from:
- at inference, MediaPipe Pose through the pose cache (``stcorr.pose.cache.MediaPipePose.seen``):
  every video anyone gives to ``predict`` / ``eval``;
- in training on a Penn Action-layout set, the annotated joints perturbed the way MediaPipe errs
  (``perturb_joints``: missed frames, left/right swaps, dropped joints, jitter and outliers at the
  rates ``benchmarks/pose_errors.py`` measured on the synthetic frames, ``MEDIAPIPE_ERRORS``);
  data without per-frame joints (the pairs layout) takes MediaPipe's. Perturbed truth rather than
  MediaPipe's own output on the rendered frames: each training example gets a fresh draw of the
  errors (MediaPipe gives one fixed answer per frame, which a model can learn alongside the
  frame), any new synthetic set trains at once without MediaPipe running over all its frames, and
  the error rates are still MediaPipe's, measured on those frames.
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol

import numpy as np
import torch

from stcorr.data.clips import Clip
from stcorr.errors import StcorrError
from stcorr.pose.skeleton import JOINTS, MIRRORED_JOINTS
from stcorr.pose.cache import MediaPipePose
from stcorr.pose.track import JointTrack, labelled_track

INPUT_MODES: tuple[str, ...] = ("rgb", "rgb+pose", "pose", "rgb+joints", "joints")

#: Joint indices (docs/formats.md#penn-action-layout order) of each map.
GROUPS: tuple[tuple[int, ...], ...] = (
    (0,),           # head
    (1, 3, 5),      # left shoulder, elbow, wrist
    (2, 4, 6),      # right arm
    (7, 9, 11),     # left hip, knee, ankle
    (8, 10, 12),    # right leg
)
POSE_CHANNELS = len(GROUPS)
#: Peak height of each joint's bump: where along its limb it is.
HEIGHTS = np.array([1.0, 0.4, 0.4, 0.7, 0.7, 1.0, 1.0, 0.4, 0.4, 0.7, 0.7, 1.0, 1.0], dtype=np.float32)
#: One map per joint (docs/formats.md#penn-action-layout order), every bump of peak 1: the ``joints`` maps.
JOINT_GROUPS: tuple[tuple[int, ...], ...] = tuple((joint,) for joint in range(len(JOINTS)))
JOINT_CHANNELS = len(JOINT_GROUPS)
#: What each kind of maps draws: (groups, peak height of each joint).
MAP_KINDS: dict[str, tuple[tuple[tuple[int, ...], ...], np.ndarray]] = {
    "pose": (GROUPS, HEIGHTS),
    "joints": (JOINT_GROUPS, np.ones(len(JOINTS), dtype=np.float32)),
}
#: Each joint's mirror image (left <-> right).
MIRROR: tuple[int, ...] = MIRRORED_JOINTS

#: MediaPipe Pose on the synthetic training frames (seed 0, 6 videos per action: 42 videos, 3,701
#: frames) against the generator's joints, ``python benchmarks/pose_errors.py DATA --cache FOLDER``
#: ("train"; its docstring defines each figure; the val videos gave 0.122, 0.145, 0.076, 0.022,
#: 0.028). Jitter and outliers are in units of the person's size.
MEDIAPIPE_ERRORS: dict[str, float] = {
    "missed_frames": 0.063,
    "swapped_frames": 0.121,
    "dropped_joints": 0.077,
    "error_sigma": 0.020,
    "outliers": 0.025,
}


def input_channels(mode: str) -> int:
    """Channels the backbone's stem takes in ``mode``."""
    return (3 if uses_rgb(mode) else 0) + (len(MAP_KINDS[map_kind(mode)][0]) if uses_pose(mode) else 0)


def check_input(mode: str) -> str:
    if mode not in INPUT_MODES:
        raise StcorrError(f"model.input must be one of {', '.join(INPUT_MODES)}, not {mode!r}")
    return mode


def uses_pose(mode: str) -> bool:
    return check_input(mode) != "rgb"


def uses_rgb(mode: str) -> bool:
    return check_input(mode).startswith("rgb")


def map_kind(mode: str) -> str:
    """The maps ``mode`` draws (a key of ``MAP_KINDS``): ``rgb+joints`` -> ``joints``."""
    return check_input(mode).split("+")[-1]


def sigma_for(size: tuple[int, int]) -> float:
    """Bump standard deviation in clip pixels: 1.5 at 64 pixels, in proportion to the longer side."""
    return 1.5 * max(size) / 64.0


def draw_pose_maps(xy: np.ndarray, seen: np.ndarray, size: tuple[int, int], sigma: float | None = None,
                   kind: str = "pose") -> torch.Tensor:
    """Joints in clip pixels ``xy`` (T, 13, 2), ``seen`` (T, 13) -> maps (G, T, H, W), one per group of
    ``MAP_KINDS[kind]`` (``pose``: G = POSE_CHANNELS; ``joints``: G = JOINT_CHANNELS).

    ``size`` is the clip's (W, H); pixel (X, Y) of frame j holds each group's largest
    ``height[k] * exp(-((X - x)^2 + (Y - y)^2) / (2 sigma^2))`` over its seen joints k; values below
    float32's smallest normal number (1.2e-38, the bumps' far tails) are 0.
    """
    groups, heights = MAP_KINDS[kind]
    width, height = size
    sigma = sigma_for(size) if sigma is None else sigma
    xy = np.where(seen[..., None], np.nan_to_num(xy, nan=0.0), 0.0).astype(np.float32)
    gx = np.exp(-((np.arange(width, dtype=np.float32) - xy[..., :1]) ** 2) / (2 * sigma**2))   # (T, 13, W)
    gy = np.exp(-((np.arange(height, dtype=np.float32) - xy[..., 1:]) ** 2) / (2 * sigma**2))  # (T, 13, H)
    weight = (seen * heights).astype(np.float32)
    bumps = weight[..., None, None] * gy[..., :, None] * gx[..., None, :]                        # (T, 13, H, W)
    maps = np.stack([bumps[:, list(group)].max(axis=1) for group in groups])
    maps[maps < np.finfo(np.float32).tiny] = 0.0  # subnormal tails: a 3D conv over them ran 3.5x slower
    return torch.from_numpy(maps)


def clip_pose_maps(clip: Clip, joints: JointTrack, kind: str = "pose") -> torch.Tensor:
    """The maps (G, T, H, W) of ``kind`` (``draw_pose_maps``) of ``clip`` from its video's native
    joints, those ``seen`` at ``stcorr.pose.track.MIN_VISIBILITY`` (``MediaPipePose.seen`` thresholds
    MediaPipe's at its own)."""
    times = np.minimum(clip.native_times, len(joints.xy) - 1)
    xy = np.nan_to_num(joints.xy[times], nan=0.0)
    seen = joints.seen()[times] & (clip.native_times < len(joints.xy))[:, None]
    native = np.concatenate([np.repeat(times[:, None, None], len(JOINTS), axis=1).astype(np.float64), xy], axis=2)
    clip_xy = clip.to_clip(native.reshape(-1, 3))[:, 1:].reshape(xy.shape)
    return draw_pose_maps(clip_xy, seen, clip.size, kind=kind)


def clip_input(clip: Clip, mode: str, normalised_rgb: torch.Tensor, joints: JointTrack | None) -> torch.Tensor:
    """What the backbone takes for ``clip`` in ``mode``: (C, T, H, W), C = ``input_channels(mode)``."""
    if not uses_pose(mode):
        return normalised_rgb
    maps = clip_pose_maps(clip, joints, map_kind(mode))
    return torch.cat([normalised_rgb, maps]) if uses_rgb(mode) else maps


def mirror_input(clip_input: torch.Tensor, mode: str) -> torch.Tensor:
    """``clip_input(...)`` (C, T, H, W) of ``mode`` mirrored left-right: every channel flipped in W and
    the maps of left and right joint groups swapped (the mirror image's left arm is the person's right)."""
    flipped = clip_input.flip(-1)
    if not uses_pose(mode):
        return flipped
    groups = MAP_KINDS[map_kind(mode)][0]
    mirrored = [groups.index(tuple(MIRROR[j] for j in group)) for group in groups]
    first = 3 if uses_rgb(mode) else 0
    return torch.cat([flipped[:first], flipped[first:][mirrored]])


def dataset_joints(dataset: Any, name: str, pose: Mapping[str, Any] | None,
                   rng: np.random.Generator | None) -> JointTrack:
    """The joints pose maps of video ``name`` are drawn from: its annotated joints where the data set
    has per-frame labels (``perturb_joints`` with ``rng``, as they are unperturbed without), else
    MediaPipe's (``MediaPipePose.seen`` with the ``pose`` settings)."""
    if name not in dataset.labels:
        return MediaPipePose.shared(pose).seen(dataset.video(name))
    joints = labelled_track(dataset.labels[name])
    return joints if rng is None else perturb_joints(joints, rng)


class SeenJoints(Protocol):
    """Where a model with pose input gets a video's joints: visibility 1 where seen, else 0
    (``MediaPipePose.seen``, ``AnnotatedJoints.seen``)."""

    def seen(self, video: Any) -> JointTrack: ...


class AnnotatedJoints:
    """A Penn layout data set's annotated joints, unperturbed, where a model's pose maps would take
    MediaPipe's: a shipped model's check runs on the same maps everywhere, without the pose extra."""

    def __init__(self, dataset: Any):
        self.dataset = dataset

    def seen(self, video: Any) -> JointTrack:
        return dataset_joints(self.dataset, video.path.name, None, None)


def perturb_joints(joints: JointTrack, rng: np.random.Generator,
                   errors: Mapping[str, float] = MEDIAPIPE_ERRORS) -> JointTrack:
    """The joints as MediaPipe might have found them: per frame, missed (nothing seen) or
    left/right swapped at the measured rates; per joint, dropped, moved by Gaussian jitter of
    ``error_sigma`` x the person's size, or (``outliers``) thrown anywhere within half that size.
    The person's size in a frame is the longer side of the box around its seen joints. Visibility
    comes back 1 where a joint is seen, else 0."""
    xy, seen = joints.xy.copy(), joints.seen()
    frames = len(xy)
    swapped = rng.random(frames) < errors["swapped_frames"]
    xy[swapped], seen[swapped] = xy[swapped][:, list(MIRROR)], seen[swapped][:, list(MIRROR)]
    seen &= ~(rng.random(frames) < errors["missed_frames"])[:, None]
    seen &= rng.random(seen.shape) >= errors["dropped_joints"]
    size = _person_size(joints)[:, None, None]
    noise = rng.normal(0.0, errors["error_sigma"], xy.shape)
    thrown = rng.random(seen.shape) < errors["outliers"]
    noise[thrown] = rng.uniform(-0.5, 0.5, (int(thrown.sum()), 2))
    return JointTrack(xy + noise * size, seen.astype(np.float64))


def _person_size(joints: JointTrack) -> np.ndarray:
    """(N,) the longer side of the box around each frame's seen joints (0 with fewer than 2)."""
    seen = joints.seen()
    low = np.where(seen[..., None], joints.xy, np.inf).min(axis=1)
    high = np.where(seen[..., None], joints.xy, -np.inf).max(axis=1)
    size = (high - low).max(axis=1)
    return np.where(seen.sum(axis=1) >= 2, size, 0.0)
