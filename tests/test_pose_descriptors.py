"""Pose descriptors: invariances, gaps, and time alignment on them (the *-pose aligners)."""

from __future__ import annotations

import numpy as np
import pytest

from stcorr.baselines.pose_descriptors import PoseTimeAligner, match_descriptors, oracle_describer
from stcorr.pose.descriptors import DescriptorSettings, at_speed, descriptor_cost, pose_descriptors, speed_ratio
from stcorr.pose.track import JointTrack, filled_joints
from stcorr.data.datasets import open_dataset
from stcorr.pose.skeleton import JOINTS
from stcorr.errors import StcorrError
from stcorr.evaluation.methods import list_methods

from conftest import make_penn

#: A standing person, facing the camera (image pixels, y down): the person's left is image right.
REST = {"head": (0, -60), "left_shoulder": (15, -45), "right_shoulder": (-15, -45), "left_elbow": (22, -25),
        "right_elbow": (-22, -25), "left_wrist": (25, -5), "right_wrist": (-25, -5), "left_hip": (10, 0),
        "right_hip": (-10, 0), "left_knee": (12, 30), "right_knee": (-12, 30), "left_ankle": (12, 60),
        "right_ankle": (-12, 60)}
SWAP = [JOINTS.index(j.replace("left", "RIGHT").replace("right", "left").replace("RIGHT", "right")) for j in JOINTS]


def skeleton_clip(phase: np.ndarray, origin=(100.0, 120.0)) -> np.ndarray:
    """(T, 13, 2) joints of a swing-and-squat motion at the given phases in [0, 1] (pixels, y down)."""
    xy = np.array([REST[j] for j in JOINTS], dtype=np.float64)[None].repeat(len(phase), axis=0)
    swing = np.sin(np.pi * phase)  # 0 -> 1 -> 0
    squat = np.sin(2 * np.pi * phase) ** 2
    for side, sign in (("left", 1), ("right", -1)):
        xy[:, JOINTS.index(f"{side}_wrist"), 0] += 40 * swing * (1.5 if side == "left" else 1.0)
        xy[:, JOINTS.index(f"{side}_wrist"), 1] -= 70 * swing
        xy[:, JOINTS.index(f"{side}_elbow"), 1] -= 35 * swing
        xy[:, JOINTS.index(f"{side}_knee"), 0] += sign * 15 * squat
    xy[:, :, 1] += 20 * squat[:, None] * (np.arange(13) < 9)[None]  # upper body goes down
    return xy + np.asarray(origin)


def mirrored(xy: np.ndarray, width: float = 300.0, swap: bool = True) -> np.ndarray:
    out = xy.copy()
    out[..., 0] = width - 1 - out[..., 0]
    return out[:, SWAP] if swap else out


PHASE = np.linspace(0, 1, 30)
ONES = np.ones((30, 13))


@pytest.mark.parametrize("transform", [
    lambda p: p + np.array([37.5, -12.25]),                      # translation
    lambda p: p * 2.5,                                           # scale about the origin
    lambda p: (p - 50) * 0.4 + 7,                                # scale about another point, then shift
    lambda p: mirrored(p),                                       # mirrored video, detector relabels the sides
    lambda p: mirrored(p, swap=False),                           # front against back view
    lambda p: p[:, SWAP],                                        # left and right labels swapped
    lambda p: mirrored(p * 1.7 + 3),                             # all at once
])
def test_descriptor_is_invariant_to_translation_scale_and_mirroring(transform):
    clip = skeleton_clip(PHASE)
    base = pose_descriptors(clip, ONES)
    assert np.isfinite(base).all() and base.shape == (30, 70)
    np.testing.assert_allclose(pose_descriptors(transform(clip), ONES), base, atol=1e-9)


def test_descriptor_changes_with_the_pose():
    clip = skeleton_clip(PHASE)
    base = pose_descriptors(clip, ONES)
    assert np.abs(base[15] - base[0]).max() > 0.1  # the swing shows
    lying = clip[:, :, ::-1].copy()  # a 90-degree turn with a mirror: not an invariance
    assert np.abs(pose_descriptors(lying, ONES) - base).max() > 0.1


def test_gaps_are_interpolated_and_unseen_joints_dropped():
    clip = skeleton_clip(PHASE)
    ok = np.ones((30, 13), bool)
    ok[10:14, JOINTS.index("left_wrist")] = False
    filled = filled_joints(JointTrack(np.where(ok[..., None], clip, 1e6), ok.astype(float)), 0.0)
    wrist = JOINTS.index("left_wrist")
    expected = np.linspace(clip[9, wrist], clip[14, wrist], 6)
    np.testing.assert_allclose(filled[9:15, wrist], expected)
    confidence = ok.astype(float)
    confidence[:, JOINTS.index("right_ankle")] = 0.1  # below min_confidence everywhere
    descriptors = pose_descriptors(clip, confidence)
    missing = ~np.isfinite(descriptors).all(axis=0)
    assert 0 < missing.sum() < descriptors.shape[1] // 4
    full = pose_descriptors(clip, ONES)
    np.testing.assert_allclose(descriptor_cost(descriptors, full), descriptor_cost(descriptors[:, ~missing], full[:, ~missing]))


def test_dtw_on_descriptors_recovers_a_time_warp_across_mirroring_and_scale():
    source_phase = np.linspace(0, 1, 30)
    target_phase = np.linspace(0, 1, 45) ** 1.4  # slower at the start
    target = mirrored(skeleton_clip(target_phase) * 1.8 + 20)
    matched = match_descriptors(pose_descriptors(skeleton_clip(source_phase), ONES),
                                pose_descriptors(target, np.ones((45, 13))), "dtw")
    truth = np.abs(target_phase[None, :] - source_phase[:, None]).argmin(axis=1)
    # velocities are per frame, brought to the source's speed by one ratio for the whole path
    # (speed_ratio, ~1.5 here); the target's first frames move far slower than that (phase ** 1.4)
    assert np.abs(matched - truth).max() <= 3 and np.mean(np.abs(matched - truth) <= 1) >= 0.9
    nearest = match_descriptors(pose_descriptors(skeleton_clip(source_phase), ONES),
                                pose_descriptors(target, np.ones((45, 13))), "nn")
    assert np.mean(np.abs(nearest - truth) <= 1) > 0.5


def test_nearest_neighbours_match_a_target_done_three_times_slower():
    """nn takes the speed from the DTW path's slope: the slow target's velocities, a third of the
    source's per frame, are brought to the source's speed (without it: 73 % within 3 frames, 7 off)."""
    source_phase, target_phase = np.linspace(0, 1, 30), np.linspace(0, 1, 90)
    matched = match_descriptors(pose_descriptors(skeleton_clip(source_phase), ONES),
                                pose_descriptors(mirrored(skeleton_clip(target_phase)), np.ones((90, 13))), "nn")
    truth = np.abs(target_phase[None, :] - source_phase[:, None]).argmin(axis=1)
    assert np.abs(matched - truth).max() <= 3  # a target frame is a third of a source frame


def test_descriptor_refuses_wrong_shapes():
    with pytest.raises(StcorrError, match="shape"):
        pose_descriptors(np.zeros((5, 12, 2)), np.ones((5, 12)))


def test_oracle_aligner_on_a_penn_layout_data_set(tmp_path):
    source_phase, target_phase = np.linspace(0, 1, 20), np.linspace(0, 1, 26) ** 1.3
    source, target = skeleton_clip(source_phase), mirrored(skeleton_clip(target_phase), 200)
    target_moments = [int(np.abs(target_phase - source_phase[t]).argmin()) for t in (5, 10)]  # the same phases
    videos = {name: {"action": "golf_swing", "train": -1, "n": len(clip), "x": clip[..., 0], "y": clip[..., 1],
                     "key_moments": moments, "size": (300, 240)}
              for name, clip, moments in (("0001", source, [5, 10]), ("0002", target, target_moments))}
    dataset = open_dataset(make_penn(tmp_path / "penn", videos))
    aligner = PoseTimeAligner("dtw-pose-oracle", oracle_describer(), "dtw", needs_labels=True)
    pair = next(p for p in dataset.pairs("val") if p.source == "0001")
    predicted = aligner.align(dataset, pair)
    assert np.abs(predicted - pair.tgt[:, 0]).max() <= 1


def test_pose_methods_are_listed():
    names = list_methods()
    for name in ("dtw-pose+pose", "nn-pose+pose", "dtw-pose+pose-oracle", "dtw-pose-oracle+pose-oracle"):
        assert name in names


def test_settings_change_the_descriptor():
    clip = skeleton_clip(PHASE)
    slow = pose_descriptors(clip, ONES, DescriptorSettings(velocity_weight=0.0))
    assert np.allclose(slow[:, 35:], 0) and not np.allclose(pose_descriptors(clip, ONES)[:, 35:], 0)


def test_invariances_hold_for_a_video_without_hips():
    clip = skeleton_clip(PHASE)
    confidence = ONES.copy()
    confidence[:, JOINTS.index("right_hip")] = 0.0  # never seen: centred and scaled by the other joints
    base = pose_descriptors(clip, confidence)
    kept = np.isfinite(base).all(axis=0)
    assert 0 < (~kept).sum() and kept.sum() > 40
    np.testing.assert_allclose(pose_descriptors(mirrored(clip * 0.6 + 11, swap=False), confidence), base, atol=1e-9)
    assert np.abs(base[:, kept] - pose_descriptors(clip, ONES)[:, kept]).max() > 0  # not the torso scale


def test_velocities_do_not_depend_on_the_videos_length():
    clip = skeleton_clip(np.linspace(0, 1, 30))
    inside = np.concatenate([np.repeat(clip[:1], 200, axis=0), clip, np.repeat(clip[-1:], 300, axis=0)])
    still = DescriptorSettings(smooth_sigma=0.0)
    alone, held = pose_descriptors(clip, ONES, still), pose_descriptors(inside, np.ones((530, 13)), still)
    np.testing.assert_allclose(held[201:229], alone[1:29], atol=1e-9)  # one-sided differences at the clip's ends


def test_speed_ratio_is_the_paths_slope_past_its_still_ends():
    matched = np.concatenate([np.zeros(8), np.arange(40) * 1.5, np.full(8, 58.5)])
    assert speed_ratio(matched) == pytest.approx(1.5)
    assert speed_ratio(np.arange(3)) == 1.0 and speed_ratio(np.zeros(30)) == 0.25  # too short; clipped
    descriptors = np.ones((4, 6))
    np.testing.assert_array_equal(at_speed(descriptors, 2.0)[:, 3:], 2.0)
    np.testing.assert_array_equal(at_speed(descriptors, 2.0)[:, :3], 1.0)


def test_world_joints_add_a_block_of_3d_angles_that_a_turn_of_the_camera_leaves_alone():
    phase = np.linspace(0, 1, 25)
    xy = skeleton_clip(phase)
    world = np.concatenate([(xy - xy[:, :1]) / 100.0, 0.2 * np.sin(np.linspace(0, 3, 13))[None, :, None]
                            .repeat(len(phase), 0)], axis=2)  # depth that varies over the joints
    turn = np.radians(70)  # the camera moved around the person: a rotation about the vertical (y) axis
    rotation = np.array([[np.cos(turn), 0, np.sin(turn)], [0, 1, 0], [-np.sin(turn), 0, np.cos(turn)]])
    confidence = np.ones((len(phase), 13))
    settings = DescriptorSettings(smooth_sigma=0.0, velocity_weight=1.0, world_angle_weight=1.5)
    plain = pose_descriptors(xy, confidence, settings)
    with_world = pose_descriptors(xy, confidence, settings, world=world)
    turned = pose_descriptors(xy, confidence, settings, world=world @ rotation.T)
    assert plain.shape == (25, 70) and with_world.shape == (25, 88)
    np.testing.assert_allclose(with_world[:, :35], plain[:, :35])  # the image's blocks as before
    block = slice(35, 44)  # the 3D angles, before the velocities
    assert np.abs(with_world[:, block]).max() > 0.01
    np.testing.assert_allclose(turned[:, block], with_world[:, block], atol=1e-9)
    off = DescriptorSettings(smooth_sigma=0.0, velocity_weight=1.0)
    assert pose_descriptors(xy, confidence, off, world=world).shape == (25, 70)


class _FakeDetector:
    """A pose source with one track of image and world joints for every video."""

    def __init__(self, track: JointTrack):
        self.track_ = track

    def track(self, video) -> JointTrack:
        return self.track_


def test_a_lifter_steadies_the_world_joints_before_their_angles_are_compared():
    import dataclasses

    import torch

    from stcorr.baselines.pose_descriptors import build_pose_aligner
    from stcorr.models.lifter import LifterSettings, WorldLifter, lift_world
    from stcorr.pose.descriptors import LIFTED_SETTINGS, MEDIAPIPE_SETTINGS

    phase = np.linspace(0, 1, 20)
    xy = skeleton_clip(phase)
    world = np.concatenate([(xy - xy[:, :1]) / 100.0, 0.1 * np.cos(np.linspace(0, 2, 13))[None, :, None]
                            .repeat(len(phase), 0)], axis=2)
    track = JointTrack(xy, np.ones((len(phase), 13)), world=world)
    torch.manual_seed(0)
    lifter = WorldLifter(LifterSettings(side=2, width=16, dropout=0.0)).eval()
    videos = type("Videos", (), {"video": lambda self, name: name})()  # what a describer asks of a data set
    lifted = build_pose_aligner("dtw-pose", lambda: _FakeDetector(track), lifter).describe(videos, "clip")
    plain = build_pose_aligner("dtw-pose", lambda: _FakeDetector(track)).describe(videos, "clip")
    expected = pose_descriptors(xy, track.visibility, LIFTED_SETTINGS, world=lift_world(lifter, world))
    np.testing.assert_allclose(lifted, expected)
    np.testing.assert_allclose(plain, pose_descriptors(xy, track.visibility, MEDIAPIPE_SETTINGS, world=world))
    assert not np.allclose(lifted[:, 35:44] / LIFTED_SETTINGS.world_angle_weight,
                           plain[:, 35:44] / MEDIAPIPE_SETTINGS.world_angle_weight)  # the 3D angles moved
    assert (dataclasses.replace(LIFTED_SETTINGS, world_angle_weight=0, world_bone_weight=0)
            == dataclasses.replace(MEDIAPIPE_SETTINGS, world_angle_weight=0, world_bone_weight=0))  # only the 3D blocks differ


def test_the_config_names_the_aligners_lifter_and_null_leaves_mediapipes_world_joints():
    pytest.importorskip("mediapipe")
    import torch

    from stcorr.baselines.methods import build_sequential
    from stcorr.config import default_config
    from stcorr.pose.descriptors import LIFTED_SETTINGS, MEDIAPIPE_SETTINGS

    cfg = default_config()
    assert cfg["baseline"]["world_lifter"] == "stcorr:lifter"
    lifted = build_sequential("dtw-pose", "pose", cfg, torch.device("cpu"))
    assert "stcorr:lifter" in lifted.checkpoint
    cfg["baseline"]["world_lifter"] = None
    plain = build_sequential("nn-pose", "pose", cfg, torch.device("cpu"))
    assert "lifter" not in (plain.checkpoint or "")
    oracle = build_sequential("dtw-pose-oracle", "pose-oracle", default_config(), torch.device("cpu"))
    assert oracle.checkpoint is None  # the annotated joints have no world joints to lift
    assert LIFTED_SETTINGS != MEDIAPIPE_SETTINGS


def world_clip(phase: np.ndarray) -> np.ndarray:
    """(T, 13, 3) world joints in metres (y down) of the swing-and-squat motion, with depth that varies."""
    xy = skeleton_clip(phase)
    depth = 0.2 * np.sin(np.linspace(0, 3, 13))[None, :, None] * (1 + phase[:, None, None])
    return np.concatenate([(xy - xy[:, :1]) / 100.0, depth], axis=2)


def test_bone_directions_ignore_the_cameras_side_and_a_mirror_image():
    from stcorr.pose.descriptors import bone_features

    world = world_clip(np.linspace(0, 1, 15))
    bones = bone_features(world)
    assert bones.shape == (15, 30) and np.isfinite(bones).all()
    for degrees in (35, 90, 180):  # the camera moved around the person: a turn about the vertical (y) axis
        turn = np.radians(degrees)
        rotation = np.array([[np.cos(turn), 0, np.sin(turn)], [0, 1, 0], [-np.sin(turn), 0, np.cos(turn)]])
        np.testing.assert_allclose(bone_features(world @ rotation.T), bones, atol=1e-9)
    mirror = world[:, SWAP] * np.array([-1.0, 1.0, 1.0])  # a mirrored video: x flipped, the sides seen swapped
    np.testing.assert_allclose(bone_features(mirror), bones, atol=1e-9)


def test_bone_directions_tell_an_arm_raised_forward_from_one_raised_sideways():
    from stcorr.pose.descriptors import angle_features, bone_features

    body = np.array([[0, -0.5, 0], [0.18, -0.45, 0], [-0.18, -0.45, 0], [0.18, -0.2, 0], [-0.18, -0.2, 0],
                     [0.18, 0.05, 0], [-0.18, 0.05, 0], [0.18, 0, 0], [-0.18, 0, 0], [0.12, 0.4, 0],
                     [-0.12, 0.4, 0], [0.12, 0.8, 0], [-0.12, 0.8, 0]], dtype=np.float64)
    shoulder, elbow, wrist = (JOINTS.index(f"left_{j}") for j in ("shoulder", "elbow", "wrist"))
    sideways, forward = body.copy(), body.copy()
    sideways[elbow], sideways[wrist] = body[shoulder] + [0.25, 0, 0], body[shoulder] + [0.5, 0, 0]
    forward[elbow], forward[wrist] = body[shoulder] + [0, 0, -0.25], body[shoulder] + [0, 0, -0.5]
    np.testing.assert_allclose(angle_features(sideways[None]), angle_features(forward[None]), atol=1e-9)
    assert np.abs(bone_features(sideways[None]) - bone_features(forward[None])).max() > 0.4


def test_the_lifted_settings_add_both_3d_blocks():
    from stcorr.pose.descriptors import LIFTED_SETTINGS

    phase = np.linspace(0, 1, 12)
    descriptors = pose_descriptors(skeleton_clip(phase), np.ones((12, 13)), LIFTED_SETTINGS, world=world_clip(phase))
    assert descriptors.shape == (12, 2 * (35 + 9 + 30))
    without = pose_descriptors(skeleton_clip(phase), np.ones((12, 13)), LIFTED_SETTINGS)
    assert without.shape == (12, 70)
