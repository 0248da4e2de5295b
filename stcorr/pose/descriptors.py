"""Frame descriptors from body joints: what the ``*-pose`` time aligners
(``stcorr.baselines.pose_descriptors``) and ``pose`` retrieval (``stcorr.baselines.retrieval``) compare.

The learnt time aligners compare frame features of networks never trained on real images; a pose
estimator trained on real people gives features that transfer. Per frame,
from the 13 Penn joints (MediaPipe's landmarks, or the annotated joints for the oracle):

1. **Gaps.** A joint counts where its confidence (MediaPipe visibility, Penn visibility flag)
   reaches 0.5 (``stcorr.pose.track.MIN_VISIBILITY``). Elsewhere it is interpolated linearly
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
5. **Velocities.** The time derivative of all the above (central differences), per frame and
   multiplied by ``NOMINAL_FPS`` (30): the change per second of a video at 30 frames a second, in
   torso lengths (positions) and units of pi (angles). A velocity is the person's, whatever the
   video's length: a short movement inside a long target moves as fast as in a short clip. (Per
   unit of normalised video time, x (T - 1), as before, a movement 340 frames long inside a target
   of 20 000 frames had velocities 60 times smaller in the target than in the source.) Frame
   folders carry no frame rate, so per second is per frame at a nominal rate; the videos of a pair
   or a collection are mostly shot at one rate. A movement done faster or slower (or filmed at
   another rate) has proportionally larger or smaller velocities: the DTW aligners (and ``pose``
   retrieval) measure that speed ratio on a first path (``speed_ratio``: the median slope of the
   path, robust to the still frames a long video holds) and compare again with the other video's
   velocities brought to the first's time (``at_speed``).
6. **Weights.** Position, angle and velocity blocks are each divided by the square root of their
   feature count, so each block weighs the same in the Euclidean distance whatever its size;
   velocities are scaled by ``velocity_weight``.
7. **3D angles.** Where the pose source gives world joints (MediaPipe's 3D landmarks) and
   ``world_angle_weight`` > 0, the same nine angles measured on them form one more block (and its
   velocities), weighted by it: an angle in 3D does not change with the camera's view, as the
   image's does. 88 columns then; without world joints (the annotated joints) 70. The ``*-pose``
   aligners give them lifted by the 3D lifter (``baseline.world_lifter``; ``LIFTED_SETTINGS``).
8. **3D bone directions.** With world joints and ``world_bone_weight`` > 0, one more block (and its
   velocities), weighted by it (``bone_features``): the unit direction of each limb bone (upper arm,
   forearm, thigh, shin) in the body's own frame (x from the left hip to the right hip, y up,
   z = x cross y, the way the body faces), so the same pose reads the same from any side; per
   left/right pair the mean and half the absolute difference of the left bone and the right bone
   with its x negated (a mirror image swaps them), and the trunk's and the head's directions as
   (|x|, y, z). Angles alone do not tell an arm raised forward from one raised sideways; these do.
   118 columns with both 3D blocks.

Gap filling (``stcorr.pose.track.filled_joints``), joint angles (``stcorr.pose.angles``) and the
masked cost (``descriptor_cost``) are also ``stcorr compare``'s: the coaching verb and these
aligners read joints alike.
The settings (``DescriptorSettings``) were chosen on the synthetic train split, never on real
video (``benchmarks/pose_descriptor_settings.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from stcorr.alignment.dtw import euclidean_cost
from stcorr.errors import StcorrError
from stcorr.pose.angles import ANGLE_NAMES, TRUNK, angle_series
from stcorr.pose.skeleton import JOINTS, LIMB_BONES
from stcorr.pose.track import JointTrack, filled_joints

J = {name: k for k, name in enumerate(JOINTS)}
PAIRED = ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")  # joints with a left and a right
ANGLE_KINDS = ("elbow", "knee", "shoulder", "hip")


#: Frames per second assumed for every video: velocities are per frame times this (module docstring, 5).
NOMINAL_FPS = 30.0


@dataclass(frozen=True)
class DescriptorSettings:
    smooth_sigma: float = 1.0
    velocity_weight: float = 1.0
    world_angle_weight: float = 0.0  # module docstring, 7
    world_bone_weight: float = 0.0  # module docstring, 8


#: Chosen on the synthetic train split (210 pairs; time-only T@5 of DTW, grid of
#: ``benchmarks/pose_descriptor_settings.py``): MediaPipe's jittery joints want more smoothing
#: (sigma 2: 80.9 % against 75.9 % at sigma 1), the annotated joints none (95.8 % against 95.3 %).
#: Velocity weight 1.0, re-chosen once velocities became per frame (module docstring, 5) on the
#: annotated joints: 0 74.8 %, 0.5 91.6 %, 1.0 95.4 %, 2.0 95.5 % (T@3 86.0 against 86.6, T@1 68.0
#: against 66.9), 3.0 95.4 %; per unit of video time the weight was 0.5 (95.8 %). MediaPipe's
#: weight follows (its grid needs MediaPipe on every train video: not rerun). The 3D angles' weight 1.5 was
#: chosen on the train splits of the synthetic set (MediaPipe's joints, time-only T@1 / T@3 / T@5: none
#: 46.0 / 72.0 / 84.7; 1.0 47.5 / 74.3 / 86.0; 1.5 48.9 / 74.9 / 87.3; 2.0 48.6 / 74.5 / 87.1; 3.0 49.8 /
#: 74.4 / 84.0) and of a realism-1 set (none 9.5 / 28.8 / 36.6, 1.5 12.0 / 30.6 / 38.5); docs/pose.md.
MEDIAPIPE_SETTINGS = DescriptorSettings(smooth_sigma=2.0, velocity_weight=1.0, world_angle_weight=1.5)
#: MediaPipe's joints with its world joints lifted by the 3D lifter (``baseline.world_lifter``) first: the 3D
#: angles' weight chosen on the same synthetic train split (time-only T@1 / T@3 / T@5 with stcorr:lifter: 1.0
#: 55.2 / 78.1 / 89.7; 1.5 56.2 / 79.8 / 90.7; 2.0 54.6 / 82.3 / 91.0; 3.0 56.9 / 82.0 / 90.6; 4.0 57.2 / 81.8
#: / 90.7; 6.0 54.9 / 81.0 / 89.7: the best T@5, as for MediaPipe's own); docs/pose.md.
#: The 3D bones' weight (module docstring, 8), on the same split with the lifted angles at 2.0: none 54.6 / 82.3 / 91.0;
#: 0.5 56.4 / 81.6 / 90.9; 0.75 60.3 / 81.3 / 91.6 (the best T@5); 1.0 61.2 / 82.8 / 91.5; 1.5 60.5 / 80.8 / 89.7; 2.0
#: 63.6 / 82.2 / 88.9; the realism-1 train set disagreed: docs/pose.md.
LIFTED_SETTINGS = replace(MEDIAPIPE_SETTINGS, world_angle_weight=2.0, world_bone_weight=0.75)
ANNOTATED_SETTINGS = DescriptorSettings(smooth_sigma=0.0, velocity_weight=1.0)


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
    for limb in PAIRED:
        a, b = p[:, J[f"left_{limb}"]], p[:, J[f"right_{limb}"]]
        columns += [(a[:, 1] + b[:, 1]) / 2, np.abs(a[:, 1] - b[:, 1]) / 2,
                    np.abs(a[:, 0] + b[:, 0]) / 2, np.abs(a[:, 0] - b[:, 0]) / 2]
    return np.stack(columns, axis=1)


def angle_features(xy: np.ndarray) -> np.ndarray:
    """(T, 9) mirror-symmetric joint angles (units of pi) of joints ``xy`` (T, 13, 2), or of world joints
    (T, 13, 3) (module docstring, 4 and 7)."""
    angles = angle_series(xy) / 180.0
    columns = []
    for kind in ANGLE_KINDS:
        left, right = angles[:, ANGLE_NAMES.index(f"left_{kind}")], angles[:, ANGLE_NAMES.index(f"right_{kind}")]
        columns += [(left + right) / 2, np.abs(left - right) / 2]
    columns.append(angles[:, ANGLE_NAMES.index(TRUNK)])
    return np.stack(columns, axis=1)


UP = np.array([0.0, -1.0, 0.0])  # world joints' y points down (MediaPipe's world axes)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def bone_features(world: np.ndarray) -> np.ndarray:
    """(T, 30) mirror-symmetric bone directions of world joints ``world`` (T, 13, 3) in the body's frame
    (module docstring, 8); NaN where a joint they need is NaN."""
    hips = world[:, J["right_hip"]] - world[:, J["left_hip"]]
    x = _unit(hips - (hips @ UP)[:, None] * UP)
    axes = np.stack([x, np.broadcast_to(UP, x.shape), np.cross(x, UP)], axis=1)  # (T, 3, 3): a row per axis

    def in_body(v: np.ndarray) -> np.ndarray:
        return np.einsum("tij,tj->ti", axes, _unit(v))

    columns = []
    for start, end in LIMB_BONES:
        left = in_body(world[:, J[f"left_{end}"]] - world[:, J[f"left_{start}"]])
        right = in_body(world[:, J[f"right_{end}"]] - world[:, J[f"right_{start}"]]) * np.array([-1.0, 1.0, 1.0])
        columns += [(left + right) / 2, np.abs(left - right) / 2]
    hip_mid, shoulder_mid = _mid(world, "hip"), _mid(world, "shoulder")
    for bone in (shoulder_mid - hip_mid, world[:, J["head"]] - shoulder_mid):
        d = in_body(bone)
        columns.append(np.stack([np.abs(d[:, 0]), d[:, 1], d[:, 2]], axis=1))
    return np.concatenate(columns, axis=1)


def _block(features: np.ndarray) -> np.ndarray:
    return features / np.sqrt(features.shape[1])


def pose_descriptors(xy: np.ndarray, confidence: np.ndarray, settings: DescriptorSettings = DescriptorSettings(),
                     world: np.ndarray | None = None) -> np.ndarray:
    """Frame descriptors (T, 70) of one video's joints: ``xy`` (T, 13, 2) in pixels (x right, y
    down; any origin, scale or mirroring), ``confidence`` (T, 13); with ``world`` (T, 13, 3) world
    joints, 18 columns more with ``settings.world_angle_weight`` > 0 and 60 with ``world_bone_weight`` > 0
    (module docstring, 7 and 8). Columns are NaN
    where a joint they need is never seen (see the module docstring for what each column is)."""
    xy = np.asarray(xy, dtype=np.float64)
    if xy.ndim != 3 or xy.shape[1:] != (len(JOINTS), 2) or xy.shape[0] == 0:
        raise StcorrError(f"pose descriptors need joints of shape (T, {len(JOINTS)}, 2), got {xy.shape}")
    track = JointTrack(xy, np.asarray(confidence, dtype=np.float64),
                       world=None if world is None else np.asarray(world, dtype=np.float64))
    filled = filled_joints(track, settings.smooth_sigma)
    blocks = [_block(position_features(normalise(filled))), _block(angle_features(filled))]
    if track.world is not None and max(settings.world_angle_weight, settings.world_bone_weight) > 0:
        world_filled = filled_joints(track, settings.smooth_sigma, world=True)
        if settings.world_angle_weight > 0:
            blocks.append(settings.world_angle_weight * _block(angle_features(world_filled)))
        if settings.world_bone_weight > 0:
            blocks.append(settings.world_bone_weight * _block(bone_features(world_filled)))
    return with_velocities(np.concatenate(blocks, axis=1), settings.velocity_weight)


def with_velocities(static: np.ndarray, weight: float) -> np.ndarray:
    """(T, 2 D): ``static`` (T, D) then its time derivative (central differences) per frame times
    ``NOMINAL_FPS`` times ``weight`` (module docstring, 5); zero velocities for a single frame."""
    velocity = np.gradient(static, axis=0) * NOMINAL_FPS if len(static) > 1 else np.zeros_like(static)
    return np.concatenate([static, weight * velocity], axis=1)


def speed_ratio(matched: np.ndarray, half_window: int = 5, limits: tuple[float, float] = (0.25, 4.0)) -> float:
    """Frames of the other video per frame of this one, from ``matched`` (N,) (the other's frame
    matched to each of this video's frames along a DTW path): the median slope of the path over
    windows of 2 ``half_window`` frames, clipped to ``limits``; 1 for a video too short to tell."""
    matched = np.asarray(matched, dtype=np.float64)
    h = min(half_window, (len(matched) - 1) // 2)
    if h < 1:
        return 1.0
    slopes = (matched[2 * h:] - matched[:-2 * h]) / (2 * h)
    return float(np.clip(np.median(slopes), *limits))


def at_speed(descriptors: np.ndarray, ratio: float) -> np.ndarray:
    """``descriptors`` (T, D) of ``pose_descriptors`` with their velocities (the last D / 2 columns)
    multiplied by ``ratio``: per frame of a video whose frames are ``ratio`` of these (``speed_ratio``)."""
    out = np.array(descriptors, dtype=np.float64)
    out[:, out.shape[1] // 2:] *= ratio
    return out


def descriptor_cost(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) Euclidean distances over the descriptor columns finite in both (zeros when none is)."""
    shared = np.isfinite(a).all(axis=0) & np.isfinite(b).all(axis=0)
    if not shared.any():
        return np.zeros((len(a), len(b)))
    return euclidean_cost(a[:, shared], b[:, shared])
