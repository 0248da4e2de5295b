"""The cpnet learner: forward/reversed labels, training through the engine, scoring (exact resume:
tests/test_learners.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from stcorr.config import load_config
from stcorr.data.datasets import open_dataset
from stcorr.errors import StcorrError
from stcorr.models.action_clips import actions_of, class_names, clip_window, evaluate_classifier, even_times
from stcorr.learners import learner_class
from stcorr.learners.cpnet import CPNetLearner, clip_times
from stcorr.models.checkpoint import load_checkpoint
from stcorr.training.engine import train
from tests.conftest import make_penn

SMALL = {"task": "cpnet", "cpnet.clip_len": 4, "cpnet.size": 32, "cpnet.width_multiplier": 0.125,
         "cpnet.blocks": [1, 1, 1, 1], "cpnet.placements": ["res3.0"], "cpnet.k": 2, "cpnet.val_batch": 3,
         "train.batch_size": 4, "train.max_steps": 4, "train.checkpoint_every": 2, "train.log_every": 1,
         "train.val_every": 2}


def brightening_frames(folder, n: int) -> None:
    """Frames whose grey level rises with time (frame t: 10 + 12 t), so time order can be read off."""
    for t in range(n):
        Image.fromarray(np.full((24, 32, 3), 10 + 12 * t, np.uint8)).save(folder / f"{t + 1:06d}.jpg")


@pytest.fixture(scope="module")
def penn(tmp_path_factory):
    videos = {f"{i + 1:04d}": {"action": action, "train": 1 if i % 3 else -1, "n": 12 + i % 4}
              for i, action in enumerate(["squat"] * 6 + ["golf_swing"] * 6)}
    root = make_penn(tmp_path_factory.mktemp("penn"), videos)
    for name, spec in videos.items():
        for old in (root / "frames" / name).iterdir():
            old.unlink()
        brightening_frames(root / "frames" / name, spec["n"])
    return root


def config(**overrides):
    return load_config("cpnet", {**SMALL, **overrides})


def test_classes_are_actions_times_directions():
    names = class_names(["golf_swing", "squat"])
    assert names == ["golf_swing forward", "golf_swing reversed", "squat forward", "squat reversed"]
    assert actions_of(names) == ["golf_swing", "squat"]
    assert even_times(10, 4).tolist() == [1, 3, 6, 8]
    assert even_times(3, 5).tolist() == [0, 0, 1, 2, 2]
    for seed in range(50):
        times = clip_times(13, 4, np.random.default_rng(seed), 0.7)
        assert len(times) == 4 and (np.diff(times) > 0).all() and 0 <= times[0] and times[-1] < 13, times
    assert clip_times(3, 4, np.random.default_rng(0), 0.7).tolist() in ([0, 0, 1, 2], [0, 1, 1, 2], [0, 1, 2, 2])


def test_reversed_clips_get_the_reversed_label(penn):
    learner = CPNetLearner(config(**{"cpnet.crop": 1.0}), open_dataset(penn), torch.device("cpu"))
    assert learner.actions == ["golf_swing", "squat"]
    directions = []
    for g in range(12):
        example = learner.example(g, np.random.default_rng([0, g]))
        brightness = example["clip"].mean(dim=(0, 2, 3))  # (T,)
        steps = torch.diff(brightness)
        reversed_label = example["label"] % 2 == 1
        assert (steps < 0).all() if reversed_label else (steps > 0).all(), (example["label"], brightness)
        directions.append(reversed_label)
    assert 0 < sum(directions) < len(directions)
    again = learner.example(5, np.random.default_rng([0, 5]))
    first = learner.example(5, np.random.default_rng([0, 5]))
    assert torch.equal(again["clip"], first["clip"]) and again["label"] == first["label"]


def test_the_moments_window_is_the_key_moments_span_widened():
    from types import SimpleNamespace

    assert clip_window(SimpleNamespace(key_moments=[40, 60, 52]), 150, "moments") == (30, 71)
    assert clip_window(SimpleNamespace(key_moments=[2, 5]), 20, "moments") == (0, 10)  # at least 4 frames each side
    assert clip_window(SimpleNamespace(key_moments=[95, 98]), 100, "moments") == (91, 100)
    assert clip_window(SimpleNamespace(key_moments=None), 30, "moments") == (0, 30)  # no key moments: the video
    assert clip_window(SimpleNamespace(key_moments=[40, 60]), 150, "video") == (0, 150)
    with pytest.raises(StcorrError, match="window"):
        clip_window(SimpleNamespace(key_moments=[1]), 10, "middle")


def test_train_clips_come_from_the_moments_window(penn):
    dataset = open_dataset(penn)
    for labels in dataset.labels.values():
        labels.key_moments = [5, 7]  # window: frames 1 to 11
    learner = CPNetLearner(config(**{"cpnet.crop": 1.0, "cpnet.window": "moments", "cpnet.min_span": 0.3}),
                           dataset, torch.device("cpu"))
    seen = set()
    for g in range(20):
        clip = learner.example(g, np.random.default_rng([1, g]))["clip"]
        frames = torch.round((clip.mean(dim=(0, 2, 3)) * 255 - 10) / 12).int().tolist()  # brightness 10 + 12 t
        seen.update(frames)
    assert min(seen) >= 1 and max(seen) <= 11 and len(seen) > 4, sorted(seen)
    assert learner.build_model().config["window"] == "moments"


def test_c2d_cannot_tell_the_directions_apart(penn):
    learner = CPNetLearner(config(**{"cpnet.network": "c2d"}), open_dataset(penn), torch.device("cpu"))
    results = evaluate_classifier(learner.build_model(), open_dataset(penn), "val", batch=3)
    assert results["n_videos"] == 4 and results["n_clips"] == 8 and results["chance"] == 0.25
    assert results["direction_accuracy"] == 0.5  # the same logits for a clip and its reverse
    assert set(results["per_action"]) == {"golf_swing", "squat"}


def test_cp_options_reach_the_modules_and_the_checkpoint_config(penn):
    learner = CPNetLearner(config(**{"cpnet.oriented": True, "cpnet.cp_init_scale": 1.0}), open_dataset(penn),
                           torch.device("cpu"))
    model = learner.build_model()
    (module,) = model.net.cp.values()
    assert module.oriented and torch.equal(module.project_norm.weight, torch.ones_like(module.project_norm.weight))
    assert model.config["oriented"] is True and model.config["cp_init_scale"] == 1.0
    assert not any(m.oriented for m in CPNetLearner(config(), open_dataset(penn), torch.device("cpu")).build_model()
                   .net.cp.values())
    with pytest.raises(StcorrError, match="cp_init_scale"):
        config(**{"cpnet.cp_init_scale": -1.0})


@pytest.mark.parametrize("network", ["cpnet", "r3d"])
def test_training_plugs_into_the_engine(penn, tmp_path, network):
    cfg = config(**{"cpnet.network": network})
    assert learner_class("cpnet") is CPNetLearner
    whole = train(cfg, open_dataset(penn), tmp_path / "whole", progress=False)
    assert np.isfinite(whole.losses).all() and len(whole.losses) == 4
    val_log = (tmp_path / "whole" / "val_log.csv").read_text().splitlines()
    assert val_log[0].startswith("step,accuracy,action_accuracy,direction_accuracy") and len(val_log) == 3
    model, info = load_checkpoint(tmp_path / "whole" / "checkpoint", "cpnet")
    assert info["model"]["network"] == network and model.classes == class_names(["golf_swing", "squat"])
    assert 0 <= evaluate_classifier(model, open_dataset(penn))["accuracy"] <= 1


def test_bad_input_is_one_line(penn, tmp_path):
    with pytest.raises(StcorrError, match="cpnet.network"):
        config(**{"cpnet.network": "i3d"})
    with pytest.raises(StcorrError, match="placement"):
        CPNetLearner(config(**{"cpnet.placements": ["res3.1"]}), open_dataset(penn), torch.device("cpu")).build_model()
    pairs_root = tmp_path / "pairs"
    (pairs_root / "frames" / "a").mkdir(parents=True)
    brightening_frames(pairs_root / "frames" / "a", 3)
    (pairs_root / "pairs.json").write_text('[{"source": "a", "target": "a", "split": "train", "correspondences": []}]')
    with pytest.raises(StcorrError, match="Penn Action-layout"):
        CPNetLearner(config(), open_dataset(pairs_root), torch.device("cpu"))


def test_train_and_score_from_the_command_line(penn, tmp_path):
    import json

    from tests.cli_helpers import run_stcorr

    sets = [arg for key, value in SMALL.items() if key != "task"
            for arg in ("--set", f"{key}={json.dumps(value).replace(' ', '')}")]
    trained = run_stcorr("train", "--config", "cpnet", "--data", penn, "--out", tmp_path / "run", "--max-steps", 2,
                         "--set", "cpnet.network=c2d", *sets, "--no-progress")
    assert trained.returncode == 0, trained.stderr
    scored = run_stcorr("eval", "--task", "classify", "--data", penn, "--checkpoint", tmp_path / "run" / "checkpoint",
                        "--out", tmp_path / "r.json", "--no-progress")
    assert scored.returncode == 0, scored.stderr
    results = json.loads((tmp_path / "r.json").read_text())
    assert results["task"] == "classify" and results["method"] == "c2d" and results["n_clips"] == 8
    assert results["direction_accuracy"] == 0.5 and "direction 50.0%" in scored.stderr
    missing = run_stcorr("eval", "--task", "classify", "--data", penn, "--out", tmp_path / "r2.json")
    assert missing.one_line_error and "--checkpoint" in missing.stderr
    (tmp_path / "other").mkdir()
    foreign = run_stcorr("eval", "--task", "classify", "--data", penn, "--checkpoint", tmp_path / "other",
                         "--out", tmp_path / "r2.json")
    assert foreign.one_line_error, foreign.stderr


def test_pose_input_adds_the_maps_and_a_cpnet_on_them_sees_the_order(penn):
    from stcorr.models.action_clips import read_input
    from stcorr.pose.maps import dataset_joints

    dataset = open_dataset(penn)
    learner = CPNetLearner(config(**{"cpnet.input": "rgb+pose"}), dataset, torch.device("cpu"))
    example = learner.example(0, np.random.default_rng(0))
    assert example["clip"].shape == (8, 4, 32, 32)  # RGB + 5 joint-group maps, clip_len 4, 32 px
    assert 0 <= example["clip"][3:].min() and example["clip"][3:].max() <= 1 and example["clip"][3:].amax() > 0.3
    name = sorted(dataset.labels)[0]
    video, joints = dataset.video(name), dataset_joints(dataset, name, None, None)
    plain = read_input(video, [0, 2, 4, 6], 32, "rgb+pose", joints)
    mirrored = read_input(video, [0, 2, 4, 6], 32, "rgb+pose", joints, flip=True)
    assert torch.equal(mirrored[:3], plain[:3].flip(-1))
    assert torch.equal(mirrored[3 + 1], plain[3 + 2].flip(-1)) and torch.equal(mirrored[3 + 4], plain[3 + 3].flip(-1))
    assert read_input(video, [0, 2, 4, 6], 32, "pose", joints).shape == (5, 4, 32, 32)

    clips = torch.stack([plain, plain.flip(1)])  # a clip and its reverse
    torch.manual_seed(0)
    cpnet = CPNetLearner(config(**{"cpnet.input": "rgb+pose"}), dataset, torch.device("cpu")).build_model().eval()
    for module in cpnet.net.cp.values():
        torch.nn.init.constant_(module.project_norm.weight, 1.0)  # the CP branch open (it starts as the identity)
    logits = cpnet(clips)
    assert (logits[0] - logits[1]).abs().max() > 1e-4
    c2d = CPNetLearner(config(**{"cpnet.input": "rgb+pose", "cpnet.network": "c2d"}), dataset,
                       torch.device("cpu")).build_model().eval()
    assert torch.allclose(*c2d(clips), atol=1e-5)
    assert c2d.config["input"] == "rgb+pose"
