"""`stcorr retrieve` (docs/cli.md, docs/formats.md#retrievaljson) and the `cycle` time aligner of the
sequential baselines."""

import json
import shutil

import pytest

from cli_helpers import run_stcorr

SMALL = ["--set", "cycle.size=64", "--set", "cycle.chunks=4", "--set", "cycle.hidden=64"]


@pytest.fixture(scope="module")
def checkpoint(golf, tmp_path_factory):
    run = tmp_path_factory.mktemp("cycle") / "run"
    done = run_stcorr("train", "--config", "cycle", "--data", golf, "--out", run, "--max-steps", "1", *SMALL)
    assert done.returncode == 0, done.stderr
    return run / "checkpoint"


def test_retrieve_ranks_a_copy_of_the_query_first(golf, tmp_path, checkpoint):
    query = tmp_path / "query"
    shutil.copytree(golf / "frames" / "0003", query)
    out = tmp_path / "retrieval.json"
    run = run_stcorr("retrieve", "--query", query, "--data", golf, "--checkpoint", checkpoint, "--top", "4",
                     "--features", "cycle", "--out", out)
    assert run.returncode == 0, run.stderr
    result = json.loads(out.read_text())
    assert result["query"] == str(query)
    assert [r["video"] for r in result["results"]][0] == "0003" and len(result["results"]) == 4
    scores = [r["score"] for r in result["results"]]
    assert scores == sorted(scores, reverse=True) and result["results"][0]["distances"]["cycle"] == pytest.approx(0.0, abs=1e-4)


def test_retrieve_leaves_the_query_out_and_runs_untrained(golf, tmp_path):
    out = tmp_path / "r.json"
    run = run_stcorr("retrieve", "--query", golf / "frames" / "0002", "--data", golf, "--features", "cycle", "--out", out,
                     *SMALL)
    assert run.returncode == 0, run.stderr
    names = [r["video"] for r in json.loads(out.read_text())["results"]]
    assert sorted(names) == [f"{i:04d}" for i in range(1, 9) if i != 2]


def test_retrieve_bad_input_is_one_line(golf, tmp_path):
    missing = run_stcorr("retrieve", "--query", tmp_path / "nope.mp4", "--data", golf, "--out", tmp_path / "r.json")
    assert missing.one_line_error and not (tmp_path / "r.json").exists()
    wrong = run_stcorr("retrieve", "--query", golf / "frames" / "0001", "--data", golf, "--out", tmp_path / "r.json",
                       "--checkpoint", tmp_path)
    assert wrong.one_line_error, wrong.stderr


def test_cycle_aligns_time_for_the_sequential_baselines(golf, tmp_path, checkpoint):
    out = tmp_path / "results.json"
    run = run_stcorr("eval", "--data", golf, "--method", "cycle+pose-oracle", "--set",
                     f"baseline.cycle_checkpoint={checkpoint}", "--out", out)
    assert run.returncode == 0, run.stderr
    results = json.loads(out.read_text())
    assert results["method"] == "cycle+pose-oracle" and results["n_points"] > 0
    missing = run_stcorr("eval", "--data", golf, "--method", "cycle+pose-oracle", "--out", tmp_path / "x.json")
    assert missing.one_line_error and "baseline.cycle_checkpoint" in missing.stderr
