"""Found by auditing the command line as a user would: folders stcorr replaces whole (``synth OUT``,
``compare --out``) must not take the user's files that sit below their top level with them, and
long work shows progress."""

from __future__ import annotations

import json
from unittest import mock

import pytest

import compare_synthetic as cs
from cli_helpers import run_stcorr


@pytest.mark.parametrize("own, mine", [("frames/0001/000001.jpg", "frames/0001/notes.txt"),
                                        ("joints3d/0001.npy", "joints3d/notes.txt")])
def test_synth_keeps_a_users_file_inside_an_earlier_synth_output(tmp_path, own, mine):
    out = tmp_path / "set"
    (out / own).parent.mkdir(parents=True)
    (out / own).write_bytes(b"an earlier synth file")
    (out / mine).write_text("mine")
    (out / "synth.json").write_text(json.dumps({"generator": "stcorr synth", "format": 1}))
    run = run_stcorr("synth", out, "--videos-per-action", 2, "--size", "32x32")
    assert run.one_line_error and mine in run.stderr, run.stderr
    assert (out / mine).read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]


def test_compare_keeps_a_users_video_in_an_earlier_comparison_folder(tmp_path):
    reference, attempt, pose = cs.synthetic_pair(tmp_path / "pair")
    out = tmp_path / "out"
    out.mkdir()
    (out / "compare.json").write_text(json.dumps({"key_moments": [], "sizes": {}, "fps": 30, "summary": []}))
    (out / "overlay.mp4").write_bytes(b"the user's own video, not stcorr's")
    with mock.patch("stcorr.compare.pipeline.default_pose", lambda **_: pose):
        run = run_stcorr("compare", reference, attempt, "--out", out, "--no-video")
    assert run.one_line_error and "overlay.mp4" in run.stderr, run.stderr
    assert (out / "overlay.mp4").read_bytes() == b"the user's own video, not stcorr's"


def test_compare_keeps_a_users_page_in_an_earlier_comparison_folder_and_replaces_its_own(tmp_path):
    reference, attempt, pose = cs.synthetic_pair(tmp_path / "pair")
    out = tmp_path / "out"
    with mock.patch("stcorr.compare.pipeline.default_pose", lambda **_: pose):
        assert run_stcorr("compare", reference, attempt, "--out", out, "--no-video").returncode == 0
        assert run_stcorr("compare", reference, attempt, "--out", out, "--no-video").returncode == 0  # its own page
        (out / "index.html").write_text("<html><title>my notes</title></html>")
        run = run_stcorr("compare", reference, attempt, "--out", out, "--no-video")
    assert run.one_line_error and "index.html" in run.stderr, run.stderr
    assert (out / "index.html").read_text() == "<html><title>my notes</title></html>"


def test_compare_keeps_a_users_file_inside_an_earlier_attempts_folder(tmp_path):
    reference, attempt, pose = cs.synthetic_pair(tmp_path / "pair")
    attempts = tmp_path / "attempts_in"
    attempts.mkdir()
    attempt.rename(attempts / "one")
    out = tmp_path / "out"
    (out / "attempts" / "one").mkdir(parents=True)
    (out / "attempts.json").write_text(json.dumps({"command": "stcorr compare", "attempts": []}))
    (out / "attempts" / "one" / "notes.txt").write_text("mine")
    with mock.patch("stcorr.compare.pipeline.default_pose", lambda **_: pose):
        run = run_stcorr("compare", reference, "--attempts", attempts, "--out", out, "--no-video")
    assert run.one_line_error and "attempts/one/notes.txt" in run.stderr, run.stderr
    assert (out / "attempts" / "one" / "notes.txt").read_text() == "mine"


class _Distance:
    name = "pose"

    def distance(self, query, candidate) -> float:
        return float(len(str(candidate.path)))


def test_retrieve_shows_its_progress(tmp_path):
    from PIL import Image

    data = tmp_path / "videos"
    for name in ("query", "a", "b", "c"):
        (data / name).mkdir(parents=True)
        for t in range(2):
            Image.new("RGB", (32, 32), (40 * t, 0, 0)).save(data / name / f"{t + 1:06d}.jpg")
    with mock.patch("stcorr.cli.retrieve_commands._features", lambda *args: ([_Distance()], None)):
        run = run_stcorr("retrieve", "--query", data / "query", "--data", data, "--out", tmp_path / "r.json")
    assert run.returncode == 0, run.stderr
    assert "retrieve" in run.stderr.split("wrote")[0] and "3/3" in run.stderr, run.stderr
