"""The one training engine: kill -9 and resume, the checkpoint swap, world size, logs (every learner
alike: tests/test_learners.py)."""

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from stcorr.cli.common import build_config
from stcorr.config import load_config
from stcorr.data.datasets import open_dataset
from stcorr.errors import StcorrError
from stcorr.models.checkpoint import read_checkpoint_info
from stcorr.training.engine import train


TINY = {
    "data.clip_len": 8, "data.size": 32, "model.grid": [4, 4, 4], "model.width": 8,
    "train.max_steps": 6, "train.checkpoint_every": 2, "train.val_every": 0, "train.log_every": 1,
}
SMALL_LRPROP = {
    "train.max_steps": 3, "train.checkpoint_every": 3, "train.log_every": 1, "baseline.frames.size": 32,
    "baseline.lrprop.seq_len": 6, "baseline.lrprop.d_model": 16, "baseline.lrprop.ff_dim": 32,
    "baseline.lrprop.embedding_dim": 8,
}


def _weights(run: Path) -> dict:
    return load_file(str(run / "checkpoint" / "model.safetensors"))


def _losses(run: Path) -> list[tuple[str, str]]:
    rows = (run / "train_log.csv").read_text().splitlines()
    return [tuple(r.split(",")[:3]) for r in rows]


def _cli(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "stcorr.cli.main", *args]


def test_kill_9_at_random_moments_then_resume_equals_an_uninterrupted_run(golf, tmp_path):
    overrides = [f"--set={k}={json.dumps(v)}" for k, v in {**TINY, "train.max_steps": 14, "train.checkpoint_every": 3}.items()]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    whole = tmp_path / "whole"
    done = subprocess.run(_cli(["train", "--data", str(golf), "--out", str(whole), "--no-progress", *overrides]),
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    run, rng, kills, had_checkpoint = tmp_path / "killed", random.Random(7), 0, False
    for attempt in range(12):
        resume = ["--resume"] if (run / "checkpoint").exists() else []
        proc = subprocess.Popen(_cli(["train", "--data", str(golf), "--out", str(run), "--no-progress", *resume, *overrides]),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        try:
            proc.wait(timeout=rng.uniform(2.0, 6.0) if attempt < 8 else 120)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
        stderr = proc.stderr.read()
        proc.stderr.close()
        if had_checkpoint:  # once written, a checkpoint is never lost
            read_checkpoint_info(run / "checkpoint")
        had_checkpoint = had_checkpoint or (run / "checkpoint").exists() or (run / ".checkpoint.old").exists()
        if proc.returncode == 0:
            break
        assert proc.returncode == -signal.SIGKILL, stderr
    assert proc.returncode == 0 and kills >= 1
    a, b = _weights(whole), _weights(run)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert _losses(run) == _losses(whole)


def test_a_crash_between_the_two_renames_loses_no_checkpoint(golf, tmp_path):
    cfg = load_config("cpu", TINY)
    train(cfg, open_dataset(golf), tmp_path, progress=False, stop_after=2)
    (tmp_path / "checkpoint").rename(tmp_path / ".checkpoint.old")  # the state a crash there leaves
    resumed = train(cfg, open_dataset(golf), tmp_path, resume=True, progress=False)
    assert resumed.step == 6 and not (tmp_path / ".checkpoint.old").exists()
    assert read_checkpoint_info(tmp_path / "checkpoint")[1]["step"] == 6


def test_resume_drops_log_rows_written_after_the_checkpoint(golf, tmp_path):
    cfg = load_config("cpu", TINY)
    train(cfg, open_dataset(golf), tmp_path / "whole", progress=False)
    run = tmp_path / "run"
    train(cfg, open_dataset(golf), run, progress=False, stop_after=4)
    with (run / "train_log.csv").open("a") as f:  # what a kill after step 4's checkpoint may leave
        f.write("5,1.0,0.123,0.001,9.0\n6,1.2,0.4")
    train(cfg, open_dataset(golf), run, resume=True, progress=False)
    assert _losses(run) == _losses(tmp_path / "whole")


def test_resume_with_another_process_count_is_refused(golf, tmp_path):
    cfg = load_config("cpu", TINY)
    train(cfg, open_dataset(golf), tmp_path, progress=False, stop_after=2)
    info_file = tmp_path / "checkpoint" / "checkpoint.json"
    info = json.loads(info_file.read_text())
    info_file.write_text(json.dumps({**info, "world_size": 2}))
    with pytest.raises(StcorrError, match="trained with 2"):
        train(cfg, open_dataset(golf), tmp_path, resume=True, progress=False)


def test_init_from_another_learner_is_refused(golf, tmp_path):
    cfg = load_config("lrprop", SMALL_LRPROP)
    train(cfg, open_dataset(golf), tmp_path / "lrprop", progress=False)
    with pytest.raises(StcorrError, match="same learner"):
        train(load_config("cpu", TINY), open_dataset(golf), tmp_path / "run", init=tmp_path / "lrprop" / "checkpoint",
              progress=False)


def test_set_null_reaches_the_config():
    cfg = build_config("cpu", ["model.blocks=null", "model.weights=null"])
    assert cfg["model"]["blocks"] is None and cfg["model"]["weights"] is None
    assert load_config("cpu")["model"]["blocks"] == [1, 1, 1, 1]


@pytest.mark.parametrize("override, key", [
    ({"train.lrr": 1}, "train.lrr"), ({"baseline.tcc.hiden": 3}, "baseline.tcc.hiden"),
    ({"train.lr": "fast"}, "train.lr"), ({"train.batch_size": 0}, "train.batch_size"),
    ({"data.source_window": "all"}, "data.source_window"), ({"model.aggregator_args": {"hiden": 3}}, "hiden"),
    ({"baseline.cats2d.aggregator_args": {"depthh": 1}}, "depthh"),
])
def test_a_wrong_key_anywhere_is_a_one_line_error_naming_it(override, key):
    with pytest.raises(StcorrError) as err:
        load_config("demo", override)
    assert key in str(err.value) and "\n" not in str(err.value)
