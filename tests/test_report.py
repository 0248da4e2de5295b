"""The HTML report: one self-contained page, every section, pictures, and a real browser load."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from stcorr.data.datasets import open_dataset
from stcorr.errors import StcorrError
from stcorr.evaluation.results import score_pairs
from stcorr.evaluation.runner import prediction_records
from stcorr.report import build_report

from conftest import write_frames


@pytest.fixture
def two_results(tmp_path) -> list[Path]:
    data = tmp_path / "data"
    for name in ("a", "b", "c"):
        write_frames(data / "frames" / name, 8, size=(48, 40))
    records = [{"source": s, "target": t, "split": "val", "action": "pour", "correspondences": [
        {"name": "head", "source": [1, 10.0, 10.0], "target": [2, 12.0, 11.0]},
        {"name": "spout", "source": [5, 30.0, 20.0], "target": [6, 28.0, 22.0]},
        {"name": "left_wrist", "source": [5, 20.0, 30.0], "target": [6, 22.0, 33.0]}]}
        for s, t in [("a", "b"), ("b", "c"), ("c", "a")]]
    (data / "pairs.json").write_text(json.dumps(records))
    pairs = open_dataset(data).pairs("val", min_visible=1)
    out = []
    for method, shift in (("good", 0.0), ("poor", 9.0)):
        preds = [p.tgt + np.array([0, shift, 0]) for p in pairs]
        results = score_pairs(pairs, preds, method=method, data=str(data), split="val", setup="13+3")
        (tmp_path / f"{method}.preds.json").write_text(json.dumps(prediction_records(pairs, preds, None)))
        results.update(predictions=f"{method}.preds.json", config={"train": {"lr": 0.1}}, command=f"stcorr eval --method {method}")
        path = tmp_path / f"{method}.json"
        path.write_text(json.dumps(results))
        out.append(path)
    run = tmp_path / "run"
    run.mkdir()
    (run / "train_log.csv").write_text("step,epoch,loss,lr,elapsed_s\n10,0.1,1.0,0.001,1\n20,0.2,0.5,0.001,2\n")
    (run / "val_log.csv").write_text("step,T@1,T@3,T@5\n20,0.1,0.2,0.3\n")
    return out


def test_report_is_one_self_contained_page_with_every_section(two_results, tmp_path):
    page = build_report(two_results, tmp_path / "report", run_dir=tmp_path / "run").read_text()
    for anchor in ("overview", "tables", "plots", "training", "pairs", "provenance"):
        assert f"id='{anchor}'" in page
    assert not re.search(r"(src|href)=['\"]https?:", page)
    images = re.findall(r"<img [^>]*src='([^']*)'", page)
    assert len(images) == 2 * 3 and all(src.startswith("data:image/png;base64,") for src in images)
    assert page.count("<svg") == 4  # PCK vs k, vs alpha, per action, training curves
    assert "stcorr eval --method poor" in page and "per key moment" in page
    assert ">100.0<" in page  # the good method's T@k


def test_missing_optional_parts_leave_a_note(two_results, tmp_path):
    results = json.loads(two_results[0].read_text())
    for key in ("curves", "per_pair", "predictions", "per_action_type"):
        results.pop(key)
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(results))
    page = build_report([bare], tmp_path / "r").read_text()
    assert "no saved predictions" in page and "hold no curves" in page and "<img " not in page


@pytest.mark.parametrize("content, message", [(None, "file not found"), ("{", "not valid JSON"), ('{"method": "x"}', "not a RESULTS.json")])
def test_bad_results_file(tmp_path, content, message):
    path = tmp_path / "r.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(StcorrError, match=message):
        build_report([path], tmp_path / "out")
    assert not (tmp_path / "out" / "index.html").exists()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")
def test_page_loads_in_headless_chromium_without_errors(two_results, tmp_path):
    page = build_report(two_results, tmp_path / "report", run_dir=tmp_path / "run")
    run = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
                          "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    body = re.search(r"<body[^>]*>", run.stdout).group(0)
    assert 'data-images="6"' in body and 'data-images-ok="6"' in body
    assert "CONSOLE" not in run.stderr and "Uncaught" not in run.stderr
