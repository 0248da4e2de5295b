"""Found by auditing the command line as a user would: folders stcorr replaces whole (``synth OUT``,
``compare --out``) must not take the user's files that sit below their top level with them."""

from __future__ import annotations

import json

from cli_helpers import run_stcorr


def test_synth_keeps_a_users_file_inside_an_earlier_synth_output(tmp_path):
    out = tmp_path / "set"
    (out / "frames" / "0001").mkdir(parents=True)
    (out / "frames" / "0001" / "000001.jpg").write_bytes(b"an earlier synth frame")
    (out / "frames" / "0001" / "notes.txt").write_text("mine")
    (out / "synth.json").write_text(json.dumps({"generator": "stcorr synth", "format": 1}))
    run = run_stcorr("synth", out, "--videos-per-action", 2, "--size", "32x32")
    assert run.one_line_error and "frames/0001/notes.txt" in run.stderr, run.stderr
    assert (out / "frames" / "0001" / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]
