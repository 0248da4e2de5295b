"""Frame descriptors from body joints, and time alignment on them (the ``*-pose`` aligners).

Every time aligner of ``time_alignment.py`` compares frame features of networks never trained on
real images; a pose estimator trained on real people gives features that transfer. Per frame,
from the 13 Penn joints (MediaPipe's landmarks, or the annotated joints for the oracle):

1. **Gaps.** A joint counts where its confidence (MediaPipe visibility, Penn visibility flag)
   reaches 0.5 (``stcorr.compare.align.MIN_CONFIDENCE``). Elsewhere it is interpolated linearly
   in time between the frames where it counts, and held constant before the first and after the
   last; a joint that never counts in a video is NaN there, and every feature it touches is dropped from the comparison
   of that video with any other (``descriptor_cost`` uses the columns finite in both).
2. **Smoothing.** A Gaussian of ``smooth_sigma`` frames along time (detector jitter).
3. **Position and scale.** Coordinates are centred on the hip midpoint of each frame and divided
   by the video's median torso length (shoulder midpoint to hip midpoint): exactly invariant to
   translation and to a global scale. A per-video scale keeps the torso's foreshortening (bending
   forward shortens it in the image) in the features instead of dividing it out.
4. **Mirroring.** Every feature is symmetric under both x -> -x (a mirrored video, or a front
   view against a back view) and swapping left and right labels (a left-handed player, a detector
   that mixes up the sides), so the descriptor is exactly invariant to both:
   - head: |x|, y;
   - each left/right pair (shoulders, elbows, wrists, hips, knees, ankles) with points a, b:
     (y_a + y_b) / 2, |y_a - y_b| / 2, |x_a + x_b| / 2, |x_a - x_b| / 2;
   - joint angles (unsigned, in units of pi; invariant to any similarity transform): elbow
     (shoulder-elbow-wrist), knee (hip-knee-ankle), shoulder (hip-shoulder-elbow), hip
     (shoulder-hip-knee), each as the mean and half the absolute difference of its left and
     right values; and the trunk's lean, the unsigned angle between the torso and the image's
     vertical.
5. **Velocities.** The time derivative of all the above (central differences), per unit of
   normalised video time (x (T - 1)): two videos of one action at different frame rates or
   speeds then have comparable velocities.
6. **Weights.** Position, angle and velocity blocks are each divided by the square root of their
   feature count, so each block weighs the same in the Euclidean distance whatever its size;
   velocities are scaled by ``velocity_weight``.

Gap filling, joint angles and the masked cost are ``stcorr compare``'s own
(``stcorr.compare.align`` and ``.angles``): the coaching verb and these aligners read joints alike.
The settings (``DescriptorSettings``) were chosen on the synthetic train split, never on real
video (``benchmarks/pose_descriptor_settings.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np

from stcorr.alignment.dtw import dtw_align_by, euclidean_cost
from stcorr.baselines.time_alignment import source_frames
from stcorr.compare.align import descriptor_cost, filled_joints
from stcorr.compare.angles import ANGLE_NAMES, TRUNK, angle_series
from stcorr.compare.joints import JointTrack
from stcorr.data.datasets import Dataset
from stcorr.data.pairs import Pair
from stcorr.data.skeleton import JOINTS
from stcorr.errors import StcorrError

J = {name: k for k, name in enumerate(JOINTS)}
LIMBS = ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
ANGLE_KINDS = ("elbow", "knee", "shoulder", "hip")


@dataclass(frozen=True)
class DescriptorSettings:
    smooth_sigma: float = 1.0
    velocity_weight: float = 0.5


#: Chosen on the synthetic train split (210 pairs; time-only T@5 of DTW, grid of
#: ``benchmarks/pose_descriptor_settings.py``): MediaPipe's jittery joints want more smoothing
#: (sigma 2: 80.9 % against 75.9 % at sigma 1), the annotated joints none (95.8 % against 95.3 %);
#: velocity weight 0.5 was best for both.
MEDIAPIPE_SETTINGS = DescriptorSettings(smooth_sigma=2.0, velocity_weight=0.5)
ANNOTATED_SETTINGS = DescriptorSettings(smooth_sigma=0.0, velocity_weight=0.5)


def _mid(p: np.ndarray, limb: str) -> np.ndarray:
    return (p[:, J[f"left_{limb}"]] + p[:, J[f"right_{limb}"]]) / 2


def normalise(xy: np.ndarray) -> np.ndarray:
    """(T, J, 2) joints centred on each frame's hip midpoint and divided by the video's median torso
    length. Without both hips: centred on the joints' mean and scaled by their median RMS spread
    (``stcorr.compare.align.normalised_joints`` takes the shoulders-to-mean distance there, half a
    torso, which on the synthetic train split put such videos on another scale: time-only T@5 of
    the annotated joints 91.3 % against 95.8 % with this rule)."""
    centre = _mid(xy, "hip")
    if not np.isfinite(centre).all():
        centre = np.nanmean(xy, axis=1) if np.isfinite(xy).any() else np.zeros((len(xy), 2))
    p = xy - centre[:, None, :]
    torso = np.linalg.norm(_mid(xy, "shoulder") - _mid(xy, "hip"), axis=1)
    scale = np.nanmedian(torso) if np.isfinite(torso).any() else np.nan
    if not np.isfinite(scale) or scale <= 0:
        spread = np.sqrt(np.nanmean((p**2).sum(axis=2), axis=1))
        scale = np.nanmedian(spread) if np.isfinite(spread).any() else 1.0
    return p / max(float(scale), 1e-9)


def position_features(p: np.ndarray) -> np.ndarray:
    """(T, 26) mirror-symmetric coordinates of normalised joints ``p`` (T, 13, 2) (module docstring, 4)."""
    head = p[:, J["head"]]
    columns = [np.abs(head[:, 0]), head[:, 1]]
    for limb in LIMBS:
        a, b = p[:, J[f"left_{limb}"]], p[:, J[f"right_{limb}"]]
        columns += [(a[:, 1] + b[:, 1]) / 2, np.abs(a[:, 1] - b[:, 1]) / 2,
                    np.abs(a[:, 0] + b[:, 0]) / 2, np.abs(a[:, 0] - b[:, 0]) / 2]
    return np.stack(columns, axis=1)


def angle_features(xy: np.ndarray) -> np.ndarray:
    """(T, 9) mirror-symmetric joint angles (units of pi) of joints ``xy`` (T, 13, 2) (module docstring, 4)."""
    angles = angle_series(xy) / 180.0
    columns = []
    for kind in ANGLE_KINDS:
        left, right = angles[:, ANGLE_NAMES.index(f"left_{kind}")], angles[:, ANGLE_NAMES.index(f"right_{kind}")]
        columns += [(left + right) / 2, np.abs(left - right) / 2]
    columns.append(angles[:, ANGLE_NAMES.index(TRUNK)])
    return np.stack(columns, axis=1)


def _block(features: np.ndarray) -> np.ndarray:
    return features / np.sqrt(features.shape[1])


def pose_descriptors(xy: np.ndarray, confidence: np.ndarray, settings: DescriptorSettings = DescriptorSettings()) -> np.ndarray:
    """Frame descriptors (T, 70) of one video's joints: ``xy`` (T, 13, 2) in pixels (x right, y
    down; any origin, scale or mirroring), ``confidence`` (T, 13). Columns are NaN where a joint
    they need is never seen (see the module docstring for what each column is)."""
    xy = np.asarray(xy, dtype=np.float64)
    if xy.ndim != 3 or xy.shape[1:] != (len(JOINTS), 2) or xy.shape[0] == 0:
        raise StcorrError(f"pose descriptors need joints of shape (T, {len(JOINTS)}, 2), got {xy.shape}")
    filled = filled_joints(JointTrack(xy, np.asarray(confidence, dtype=np.float64)), settings.smooth_sigma)
    static = np.concatenate([_block(position_features(normalise(filled))), _block(angle_features(filled))], axis=1)
    velocity = np.gradient(static, axis=0) * (len(static) - 1) if len(static) > 1 else np.zeros_like(static)
    return np.concatenate([static, settings.velocity_weight * velocity], axis=1)


def match_descriptors(a: np.ndarray, b: np.ndarray, rule: Literal["nn", "dtw"]) -> np.ndarray:
    """(N,) frame of ``b`` matched to each frame of ``a``: the nearest, or the DTW path's (lower median)."""
    if rule == "nn":
        return np.argmin(descriptor_cost(a, b), axis=1).astype(np.int64)
    shared = np.isfinite(a).all(axis=0) & np.isfinite(b).all(axis=0)  # descriptor_cost's columns, fixed for every block
    if not shared.any():
        return dtw_align_by(descriptor_cost, a, b)
    # coarse to fine on long videos: memory stays bounded
    return dtw_align_by(euclidean_cost, a[:, shared], b[:, shared])


Describe = Callable[[Dataset, str], np.ndarray]


def oracle_describer(settings: DescriptorSettings = ANNOTATED_SETTINGS) -> Describe:
    """Descriptors of the annotated joints (Penn visibility as confidence)."""
    def describe(dataset: Dataset, name: str) -> np.ndarray:
        labels = dataset.labels[name]
        return pose_descriptors(np.stack([labels.x, labels.y], axis=2), labels.visible.astype(np.float64), settings)

    return describe


def detector_describer(cache, settings: DescriptorSettings = MEDIAPIPE_SETTINGS) -> Describe:
    """Descriptors of the joints of a ``PoseCache``'s tracks (MediaPipe visibility as confidence)."""
    def describe(dataset: Dataset, name: str) -> np.ndarray:
        xy, visibility = cache.track(dataset.video(name)).penn_joints()
        return pose_descriptors(xy, visibility, settings)

    return describe


class PoseTimeAligner:
    """Time alignment on pose descriptors: ``align(dataset, pair) -> (K,)`` target frames."""

    def __init__(self, name: str, describe: Describe, rule: Literal["nn", "dtw"], needs_labels: bool = False):
        self.name, self.describe, self.rule, self.needs_labels = name, describe, rule, needs_labels
        self._descriptors: dict[tuple[str, str], np.ndarray] = {}

    def check(self, dataset: Dataset) -> None:
        if self.needs_labels and not dataset.labels:
            raise StcorrError(f"{self.name} needs per-frame joint annotations (a Penn Action layout data set)", dataset.root)

    def descriptors(self, dataset: Dataset, name: str) -> np.ndarray:
        key = (str(dataset.root), name)
        if key not in self._descriptors:
            self._descriptors[key] = self.describe(dataset, name)
        return self._descriptors[key]

    def align(self, dataset: Dataset, pair: Pair) -> np.ndarray:
        self.check(dataset)
        times = source_frames(pair, dataset.video(pair.source))
        matched = match_descriptors(self.descriptors(dataset, pair.source), self.descriptors(dataset, pair.target), self.rule)
        return matched[times]


#: Aligner name -> (joints source, rule).
POSE_ALIGNERS: dict[str, tuple[str, str]] = {
    "nn-pose": ("mediapipe", "nn"), "dtw-pose": ("mediapipe", "dtw"),
    "nn-pose-oracle": ("labels", "nn"), "dtw-pose-oracle": ("labels", "dtw"),
}


def build_pose_aligner(name: str, pose_cache: Callable[[], object]) -> PoseTimeAligner:
    """The aligner ``name`` of ``POSE_ALIGNERS``; ``pose_cache()`` gives the MediaPipe ``PoseCache``."""
    source, rule = POSE_ALIGNERS[name]
    if source == "labels":
        return PoseTimeAligner(name, oracle_describer(), rule, needs_labels=True)  # type: ignore[arg-type]
    return PoseTimeAligner(name, detector_describer(pose_cache()), rule)  # type: ignore[arg-type]
