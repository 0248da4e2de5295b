"""The HTML report: one self-contained page, every section, notes for what is missing, bad input, a real browser."""

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
from stcorr.report.pairs import choose_pairs

from conftest import write_frames

SECTIONS = ("overview", "tables", "plots", "training", "pairs", "provenance")
PAIRS = [("a", "b"), ("b", "c"), ("c", "a")]


@pytest.fixture
def two_results(tmp_path) -> list[Path]:
    """good.json and poor.json scored by the real scorer on three pairs of tiny frame folders, and tmp_path/run."""
    data = tmp_path / "data"
    for name in ("a", "b", "c"):
        write_frames(data / "frames" / name, 8, size=(48, 40))
    records = [{"source": s, "target": t, "split": "val", "action": "pour", "correspondences": [
        {"name": "head", "source": [1, 10.0, 10.0], "target": [2, 12.0, 11.0]},
        {"name": "spout", "source": [5, 30.0, 20.0], "target": [6, 28.0, 22.0]},
        {"name": "left_wrist", "source": [5, 20.0, 30.0], "target": [6, 22.0, 33.0]}]}
        for s, t in PAIRS]
    (data / "pairs.json").write_text(json.dumps(records))
    pairs = open_dataset(data).pairs("val", min_visible=1)
    out = []
    for method, shift in (("good", 0.0), ("poor", 9.0)):
        preds = [p.tgt + np.array([0, shift * i, 0]) for i, p in enumerate(pairs)]
        results = score_pairs(pairs, preds, method=method, data=str(data), split="val", setup="13+3")
        (tmp_path / f"{method}.preds.json").write_text(json.dumps(prediction_records(pairs, preds, None)))
        results.update(predictions=f"{method}.preds.json", config={"train": {"lr": 0.1}},
                       command=f"stcorr eval --method {method}", checkpoint=None)
        path = tmp_path / f"{method}.json"
        path.write_text(json.dumps(results))
        out.append(path)
    run = tmp_path / "run"
    run.mkdir()
    (run / "train_log.csv").write_text("step,epoch,loss,lr,elapsed_s\n10,0.1,1.0,0.001,1\n20,0.2,0.5,0.001,2\n")
    (run / "val_log.csv").write_text("step,T@1,T@3,T@5\n20,0.1,0.2,0.3\n")
    (run / "config.yaml").write_text("model: ants\nlr_marker: 0.000123\n")
    return out


def _section(page: str, anchor: str) -> str:
    return re.search(rf'<section id="{anchor}">(.*?)</section>', page, re.S).group(1)


def _rewrite(path: Path, out: Path, drop=(), **changes) -> Path:
    results = {k: v for k, v in json.loads(path.read_text()).items() if k not in drop}
    out.write_text(json.dumps({**results, **changes}))
    return out


def test_report_is_one_self_contained_page_with_every_section(two_results, tmp_path):
    page_path = build_report(two_results, tmp_path / "report", run_dir=tmp_path / "run")

    page = page_path.read_text()
    assert [p.name for p in page_path.parent.iterdir()] == ["index.html"]
    assert all(f'<section id="{anchor}">' in page for anchor in SECTIONS)
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"<(link|iframe|object|embed)\b", page)
    assert all(script == "" or "src" not in script for script in re.findall(r"<script([^>]*)>", page))
    images = re.findall(r"<img [^>]*src=\"([^\"]*)\"", page)
    assert len(images) == 2 * len(PAIRS) and all(src.startswith("data:image/") for src in images)
    assert page.count("<svg") == 4  # PCK against k, against alpha, per action, training curves


def test_tables_plots_and_provenance_hold_the_results(two_results, tmp_path):
    page = build_report(two_results, tmp_path / "report", run_dir=tmp_path / "run").read_text()

    tables = _section(page, "tables")
    assert "T@1-PCK (%) per action" in tables and "T@5-PCK (%) per action" in tables and "per key moment" in tables
    assert '<td class="num best">100.0</td>' in tables  # the good method, marked best
    assert "split <b>val</b>" in page and "setup <b>13+3</b>" in page
    assert "lr_marker: 0.000123" in _section(page, "training")
    provenance = _section(page, "provenance")
    assert "stcorr eval --method poor" in provenance and "lr: 0.1" in provenance and "<details>" in provenance
    pairs = _section(page, "pairs")
    assert pairs.count("<b>best</b>") == 2 and pairs.count("<b>median</b>") == 2 and pairs.count("<b>worst</b>") == 2


def test_missing_optional_parts_leave_their_section_out_with_a_note(two_results, tmp_path):
    bare = _rewrite(two_results[0], tmp_path / "bare.json",
                    drop=("curves", "per_pair", "predictions", "per_action_type", "per_moment", "config", "command"))

    page = build_report([bare], tmp_path / "r").read_text()

    assert all(f'<section id="{anchor}">' in page for anchor in SECTIONS)
    assert "hold no curves" in _section(page, "plots") and _section(page, "plots").count("<svg") == 1  # bars only
    assert "no saved predictions" in _section(page, "pairs") and "<img " not in page
    assert "No run folder given" in _section(page, "training")
    assert "no per_action_type" in _section(page, "tables") and "No per key moment" in _section(page, "tables")
    assert "(not recorded)" in _section(page, "provenance")


def test_missing_data_root_leaves_the_pictures_out_with_a_note(two_results, tmp_path):
    moved = _rewrite(two_results[0], tmp_path / "moved.json", data=str(tmp_path / "gone"))

    page = build_report([moved], tmp_path / "r").read_text()

    assert "not found, so the pair pictures are left out" in page and "<img " not in page


def test_pairs_are_ranked_from_saved_verdicts_when_per_pair_is_missing(two_results, tmp_path):
    no_scores = _rewrite(two_results[1], tmp_path / "no_scores.json", drop=("per_pair",))

    page = build_report([no_scores], tmp_path / "r", max_pairs_per_action=2).read_text()

    assert page.count("<img ") == 2 and "<b>best</b>" in page and "<b>worst</b>" in page


def test_choose_pairs_spreads_picks_from_best_to_worst_per_action():
    rows = [{"source": f"s{i}", "target": "t", "action": "a", "T@5": i / 10} for i in range(5)]
    rows.append({"source": "x", "target": "y", "action": "b", "T@5": 0.5})

    chosen = choose_pairs(rows, 3)

    assert [(rank, row["source"]) for rank, row in chosen] == [("best", "s4"), ("median", "s2"), ("worst", "s0"), ("only pair", "x")]


@pytest.mark.parametrize("content, message", [
    (None, "file not found"), ("{", "not valid JSON"), ('{"method": "x"}', "not a RESULTS.json"), ("[1]", "not a RESULTS.json")])
def test_bad_results_file_is_named_and_nothing_is_written(two_results, tmp_path, content, message):
    path = tmp_path / "r.json"
    if content is not None:
        path.write_text(content)

    with pytest.raises(StcorrError, match=message) as error:
        build_report([two_results[0], path], tmp_path / "out")

    assert str(path) in str(error.value)
    assert not (tmp_path / "out").exists()


def test_bad_run_folder_is_named(two_results, tmp_path):
    with pytest.raises(StcorrError, match="run folder not found"):
        build_report(two_results, tmp_path / "out", run_dir=tmp_path / "nope")
    (tmp_path / "run" / "train_log.csv").write_text("step,epoch,loss\n10,0,lots\n")
    with pytest.raises(StcorrError, match="train_log.csv.*not a number"):
        build_report(two_results, tmp_path / "out", run_dir=tmp_path / "run")


def test_report_takes_the_natural_glob_of_results_and_their_saved_predictions(two_results, tmp_path):
    everything = sorted(tmp_path.glob("*.json"))  # good.json, good.preds.json, poor.json, poor.preds.json
    assert len(everything) == 4

    page = build_report(everything, tmp_path / "report").read_text()

    assert _section(page, "pairs").count("<img ") == 2 * len(PAIRS)
    assert "good.preds.json</code>" not in _section(page, "overview")  # predictions are not rows of their own


def test_predictions_named_method_predictions_json_join_their_results(two_results, tmp_path):
    """What `stcorr demo` writes: METHOD.json and METHOD.predictions.json, here without the "predictions" key."""
    demo = tmp_path / "demo"
    demo.mkdir()
    _rewrite(two_results[0], demo / "ants.json", drop=("predictions",))
    shutil.copy(tmp_path / "good.preds.json", demo / "ants.predictions.json")

    page = build_report(sorted(demo.glob("*.json")), tmp_path / "report").read_text()

    assert _section(page, "pairs").count("<img ") == len(PAIRS)


def test_saved_predictions_that_no_results_name_are_refused(two_results, tmp_path):
    orphan = tmp_path / "orphan.predictions.json"
    shutil.copy(tmp_path / "good.preds.json", orphan)
    with pytest.raises(StcorrError, match="saved predictions that none of the given RESULTS.json names"):
        build_report([two_results[0], orphan], tmp_path / "out")
    with pytest.raises(StcorrError, match="only saved predictions were given"):
        build_report([orphan], tmp_path / "out")
    assert not (tmp_path / "out").exists()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HEADLESS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")
def test_page_loads_in_headless_chromium_without_console_errors(two_results, tmp_path):
    page = build_report(two_results, tmp_path / "report", run_dir=tmp_path / "run")

    # Console messages (script errors, Content-Security-Policy violations) reach stderr as "CONSOLE" lines;
    # the page's own load handler counts the pictures that decoded onto <body>.
    run = subprocess.run([CHROMIUM, *HEADLESS, f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr",
                          "--v=0", "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120)

    assert run.returncode == 0, run.stderr[-2000:]
    body = re.search(r"<body[^>]*>", run.stdout).group(0)
    assert f'data-images="{2 * len(PAIRS)}"' in body and f'data-images-ok="{2 * len(PAIRS)}"' in body
    assert "CONSOLE" not in run.stderr and "Uncaught" not in run.stderr, run.stderr[-2000:]
