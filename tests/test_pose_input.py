"""model.input: pose maps beside (or instead of) RGB, drawn where the joints appear in the clip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stcorr.cli.common import build_config
from stcorr.config_schema import validate_config
from stcorr.data.augment import ClipAugment
from stcorr.data.clips import Clip, sample_clip
from stcorr.data.datasets import open_dataset
from stcorr.pose.maps import (AnnotatedJoints, GROUPS, HEIGHTS, JOINT_CHANNELS, MIRROR, POSE_CHANNELS, clip_pose_maps, draw_pose_maps,
                              input_channels, perturb_joints)
from stcorr.pose.track import JointTrack
from stcorr.data.video import Video
from stcorr.errors import StcorrError
from stcorr.models.backbones import build_backbone, load_backbone_weights
from stcorr.models.matcher import build_matcher
from stcorr.predictor import predictor_for
from stcorr.learners.correspondence import ClipSettings, make_example

N_JOINTS = 13
WRIST = 5  # left_wrist: group 1 (left arm)


def _centroid(image: np.ndarray, around: tuple[float, float], radius: int = 5) -> tuple[float, float]:
    """Intensity-weighted mean (x, y) of ``image`` (H, W) in a window around a point."""
    x0, y0 = int(round(around[0])), int(round(around[1]))
    ys, xs = np.mgrid[y0 - radius:y0 + radius + 1, x0 - radius:x0 + radius + 1]
    weights = image[ys, xs].astype(np.float64)
    return float((weights * xs).sum() / weights.sum()), float((weights * ys).sum() / weights.sum())


def _blob_video(folder: Path, points: np.ndarray, size=(120, 90), sigma: float = 1.5) -> Video:
    """Frames (PNG) black but for a bright Gaussian blob at native (x, y) = points[t]."""
    folder.mkdir(parents=True)
    ys, xs = np.mgrid[0:size[1], 0:size[0]]
    for t, (x, y) in enumerate(points):
        blob = 255 * np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2))
        Image.fromarray(np.repeat(blob[..., None], 3, axis=2).round().astype(np.uint8)).save(folder / f"{t + 1:06d}.png")
    return Video(folder)


def test_a_map_bump_is_centred_on_its_joint_to_a_hundredth_of_a_pixel():
    xy = np.zeros((2, N_JOINTS, 2))
    xy[:, WRIST] = [[20.3, 11.7], [7.55, 30.2]]
    seen = np.zeros((2, N_JOINTS), bool)
    seen[:, WRIST] = True
    maps = draw_pose_maps(xy, seen, (40, 36)).numpy()
    assert maps.shape == (POSE_CHANNELS, 2, 36, 40)
    for t in range(2):
        assert np.allclose(_centroid(maps[1, t], xy[t, WRIST]), xy[t, WRIST], atol=0.01)
        assert maps[[0, 2, 3, 4], t].max() == 0  # only the left arm's map draws a left wrist


def test_joint_maps_draw_each_joint_alone_at_full_height():
    """``joints`` maps: map k holds joint k and nothing else, its peak 1.0 (the group maps give the
    elbow 0.7 and share its map with the wrist)."""
    rng = np.random.default_rng(2)
    xy = rng.uniform(6, 30, (1, N_JOINTS, 2))
    seen = np.ones((1, N_JOINTS), bool)
    seen[0, 4] = False  # right elbow not found
    maps = draw_pose_maps(xy, seen, (36, 36), kind="joints").numpy()
    assert maps.shape == (JOINT_CHANNELS, 1, 36, 36) == (N_JOINTS, 1, 36, 36)
    for joint in range(N_JOINTS):
        if joint == 4:
            assert maps[joint].max() == 0
            continue
        assert np.allclose(_centroid(maps[joint, 0], xy[0, joint], radius=4), xy[0, joint], atol=0.05)
        assert abs(maps[joint].max() - 1.0) < 0.25  # peak 1 at the nearest pixel of a sub-pixel centre
    grouped = draw_pose_maps(xy, seen, (36, 36)).numpy()
    for g, group in enumerate(GROUPS):  # a group's map is its joints' maps scaled by their heights, maxed
        assert np.allclose(grouped[g], np.max([HEIGHTS[k] * maps[k] for k in group], axis=0), atol=1e-6)
    assert [input_channels(mode) for mode in ("rgb", "rgb+pose", "pose", "rgb+joints", "joints")] == \
        [3, 3 + POSE_CHANNELS, POSE_CHANNELS, 3 + JOINT_CHANNELS, JOINT_CHANNELS]


def test_pose_maps_line_up_with_the_frames_after_crop_and_resize(tmp_path):
    """A joint at a known native point: its map's peak sits where the frame shows that point in the
    clip (a bright blob drawn there), after a random crop and a non-uniform resize to 64 x 64."""
    rng = np.random.default_rng(3)
    points = np.column_stack([rng.uniform(40, 80, 12), rng.uniform(30, 60, 12)])
    video = _blob_video(tmp_path / "v", points)
    xy = np.zeros((12, N_JOINTS, 2))
    xy[:, WRIST] = points
    seen = np.zeros((12, N_JOINTS), bool)
    seen[:, WRIST] = True
    keep = np.column_stack([np.arange(12), points])
    checked = 0
    for draw in range(3):
        clip = sample_clip(video, 6, 64, rng=np.random.default_rng(draw), augment=ClipAugment.only(crop=1.0, crop_scale=(0.6, 0.9)),
                           time_jitter=True, keep_points=keep)
        assert clip.crop != (0.0, 0.0, 120.0, 90.0)
        maps = clip_pose_maps(clip, JointTrack(xy, seen.astype(float))).numpy()
        for j, t in enumerate(clip.native_times):
            shown = clip.frames[0, j].numpy()
            expected = clip.to_clip(np.array([[t, *points[t]]]))[0, 1:]
            if not (8 <= expected).all() or not (expected <= 64 - 9).all():
                continue  # the centroid's window would leave the frame
            in_frame = _centroid(shown, expected, radius=7)
            in_map = _centroid(maps[1, j], expected, radius=7)
            assert np.hypot(*np.subtract(in_map, in_frame)) < 0.1, (draw, j, in_map, in_frame)
            checked += 1
    assert checked >= 12


def test_frames_past_the_joints_draw_nothing():
    frames = 6
    clip = Clip(torch.zeros(3, frames, 16, 16), np.arange(frames), 0, 1, (0.0, 0.0, 16.0, 16.0), (16, 16), frames)
    joints = JointTrack(np.full((4, N_JOINTS, 2), 8.0), np.ones((4, N_JOINTS)))
    drawn = clip_pose_maps(clip, joints).amax(dim=(0, 2, 3))
    assert (drawn[:4] == 1).all() and (drawn[4:] == 0).all()


def test_perturbation_follows_the_error_rates():
    n = 4000
    rng = np.random.default_rng(0)
    xy = np.column_stack([np.linspace(0, 100, N_JOINTS), np.linspace(0, 200, N_JOINTS)])[None].repeat(n, axis=0)
    joints = JointTrack(xy, np.ones((n, N_JOINTS)))
    assert np.array_equal(perturb_joints(joints, rng, dict.fromkeys(
        ("missed_frames", "swapped_frames", "dropped_joints", "error_sigma", "outliers"), 0.0)).xy, xy)
    rates = {"missed_frames": 0.1, "swapped_frames": 0.2, "dropped_joints": 0.05, "error_sigma": 0.01, "outliers": 0.0}
    out = perturb_joints(joints, rng, rates)
    missed = ~out.seen().any(axis=1)
    assert abs(missed.mean() - 0.1) < 0.02
    assert abs(1 - out.seen()[~missed].mean() - 0.05) < 0.01
    size = 200.0  # the longer side of the joints' box
    swapped = np.abs(out.xy[:, 1] - xy[:, MIRROR[1]]).max(axis=1) < 6 * 0.01 * size
    assert abs(swapped.mean() - 0.2) < 0.03
    straight = out.xy[~swapped] - xy[~swapped]
    assert abs(straight.std() / size - 0.01) < 0.001


def test_rgb_input_is_the_clip_alone_and_pose_input_adds_maps(golf):
    dataset = open_dataset(golf)
    pair = dataset.pairs("train", "13+3", 3)[0]
    data = build_config(None, None)["data"]
    examples = {mode: make_example(dataset, pair, ClipSettings.from_config(data, mode), np.random.default_rng(5))
                for mode in ("rgb", "rgb+pose", "pose", "rgb+joints")}
    default = make_example(dataset, pair, ClipSettings.from_config(data), np.random.default_rng(5))
    for key in default:
        assert torch.equal(default[key], examples["rgb"][key])
    assert examples["rgb"]["src"].shape[0] == 3
    assert torch.equal(examples["rgb+pose"]["src"][:3], examples["rgb"]["src"])
    assert examples["rgb+pose"]["src"].shape[0] == 3 + POSE_CHANNELS
    assert examples["pose"]["src"].shape[0] == POSE_CHANNELS
    assert examples["pose"]["src"].amax() > 0.3  # bumps of the annotated joints are there
    assert torch.equal(examples["rgb+joints"]["src"][:3], examples["rgb"]["src"])
    assert examples["rgb+joints"]["src"].shape[0] == 3 + JOINT_CHANNELS
    for key in ("src_points", "tgt_points", "valid"):
        assert torch.equal(examples["pose"][key], examples["rgb"][key])


def test_rgb_matcher_is_the_plain_model():
    cfg = {"width": 8, "blocks": [1, 1, 1, 1], "layers": [1, 2, 3, 4], "grid": [2, 4, 4]}
    torch.manual_seed(0)
    plain = build_matcher(cfg)
    torch.manual_seed(0)
    rgb = build_matcher({**cfg, "input": "rgb"})
    assert plain.config["input"] == "rgb" and plain.backbone.stem[0].weight.shape[1] == 3
    assert plain.state_dict().keys() == rgb.state_dict().keys()
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(), rgb.state_dict().values()))
    pose = build_matcher({**cfg, "input": "rgb+pose"})
    assert pose.backbone.stem[0].weight.shape[1] == 3 + POSE_CHANNELS and pose.config["input"] == "rgb+pose"
    clips = torch.randn(1, 3 + POSE_CHANNELS, 4, 16, 16)
    points = torch.tensor([[[1.0, 5.0, 6.0]]])
    assert pose.match(clips, clips, points)[0].shape == (1, 1, 3)


def test_rgb_weights_start_an_rgb_plus_pose_backbone_as_the_rgb_one(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(1)
    rgb = build_backbone("r3d18", width=8, blocks=[1, 1, 1, 1]).eval()
    save_file(rgb.state_dict(), str(tmp_path / "w.safetensors"))
    both = build_backbone("r3d18", width=8, blocks=[1, 1, 1, 1], in_channels=3 + POSE_CHANNELS).eval()
    load_backbone_weights(both, tmp_path / "w.safetensors")
    clip = torch.randn(1, 3, 4, 16, 16)
    maps = torch.rand(1, POSE_CHANNELS, 4, 16, 16)
    assert torch.equal(both.stem[0].weight[:, 3:], torch.zeros_like(both.stem[0].weight[:, 3:]))
    assert torch.allclose(both(torch.cat([clip, maps], 1)), rgb(clip), atol=1e-5)
    with pytest.raises(StcorrError, match="no RGB"):
        build_matcher({"width": 8, "input": "pose", "weights": str(tmp_path / "w.safetensors")})


def test_the_schema_validates_model_input():
    cfg = build_config(None, None)
    assert cfg["model"]["input"] == "rgb"
    assert validate_config({**cfg, "model": {**cfg["model"], "input": "rgb+pose"}})["model"]["input"] == "rgb+pose"
    with pytest.raises(StcorrError, match="model.input"):
        validate_config({**cfg, "model": {**cfg["model"], "input": "depth"}})
    with pytest.raises(StcorrError, match="model.input"):
        build_config(None, ["model.input=depth"])


def test_a_pose_model_refuses_in_one_line_without_mediapipe(monkeypatch):
    monkeypatch.setitem(sys.modules, "mediapipe", None)  # import mediapipe -> ImportError
    data = build_config(None, None)["data"]
    with pytest.raises(StcorrError, match=r"takes pose maps \(model.input: rgb\+pose\).*pip install") as caught:
        predictor_for(build_matcher({"width": 8, "input": "rgb+pose"}), data)
    assert "\n" not in str(caught.value)
    predictor_for(build_matcher({"width": 8}), data)  # an RGB model needs no MediaPipe


def test_a_pose_model_reads_annotated_joints_where_given_and_needs_no_mediapipe(golf, monkeypatch):
    """What a shipped pose model's check runs on (stcorr.evaluation.shipped_checks): the maps of the labels."""
    monkeypatch.setitem(sys.modules, "mediapipe", None)
    dataset = open_dataset(golf)
    name = sorted(dataset.labels)[0]
    data = build_config(None, None)["data"]
    predictor = predictor_for(build_matcher({"width": 8, "input": "rgb+pose"}), data, joints=AnnotatedJoints(dataset))
    seen = predictor.joints.seen(dataset.video(name))
    labels = dataset.labels[name]
    np.testing.assert_array_equal(seen.visibility, np.asarray(labels.visible, float))
    np.testing.assert_allclose(seen.xy[..., 0][labels.visible.astype(bool)], labels.x[labels.visible.astype(bool)])
    clip = predictor.source_clip(dataset.video(name), np.array([[2.0, 10.0, 10.0]]))
    assert predictor.model_input(clip, dataset.video(name)).shape[0] == 3 + POSE_CHANNELS


def test_eval_of_a_pose_checkpoint_without_mediapipe_is_a_one_line_error(golf, tmp_path):
    tiny = {"data.clip_len": 8, "data.size": 32, "model.grid": [4, 4, 4], "model.width": 8, "model.input": "rgb+pose",
            "train.max_steps": 1, "train.checkpoint_every": 1, "train.val_every": 0}
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    sets = [f"--set={k}={json.dumps(v)}" for k, v in tiny.items()]
    cli = [sys.executable, "-m", "stcorr.cli.main"]
    trained = subprocess.run([*cli, "train", "--data", str(golf), "--out", str(tmp_path / "run"), "--no-progress", *sets],
                             capture_output=True, text=True, env=env)
    assert trained.returncode == 0, trained.stderr
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "mediapipe.py").write_text("raise ImportError('mediapipe blocked by the test')\n")
    done = subprocess.run([*cli, "eval", "--data", str(golf), "--checkpoint", str(tmp_path / "run" / "checkpoint"),
                           "--out", str(tmp_path / "r.json"), "--no-progress"],
                          capture_output=True, text=True, env={**env, "PYTHONPATH": str(blocker)})
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    message = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(message) == 1 and "pose maps" in message[0] and "MediaPipe" in message[0]
    assert not (tmp_path / "r.json").exists()


def test_groups_cover_every_joint_once():
    assert sorted(j for group in GROUPS for j in group) == list(range(N_JOINTS))
    assert all(MIRROR[MIRROR[j]] == j for j in range(N_JOINTS))
