"""``stcorr eval`` holes of issue 9: failed pairs, methods that cannot run, the st-match seed, the one writer."""

import json
import sys

import numpy as np
import pytest
import torch

import stcorr.files
from stcorr.config import load_config
from stcorr.errors import StcorrError
from stcorr.evaluation import methods as registry
from stcorr.evaluation.methods import build_method, list_methods, st_match
from stcorr.report import build_report

from cli_helpers import run_stcorr
from conftest import write_frames

TINY_MODEL = {"data.clip_len": 8, "data.size": 32, "model.grid": [4, 4, 4], "model.width": 8}


class FailingOn:
    """A method that predicts the truth, except for pairs whose source is in ``failing`` (StcorrError there)."""

    def __init__(self, failing: set[str]):
        self.name, self.failing, self.checkpoint = "failing", failing, None

    def predict(self, dataset, pair):
        if pair.source in self.failing:
            raise StcorrError(f"cannot decode video {pair.source}", dataset.root / "frames" / pair.source)
        return pair.tgt


@pytest.fixture
def fake_method(monkeypatch):
    """Registers ``failing`` (for `eval --method failing`); returns a setter of the failing sources."""
    failing: set[str] = set()
    monkeypatch.setitem(registry.METHODS, "failing", lambda cfg, device: FailingOn(failing))
    return failing


def test_saved_predictions_of_failed_pairs_are_read_back_by_score(tiny_penn, tmp_path, fake_method):
    fake_method.add("0004")  # 2 of the 6 val pairs fail
    run = run_stcorr("eval", "--data", tiny_penn, "--method", "failing", "--out", tmp_path / "r.json",
                     "--save-predictions", tmp_path / "p.json", "--no-progress")
    assert run.returncode == 0, run.stderr
    assert "2 of 6 pair(s) failed" in run.stderr and "cannot decode video 0004" in run.stderr
    results = json.loads((tmp_path / "r.json").read_text())
    assert results["failed_pairs"] == 2 and "cannot decode video 0004" in results["failures"][0]
    assert results["T@1"] == pytest.approx(4 / 6, abs=0.1)

    rescored = run_stcorr("score", "--data", tiny_penn, "--predictions", tmp_path / "p.json", "--out", tmp_path / "s.json")
    assert rescored.returncode == 0, rescored.stderr
    again = json.loads((tmp_path / "s.json").read_text())
    assert [again[k] for k in ("T@1", "T@3", "T@5")] == [results[k] for k in ("T@1", "T@3", "T@5")]


def test_eval_fails_when_every_pair_fails_and_writes_nothing(tiny_penn, tmp_path, fake_method):
    fake_method.update({"0004", "0005", "0006"})
    run = run_stcorr("eval", "--data", tiny_penn, "--method", "failing", "--out", tmp_path / "r.json",
                     "--save-predictions", tmp_path / "p.json", "--no-progress")
    assert run.one_line_error, run.stderr
    assert "all 6 pairs failed, nothing to score" in run.stderr and "cannot decode video" in run.stderr
    assert not (tmp_path / "r.json").exists() and not (tmp_path / "p.json").exists()


@pytest.fixture
def pairs_layout(tmp_path):
    data = tmp_path / "pairs-data"
    for name in ("a", "b"):
        write_frames(data / "frames" / name, 6)
    correspondences = [{"name": n, "source": [1, 10.0 + i, 10.0], "target": [2, 12.0 + i, 11.0]}
                       for i, n in enumerate(("head", "left_wrist", "right_wrist"))]
    records = [{"source": s, "target": t, "split": "val", "correspondences": correspondences} for s, t in (("a", "b"), ("b", "a"))]
    (data / "pairs.json").write_text(json.dumps(records))
    return data


def test_a_method_that_cannot_run_on_the_data_set_says_why_before_any_work(pairs_layout, tmp_path, monkeypatch):
    def no_work(*args, **kwargs):
        raise AssertionError("pairs were predicted")

    monkeypatch.setattr("stcorr.evaluation.runner.predict_pairs", no_work)
    run = run_stcorr("eval", "--data", pairs_layout, "--method", "gt-time+pose-oracle", "--out", tmp_path / "r.json")
    assert run.one_line_error, run.stderr
    assert "gt-time+pose-oracle cannot run on this data set" in run.stderr
    assert "pose-oracle needs per-frame joint annotations" in run.stderr and str(pairs_layout) in run.stderr
    assert not (tmp_path / "r.json").exists()


def test_table_skips_a_method_that_cannot_run_on_the_data_set(pairs_layout, tmp_path):
    run = run_stcorr("table", "--data", pairs_layout, "--methods", "gt-time+pose-oracle", "--out", tmp_path / "t",
                     "--no-progress", "--setup", "3+3")
    assert run.returncode == 0, run.stderr
    assert "pose-oracle needs per-frame joint annotations" in (tmp_path / "t" / "table3.md").read_text()


def test_a_broken_baselines_import_is_said_not_hidden(monkeypatch):
    monkeypatch.setitem(sys.modules, "stcorr.baselines", None)  # `import stcorr.baselines` raises ImportError
    with pytest.raises(StcorrError, match="sequential baselines cannot be loaded"):
        list_methods()
    run = run_stcorr("eval", "--list-methods")
    assert run.one_line_error and "sequential baselines cannot be loaded" in run.stderr


def test_st_match_without_weights_is_drawn_from_the_config_seed():
    def weights(seed: int) -> list[torch.Tensor]:
        torch.manual_seed(np.random.randint(1 << 30))  # whatever the global generator holds
        method = st_match(load_config("cpu", {**TINY_MODEL, "seed": seed}), torch.device("cpu"))
        return [p.detach().clone() for p in method.predictor.matcher.backbone.parameters()]

    first, again, other = weights(0), weights(0), weights(1)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))
    assert build_method("st-match", load_config("cpu", TINY_MODEL), torch.device("cpu")).name == "st-match"


def test_every_file_of_eval_score_report_and_table_goes_through_the_one_writer(tiny_penn, tmp_path, fake_method,
                                                                              monkeypatch):
    written = []
    original = stcorr.files.file_writer

    def recording(path):
        written.append(path.name if hasattr(path, "name") else str(path).rsplit("/", 1)[-1])
        return original(path)

    monkeypatch.setattr(stcorr.files, "file_writer", recording)
    assert run_stcorr("eval", "--data", tiny_penn, "--method", "failing", "--out", tmp_path / "r.json",
                      "--save-predictions", tmp_path / "p.json", "--no-progress").returncode == 0
    assert run_stcorr("score", "--data", tiny_penn, "--predictions", tmp_path / "p.json",
                      "--out", tmp_path / "s.json").returncode == 0
    assert run_stcorr("pairs", "--data", tiny_penn, "--out", tmp_path / "pairs.json").returncode == 0
    build_report([tmp_path / "r.json"], tmp_path / "report")
    assert run_stcorr("table", "--data", tiny_penn, "--methods", "gt-time+pose-oracle", "--out", tmp_path / "t",
                      "--no-progress").returncode == 0
    assert set(written) >= {"r.json", "p.json", "s.json", "pairs.json", "index.html", "table3.md", "gt-time+pose-oracle.json"}
    # and each is read by the verb that reads its kind: RESULTS of eval and table by report
    assert run_stcorr("report", tmp_path / "r.json", tmp_path / "p.json", tmp_path / "t" / "gt-time+pose-oracle.json",
                      "--out", tmp_path / "report2").returncode == 0
    leftovers = [p for p in tmp_path.rglob(".*") if p.is_file() and p.name != stcorr.files.MANIFEST]  # no temporary file
    assert not leftovers
