"""The cycle learner on the one engine: examples, tracks, a few steps that lower the loss, the CLI."""

import numpy as np
import pytest
import torch

from cli_helpers import run_stcorr
from stcorr.models.cycle_use import chunk_times
from stcorr.config import load_config
from stcorr.data.datasets import open_dataset
from stcorr.data.tracks import boxes_at, joint_tracks, runs
from stcorr.learners.cycle import CycleLearner
from stcorr.training.engine import train

SMALL = {"cycle.size": 64, "cycle.chunks": 4, "cycle.hidden": 64, "cycle.temperature": 0.1,
         "train.lr": 0.002, "train.backbone_lr": 0.002, "train.checkpoint_every": 100}


def small_config(**more):
    return load_config("cycle", {**SMALL, **more})


def test_joint_tracks_split_at_gaps_and_drop_short_runs(golf):
    labels = open_dataset(golf).labels["0001"]
    labels.visible[:, 0] = True
    labels.visible[5:7, 0] = False    # head: runs of 5 and 13 frames
    labels.visible[:, 1] = False
    labels.visible[10:13, 1] = True   # left shoulder: one run of 3 frames, dropped
    tracks = joint_tracks(labels, 0.3)
    heads = [t for t in tracks if t.name == "head"]
    assert [(t.times[0], len(t)) for t in heads] == [(0, 5), (7, 13)]
    assert not [t for t in tracks if t.name == "left_shoulder"]
    centre = (heads[0].boxes[:, :2] + heads[0].boxes[:, 2:]) / 2
    np.testing.assert_allclose(centre, np.column_stack([labels.x[:5, 0], labels.y[:5, 0]]) + 0.5)
    boxes, valid = boxes_at(heads, np.array([0, 5, 8]))
    assert valid.tolist() == [[True, False, False], [False, False, True]]
    assert runs(np.array([1, 1, 0, 1], bool)) == [(0, 2), (3, 4)]


def test_chunk_times_take_one_frame_per_chunk():
    times = chunk_times(20, 8, np.random.default_rng(0))
    edges = np.floor(np.linspace(0, 20, 9))
    assert (np.searchsorted(edges, times, side="right") - 1).tolist() == list(range(8))
    assert chunk_times(16, 4).tolist() == [1, 5, 9, 13]
    assert chunk_times(8, 8, np.random.default_rng(1)).tolist() == list(range(8))


def test_examples_pair_two_train_videos_of_one_action(golf):
    learner = CycleLearner(small_config(), open_dataset(golf), torch.device("cpu"))
    assert set(learner.tracks) == {f"{i:04d}" for i in range(1, 6)}  # the train split only
    e = learner.example(3, np.random.default_rng([0, 3]))
    again = learner.example(3, np.random.default_rng([0, 3]))
    assert e["frames"].shape == (2, 4, 3, 64, 64) and e["boxes"].shape == (2, 13, 4, 4)
    assert torch.equal(e["boxes"], again["boxes"]) and torch.equal(e["frames"], again["frames"])
    assert e["valid"].all()


def test_a_few_steps_lower_the_loss(golf, tmp_path):
    cfg = small_config(**{"train.max_steps": 12})
    dataset = open_dataset(golf)
    learner = CycleLearner(cfg, dataset, torch.device("cpu"))
    fixed = [learner.example(g, np.random.default_rng([cfg["seed"], g])) for g in range(4)]

    def held_loss(model):
        model.train()  # BatchNorm as in training
        with torch.no_grad():
            return float(learner.loss(model, fixed))

    torch.manual_seed(cfg["seed"])
    before = held_loss(learner.build_model())
    result = train(cfg, dataset, tmp_path / "run", progress=False)
    from stcorr.models.checkpoint import load_checkpoint

    model, info = load_checkpoint(tmp_path / "run" / "checkpoint", "cycle")
    assert info["step"] == 12
    after = held_loss(model)
    assert after < before - 0.02, (before, after, result.losses)


def test_cli_trains_and_refuses_a_pairs_layout(golf, tmp_path):
    run = run_stcorr("train", "--config", "cycle", "--data", golf, "--out", tmp_path / "run", "--max-steps", "1",
                     *[a for k, v in SMALL.items() for a in ("--set", f"{k}={v}")])
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "run" / "checkpoint" / "model.safetensors").is_file()
    (tmp_path / "pairs").mkdir()
    (tmp_path / "pairs" / "pairs.json").write_text("[]")
    bad = run_stcorr("train", "--config", "cycle", "--data", tmp_path / "pairs", "--out", tmp_path / "run2")
    assert bad.one_line_error, bad.stderr
