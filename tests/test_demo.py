"""`stcorr demo` end to end at a tiny size: DIR holds what docs/results/demo.md says, and the checkpoint works."""

import json
import re
import subprocess
import sys


def test_tiny_demo_leaves_results_checkpoint_figure_and_report(tmp_path):
    out = tmp_path / "demo"
    run = subprocess.run([sys.executable, "-m", "stcorr.cli.main", "demo", "--out", str(out), "--videos-per-action", "2",
                          "--max-steps", "2", "--eval-pairs", "3"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    assert re.search(r"done in \d+ s \(wall / CPU seconds: data \d+ / \d+, training \d+ / \d+, scoring \d+ / \d+, "
                     r"figure and report \d+ / \d+\)", " ".join(run.stderr.split())), run.stderr[-2000:]
    for method in ("st-match", "ants"):
        results = json.loads((out / "results" / f"{method}.json").read_text())
        assert results["n_pairs"] == 3 and results["split"] == "val" and 0 <= results["T@5"] <= 1
    assert (out / "checkpoint" / "model.safetensors").is_file() and (out / "figure.png").stat().st_size > 1000
    page = (out / "report" / "index.html").read_text()
    assert "st-match" in page and "ants" in page
    again = subprocess.run([sys.executable, "-m", "stcorr.cli.main", "eval", "--data", str(out / "data"), "--checkpoint",
                            str(out / "checkpoint"), "--max-pairs", "3", "--out", str(tmp_path / "r.json"), "--no-progress"],
                           capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads((tmp_path / "r.json").read_text())["T@5"] == json.loads((out / "results" / "ants.json").read_text())["T@5"]
