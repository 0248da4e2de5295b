"""`stcorr predict --method NAME` for every method `stcorr eval --list-methods` lists, on two small
videos of one's own (no data set layout, no truth), and `--checkpoint` for every part a method
can take; methods that need the truth or annotated joints are refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from cli_helpers import run_stcorr
from conftest import write_frames
from stcorr.config import load_config
from stcorr.evaluation.methods import list_methods
from stcorr.evaluation.predict import PART_KINDS, Predictor, fills_part, needs_truth, part_setting
from stcorr.models.cats2d import build_cats2d
from stcorr.models.cycle_pose import pose_cycle_from_config
from stcorr.models.embedders import AlignmentEmbedder, build_head
from stcorr.models.frame_features import build_frame_encoder
from stcorr.models.patch_embedding import PatchEmbedding, PatchEmbeddingSettings
from stcorr.training.checkpoint import save_checkpoint

SOURCE_FRAMES, TARGET_FRAMES, SIZE = 10, 13, (64, 48)


def has_mediapipe() -> bool:
    try:
        import mediapipe  # noqa: F401
    except ImportError:
        return False
    return True


def untrained_part(kind: str, cfg: dict) -> torch.nn.Module:
    """The untrained model of a sequential method's part, as its learner would build it."""
    torch.manual_seed(0)
    baseline = cfg["baseline"]
    if kind in ("tcc", "lrprop"):
        encoder = build_frame_encoder("resnet2d", baseline["frames"], cfg["model"])
        return AlignmentEmbedder(kind, encoder, build_head(kind, encoder.dim, baseline[kind]),
                                 baseline["frames"]["size"], baseline["frames"]["batch"])
    if kind == "cats2d":
        return build_cats2d(baseline["cats2d"])
    if kind == "cycle-pose":
        return pose_cycle_from_config(cfg["cycle_pose"])
    return PatchEmbedding(PatchEmbeddingSettings.checked(cfg["cycle"]))


@pytest.fixture(scope="module")
def own_videos(tmp_path_factory) -> dict:
    """Two frame folders, a KP.json with a joint, an object and an unnamed point, and an untrained
    checkpoint of every trained part a method takes."""
    root = tmp_path_factory.mktemp("own")
    write_frames(root / "source", SOURCE_FRAMES, SIZE, seed=3)
    write_frames(root / "target", TARGET_FRAMES, SIZE, seed=4)
    kp = root / "kp.json"
    kp.write_text(json.dumps({"keypoints": [{"name": "left_wrist", "t": 2, "x": 10.0, "y": 12.5},
                                            {"name": "club_head", "t": 5, "x": 40, "y": 30},
                                            {"t": 9, "x": 63.0, "y": 0}]}))
    cfg = load_config(None, {"cycle.size": 64})
    parts = {}
    for kind in PART_KINDS:
        parts[kind] = save_checkpoint(root / kind, untrained_part(kind, cfg), None, {**cfg, "task": kind}, 0, 0.0)
    return {"root": root, "kp": kp, "parts": parts}


def method_parts(name: str, parts: dict) -> list[str]:
    """--set baseline.KIND_checkpoint=... for each trained part of method ``name``."""
    return [arg for kind in PART_KINDS if fills_part(kind, name)
            for arg in ("--set", f"{part_setting(kind)}={parts[kind]}")]


@pytest.mark.parametrize("name", list_methods())
def test_every_listed_method_predicts_on_two_videos_or_says_why_not(name, own_videos, tmp_path):
    uses_pose = "pose" in name.replace("pose-oracle", "")
    if uses_pose and needs_truth(name) is None and not has_mediapipe():
        pytest.skip("mediapipe is not installed")
    root, out = own_videos["root"], tmp_path / "pred.json"
    run = run_stcorr("predict", "--method", name, "--source", root / "source", "--target", root / "target",
                     "--keypoints", own_videos["kp"], "--out", out, "--device", "cpu",
                     *method_parts(name, own_videos["parts"]))
    if needs_truth(name) is not None:
        assert run.one_line_error and "two videos of your own do not have" in run.stderr, run.stderr
        assert not out.exists()
        return
    assert run.returncode == 0, run.stderr
    assert f"method: {name}" in run.stderr  # messages go to stderr (stcorr.console)
    pred = json.loads(out.read_text())
    assert pred["method"] == name and [k["name"] for k in pred["keypoints"]] == ["left_wrist", "club_head", None]
    for kp in pred["keypoints"]:
        t, x, y = kp["target"]
        assert 0 <= t < TARGET_FRAMES and float(t).is_integer()
        assert -0.5 <= x <= SIZE[0] - 0.5 and -0.5 <= y <= SIZE[1] - 0.5
        assert isinstance(kp["score"], float) and 0.0 <= kp["score"] <= 1.0  # every method gives a confidence


@pytest.mark.parametrize("kind", PART_KINDS)
def test_a_part_checkpoint_alone_runs_in_its_method(kind, own_videos):
    if kind != "cats2d" and not has_mediapipe():
        pytest.skip("mediapipe is not installed")
    predictor = Predictor.from_checkpoint(own_videos["parts"][kind], "cpu")
    assert fills_part(kind, predictor.name) and str(own_videos["parts"][kind]) in predictor.checkpoint
    root = own_videos["root"]
    result = predictor.predict(root / "source", root / "target", [[1, 5.0, 5.0], [8, 30.0, 20.0]])
    assert result.points.shape == (2, 3) and np.all(result.points[:, 0] < TARGET_FRAMES)


def test_the_default_method_is_said(own_videos, tmp_path):
    root = own_videos["root"]
    run = run_stcorr("predict", "--source", root / "source", "--target", root / "target",
                     "--keypoints", own_videos["kp"], "--out", tmp_path / "p.json", "--device", "cpu")
    assert run.returncode == 0, run.stderr
    expected = "dtw-pose+pose" if has_mediapipe() else "st-match"
    assert f"method: {expected}" in run.stderr and json.loads((tmp_path / "p.json").read_text())["method"] == expected


def test_a_checkpoint_the_method_does_not_take_is_refused(own_videos, tmp_path):
    root = own_videos["root"]
    run = run_stcorr("predict", "--method", "dtw+cats2d", "--checkpoint", own_videos["parts"]["tcc"],
                     "--source", root / "source", "--target", root / "target",
                     "--keypoints", own_videos["kp"], "--out", tmp_path / "p.json", "--device", "cpu")
    assert run.one_line_error and "has no part that a TCC checkpoint fills" in run.stderr, run.stderr


def test_from_method_in_python_matches_the_command(own_videos, tmp_path):
    root = own_videos["root"]
    kp = json.loads(own_videos["kp"].read_text())["keypoints"]
    points = [[k["t"], k["x"], k["y"]] for k in kp]
    result = Predictor.from_method("dtw+cats2d", checkpoint=own_videos["parts"]["cats2d"]).predict(
        root / "source", root / "target", points, [k.get("name") for k in kp])
    run = run_stcorr("predict", "--method", "dtw+cats2d", "--checkpoint", own_videos["parts"]["cats2d"],
                     "--source", root / "source", "--target", root / "target",
                     "--keypoints", own_videos["kp"], "--out", tmp_path / "p.json", "--device", "cpu")
    assert run.returncode == 0, run.stderr
    written = np.array([k["target"] for k in json.loads((tmp_path / "p.json").read_text())["keypoints"]])
    np.testing.assert_allclose(written, result.points, atol=1e-3)
    np.testing.assert_allclose([k["score"] for k in json.loads((tmp_path / "p.json").read_text())["keypoints"]],
                               result.scores, atol=1e-4)
    assert Path(result.method) == Path("dtw+cats2d")
