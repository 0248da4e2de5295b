"""The model verbs end to end on a tiny data set: eval, predict (with --viz), and their bad input."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stcorr.config import load_config
from stcorr.data.datasets import open_dataset
from stcorr.training.engine import train

from conftest import make_penn

TINY = {"data.clip_len": 8, "data.size": 32, "model.grid": [4, 4, 4], "model.width": 8,
        "train.max_steps": 1, "train.val_every": 0}


def stcorr(*args):
    return subprocess.run([sys.executable, "-m", "stcorr.cli.main", *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("m")
    videos = {f"{i + 1:04d}": {"action": "bowl", "train": 1 if i < 3 else -1, "n": 14 + i, "key_moments": [2, 10]} for i in range(6)}
    data = make_penn(root / "penn", videos)
    train(load_config("cpu", TINY), open_dataset(data), root / "run", progress=False)
    return data, root / "run" / "checkpoint"


def test_eval_checkpoint_and_method_write_results_with_predictions(trained, tmp_path):
    data, ckpt = trained
    run = stcorr("eval", "--data", data, "--checkpoint", ckpt, "--out", tmp_path / "r.json",
                 "--save-predictions", tmp_path / "p.json", "--no-progress")
    assert run.returncode == 0, run.stderr
    results = json.loads((tmp_path / "r.json").read_text())
    assert results["method"] == "ants" and results["n_pairs"] == 6 and results["predictions"] == "p.json"
    assert results["config"]["data"]["clip_len"] == 8
    preds = json.loads((tmp_path / "p.json").read_text())
    assert len(preds) == 6 and {"truth", "correct", "type"} <= set(preds[0]["keypoints"][0])
    # docs/formats.md#predjson: score is a float
    assert all(isinstance(kp["score"], float) for p in preds for kp in p["keypoints"])
    # the saved predictions score to the same figures through `stcorr score`
    rescored = stcorr("score", "--data", data, "--predictions", tmp_path / "p.json", "--out", tmp_path / "s.json")
    assert rescored.returncode == 0, rescored.stderr
    again = json.loads((tmp_path / "s.json").read_text())
    assert [again[k] for k in ("T@1", "T@3", "T@5")] == [results[k] for k in ("T@1", "T@3", "T@5")]


def test_predict_writes_native_keypoints_and_a_picture(trained, tmp_path):
    data, ckpt = trained
    kp = tmp_path / "kp.json"
    kp.write_text(json.dumps({"keypoints": [{"name": "head", "t": 2, "x": 10.0, "y": 12.5}, {"name": None, "t": 10, "x": 40, "y": 30}]}))
    run = stcorr("predict", "--checkpoint", ckpt, "--source", data / "frames/0001", "--target", data / "frames/0004",
                 "--keypoints", kp, "--out", tmp_path / "pred.json", "--viz", tmp_path / "viz.png")
    assert run.returncode == 0, run.stderr
    pred = json.loads((tmp_path / "pred.json").read_text())
    assert pred["source"] == "0001" and pred["target"] == "0004" and len(pred["keypoints"]) == 2
    for kp_out in pred["keypoints"]:
        t, x, y = kp_out["target"]
        assert 0 <= t < 17 and -0.5 <= x <= 63.5 and -0.5 <= y <= 47.5  # native frame and pixels of 0004
    assert (tmp_path / "viz.png").stat().st_size > 1000
    # PRED.json is read by the verb that reads predictions
    scored = stcorr("score", "--data", data, "--predictions", tmp_path / "pred.json", "--out", tmp_path / "s.json")
    assert scored.returncode == 0, scored.stderr


@pytest.mark.parametrize("content, message", [
    ({"keypoints": []}, "the keypoint list is empty"),
    ({"keypoints": [{"t": 99, "x": 1, "y": 1}]}, "keypoint t=99 is not a frame"),
    ({"keypoints": [{"t": 1, "x": 500, "y": 1}]}, "is outside the 64x48 frame"),
    ({"keypoints": [{"t": 1.5, "x": 1, "y": 1}]}, "keypoint 0: needs a whole frame index"),
    ([1, 2], "expected {\"keypoints\""),
])
def test_predict_bad_keypoints(trained, tmp_path, content, message):
    data, ckpt = trained
    kp = tmp_path / "kp.json"
    kp.write_text(json.dumps(content))
    run = stcorr("predict", "--checkpoint", ckpt, "--source", data / "frames/0001", "--target", data / "frames/0004",
                 "--keypoints", kp, "--out", tmp_path / "pred.json")
    assert run.returncode == 2 and message in run.stderr and "kp.json" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and not (tmp_path / "pred.json").exists()


def test_predict_bad_checkpoint_and_video(trained, tmp_path):
    data, ckpt = trained
    kp = tmp_path / "kp.json"
    kp.write_text(json.dumps({"keypoints": [{"t": 1, "x": 1, "y": 1}]}))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 50)
    for args, message in [
        (["--checkpoint", data / "labels", "--source", data / "frames/0001"], "not an stcorr checkpoint"),
        (["--checkpoint", ckpt, "--source", broken], "broken.mp4: cannot decode video"),
    ]:
        run = stcorr("predict", *args, "--target", data / "frames/0004", "--keypoints", kp, "--out", tmp_path / "o.json")
        assert run.returncode == 2 and message in run.stderr, run.stderr
        assert not (tmp_path / "o.json").exists()


def test_eval_needs_exactly_one_of_checkpoint_and_method(trained, tmp_path):
    data, ckpt = trained
    run = stcorr("eval", "--data", data, "--out", tmp_path / "r.json")
    assert run.returncode == 2 and "exactly one of --checkpoint and --method" in run.stderr
    run = stcorr("eval", "--data", data, "--method", "magic", "--out", tmp_path / "r.json")
    assert run.returncode == 2 and "unknown method 'magic'" in run.stderr
    listing = stcorr("eval", "--list-methods")
    assert listing.returncode == 0 and "st-match" in listing.stdout.split()


def test_a_joint_model_has_a_check_figure_that_moves_with_its_weights(trained, tmp_path):
    """What a shipped joint model's card carries (stcorr.evaluation.shipped_checks): the same
    figures twice, and other figures once the weights change."""
    from safetensors.torch import load_file, save_file

    from stcorr.evaluation.shipped_checks import check_figures

    _, ckpt = trained
    first = check_figures(ckpt, tmp_path)
    assert set(first) == {"T@1", "T@3", "T@5", "mean_t", "mean_x", "mean_y"}
    assert check_figures(ckpt, tmp_path) == first
    changed = tmp_path / "changed"
    shutil.copytree(ckpt, changed)
    weights = load_file(changed / "model.safetensors")
    save_file({k: v * 1.5 if v.is_floating_point() else v for k, v in weights.items()}, changed / "model.safetensors")
    moved = check_figures(changed, tmp_path)
    assert any(abs(moved[k] - first[k]) > 0.02 for k in ("mean_t", "mean_x", "mean_y"))
