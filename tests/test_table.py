"""``stcorr table``: the Table-3 layout, sequential rows above the joint space-time rows."""

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from stcorr.baselines.cycle_pose import CYCLE_POSE_ALIGNERS
from stcorr.baselines.methods import method_names
from stcorr.cli.table import Row, Table, file_name, plan_rows, render_markdown, render_text
from stcorr.config import load_config
from stcorr.data.datasets import open_dataset
from stcorr.errors import StcorrError
from stcorr.training.engine import train

from test_baselines import golf, trained  # noqa: F401  (fixtures shared with the baseline tests)

MATCHER = {"data.clip_len": 8, "data.size": 32, "model.grid": [4, 4, 4], "model.width": 8, "train.max_steps": 1,
           "train.val_every": 0, "train.log_every": 1}
SMALL_ST = ["--set", "model.width=8", "--set", "data.clip_len=8", "--set", "data.size=32", "--set", "model.grid=[4,4,4]"]


def test_table_writes_every_row_and_the_markdown_with_sequential_rows_first(golf, tmp_path):  # noqa: F811
    train(load_config("cpu", MATCHER), open_dataset(golf), tmp_path / "run", progress=False)
    out = tmp_path / "table"
    run = subprocess.run(
        [sys.executable, "-m", "stcorr.cli.main", "table", "--data", str(golf), "--out", str(out), "--no-progress",
         "--methods", "st-match,tcc+pose-oracle,nn+pose-oracle,gt-time+pose-oracle",
         "--checkpoint", str(tmp_path / "run" / "checkpoint"), *SMALL_ST],
        capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    written = sorted(p.name for p in out.glob("*.json"))
    assert written == ["ants-run.json", "gt-time+pose-oracle.json", "nn+pose-oracle.json", "st-match.json"]
    results = {name: json.loads((out / name).read_text()) for name in written}
    assert results["gt-time+pose-oracle.json"]["T@1"] == 1.0
    assert len({r["n_points"] for r in results.values()}) == 1 and results["st-match.json"]["n_pairs"] == 6
    markdown = (out / "table3.md").read_text().splitlines()
    order = [next(i for i, line in enumerate(markdown) if line.startswith(f"| {label} |"))
             for label in ("nn+pose-oracle", "gt-time+pose-oracle", "st-match", "ants (run)")]
    assert order == sorted(order)
    assert markdown.index(next(l for l in markdown if "**sequential" in l)) < order[0] < \
        markdown.index(next(l for l in markdown if "**joint space-time" in l)) < order[2]
    assert "| gt-time+pose-oracle | 100.0 | 100.0 | 100.0 |" in markdown
    assert any("tcc+pose-oracle" in l and "baseline.tcc_checkpoint" in l for l in markdown)
    assert "T@1" in run.stdout and "ants (run)" in run.stdout and "skipped:" in run.stdout


def test_table_runs_every_sequential_method_with_the_trained_parts(golf, trained, tmp_path):  # noqa: F811
    sets = [f"baseline.{task}_checkpoint={path / 'checkpoint'}" for task, path in trained.items()]
    args = ["table", "--data", str(golf), "--out", str(tmp_path), "--no-progress", "--max-pairs", "2",
            "--set", "baseline.frames.size=32", *[a for s in sets for a in ("--set", s)], *SMALL_ST]
    from stcorr.cli.main import app

    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = {p.stem for p in tmp_path.glob("*.json")}
    mediapipe_aligners = ("nn-pose", "dtw-pose", *CYCLE_POSE_ALIGNERS)  # the aligners that read MediaPipe's joints
    mediapipe_rows = {m for m in method_names() if m.endswith("+pose") or m.split("+")[0] in mediapipe_aligners}
    cycle_rows = {m for m in method_names() if m.startswith("cycle+")}  # no cycle checkpoint given: skipped
    pose_rows = mediapipe_rows - cycle_rows
    try:
        import mediapipe  # noqa: F401
    except ImportError:
        assert all(f"{m}: the pose methods need MediaPipe" in result.output for m in pose_rows), result.output
        pose_rows = set()
    assert all(f"{m}: method {m} needs a cycle-consistency checkpoint" in result.output for m in cycle_rows - mediapipe_rows)
    assert rows == (set(method_names()) - mediapipe_rows - cycle_rows) | pose_rows | {"st-match"}
    for name in rows:
        assert json.loads((tmp_path / f"{name}.json").read_text())["n_pairs"] == 2


def test_table_layout_and_row_planning():
    table = Table([Row("joint space-time", "st-match", {"T@1": 0.25, "T@3": 0.5, "T@5": 0.75}),
                   Row("sequential", "dtw+pose-oracle", {"T@1": 0.1, "T@3": 0.2, "T@5": 0.3})], ["tcc+pose: no checkpoint"])
    text = render_text(table, (1, 3, 5), "header")
    assert text.index("dtw+pose-oracle") < text.index("st-match") and "25.0" in text and "no checkpoint" in text
    markdown = render_markdown(table, (1, 3, 5), "header")
    assert "| st-match | 25.0 | 50.0 | 75.0 |" in markdown and "- tcc+pose: no checkpoint" in markdown
    sequential, joint = plan_rows(["st-match", "dtw+pose"], ["dtw+pose", "st-match", "nn+pose"])
    assert sequential == ["dtw+pose"] and joint == ["st-match"]
    with pytest.raises(StcorrError, match="unknown method 'nope'"):
        plan_rows(["nope"], ["st-match"])
    taken: set[str] = set()
    assert [file_name("ants (run)", taken), file_name("ants (run)", taken)] == ["ants-run.json", "ants-run-2.json"]
