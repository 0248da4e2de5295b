import json
import subprocess
import sys

import pytest


def stcorr(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "stcorr.cli.main", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def test_pairs_then_score_perfect_and_perturbed_predictions(tiny_penn, tmp_path):
    pairs_file = tmp_path / "pairs.json"
    run = stcorr("pairs", "--data", tiny_penn, "--split", "val", "--setup", "13+3", "--out", pairs_file)
    assert run.returncode == 0, run.stderr
    records = json.loads(pairs_file.read_text())
    assert len(records) == 6  # 3 val videos with key moments -> 6 ordered pairs
    assert records[0]["correspondences"][0]["source"][0] == 2

    def predictions(shift_t):
        return [{"source": r["source"], "target": r["target"], "checkpoint": None,
                 "keypoints": [{"name": c["name"], "source": c["source"], "score": 1.0,
                                "target": [c["target"][0] + shift_t, c["target"][1], c["target"][2]]}
                               for c in r["correspondences"]]} for r in records]

    for shift, expected in [(0, (1.0, 1.0, 1.0)), (2, (0.0, 1.0, 1.0)), (4, (0.0, 0.0, 1.0))]:
        preds = tmp_path / f"preds{shift}.json"
        preds.write_text(json.dumps(predictions(shift)))
        out = tmp_path / f"results{shift}.json"
        run = stcorr("score", "--data", tiny_penn, "--predictions", preds, "--out", out)
        assert run.returncode == 0, run.stderr
        results = json.loads(out.read_text())
        assert (results["T@1"], results["T@3"], results["T@5"]) == expected
        assert results["n_pairs"] == 6 and results["split"] == "val" and results["alpha"] == 0.1


def test_score_counts_unpredicted_correspondences_as_wrong(tiny_penn, tmp_path):
    preds = tmp_path / "p.json"
    preds.write_text("[]")
    run = stcorr("score", "--data", tiny_penn, "--predictions", preds, "--out", tmp_path / "r.json")
    assert run.returncode == 0, run.stderr
    assert json.loads((tmp_path / "r.json").read_text())["T@5"] == 0.0


@pytest.mark.parametrize("args, message", [
    (["pairs", "--data", "{tmp}/absent", "--out", "{tmp}/o.json"], "absent: no such data folder"),
    (["score", "--data", "{data}", "--predictions", "{tmp}/nope.json", "--out", "{tmp}/o.json"], "nope.json: file not found"),
    (["score", "--data", "{data}", "--predictions", "{tmp}/bad.json", "--out", "{tmp}/o.json"], "bad.json: prediction 0:"),
    (["score", "--data", "{data}", "--predictions", "{tmp}/bad.json", "--ks", "a,b", "--out", "{tmp}/o.json"], "--ks takes"),
    (["pairs", "--data", "{data}", "--setup", "9+9", "--out", "{tmp}/o.json"], "unknown setup"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tiny_penn, tmp_path, args, message):
    (tmp_path / "bad.json").write_text(json.dumps([{"source": "0004", "target": "0005", "keypoints": [{"source": [1]}]}]))
    args = [a.format(tmp=tmp_path, data=tiny_penn) for a in args]
    run = stcorr(*args)
    assert run.returncode == 2
    assert message in run.stderr and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o.json").exists()


def test_exported_pairs_are_a_pairs_layout_data_set_with_the_same_pairs(tiny_penn, tmp_path):
    """PAIRS.json written by `stcorr pairs` is read back as the pairs.json of a pairs-layout data set."""
    from cli_helpers import run_stcorr

    layout = tmp_path / "layout"
    layout.mkdir()
    (layout / "frames").symlink_to(tiny_penn / "frames")
    assert run_stcorr("pairs", "--data", tiny_penn, "--out", layout / "pairs.json").returncode == 0
    again = run_stcorr("pairs", "--data", layout, "--out", tmp_path / "again.json")
    assert again.returncode == 0, again.stderr
    first, second = (json.loads(p.read_text()) for p in (layout / "pairs.json", tmp_path / "again.json"))
    assert second == first
