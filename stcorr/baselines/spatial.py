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
  affine map that best maps its nearest joints onto the same joints of the target), then,
  with a refiner (``baseline.refine_checkpoint``), moved onto the best local match of learned
  features in a small window around that placement (``stcorr.baselines.refine``). When
  several people are found, the source person is the one nearest the keypoints and the target
  person the one whose pose is most similar. ``match_scored`` also gives each point a confidence:
  the visibility of the joints that placed it times how near it lies to them
  (``placement_confidence``).
- ``cats2d``: the trained 2D CATs model on the two frames.

Where no rule applies (no joint in common, nobody detected) the point keeps its relative position
in the frame: ``x' = (x + 0.5) * W_target / W_source - 0.5``, and the same for y.
"""

from __future__ import annotations

from typing import Mapping, Protocol

import numpy as np
import torch

from stcorr.baselines.refine import LocalRefiner
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
    joint = nearest_shared_joint(xy, source_joints, target_joints)
    return None if joint is None else target_joints[joint]


def nearest_shared_joint(xy: np.ndarray, source_joints: Joints, target_joints: Joints) -> str | None:
    """The source joint nearest ``xy`` that is also a joint of the target frame (None: there is none)."""
    common = [name for name in source_joints if name in target_joints]
    if not common:
        return None
    return min(common, key=lambda name: float(np.hypot(*(np.asarray(source_joints[name]) - xy))))


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


#: How a point that is no joint is carried (``body_map``), chosen on synthetic ``--realism 1`` sets
#: (docs/predict.md#any-point-placed-by-the-body-around-it): the 8 joints found in both frames
#: nearest the point, weighted by ``1 / (d + BODY_SOFTENING x size)`` (d its distance to the point,
#: size the source person's extent), fit an affine map; it is anchored at the nearest joint.
BODY_NEIGHBOURS = 8
BODY_SOFTENING = 0.05
BODY_SCALE_RANGE = (0.1, 10.0)  # a local stretch outside this (joints bunched up, a wrong person) is not trusted
BODY_MIN_SPREAD = 0.1  # neighbours whose narrower spread is below this share of the wider lie on a line: no affine


def fit_affine(source: np.ndarray, target: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(2, 2) linear part of the affine map that best maps the (N, 2) ``source`` points onto ``target``
    in weighted least squares, both taken about their weighted means."""
    w = np.asarray(weights, dtype=np.float64) / np.sum(weights)
    a = source - w @ source
    b = target - w @ target
    return np.linalg.lstsq(a * np.sqrt(w)[:, None], b * np.sqrt(w)[:, None], rcond=None)[0].T


def plausible(linear: np.ndarray) -> bool:
    """Whether a fitted (2, 2) map's stretches (its singular values) all lie in ``BODY_SCALE_RANGE``."""
    stretches = np.linalg.svd(linear, compute_uv=False)
    return bool(BODY_SCALE_RANGE[0] <= stretches.min() and stretches.max() <= BODY_SCALE_RANGE[1])


def spread_out(points: np.ndarray, weights: np.ndarray) -> bool:
    """Whether (N, 2) ``points`` span both directions (not all on one line), under ``weights``."""
    w = np.asarray(weights, dtype=np.float64) / np.sum(weights)
    centred = points - w @ points
    spread = np.sqrt(np.maximum(np.linalg.eigvalsh((centred * w[:, None]).T @ centred), 0.0))
    return bool(spread[1] > 0 and spread[0] >= BODY_MIN_SPREAD * spread[1])


def body_neighbours(xy: np.ndarray, source_joints: Joints, target_joints: Joints,
                    neighbours: int = BODY_NEIGHBOURS) -> list[str]:
    """The ``neighbours`` joints found in both frames nearest ``xy`` in the source, nearest first."""
    common = [name for name in source_joints if name in target_joints]
    distance = [float(np.hypot(*(np.asarray(source_joints[n], dtype=np.float64) - xy))) for n in common]
    return [common[i] for i in np.argsort(distance, kind="stable")[:max(neighbours, 1)]]


def body_map(xy: np.ndarray, source_joints: Joints, target_joints: Joints, neighbours: int = BODY_NEIGHBOURS):
    """(source anchor (2,), target anchor (2,), linear map (2, 2)) that carry ``xy`` by the body
    (``body_transfer``), or None when no joint is in both frames. The map is the weighted affine fit
    of the neighbours (``fit_affine``; a mirrored body is mirrored back); the similarity
    (``fit_similarity``) where they are two or lie on a line; the identity where one, or where the
    fit stretches implausibly."""
    xy = np.asarray(xy, dtype=np.float64)
    used = body_neighbours(xy, source_joints, target_joints, neighbours)
    if not used:
        return None
    src = np.array([source_joints[n] for n in used], dtype=np.float64)
    tgt = np.array([target_joints[n] for n in used], dtype=np.float64)
    weights = 1.0 / (np.linalg.norm(src - xy, axis=1) + BODY_SOFTENING * person_extent(source_joints))
    linear = np.eye(2)
    if len(used) >= 3 and spread_out(src, weights) and plausible(fitted := fit_affine(src, tgt, weights)):
        linear = fitted
    elif len(used) >= 2:
        scale, rotation = fit_similarity(src, tgt)
        if BODY_SCALE_RANGE[0] <= scale <= BODY_SCALE_RANGE[1]:
            linear = scale * rotation
    return src[0], tgt[0], linear


def body_transfer(xy: np.ndarray, source_joints: Joints, target_joints: Joints,
                  neighbours: int = BODY_NEIGHBOURS) -> np.ndarray | None:
    """Where a point that is not a joint goes, by the body around it: ``T_a + L (xy - S_a)`` with
    ``a`` its nearest joint found in both frames (S_a in the source, T_a in the target) and ``L``
    the map ``body_map`` fits on its ``neighbours`` nearest such joints. None when no joint is in both."""
    carried = body_map(xy, source_joints, target_joints, neighbours)
    return None if carried is None else carry_by(xy, carried)


def carry_by(xy: np.ndarray, carried: tuple) -> np.ndarray:
    """``xy`` carried by ``body_map``'s answer: ``T_a + L (xy - S_a)``."""
    source_anchor, target_anchor, linear = carried
    return target_anchor + linear @ (np.asarray(xy, dtype=np.float64) - source_anchor)


def person_extent(joints: Joints) -> float:
    """The larger side of the box around a person's joints, in pixels (at least 1)."""
    points = np.array(list(joints.values()), dtype=np.float64)
    return max(float((points.max(axis=0) - points.min(axis=0)).max()), 1.0)


#: How far (a fraction of the person's size) a point may lie from the joint it is placed by before
#: its confidence halves: a named joint (the detected joint should be where the user put it), any
#: other point (carried by the body around it, less sure the farther it lies).
JOINT_REACH, BODY_REACH = 0.1, 0.5


def placement_confidence(xy: np.ndarray, used: list[str], source_joints: Joints, source_visibility: dict[str, float],
                         target_visibility: dict[str, float], reach: float) -> float:
    """Confidence in [0, 1] of a point placed by the joints ``used`` (nearest first): their mean
    visibility (the lower of the two frames' per joint) times ``1 / (1 + (d / (reach * size))^2)``,
    ``d`` the point's distance to the first joint in the source, ``size`` the source person's extent
    (the larger side of its joints' box). 0 when no joint was used."""
    if not used:
        return 0.0
    seen = np.mean([min(source_visibility.get(n, 1.0), target_visibility.get(n, 1.0)) for n in used])
    size = person_extent(source_joints)
    distance = float(np.hypot(*(np.asarray(source_joints[used[0]], dtype=np.float64) - xy)))
    return float(seen / (1.0 + (distance / (reach * size)) ** 2))


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

    def __init__(self, detector: SkeletonFinder, refiner: LocalRefiner | None = None):
        self.detector, self.refiner = detector, refiner

    def match(self, dataset: Dataset, pair: Pair, target_times: np.ndarray) -> np.ndarray:
        return self.match_scored(dataset, pair, target_times)[0]

    def match_scored(self, dataset: Dataset, pair: Pair, target_times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(K, 2) target x, y and (K,) confidence (``placement_confidence``; 0 where no rule applied)."""
        source, target = dataset.video(pair.source), dataset.video(pair.target)
        out, confidence = np.zeros((len(pair), 2)), np.zeros(len(pair))
        visibility = getattr(self.detector, "visibility", lambda video, t: {})
        for (s, t), rows in frame_pairs(pair, target_times).items():
            points = pair.src[rows, 1:]
            src_poses, tgt_poses = self.detector.poses(source, s), self.detector.poses(target, t)
            src_pose = person_nearest_points(src_poses, points) if src_poses else {}
            tgt_pose = most_similar_pose(src_pose, tgt_poses) if tgt_poses and src_pose else {}
            seen = (visibility(source, s), visibility(target, t))
            for i, xy in zip(rows, points):
                if keypoint_type(pair.names[i]) == "hum":
                    joint = nearest_shared_joint(xy, src_pose, tgt_pose)
                    used, found, reach = [joint] if joint else [], tgt_pose.get(joint), JOINT_REACH
                else:
                    used, reach = body_neighbours(xy, src_pose, tgt_pose), BODY_REACH
                    found = self.carry(source, s, xy, target, t, src_pose, tgt_pose)
                out[i] = found if found is not None else keep_relative_position(xy, source.size, target.size)
                confidence[i] = placement_confidence(xy, used, src_pose, *seen, reach)
        return out, confidence

    def carry(self, source: Video, s: int, xy: np.ndarray, target: Video, t: int, source_pose: Joints,
              target_pose: Joints) -> np.ndarray | None:
        """A point that is no joint, carried by the body (``body_transfer``), then refined by local
        matching when there is a refiner (``stcorr.baselines.refine``); None when no joint is in both."""
        carried = body_map(xy, source_pose, target_pose)
        if carried is None:
            return None
        placed = carry_by(xy, carried)
        if self.refiner is None:
            return placed
        return self.refiner.refine(self.refiner.frame(source, s), xy, self.refiner.frame(target, t), placed,
                                   carried[2], person_extent(source_pose)).xy


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
