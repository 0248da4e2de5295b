"""The pose cycle embedding (``stcorr train --config cycle-pose``) and its time aligner ``cycle-pose``:
a known time warp recovered, invariance to the camera, the cycle loss learnt, the method built from
a checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import make_penn, write_frames
from stcorr.baselines.cycle_pose import CYCLE_POSE_ALIGNERS, cycle_pose_aligner
from stcorr.baselines.methods import MissingPart, build_sequential, frames_pair, method_names, timed_alignment
from stcorr.baselines.pose_descriptors import build_pose_aligner
from stcorr.data.pairs import Pair
from stcorr.evaluation.predict import TwoVideos
from stcorr.config import load_config
from stcorr.data.datasets import open_dataset
from stcorr.data.video import Video
from stcorr.learners.cycle_pose import CyclePoseLearner, replayed, time_boxes
from stcorr.models.cycle_pose import PoseCycleEmbedding, PoseCycleSettings, embed_descriptors
from stcorr.pose.descriptors import MEDIAPIPE_SETTINGS, pose_descriptors
from stcorr.pose.mediapipe import MissingExtra
from stcorr.pose.skeleton import JOINTS
from stcorr.pose.track import JointTrack
from stcorr.training.checkpoint import save_checkpoint

J = {name: k for k, name in enumerate(JOINTS)}


def body(phase: np.ndarray) -> np.ndarray:
    """(T, 13, 2) pixels of a person raising both arms from the sides to overhead (phase 0 -> 1)
    while bending the knees once (deepest at phase 0.5)."""
    t = len(phase)
    xy = np.zeros((t, len(JOINTS), 2))
    arm = np.pi * phase  # 0: hanging, pi: overhead
    bend = 8 * np.sin(np.pi * phase)
    for side, sign in (("left", 1), ("right", -1)):
        shoulder = np.stack([np.full(t, 50 + 8 * sign), np.full(t, 40.0)], 1)
        xy[:, J[f"{side}_shoulder"]] = shoulder
        xy[:, J[f"{side}_elbow"]] = shoulder + 12 * np.stack([sign * np.sin(arm), np.cos(arm)], 1)
        xy[:, J[f"{side}_wrist"]] = shoulder + 24 * np.stack([sign * np.sin(arm), np.cos(arm)], 1)
        xy[:, J[f"{side}_hip"]] = np.stack([np.full(t, 50 + 6 * sign), 70 + bend], 1)
        xy[:, J[f"{side}_knee"]] = np.stack([50 + (6 + bend) * sign, 85 + bend / 2], 1)
        xy[:, J[f"{side}_ankle"]] = np.stack([np.full(t, 50 + 6 * sign), np.full(t, 100.0)], 1)
    xy[:, J["head"]] = [50, 28]
    return xy


class KnownJoints:
    """A stand-in for MediaPipePose: the given joints of each video (by folder)."""

    def __init__(self, joints: dict[str, np.ndarray]):
        self.joints = joints

    def track(self, video) -> JointTrack:
        xy = self.joints[video.path.name]
        return JointTrack(xy, np.ones(xy.shape[:2]))


def untrained(seed: int = 0, **changes) -> PoseCycleEmbedding:
    torch.manual_seed(seed)
    return PoseCycleEmbedding(PoseCycleSettings.defaults(**changes))


@pytest.fixture(scope="module")
def warped_pair(tmp_path_factory):
    """A 40-frame movement and a 60-frame copy with time warped (faster, then slower), as videos,
    with the true target frame of each source frame."""
    root = tmp_path_factory.mktemp("warp")
    source_phase = np.linspace(0, 1, 40)
    s = np.linspace(0, 1, 60)
    target_phase = s + 0.15 * np.sin(2 * np.pi * s)
    write_frames(root / "source", 40)
    write_frames(root / "target", 60)
    truth = np.abs(target_phase[None, :] - source_phase[:, None]).argmin(1)
    return {"videos": (Video(root / "source"), Video(root / "target")), "truth": truth,
            "joints": KnownJoints({"source": body(source_phase), "target": body(target_phase)})}


def every_source_frame(source: Video, target: Video) -> tuple[TwoVideos, Pair]:
    dataset = TwoVideos(source, target)
    empty = Pair(str(source.path), str(target.path), "", "", (), (), np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0))
    return dataset, frames_pair(empty, np.arange(source.num_frames))


@pytest.mark.parametrize("name", CYCLE_POSE_ALIGNERS)
def test_the_aligner_recovers_a_known_time_warp(name, warped_pair):
    dataset, pair = every_source_frame(*warped_pair["videos"])
    mediapipe = lambda: warped_pair["joints"]  # noqa: E731
    pose = build_pose_aligner("dtw-pose", mediapipe) if name == "dtw-pose-cycle" else None
    aligner = cycle_pose_aligner(name, untrained(), mediapipe, pose)
    matched = aligner.align(dataset, pair)
    error = np.abs(matched - warped_pair["truth"])
    assert matched.shape == (40,) and np.all(np.diff(matched) >= 0)
    assert error.mean() <= 1.5 and np.mean(error <= 2) >= 0.85, error
    uniform = np.round(np.linspace(0, 59, 40)).astype(int)  # no alignment at all: the warp's own error, 5.7 frames
    assert np.abs(uniform - warped_pair["truth"]).mean() > 3.5 * error.mean()
    costs = aligner.frame_costs(dataset, pair)
    assert costs.shape == (40, 60) and np.all(np.isfinite(costs))
    _, confidence = timed_alignment(aligner, dataset, pair)
    assert np.all((confidence >= 0) & (confidence <= 1)) and confidence.mean() > 0.5


def test_the_embedding_ignores_the_camera_mirror_and_a_left_handed_body():
    xy = body(np.linspace(0, 1, 30))
    moved = xy * 2.5 + [100, -40]
    mirrored = moved.copy()
    mirrored[..., 0] = -mirrored[..., 0]
    model = untrained()
    embed = [embed_descriptors(model, pose_descriptors(p, np.ones(p.shape[:2]), MEDIAPIPE_SETTINGS))
             for p in (xy, moved, mirrored)]
    np.testing.assert_allclose(embed[0], embed[1], atol=1e-5)
    np.testing.assert_allclose(embed[0], embed[2], atol=1e-5)
    assert np.allclose(np.linalg.norm(embed[0], axis=1), 1.0, atol=1e-5)


def test_replayed_and_time_boxes():
    joints = JointTrack(body(np.linspace(0, 1, 30)), np.ones((30, len(JOINTS))))
    assert len(replayed(joints, 1.5).xy) == 20 and len(replayed(joints, 1 / 1.5).xy) == 45
    boxes = time_boxes(np.array([0, 15, 29]), 30, 0.2)
    assert boxes.shape == (3, 1, 4)
    np.testing.assert_allclose(boxes[:, 0, 0] + 0.1, [0.0, 15 / 29, 1.0], atol=1e-6)


@pytest.fixture(scope="module")
def movements(tmp_path_factory):
    """Four train videos of one movement at four speeds (annotated joints), a Penn layout set."""
    videos = {}
    for i, n in enumerate((24, 30, 36, 42)):
        xy = body(np.linspace(0, 1, n)) * [0.5, 0.45] + [-5, -9]  # inside the 64x48 frames
        videos[f"{i + 1:04d}"] = {"action": "jumping_jacks", "train": 1, "n": n, "x": xy[..., 0], "y": xy[..., 1]}
    return make_penn(tmp_path_factory.mktemp("moves") / "penn", videos)


def test_training_makes_the_cycles_come_back(movements):
    cfg = load_config(None, {"task": "cycle-pose", "cycle_pose.frames": 12, "cycle_pose.hidden": 32,
                                "cycle_pose.dim": 16})
    learner = CyclePoseLearner(cfg, open_dataset(movements), torch.device("cpu"))
    torch.manual_seed(0)
    model = learner.build_model()
    examples = [learner.example(g, np.random.default_rng(g)) for g in range(6)]
    with torch.no_grad():
        before = float(learner.loss(model, examples))
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(20):
        optimiser.zero_grad()
        learner.loss(model, examples[step % 6:step % 6 + 2]).backward()
        optimiser.step()
    with torch.no_grad():
        after = float(learner.loss(model, examples))
    assert after < 0.7 * before, (before, after)


def test_cycle_pose_is_a_method_built_from_its_checkpoint(tmp_path, warped_pair):
    assert {"cycle-pose+pose", "dtw-pose-cycle+pose", "cycle-pose+pose-oracle", "cycle-pose+cats2d"} <= set(method_names())
    cfg = load_config(None, {"task": "cycle-pose"})
    path = save_checkpoint(tmp_path / "run", untrained(), None, cfg, 0, 0.0)
    settings = load_config(None, {"baseline.cycle_pose_checkpoint": str(path)})
    try:
        import mediapipe  # noqa: F401
    except ImportError:  # the aligner reads MediaPipe's joints: without it, one line when the method is built
        with pytest.raises(MissingExtra, match="the pose methods need MediaPipe") as err:
            build_sequential("cycle-pose", "pose-oracle", settings, torch.device("cpu"))
        assert "\n" not in str(err.value)
        return
    method = build_sequential("cycle-pose", "pose-oracle", settings, torch.device("cpu"))
    assert method.name == "cycle-pose+pose-oracle" and str(path) in method.checkpoint
    assert hasattr(method.aligner, "frame_costs")  # its time confidence comes from its own costs


def test_without_its_checkpoint_the_method_says_how_to_train_one():
    with pytest.raises(MissingPart) as err:
        build_sequential("cycle-pose", "pose-oracle", load_config(None, {"baseline.cycle_pose_checkpoint": None}),
                         torch.device("cpu"))
    message = str(err.value)
    assert "\n" not in message and "stcorr train --config cycle-pose --data ROOT --out RUN" in message
    assert "--set baseline.cycle_pose_checkpoint=RUN/checkpoint" in message
