"""corrflow-st: CorrFlow's objective on the space-time backbone, and its backbone starting ANTs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stcorr.config import load_config
from stcorr.data.datasets import open_dataset
from stcorr.errors import StcorrError
from stcorr.learners.corrflow import CorrFlowSTLearner
from stcorr.models.backbones import build_backbone, load_backbone_weights
from stcorr.models.checkpoint import load_model_state
from stcorr.models.corrflow_st import CorrFlowST
from stcorr.models.matcher import build_matcher
from stcorr.training.engine import train
from tests.test_corrflow_learner import train_on_two_examples

BACKBONE = {"model.width": 4, "model.grid": [4, 4, 4], "data.clip_len": 8, "data.size": 32}
SMALL_ST = {**BACKBONE, "corrflow.dim": 8, "corrflow.clusters": 4, "corrflow.kmeans_frames": 4, "corrflow.size": 32,
            "corrflow.frames": 4, "corrflow.radius": 3, "train.max_steps": 2, "train.log_every": 1}
FROZEN = {**BACKBONE, "train.max_steps": 1, "train.lr": 0.0, "train.backbone_lr": 0.0, "train.log_every": 1}


def test_the_space_time_encoder_gives_unit_features_for_every_frame():
    model = CorrFlowST("r3d18", width=4, blocks=[1, 1, 1, 1], layers=[0, 1, 2, 3, 4], dim=8).eval()
    features = model(torch.rand(6, 3, 32, 48))
    assert features.shape == (6, 8, 8, 12)
    torch.testing.assert_close(features.norm(dim=1), torch.ones(6, 8, 12))
    assert model.config["kind"] == "corrflow-st" and model.config["layers"] == [0, 1, 2, 3, 4]
    assert CorrFlowST.from_config(model.config).state_dict().keys() == model.state_dict().keys()


def test_the_loss_trains_every_layer_of_the_backbone(golf):
    cfg = load_config("corrflow-st", {**SMALL_ST, "corrflow.drop_prob": 0.0, "corrflow.jitter": 0.0})
    learner = CorrFlowSTLearner(cfg, open_dataset(golf), torch.device("cpu"))
    torch.manual_seed(0)
    model = learner.build_model().train()

    def every_layer_learns(model):
        assert all(getattr(model.backbone, f"layer{k}")[0].conv1[0].weight.grad.abs().sum() > 0 for k in range(1, 5))

    losses = train_on_two_examples(learner, model, steps=6, check_gradients=every_layer_learns)
    assert np.isfinite(losses).all() and losses[-1] < losses[0], losses
    assert {id(p) for p in learner.backbone_parameters(model)} == {id(p) for p in model.backbone.parameters()}


@pytest.fixture(scope="module")
def pretrained(golf, tmp_path_factory):
    """A corrflow-st checkpoint (2 steps) of the golf videos."""
    run = tmp_path_factory.mktemp("st")
    train(load_config("corrflow-st", SMALL_ST), open_dataset(golf), run, progress=False)
    return run / "checkpoint"


def test_a_pretrained_backbone_starts_ants_and_the_aggregator_stays_fresh(golf, pretrained, tmp_path):
    data = open_dataset(golf)
    exported = pretrained / "backbone.safetensors"
    backbone = build_backbone("r3d18", width=4, blocks=[1, 1, 1, 1])
    load_backbone_weights(backbone, exported)  # torchvision's names: what --backbone-weights takes
    weights = backbone.state_dict()

    train(load_config("cpu", FROZEN), data, tmp_path / "ants", init=pretrained, progress=False)
    train(load_config("cpu", FROZEN), data, tmp_path / "fresh", progress=False)
    started, fresh = (build_matcher(load_config("cpu", FROZEN)["model"], load_weights=False) for _ in range(2))
    for model, run in ((started, "ants"), (fresh, "fresh")):
        load_model_state(model, tmp_path / run / "checkpoint" / "model.safetensors")
    for name, value in started.backbone.named_parameters():
        assert torch.equal(value, weights[name]), name
        if not name.startswith("fc."):  # the classifier is not trained by pretraining
            assert not torch.equal(dict(fresh.backbone.named_parameters())[name], value), name
    rest = {n: p for n, p in started.named_parameters() if not n.startswith("features.backbone.")}
    assert rest and all(torch.equal(p, dict(fresh.named_parameters())[n]) for n, p in rest.items())

    by_file = build_matcher({**load_config("cpu", FROZEN)["model"], "weights": str(exported)})
    assert all(torch.equal(v, weights[k]) for k, v in by_file.backbone.named_parameters())


def test_init_refuses_a_backbone_of_another_shape_and_a_model_without_one(golf, pretrained, tmp_path):
    data = open_dataset(golf)
    with pytest.raises(StcorrError, match="weights do not fit"):
        train(load_config("cpu", {**FROZEN, "model.width": 8}), data, tmp_path / "wide", init=pretrained, progress=False)
    with pytest.raises(StcorrError, match="same learner"):
        train(load_config("corrflow-cpu", {**SMALL_ST, "task": "corrflow"}), data, tmp_path / "cf", init=pretrained,
              progress=False)
    assert not (tmp_path / "wide" / "checkpoint").exists() and not (tmp_path / "cf" / "checkpoint").exists()


def test_a_corrflow_st_checkpoint_propagates_keypoints(golf, pretrained):
    from stcorr.evaluation.tracking import tracking_features
    from stcorr.models.propagation import PropagationSettings, propagate_keypoints

    features = tracking_features(pretrained, None, load_config(None, {}))
    assert features.name.startswith("corrflow-st:")
    video = open_dataset(golf).video("0001")
    tracks = propagate_keypoints(video, 0, np.array([[20.0, 20.0]]), features, PropagationSettings.defaults(radius=3, batch_frames=4))
    assert sorted(tracks) == list(range(video.num_frames)) and np.isfinite(np.stack(list(tracks.values()))).all()
