"""Keypoint tracking PCK (JHMDB protocol) and the tracking evaluation's RESULTS.json."""

from __future__ import annotations

import numpy as np
import pytest

from stcorr.data.datasets import open_dataset
from stcorr.errors import StcorrError
from stcorr.evaluation.tracking import evaluate_tracking, tracked_videos
from stcorr.metrics.tracking import box_normaliser, pck_summary, tracking_correct
from stcorr.models.propagation import PixelFeatures, PropagationSettings
from tests.cli_helpers import run_stcorr as stcorr
from tests.conftest import make_penn


def test_pck_uses_the_box_of_each_frames_labelled_joints():
    truth = np.array([[[0.0, 0.0], [100.0, 50.0], [7.0, 7.0]]] * 3)  # box 100 x 50 -> normaliser 100
    labelled = np.array([[True, True, False]] * 3)
    np.testing.assert_allclose(box_normaliser(truth, labelled), [100.0, 100.0, 100.0])
    predicted = truth.copy()
    predicted[1, 0] += [15.0, 0.0]   # 0.15 of the box: correct at 0.2 only
    predicted[2, 1] += [0.0, 5.0]    # 0.05: correct at both
    predicted[:, 2] += 1000.0        # unlabelled: never scored
    predicted[0] += 500.0            # the query frame: never scored
    correct, scored = tracking_correct(predicted, truth, labelled)
    assert scored.sum() == 4
    summary = pck_summary({a: [c] for a, c in correct.items()}, [scored])
    assert summary == {"n_points": 4, "PCK@0.1": 0.75, "PCK@0.2": 1.0}


def test_a_joint_unlabelled_in_the_first_frame_is_not_scored():
    truth = np.zeros((2, 2, 2))
    truth[:, 1] = 10.0
    labelled = np.array([[True, False], [True, True]])
    _, scored = tracking_correct(truth, truth, labelled)
    assert scored.tolist() == [[False, False], [True, False]]


def test_evaluate_tracking_writes_the_spec_fields(tmp_path):
    n = 4
    x = np.tile(np.linspace(10, 50, 13), (n, 1))
    y = np.tile(np.linspace(8, 40, 13), (n, 1))
    root = make_penn(tmp_path / "d", {"0001": {"action": "squat", "n": n, "train": -1, "x": x, "y": y},
                                      "0002": {"action": "bowl", "n": n, "train": 1, "x": x, "y": y}})
    dataset = open_dataset(root)
    results = evaluate_tracking(dataset, PixelFeatures(), PropagationSettings.defaults(radius=3), split="val", progress=False)
    for key in ("task", "method", "data", "n_videos", "n_points", "PCK@0.1", "PCK@0.2", "per_action"):
        assert key in results
    assert results["task"] == "track" and results["method"] == "pixels"
    assert results["n_videos"] == 1 and results["n_points"] == 13 * (n - 1)
    assert list(results["per_action"]) == ["squat"]
    assert 0.0 <= results["PCK@0.1"] <= results["PCK@0.2"] <= 1.0
    assert tracked_videos(dataset, "all") == ["0001", "0002"]


def test_tracking_needs_per_frame_labels(tmp_path):
    (tmp_path / "pairs.json").write_text("[]")
    with pytest.raises(StcorrError, match="Penn Action layout"):
        tracked_videos(open_dataset(tmp_path), "val")


def test_propagate_and_eval_track_from_the_command_line(tmp_path):
    import json

    n = 3
    x = np.tile(np.linspace(10, 50, 13), (n, 1))
    y = np.tile(np.linspace(8, 40, 13), (n, 1))
    root = make_penn(tmp_path / "d", {"0001": {"action": "squat", "n": n, "train": -1, "x": x, "y": y}})
    kp = tmp_path / "kp.json"
    kp.write_text(json.dumps({"keypoints": [{"name": "a", "t": 1, "x": 20.0, "y": 30.0}, {"name": None, "t": 0, "x": 5, "y": 5}]}))
    small = ["--set", "corrflow.propagation.radius=3"]
    done = stcorr("propagate", "--video", root / "frames" / "0001", "--keypoints", kp, "--features", "pixels",
                  "--out", tmp_path / "tracks.json", "--viz", tmp_path / "tracks.mp4", "--backward", *small)
    assert done.returncode == 0, done.stderr
    tracks = json.loads((tmp_path / "tracks.json").read_text())
    assert tracks["video"] == "0001" and tracks["checkpoint"] is None
    assert [t["name"] for t in tracks["tracks"]] == ["a", None]
    assert tracks["tracks"][0]["query"] == [1, 20.0, 30.0]
    assert [p[0] for p in tracks["tracks"][0]["points"]] == [0, 1, 2]
    assert tracks["tracks"][0]["points"][1][1:3] == [20.0, 30.0]
    assert (tmp_path / "tracks.mp4").stat().st_size > 0

    done = stcorr("eval", "--task", "track", "--data", root, "--features", "untrained", "--out", tmp_path / "r.json",
                  "--no-progress", *small)
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "r.json").read_text())
    assert results["task"] == "track" and results["n_points"] == 13 * (n - 1)


def test_tracking_commands_refuse_bad_input_in_one_line(tmp_path):
    import json

    write = tmp_path / "kp.json"
    write.write_text(json.dumps({"keypoints": [{"name": "a", "t": 9, "x": 1, "y": 1}]}))
    root = make_penn(tmp_path / "d", {"0001": {"action": "squat", "n": 2}})
    cases = [
        (["propagate", "--video", root / "frames" / "0001", "--keypoints", write, "--features", "pixels", "--out", tmp_path / "t.json"], "outside the video"),
        (["propagate", "--video", root / "frames" / "0001", "--keypoints", write, "--features", "colour", "--out", tmp_path / "t.json"], "--features takes"),
        (["propagate", "--video", root / "frames" / "0001", "--keypoints", write, "--out", tmp_path / "t.json"], "exactly one of"),
        (["eval", "--task", "track", "--data", root, "--features", "pixels", "--checkpoint", tmp_path / "ckpt", "--out", tmp_path / "r.json"], "exactly one of"),
        (["eval", "--task", "tracking", "--data", root, "--features", "pixels", "--out", tmp_path / "r.json"], "--task takes"),
    ]
    for args, message in cases:
        done = stcorr(*args)
        assert done.one_line_error and message in done.stderr, (args, done.stderr)
    assert not (tmp_path / "t.json").exists() and not (tmp_path / "r.json").exists()
