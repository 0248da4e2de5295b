"""Spatial matching, the second stage of a sequential baseline: in the aligned frame pair (source
frame t of each keypoint, target frame t' from the time alignment), where the source keypoint
(x, y) goes in the target frame. Coordinates are native pixels (x right, y down).

Matchers, each with ``match(dataset, pair, target_times) -> (K, 2)`` target x, y:

- ``pose-oracle``: the annotated keypoints of both frames (Penn Action labels) stand in for a
  detector. The source keypoint takes the nearest annotated keypoint of its frame; an object
  goes to the same object's annotation in the target frame when there is one; otherwise the
  nearest source joint that is also a joint of the target frame gives the answer (the same
  joint there). The upper bound of the pose-based rows.
- ``pose``: MediaPipe Pose detections of both frames; a body joint (a keypoint named as one) takes
  the same nearest-joint rule; any other point (an object, an unnamed or unknown point) is placed
  by the body around it (``body_transfer``: its offset from the nearest joint, carried by the
  similarity transform that maps its nearest joints onto the same joints of the target). When
  several people are found, the source person is the one nearest the keypoints and the target
  person the one whose pose is most similar.
- ``cats2d``: the trained 2D CATs model on the two frames.

Where no rule applies (no joint in common, nobody detected) the point keeps its relative position
in the frame: ``x' = (x + 0.5) * W_target / W_source - 0.5``, and the same for y.
"""

from __future__ import annotations

from typing import Mapping, Protocol

import numpy as np
import torch

from stcorr.data.datasets import Dataset
from stcorr.data.pairs import Pair
from stcorr.pose.skeleton import Joints, keypoint_type
from stcorr.data.video import Video
from stcorr.errors import StcorrError
from stcorr.models.cats2d import Cats2d
from stcorr.data.frames import read_frames
from stcorr.models.frame_features import frame_to_native, native_to_frame


def frame_pairs(pair: Pair, target_times: np.ndarray) -> dict[tuple[int, int], np.ndarray]:
    """Correspondence indices grouped by (source frame, target frame)."""
    groups: dict[tuple[int, int], list[int]] = {}
    for i, (s, t) in enumerate(zip(pair.src[:, 0].astype(int), np.asarray(target_times).astype(int))):
        groups.setdefault((int(s), int(t)), []).append(i)
    return {key: np.array(value) for key, value in groups.items()}


def keep_relative_position(xy: np.ndarray, source_size: tuple[int, int], target_size: tuple[int, int]) -> np.ndarray:
    """(x, y) at the same fraction of the target frame as of the source frame (the fallback)."""
    scale = np.array(target_size, dtype=np.float64) / np.array(source_size, dtype=np.float64)
    return (np.asarray(xy, dtype=np.float64) + 0.5) * scale - 0.5


def nearest_joint_transfer(xy: np.ndarray, source_joints: Joints, target_joints: Joints,
                           source_objects: Joints | None = None, target_objects: Joints | None = None):
    """Where ``xy`` goes by the nearest-joint rule (module docstring), or None when no rule applies."""
    source_objects, target_objects = source_objects or {}, target_objects or {}
    everything = {**source_joints, **source_objects}
    if not everything:
        return None
    distance = {name: float(np.hypot(*(np.asarray(p) - xy))) for name, p in everything.items()}
    nearest = min(distance, key=distance.get)
    if nearest in source_objects and nearest in target_objects:
        return target_objects[nearest]
    for name in sorted(source_joints, key=distance.get):
        if name in target_joints:
            return target_joints[name]
    return None


def fit_similarity(source: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """(scale, rotation (2, 2)) of the similarity that best maps the centred (N, 2) ``source`` points
    onto the centred ``target`` points in least squares (Umeyama 1991, no reflection)."""
    a, b = source - source.mean(axis=0), target - target.mean(axis=0)
    u, singular, vt = np.linalg.svd(b.T @ a)
    sign = np.diag([1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rotation = u @ sign @ vt
    spread = float((a**2).sum())
    scale = float((singular * np.diag(sign)).sum() / spread) if spread > 1e-12 else 1.0
    return scale, rotation


BODY_NEIGHBOURS = 4            # joints around a point that fit its local similarity
BODY_SCALE_RANGE = (0.25, 4.0)  # a local scale outside this (joints bunched up, a wrong person) is not trusted


def body_transfer(xy: np.ndarray, source_joints: Joints, target_joints: Joints,
                  neighbours: int = BODY_NEIGHBOURS) -> np.ndarray | None:
    """Where a point that is not a joint goes, by the body around it: ``T_a + s R (xy - S_a)`` with
    ``a`` its nearest joint found in both frames (S_a in the source, T_a in the target) and
    ``s R`` the similarity fitted on its ``neighbours`` nearest such joints (a translation when
    fewer than two, or when the fitted scale is implausible). None when no joint is in both."""
    common = [name for name in source_joints if name in target_joints]
    if not common:
        return None
    xy = np.asarray(xy, dtype=np.float64)
    src = np.array([source_joints[n] for n in common], dtype=np.float64)
    tgt = np.array([target_joints[n] for n in common], dtype=np.float64)
    order = np.argsort(np.linalg.norm(src - xy, axis=1), kind="stable")[:max(neighbours, 1)]
    anchor = order[0]
    offset = xy - src[anchor]
    if len(order) >= 2:
        scale, rotation = fit_similarity(src[order], tgt[order])
        if BODY_SCALE_RANGE[0] <= scale <= BODY_SCALE_RANGE[1]:
            offset = scale * rotation @ offset
    return tgt[anchor] + offset


def pose_distance(a: Joints, b: Joints) -> float:
    """Mean distance between the joints two poses share, each pose centred and scaled to unit size
    (inf when they share fewer than two joints)."""
    common = sorted(set(a) & set(b))
    if len(common) < 2:
        return float("inf")
    pa, pb = (np.array([pose[n] for n in common], dtype=np.float64) for pose in (a, b))
    pa, pb = (p - p.mean(axis=0) for p in (pa, pb))
    pa, pb = (p / max(np.sqrt((p**2).sum(axis=1).mean()), 1e-9) for p in (pa, pb))
    return float(np.linalg.norm(pa - pb, axis=1).mean())


def person_nearest_points(poses: list[Joints], points: np.ndarray) -> Joints:
    """The pose whose joints lie nearest the (K, 2) points (sum over points of the nearest joint's distance)."""
    def cost(pose: Joints) -> float:
        joints = np.array(list(pose.values()), dtype=np.float64)
        return float(np.linalg.norm(points[:, None, :] - joints[None], axis=2).min(axis=1).sum())

    return min(poses, key=cost)


def most_similar_pose(reference: Joints, poses: list[Joints]) -> Joints:
    """The pose of ``poses`` nearest ``reference`` under ``pose_distance``."""
    return min(poses, key=lambda pose: pose_distance(reference, pose))


class PoseOracle:
    """Annotated keypoints of both frames as a perfect pose (and object) detector."""

    name = "pose-oracle"

    def check(self, dataset: Dataset) -> None:
        if not dataset.labels:
            raise StcorrError("pose-oracle needs per-frame joint annotations (a Penn Action layout data set, "
                              f"not the {dataset.kind or 'given'} layout)", dataset.root)

    def match(self, dataset: Dataset, pair: Pair, target_times: np.ndarray) -> np.ndarray:
        self.check(dataset)
        source, target = dataset.labels[pair.source], dataset.labels[pair.target]
        out = np.zeros((len(pair), 2))
        for (s, t), rows in frame_pairs(pair, target_times).items():
            if not 0 <= t < target.num_frames:
                raise StcorrError(f"aligned frame {t} is outside the {target.num_frames} frames of video {pair.target}")
            for i in rows:
                xy = pair.src[i, 1:]
                found = nearest_joint_transfer(xy, source.joints_at(s), target.joints_at(t),
                                               source.objects.get(s, {}), target.objects.get(t, {}))
                out[i] = found if found is not None else keep_relative_position(
                    xy, (source.width, source.height), (target.width, target.height))
        return out


class SkeletonFinder(Protocol):
    """The people in frame t of a video, one skeleton each (``stcorr.pose.cache.MediaPipePose.poses``)."""

    def poses(self, video: Video, t: int) -> list[Joints]: ...


class DetectedPose:
    """MediaPipe Pose in both frames, then the nearest-joint rule."""

    name = "pose"

    def __init__(self, detector: SkeletonFinder):
        self.detector = detector

    def match(self, dataset: Dataset, pair: Pair, target_times: np.ndarray) -> np.ndarray:
        source, target = dataset.video(pair.source), dataset.video(pair.target)
        out = np.zeros((len(pair), 2))
        for (s, t), rows in frame_pairs(pair, target_times).items():
            points = pair.src[rows, 1:]
            src_poses, tgt_poses = self.detector.poses(source, s), self.detector.poses(target, t)
            src_pose = person_nearest_points(src_poses, points) if src_poses else {}
            tgt_pose = most_similar_pose(src_pose, tgt_poses) if tgt_poses and src_pose else {}
            for i, xy in zip(rows, points):
                found = (nearest_joint_transfer(xy, src_pose, tgt_pose) if keypoint_type(pair.names[i]) == "hum"
                         else body_transfer(xy, src_pose, tgt_pose))
                out[i] = found if found is not None else keep_relative_position(xy, source.size, target.size)
        return out


class Cats2dMatch:
    """The trained 2D CATs model on each aligned frame pair."""

    name = "cats2d"

    def __init__(self, model: Cats2d, device: torch.device | str = "cpu"):
        self.model = model.to(device).eval()
        self.device = torch.device(device)

    @torch.no_grad()
    def match(self, dataset: Dataset, pair: Pair, target_times: np.ndarray) -> np.ndarray:
        source, target = dataset.video(pair.source), dataset.video(pair.target)
        out = np.zeros((len(pair), 2))
        for (s, t), rows in frame_pairs(pair, target_times).items():
            out[rows] = self.match_frames(source, s, target, t, pair.src[rows, 1:])
        return out

    def match_frames(self, source: Video, s: int, target: Video, t: int, xy: np.ndarray) -> np.ndarray:
        """Native (K, 2) points of source frame s -> native (K, 2) points of target frame t."""
        size = self.model.size
        frames = torch.cat([read_frames(source, [s], size), read_frames(target, [t], size)]).to(self.device)
        points = torch.as_tensor(native_to_frame(xy, source.size, size), dtype=torch.float32, device=self.device)
        predicted = self.model.match(frames[:1], frames[1:], points[None])[0].float().cpu().numpy()
        return frame_to_native(predicted, target.size, size)


SPATIAL_NAMES: Mapping[str, str] = {"pose-oracle": "annotated joints", "pose": "MediaPipe Pose", "cats2d": "2D CATs"}
