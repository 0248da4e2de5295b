"""One reference against a folder of attempts (``stcorr compare REF FOLDER``), on synthetic squats of known depths."""

from __future__ import annotations

import json
from unittest import mock

import pytest

import compare_synthetic as cs
from test_compare_cli import run

DEPTHS = {"take1": 0.9, "take2": 0.5, "take3": 1.0, "take4": 0.7}


@pytest.fixture(scope="module")
def attempts(tmp_path_factory):
    root = tmp_path_factory.mktemp("attempts")
    frames = {name: cs.rep_frames([depth]) for name, depth in DEPTHS.items()}
    frames["reference"] = cs.rep_frames([0.7])
    frames["blink"] = frames["take1"][:2]  # too short to compare: listed with its reason, the others still run
    for name, joints in frames.items():
        cs.write_frames(root / ("." if name == "reference" else "takes") / name, joints, (200, 220))
    pose = cs.FakePose(frames)
    with mock.patch("stcorr.compare.pipeline.default_pose", lambda **_: pose):
        yield root / "reference", root / "takes"


@pytest.fixture(scope="module")
def written(attempts, tmp_path_factory):
    reference, folder = attempts
    out = tmp_path_factory.mktemp("runs") / "out"
    code, err = run("compare", reference, folder, "--out", out, "--action", "squat", "--no-video")
    assert code == 0, err
    return out


def test_a_folder_of_attempts_is_ranked_by_depth_and_likeness(written):
    out = written
    record = json.loads((out / "attempts.json").read_text())
    rows = {r["attempt"]: r for r in record["attempts"]}
    assert sorted(rows) == ["blink", *sorted(DEPTHS)]
    assert "a comparison needs a movement" in rows["blink"]["error"]
    assert [rows[n]["depth_rank"] for n in DEPTHS] == [2, 4, 1, 3]  # deepest first: exactly the known order
    assert min(DEPTHS, key=lambda n: rows[n]["distance_to_reference"]) == "take4"  # as deep as the reference
    assert "attempt take2 is the one whose knee goes least deep" in " ".join(record["summary"])
    assert "attempt take4 moves most like the reference" in record["summary"]
    assert any(line.startswith("attempt blink not compared") for line in record["summary"])
    for name in DEPTHS:
        one = json.loads((out / "attempts" / name / "compare.json").read_text())
        assert one["attempt"].endswith(name) and (out / "attempts" / name / "index.html").is_file()
    assert not (out / "attempts" / "blink").exists()
    page = (out / "index.html").read_text()
    assert 'href="attempts/take3/index.html"' in page and "not compared" in page


def test_the_output_policy_holds_for_a_folder_of_attempts(attempts, written, tmp_path):
    reference, folder = attempts
    code, err = run("compare", reference, folder, "--out", folder / "out", "--no-video")
    assert code == 2 and "inside" in err  # never written into the attempts' own folder
    out = written
    before = json.loads((out / "attempts.json").read_text())
    code, err = run("compare", reference, "--attempts", folder, "--out", out, "--action", "squat", "--no-video")
    assert code == 0, err  # its own earlier output is replaced, the same ranking
    assert json.loads((out / "attempts.json").read_text())["attempts"] == before["attempts"]
    (out / "notes.txt").write_text("mine")
    code, err = run("compare", reference, folder, "--out", out, "--no-video")
    assert code == 2 and "notes.txt" in err
    code, err = run("compare", reference, folder / "take1", "--attempts", folder, "--out", tmp_path / "x")
    assert code == 2 and "not both" in err
