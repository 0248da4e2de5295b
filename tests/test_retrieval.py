"""Retrieval by pose sequences aligned in time, with a calibrated score (stcorr.baselines.retrieval),
and `stcorr retrieve` on data sets and plain folders of videos."""

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from cli_helpers import run_stcorr
from stcorr.baselines.retrieval import (ANNOTATED_RETRIEVAL, PoseDistance, Ranked, calibrate, dtw_distance,
                                        precision_at_1, rank_videos, ranking_rows)
from stcorr.pose.descriptors import pose_descriptors
from stcorr.pose.skeleton import JOINTS

REAL_DEV = Path(__file__).resolve().parents[2] / "shared" / "real-dev"
SMALL = ["--set", "cycle.size=64", "--set", "cycle.chunks=4", "--set", "cycle.hidden=64"]
J = {name: k for k, name in enumerate(JOINTS)}


def body(n: int, lift) -> tuple[np.ndarray, np.ndarray]:
    """Joints (n, 13, 2) of a standing body whose arms rise by ``lift(phase)`` (phase 0..1), and
    confidences (n, 13) of 1."""
    base = {"head": (0, -60), "left_shoulder": (-15, -45), "right_shoulder": (15, -45), "left_elbow": (-20, -25),
            "right_elbow": (20, -25), "left_wrist": (-22, -5), "right_wrist": (22, -5), "left_hip": (-10, 0),
            "right_hip": (10, 0), "left_knee": (-11, 25), "right_knee": (11, 25), "left_ankle": (-12, 50),
            "right_ankle": (12, 50)}
    xy = np.zeros((n, len(JOINTS), 2))
    for t, phase in enumerate(np.linspace(0, 1, n)):
        for name, (x, y) in base.items():
            rise = lift(phase) * (40 if "wrist" in name else 20 if "elbow" in name else 0)
            xy[t, J[name]] = (100 + x * (1 + 0.5 * rise / 40), 100 + y - rise)
    return xy, np.ones((n, len(JOINTS)))


def slow_up_fast_down(phase: float) -> float:
    return phase / 0.8 if phase < 0.8 else (1 - phase) / 0.2


def test_calibrate_gives_probabilities_and_margins_from_the_candidates_spread():
    probability, margin, tau = calibrate(np.array([0.0, 1.0, 1.2, 2.0, np.inf]))
    assert probability.sum() == pytest.approx(1.0) and probability[-1] == 0.0
    assert np.argmax(probability) == 0 and np.all(np.diff(probability[:4]) < 0)
    assert tau == pytest.approx(np.std([0.0, 1.0, 1.2, 2.0]))
    assert margin[0] == pytest.approx(1.0 / tau) and np.all(margin[1:] < 0)
    same, flat, _ = calibrate(np.array([0.5, 0.5, 0.5]))
    assert np.allclose(same, 1 / 3) and np.allclose(flat, 0.0)


def test_dtw_distance_is_zero_for_a_copy_and_infinite_with_nothing_shared():
    a = pose_descriptors(*body(30, slow_up_fast_down), ANNOTATED_RETRIEVAL)
    assert dtw_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert dtw_distance(a, a[::-1]) > 0.01
    assert dtw_distance(a, np.full_like(a, np.nan)) == np.inf


def test_a_clip_ranks_itself_first_and_its_time_reversed_copy_below_it():
    joints = {"clip": body(40, slow_up_fast_down), "squat": body(35, lambda p: 0.2 * np.sin(np.pi * p))}
    joints["reversed"] = tuple(a[::-1].copy() for a in joints["clip"])
    joints["query"] = tuple(a[::2].copy() for a in joints["clip"])  # the clip at half the frame rate
    videos = {name: SimpleNamespace(path=name, num_frames=len(j[0])) for name, j in joints.items()}
    feature = PoseDistance(lambda video: joints[video.path], ANNOTATED_RETRIEVAL)
    ranking = rank_videos(videos["query"], {n: v for n, v in videos.items() if n != "query"}, [feature])
    names = [r.name for r in ranking]
    assert names[0] == "clip" and names.index("reversed") > names.index("clip")
    assert ranking[0].margin > 0 and max(r.margin for r in ranking[1:]) < 0
    assert ranking[0].probability == max(r.probability for r in ranking)


def test_a_video_where_nobody_is_found_ranks_last_with_score_0():
    joints = {"query": body(20, slow_up_fast_down), "clip": body(24, slow_up_fast_down)}
    joints["empty"] = (np.full((30, len(JOINTS), 2), np.nan), np.zeros((30, len(JOINTS))))
    videos = {name: SimpleNamespace(path=name, num_frames=len(j[0])) for name, j in joints.items()}
    feature = PoseDistance(lambda video: joints[video.path], ANNOTATED_RETRIEVAL)
    ranking = rank_videos(videos["query"], {"clip": videos["clip"], "empty": videos["empty"]}, [feature])
    assert [r.name for r in ranking] == ["clip", "empty"] and ranking[1].probability == 0.0
    rows = ranking_rows(ranking, {"clip": "raise"})
    assert rows[1]["distance"] is None and rows[1]["distances"] == {"pose": None} and rows[0]["action"] == "raise"
    json.dumps(rows, allow_nan=False)


def test_precision_at_1_counts_only_queries_with_a_partner():
    rankings = {"a": [Ranked("b", 0, 0.6, 1), Ranked("c", 1, 0.4, -1)],
                "c": [Ranked("a", 0, 0.5, 0), Ranked("b", 0, 0.5, 0)]}
    p1, chance, n = precision_at_1(rankings, {"a": "golf", "b": "golf", "c": "bowl"})
    assert (p1, chance, n) == (1.0, 0.5, 1)


def test_retrieve_gives_each_candidates_action(golf, tmp_path):
    out = tmp_path / "r.json"
    run = run_stcorr("retrieve", "--query", golf / "frames" / "0002", "--data", golf, "--features", "cycle",
                     "--out", out, *SMALL)
    assert run.returncode == 0, run.stderr
    result = json.loads(out.read_text())
    assert result["query_action"] == "golf_swing"
    assert all(r["action"] == "golf_swing" for r in result["results"]) and len(result["results"]) == 7
    assert sum(r["score"] for r in result["results"]) == pytest.approx(1.0)


def test_retrieve_ranks_a_folder_of_videos_without_labels(golf, tmp_path):
    folder = tmp_path / "mine"
    for name in ("0001", "0003", "0005"):
        shutil.copytree(golf / "frames" / name, folder / f"clip-{name}")
    out = tmp_path / "r.json"
    run = run_stcorr("retrieve", "--query", golf / "frames" / "0003", "--data", folder, "--features", "cycle",
                     "--out", out, *SMALL)
    assert run.returncode == 0, run.stderr
    results = json.loads(out.read_text())["results"]
    assert results[0]["video"] == "clip-0003" and "action" not in results[0]
    assert results[0]["margin"] == max(r["margin"] for r in results) > 0


def test_retrieve_refuses_an_unknown_feature_in_one_line(golf, tmp_path):
    run = run_stcorr("retrieve", "--query", golf / "frames" / "0002", "--data", golf, "--features", "colour",
                     "--out", tmp_path / "r.json")
    assert run.one_line_error and "--features" in run.stderr and not (tmp_path / "r.json").exists()


@pytest.mark.slow
@pytest.mark.skipif(not REAL_DEV.is_dir(), reason="../shared/real-dev is absent")
def test_retrieve_by_pose_on_real_video(tmp_path):
    """MediaPipe on real clips (tracks cached per video content): a copy of the query first, with the
    largest margin, in a plain folder of videos (~40 s: MediaPipe starts in the command)."""
    pytest.importorskip("mediapipe", reason="MediaPipe (the pose extra) is not installed")
    folder = tmp_path / "mine"
    for name in ("0280", "0191", "1142"):
        shutil.copytree(REAL_DEV / "frames" / name, folder / f"v{name}")
    out = tmp_path / "r.json"
    run = run_stcorr("retrieve", "--query", REAL_DEV / "frames" / "0280", "--data", folder, "--out", out)
    assert run.returncode == 0, run.stderr
    result = json.loads(out.read_text())
    assert result["features"] == "pose" and [r["video"] for r in result["results"]][0] == "v0280"
    assert result["results"][0]["margin"] == max(r["margin"] for r in result["results"]) > 0


def test_pose_retrieval_lifts_the_world_joints_and_compares_their_bones_with_the_lifter():
    from stcorr.baselines.retrieval import LIFTED_RETRIEVAL, MEDIAPIPE_RETRIEVAL, mediapipe_distance, mediapipe_joints
    from stcorr.models.checkpoint import load_model
    from stcorr.models.lifter import lift_world

    xy, confidence = body(12, lambda phase: 40 * phase)
    world = np.concatenate([xy / 100.0, 0.1 * np.cos(np.arange(13))[None, :, None].repeat(12, 0)], axis=2)
    pose = SimpleNamespace(track=lambda video: SimpleNamespace(xy=xy, visibility=confidence, world=world))
    lifter = load_model("stcorr:lifter", "lifter")
    _, _, lifted = mediapipe_joints(pose, lifter)(None)
    np.testing.assert_allclose(lifted, lift_world(lifter, world))
    assert mediapipe_joints(pose)(None)[2] is world
    assert mediapipe_distance(pose, None).settings == MEDIAPIPE_RETRIEVAL
    distance = mediapipe_distance(pose, "stcorr:lifter")
    assert distance.settings == LIFTED_RETRIEVAL and LIFTED_RETRIEVAL.world_bone_weight > 0
    video = SimpleNamespace(path=Path("clip.mp4"))
    assert distance.descriptors(video).shape[1] == 2 * (35 + 30)  # the image's blocks and the bones' block
