"""The CorrFlow learner: examples drawn from the rng only, a loss that trains, plain video folders, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stcorr.config import load_config
from stcorr.data.datasets import open_dataset
from stcorr.data.datasets import VideoFolder
from stcorr.errors import StcorrError
from stcorr.learners.corrflow import CorrFlowLearner, training_videos
from stcorr.models.registry import model_kind
from tests.conftest import make_penn, write_frames

SMALL = {"task": "corrflow", "corrflow.width": 4, "corrflow.blocks": [1, 1], "corrflow.dim": 8,
         "corrflow.clusters": 4, "corrflow.kmeans_frames": 4, "corrflow.size": 32, "corrflow.frames": 3,
         "corrflow.radius": 3, "train.max_steps": 10}


@pytest.fixture(scope="module")
def penn(tmp_path_factory):
    root = tmp_path_factory.mktemp("penn")
    return make_penn(root, {"0001": {"action": "squat", "n": 8}, "0002": {"action": "squat", "n": 6},
                            "0003": {"action": "squat", "n": 5, "train": -1}})


def learner_for(root, **overrides):
    cfg = load_config(None, {**SMALL, **overrides})
    dataset = root if isinstance(root, VideoFolder) else open_dataset(root)
    return CorrFlowLearner(cfg, dataset, torch.device("cpu"))


def train_on_two_examples(learner, model, steps: int, check_gradients=None) -> list[float]:
    """Adam on the learner's first two examples for ``steps`` steps: the losses (``check_gradients(model)``
    after each backward pass)."""
    examples = [learner.example(g, np.random.default_rng([0, g])) for g in range(2)]
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(steps):
        loss = learner.loss(model, examples)
        optimiser.zero_grad()
        loss.backward()
        if check_gradients is not None:
            check_gradients(model)
        optimiser.step()
        losses.append(float(loss.detach()))
    return losses


def test_examples_depend_only_on_the_rng_and_train_videos_only(penn):
    learner = learner_for(penn)
    assert learner.names == ["0001", "0002"]  # 0003 is in the val split
    a = learner.example(5, np.random.default_rng([0, 5]))
    b = learner.example(5, np.random.default_rng([0, 5]))
    assert a == b
    assert len(a["times"]) == 3 and a["times"] == sorted(a["times"]) and len(a["use_true"]) == 1
    assert learner.clip(a).shape == (3, 3, 32, 32)


def test_the_loss_trains_the_model(penn):
    learner = learner_for(penn, **{"corrflow.drop_prob": 0.0, "corrflow.jitter": 0.0})
    torch.manual_seed(0)
    model = learner.build_model().train()
    assert model.colour_centres.abs().sum() > 0  # k-means fitted on training frames
    losses = train_on_two_examples(learner, model, steps=8)
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    rebuilt = model_kind("corrflow").build(model.config)
    rebuilt.load_state_dict(model.state_dict())
    assert torch.equal(rebuilt.colour_centres, model.colour_centres)


def test_crw_weight_adds_the_random_walk_to_the_learners_loss(penn):
    plain = learner_for(penn, **{"corrflow.drop_prob": 0.0, "corrflow.jitter": 0.0})
    walk = learner_for(penn, **{"corrflow.drop_prob": 0.0, "corrflow.jitter": 0.0, "corrflow.crw_weight": 1.0,
                                "corrflow.crw_edge_dropout": 0.0})
    torch.manual_seed(0)
    model = plain.build_model().train()
    examples = [plain.example(g, np.random.default_rng([0, g])) for g in range(2)]
    assert float(walk.loss(model, examples)) > float(plain.loss(model, examples)) + 0.1  # the walk's loss starts near log(cells)
    losses = train_on_two_examples(walk, model, steps=8)
    assert np.isfinite(losses).all() and losses[-1] < losses[0]


def test_a_plain_folder_of_videos_trains(tmp_path):
    write_frames(tmp_path / "clip_a", 5)
    write_frames(tmp_path / "clip_b", 4, seed=1)
    (tmp_path / "notes.txt").write_text("not a video")
    folder = open_dataset(tmp_path)
    assert isinstance(folder, VideoFolder)
    assert training_videos(folder, "train") == ["clip_a", "clip_b"]
    with pytest.raises(StcorrError, match="no labels and no benchmark pairs"):
        folder.pairs("val")
    learner = learner_for(folder)
    loss = learner.loss(learner.build_model(), [learner.example(0, np.random.default_rng(0))])
    assert torch.isfinite(loss)


def test_bad_input_is_one_line(tmp_path, penn):
    with pytest.raises(StcorrError, match="no videos here"):
        VideoFolder(tmp_path)
    with pytest.raises(StcorrError, match="corrflow.split"):
        training_videos(open_dataset(penn), "test")
    with pytest.raises(StcorrError, match="corrflow.frames"):
        load_config(None, {"corrflow.frames": 1})
