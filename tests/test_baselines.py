"""The sequential baselines: time alignment, spatial matching, training of their parts, methods."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stcorr.baselines.methods import MissingPart, method_names
from stcorr.pose.mediapipe import MissingExtra, landmarks_to_joints
from stcorr.baselines.spatial import most_similar_pose, nearest_joint_transfer, person_nearest_points
from stcorr.baselines.time_alignment import EmbeddingTimeAligner
from stcorr.config import load_config
from stcorr.data.datasets import open_dataset
from stcorr.data.pairs import Pair
from stcorr.errors import StcorrError
from stcorr.evaluation.methods import build_method, list_methods
from stcorr.evaluation.results import score_pairs
from stcorr.learners.alignment import sample_times
from stcorr.models.frame_features import BackboneFrames, FrameFeatures, shared_frame_features
from stcorr.training.engine import train as train_baseline

from conftest import N_JOINTS, make_penn

CPU = torch.device("cpu")
SMALL = {  # tiny parts, a few steps: each training run takes about a second
    "train.max_steps": 4, "train.checkpoint_every": 2, "train.log_every": 1, "train.batch_size": 2,
    "baseline.frames.size": 32,
    "baseline.tcc.seq_len": 6, "baseline.tcc.hidden": 32, "baseline.tcc.embedding_dim": 16, "baseline.tcc.videos_per_step": 3,
    "baseline.lrprop.seq_len": 6, "baseline.lrprop.d_model": 16, "baseline.lrprop.ff_dim": 32, "baseline.lrprop.embedding_dim": 8,
    "baseline.cats2d.size": 32, "baseline.cats2d.grid": [1, 4, 4],
    "baseline.cats2d.aggregator_args": {"feature_proj": 8, "embed_dim": 16, "depth": 1, "heads": 2},
}


def config(name: str | None = None, overrides: dict | None = None) -> dict:
    return load_config(name, overrides or {})


def square_frames(n: int, size=(64, 48), seed: int = 0) -> list[np.ndarray]:
    """Frames of a bright square crossing a textured background: every frame differs from the others."""
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 80, (size[1], size[0], 3), dtype=np.uint8)
    frames = []
    for t in range(n):
        frame = background.copy()
        x = int(round(2 + (size[0] - 14) * t / max(n - 1, 1)))
        y = int(round(size[1] / 2 - 6 + 8 * np.sin(t / 2)))
        frame[y:y + 12, x:x + 12] = (230, 200, 40)
        frames.append(frame)
    return frames


def write_frames(folder: Path, frames: list[np.ndarray]) -> None:
    for f in folder.glob("*.jpg"):
        f.unlink()
    for t, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"{t + 1:06d}.jpg", quality=95)


def distinct_joints(n: int, shift: int) -> tuple[np.ndarray, np.ndarray]:
    """Joint coordinates that never coincide within a frame (so the nearest joint is unambiguous)."""
    t, k = np.meshgrid(np.arange(n), np.arange(N_JOINTS), indexing="ij")
    return 3.0 + 4 * k + (t + shift) % 3, 4.0 + 3 * k + (t + shift) % 4


@pytest.fixture(scope="module")
def golf(tmp_path_factory) -> Path:
    """Golf videos (3 train, 3 val) with distinct joints, a club head at the key moments, square frames."""
    videos, objects = {}, {}
    for i, (split, n) in enumerate([(1, 12), (1, 14), (1, 10), (-1, 12), (-1, 13), (-1, 11)]):
        name = f"{i + 1:04d}"
        x, y = distinct_joints(n, i)
        moments = [3, n - 4]
        videos[name] = {"action": "golf_swing", "train": split, "n": n, "key_moments": moments, "x": x, "y": y}
        objects[name] = {str(t): {"club_head": [61.5 - 0.1 * t, 46.5 - 0.1 * i]} for t in moments}
    root = make_penn(tmp_path_factory.mktemp("golf") / "penn", videos, objects)
    for i, (name, spec) in enumerate(videos.items()):
        write_frames(root / "frames" / name, square_frames(spec["n"], seed=i))
    return root


@pytest.fixture(scope="module")
def trained(golf, tmp_path_factory) -> dict[str, Path]:
    """A few training steps of each part: task -> checkpoint folder."""
    dataset = open_dataset(golf)
    runs = {}
    for task in ("tcc", "lrprop", "cats2d"):
        run = tmp_path_factory.mktemp(task)
        train_baseline(config(task, SMALL), dataset, run, progress=False)
        runs[task] = run
    return runs


def self_pair(name: str, times: list[int], xy: np.ndarray, target: str | None = None) -> Pair:
    src = np.column_stack([times, xy]).astype(np.float64)
    return Pair(source=name, target=target or name, action="golf_swing", split="val", names=tuple(["head"] * len(times)),
                moments=tuple(range(len(times))), src=src, tgt=src.copy(), ref_size=np.full(len(times), 10.0))


# ---------------------------------------------------------------- registry and errors


def test_every_sequential_method_is_registered():
    names = list_methods()
    for name in ("nn+pose-oracle", "dtw+pose-oracle", "tcc+pose-oracle", "lrprop+pose-oracle", "nn+pose", "dtw+pose",
                 "dtw+cats2d", "tcc+cats2d", "gt-time+cats2d", "gt-time+pose-oracle", "dtw-st+pose-oracle"):
        assert name in names
    assert set(method_names()) <= set(names) and "st-match" in names


def test_missing_checkpoint_is_a_one_line_error_telling_how_to_train_it():
    for name, task in (("tcc+pose-oracle", "tcc"), ("lrprop-nn+pose-oracle", "lrprop"), ("gt-time+cats2d", "cats2d")):
        with pytest.raises(MissingPart) as err:
            build_method(name, load_config(), CPU)
        message = str(err.value)
        assert "\n" not in message and f"method {name} needs" in message
        assert f"stcorr train --config {task} --data ROOT --out RUN" in message
        assert f"--set baseline.{task}_checkpoint=RUN/checkpoint" in message


def test_unknown_baseline_setting_is_an_error():
    with pytest.raises(StcorrError, match="baseline.tcc.nope"):
        load_config("tcc", {"baseline.tcc.nope": 1})


def test_missing_mediapipe_is_a_one_line_error(monkeypatch):
    import stcorr.baselines.methods

    monkeypatch.setattr(stcorr.baselines.methods, "_SHARED", {})  # no detector left by an earlier test
    monkeypatch.setitem(sys.modules, "mediapipe", None)  # import mediapipe -> ImportError
    with pytest.raises(MissingExtra) as err:
        build_method("gt-time+pose", load_config(), CPU)
    message = str(err.value)
    assert 'pip install "stcorr[pose]"' in message and "mediapipe 0.10.14" in message and "\n" not in message


def test_eval_command_exits_2_with_one_line_for_missing_parts(golf, tmp_path):
    hidden = tmp_path / "hide"
    (hidden / "mediapipe").mkdir(parents=True)
    (hidden / "mediapipe" / "__init__.py").write_text("raise ImportError('hidden for the test')\n")
    env = {**os.environ, "PYTHONPATH": f"{hidden}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    for method, expected in (("tcc+pose-oracle", "baseline.tcc_checkpoint"), ("dtw+pose", 'pip install "stcorr[pose]"')):
        run = subprocess.run([sys.executable, "-m", "stcorr.cli.main", "eval", "--data", str(golf), "--method", method,
                              "--out", str(tmp_path / "r.json"), "--no-progress"], capture_output=True, text=True, env=env)
        assert run.returncode == 2, run.stderr
        assert expected in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr


# ---------------------------------------------------------------- spatial matching


def test_gt_time_pose_oracle_is_exact_where_joints_are_visible_in_both_frames(golf):
    dataset = open_dataset(golf)
    pairs = dataset.pairs("val", "13+3")
    method = build_method("gt-time+pose-oracle", load_config(), CPU)
    predictions = [method.predict(dataset, p) for p in pairs]
    results = score_pairs(pairs, predictions, ks=(0,), alpha=1e-9)
    assert len(pairs) == 6 and results["per_type"]["hum"]["T@0"] == 1.0
    assert results["per_type"]["obj"]["n_points"] > 0 and results["per_type"]["obj"]["T@0"] == 1.0


def test_nearest_joint_rule_objects_and_fallback():
    source = {"head": (10.0, 10.0), "left_wrist": (30.0, 30.0), "right_wrist": (50.0, 10.0)}
    target = {"head": (1.0, 2.0), "left_wrist": (3.0, 4.0)}
    assert nearest_joint_transfer(np.array([29.0, 28.0]), source, target) == (3.0, 4.0)
    # right_wrist is nearest but not a joint of the target frame: the next nearest joint shared
    assert nearest_joint_transfer(np.array([48.0, 12.0]), source, target) == (3.0, 4.0)  # left_wrist, not head
    objects = {"ball": (49.0, 11.0)}
    assert nearest_joint_transfer(np.array([49.0, 11.0]), source, target, objects, {"ball": (7.0, 7.0)}) == (7.0, 7.0)
    assert nearest_joint_transfer(np.array([49.0, 11.0]), source, target, objects, {}) == (3.0, 4.0)
    assert nearest_joint_transfer(np.array([12.0, 11.0]), source, target, objects, {}) == (1.0, 2.0)
    assert nearest_joint_transfer(np.array([5.0, 5.0]), {}, target) is None


def test_pose_oracle_keeps_relative_position_when_no_joint_is_visible(tmp_path):
    n = 8
    hidden = np.ones((n, N_JOINTS))
    hidden[3] = 0  # frame 3 of the source has no visible joint
    root = make_penn(tmp_path / "penn", {"0001": {"action": "golf_swing", "train": -1, "n": n, "visibility": hidden},
                                         "0002": {"action": "golf_swing", "train": -1, "n": n, "size": (128, 96)}})
    dataset = open_dataset(root)
    method = build_method("gt-time+pose-oracle", load_config(), CPU)
    pair = self_pair("0001", [3], np.array([[10.0, 20.0]]), target="0002")
    predicted = method.predict(dataset, pair)
    assert np.allclose(predicted, [[3, 20.5, 40.5]])  # (x + 0.5) * 2 - 0.5


def test_mediapipe_landmarks_map_to_penn_joints_and_people_are_chosen_by_similarity():
    class Mark:
        def __init__(self, x, y, v):
            self.x, self.y, self.visibility = x, y, v

    marks = [Mark(i / 40, 1 - i / 40, 0.9) for i in range(33)]
    marks[15].visibility = 0.1  # left wrist unsure
    joints = landmarks_to_joints(marks, width=200, height=100, min_visibility=0.5)
    head = np.mean([2, 5, 7, 8]) / 40  # the mean of the eyes and ears
    assert joints["head"] == pytest.approx((head * 200 - 0.5, (1 - head) * 100 - 0.5))
    assert joints["right_ankle"] == pytest.approx((28 / 40 * 200 - 0.5, (1 - 28 / 40) * 100 - 0.5))
    assert "left_wrist" not in joints and len(joints) == 12
    standing = {"head": (0.0, 0.0), "left_hip": (0.0, 10.0), "left_ankle": (0.0, 20.0)}
    lying = {"head": (0.0, 0.0), "left_hip": (10.0, 0.0), "left_ankle": (20.0, 0.0)}
    far_standing = {k: (x * 2 + 100, y * 2 + 50) for k, (x, y) in standing.items()}
    assert most_similar_pose(standing, [lying, far_standing]) is far_standing
    assert person_nearest_points([standing, far_standing], np.array([[101.0, 70.0]])) is far_standing


def test_mediapipe_pose_runs_on_frames(golf):
    pytest.importorskip("mediapipe", reason="MediaPipe (the pose extra) is not installed")
    dataset = open_dataset(golf)
    pair = dataset.pairs("val", "13+3")[0]
    predicted = build_method("gt-time+pose", load_config(), CPU).predict(dataset, pair)
    assert predicted.shape == (len(pair), 3) and np.all(np.isfinite(predicted))
    assert np.array_equal(predicted[:, 0], pair.tgt[:, 0])


# ---------------------------------------------------------------- time alignment


def test_nn_alignment_of_a_video_with_itself_finds_the_same_frames(golf):
    dataset = open_dataset(golf)
    cfg = load_config()
    features = shared_frame_features("resnet2d", cfg, cfg["baseline"], CPU)
    video = dataset.video("0004")
    aligner = EmbeddingTimeAligner("nn", features, "nn")
    assert np.array_equal(aligner.matches(video, video), np.arange(video.num_frames))
    labels = dataset.labels["0004"]
    times = [1, 5, 9]
    pair = self_pair("0004", times, np.array([[labels.x[t, 0], labels.y[t, 0]] for t in times]))
    assert np.array_equal(build_method("nn+pose-oracle", cfg, CPU).predict(dataset, pair), pair.tgt)


@pytest.mark.parametrize("factor", [2.0, 1.5])
def test_dtw_maps_key_frames_of_a_video_to_a_time_stretched_copy(tmp_path, factor):
    n = 14
    frames = square_frames(n, seed=3)
    stretched = [frames[min(int(round(j / factor)), n - 1)] for j in range(int(round(n * factor)))]
    root = make_penn(tmp_path / "penn", {"0001": {"action": "golf_swing", "train": -1, "n": n},
                                         "0002": {"action": "golf_swing", "train": -1, "n": len(stretched)}})
    write_frames(root / "frames" / "0001", frames)
    write_frames(root / "frames" / "0002", stretched)
    dataset = open_dataset(root)
    times = [2, 5, 8, 11]
    pair = self_pair("0001", times, np.full((len(times), 2), 10.0), target="0002")
    predicted = build_method("dtw+pose-oracle", load_config(), CPU).predict(dataset, pair)[:, 0]
    assert np.all(np.abs(predicted - np.array(times) * factor) <= 1), predicted
    back = self_pair("0002", [int(t * factor) for t in times], np.full((len(times), 2), 10.0), target="0001")
    predicted = build_method("dtw+pose-oracle", load_config(), CPU).predict(dataset, back)[:, 0]
    assert np.all(np.abs(predicted - np.array(times)) <= 1), predicted


def test_dtw_st_aligns_a_video_with_itself_frame_by_frame(golf):
    dataset = open_dataset(golf)
    cfg = config(None, {"baseline.frames.backbone_layer": 1})
    times = [0, 4, 7, 11]
    pair = self_pair("0004", times, np.full((len(times), 2), 10.0))
    assert np.array_equal(build_method("dtw-st+pose-oracle", cfg, CPU).predict(dataset, pair)[:, 0], times)


def test_alignment_of_a_one_frame_video_is_a_clear_error(tmp_path):
    root = make_penn(tmp_path / "penn", {"0001": {"action": "golf_swing", "train": -1, "n": 1},
                                         "0002": {"action": "golf_swing", "train": -1, "n": 6}})
    pair = self_pair("0001", [0], np.array([[5.0, 5.0]]), target="0002")
    with pytest.raises(StcorrError, match="too short for dtw time alignment"):
        build_method("dtw+pose-oracle", load_config(), CPU).predict(open_dataset(root), pair)


def test_backbone_frame_features_do_not_depend_on_the_batch(golf):
    video = open_dataset(golf).video("0002")  # 14 frames: windows of 4, the last one padded
    torch.manual_seed(0)
    encoder = BackboneFrames("r3d18", width=4, blocks=[1, 1, 1, 1], layer=2, clip_len=4)
    small = FrameFeatures(encoder, size=32, batch=4)(video)
    large = FrameFeatures(encoder, size=32, batch=64)(video)
    assert small.shape == (14, encoder.dim) and np.allclose(small, large, atol=1e-5)


def test_sample_times_are_increasing_frames_of_the_video():
    rng = np.random.default_rng(0)
    cases = [(50, 10, 1.0), (50, 10, 0.6), (7, 10, 1.0), (10, 10, 1.0), (13, 4, 0.7), (12, 10, 1.0), (15, 4, 0.7)]
    for _ in range(50):  # slots narrower than two frames once repeated a frame
        for n, length, span in cases:
            times = sample_times(n, length, rng, span)
            assert len(times) == min(n, length) and np.all(np.diff(times) > 0) and times[0] >= 0 and times[-1] < n


# ---------------------------------------------------------------- training and trained methods


def test_training_writes_checkpoints_and_logs(trained):
    for task, run in trained.items():
        info = json.loads((run / "checkpoint" / "checkpoint.json").read_text())
        assert info["task"] == task and info["step"] == 4 and info["config"]["task"] == task
        assert (run / "checkpoint" / "model.safetensors").is_file() and (run / "config.yaml").is_file()
        rows = (run / "train_log.csv").read_text().splitlines()
        assert rows[0] == "step,epoch,loss,lr,elapsed_s" and [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3", "4"]
        assert all(np.isfinite(float(r.split(",")[2])) for r in rows[1:])


def test_resuming_with_the_wrong_task_is_an_error(golf, trained):
    with pytest.raises(StcorrError, match="expected a TCC checkpoint, but it holds an LRProp model"):
        train_baseline(config("tcc", SMALL), open_dataset(golf), trained["lrprop"], resume=True, progress=False)


def test_methods_load_the_trained_parts(golf, trained):
    dataset = open_dataset(golf)
    cfg = config(None, {"baseline.frames.size": 32, **{f"baseline.{t}_checkpoint": str(r / "checkpoint") for t, r in trained.items()}})
    pair = dataset.pairs("val", "13+3")[0]
    n_target = dataset.video(pair.target).num_frames
    for name in ("tcc+pose-oracle", "tcc-nn+pose-oracle", "lrprop+pose-oracle", "lrprop-nn+cats2d", "gt-time+cats2d"):
        method = build_method(name, cfg, CPU)
        predicted = method.predict(dataset, pair)
        assert predicted.shape == (len(pair), 3) and np.all(np.isfinite(predicted)), name
        assert np.all((predicted[:, 0] >= 0) & (predicted[:, 0] < n_target)), name
        assert method.checkpoint and "checkpoint" in method.checkpoint
    gt = build_method("gt-time+cats2d", cfg, CPU).predict(dataset, pair)
    assert np.array_equal(gt[:, 0], pair.tgt[:, 0]) and np.all((gt[:, 1:] > -1) & (gt[:, 1:] < 64))


def test_a_checkpoint_of_another_part_is_refused(trained):
    cfg = config(None, {"baseline.tcc_checkpoint": str(trained["cats2d"] / "checkpoint")})
    with pytest.raises(StcorrError, match="expected a TCC checkpoint, but it holds a 2D CATs model"):
        build_method("tcc+pose-oracle", cfg, CPU)


def test_cats2d_without_visible_keypoints_is_a_clear_error(tmp_path):
    videos = {f"{i + 1:04d}": {"action": "golf_swing", "train": 1, "n": 8, "key_moments": [2, 5],
                               "visibility": np.zeros((8, N_JOINTS))} for i in range(3)}
    root = make_penn(tmp_path / "penn", videos)
    with pytest.raises(StcorrError, match="no train pairs to learn 2D CATs from"):
        train_baseline(config("cats2d", SMALL), open_dataset(root), tmp_path / "run", progress=False)


def test_tcc_needs_two_train_videos_of_an_action(tmp_path):
    root = make_penn(tmp_path / "penn", {"0001": {"action": "golf_swing", "train": 1, "n": 8},
                                         "0002": {"action": "squat", "train": 1, "n": 8}})
    with pytest.raises(StcorrError, match="at least two train videos of one action"):
        train_baseline(config("tcc", SMALL), open_dataset(root), tmp_path / "run", progress=False)
