"""Training: exact resume, data-parallel equivalence, checkpoints, and the train/eval commands."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from stcorr.config import load_config
from stcorr.data.datasets import open_dataset
from stcorr.errors import StcorrError
from stcorr.models.checkpoint import load_matcher
from stcorr.training.engine import lr_factor, train


TINY = {
    "data.clip_len": 8, "data.size": 32, "model.grid": [4, 4, 4], "model.width": 8,
    "train.max_steps": 4, "train.checkpoint_every": 2, "train.val_every": 0, "train.log_every": 1,
}


def _weights(run: Path) -> dict:
    return load_file(str(run / "checkpoint" / "model.safetensors"))


def test_resumed_run_equals_uninterrupted_run(golf, tmp_path):
    cfg = load_config("cpu", TINY)
    dataset = open_dataset(golf)
    full = train(cfg, dataset, tmp_path / "full", progress=False)
    part = train(cfg, dataset, tmp_path / "part", progress=False, stop_after=2)
    assert part.step == 2 and json.loads((tmp_path / "part/checkpoint/checkpoint.json").read_text())["step"] == 2
    resumed = train(cfg, dataset, tmp_path / "part", resume=True, progress=False)
    assert resumed.step == 4 and resumed.losses == full.losses[2:]
    a, b = _weights(tmp_path / "full"), _weights(tmp_path / "part")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    rows = (tmp_path / "part" / "train_log.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows] == ["step", "1", "2", "3", "4"]
    weights_moved = any(not torch.equal(a[k], v) for k, v in _initial_state(cfg).items() if k in a)
    assert weights_moved


def _initial_state(cfg):
    from stcorr.models.matcher import build_matcher

    torch.manual_seed(cfg["seed"])
    return build_matcher(cfg["model"]).state_dict()


def test_resume_refuses_a_changed_config(golf, tmp_path):
    cfg = load_config("cpu", TINY)
    train(cfg, open_dataset(golf), tmp_path / "run", progress=False, stop_after=2)
    changed = load_config("cpu", {**TINY, "train.lr": 0.5})
    with pytest.raises(StcorrError, match="different config"):
        train(changed, open_dataset(golf), tmp_path / "run", resume=True, progress=False)


def test_two_gloo_processes_equal_one_process_with_the_same_global_batch(golf, tmp_path):
    overrides = [f"--set={k}={json.dumps(v)}" for k, v in {**TINY, "train.max_steps": 2, "train.checkpoint_every": 2}.items()]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    single = subprocess.run([sys.executable, "-m", "stcorr.cli.main", "train", "--data", str(golf), "--out", str(tmp_path / "one"),
                             "--no-progress", "--set", "train.batch_size=2", *overrides], capture_output=True, text=True, env=env)
    assert single.returncode == 0, single.stderr
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29517", "-m", "stcorr.cli.main"]
    double = subprocess.run([*launcher, "train", "--data", str(golf), "--out", str(tmp_path / "two"), "--no-progress",
                             "--set", "train.batch_size=1", *overrides], capture_output=True, text=True, env=env)
    assert double.returncode == 0, double.stderr[-3000:]
    one, two = load_matcher(tmp_path / "one" / "checkpoint")[0], load_matcher(tmp_path / "two" / "checkpoint")[0]
    initial = _initial_state(load_config("cpu", TINY))
    moved = 0
    for (name, p1), (_, p2) in zip(one.named_parameters(), two.named_parameters()):
        torch.testing.assert_close(p1, p2, rtol=1e-5, atol=1e-6, msg=name)
        moved += not torch.equal(p1, initial[name])
    assert moved > 0


def test_lr_schedule_halves_at_the_paper_epochs():
    factors = [lr_factor(s, 1000, 100, [70, 80, 90]) for s in (0, 699, 700, 799, 800, 900, 999)]
    assert factors == [1, 1, 0.5, 0.5, 0.25, 0.125, 0.125]


def test_checkpoint_errors_are_one_line(tmp_path, golf):
    with pytest.raises(StcorrError, match="checkpoint not found"):
        load_matcher(tmp_path / "nope")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "checkpoint.json").write_text("{}")
    (bad / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(StcorrError, match="not a stcorr-checkpoint/1 checkpoint"):
        load_matcher(bad)
    cfg = load_config("cpu", TINY)
    train(cfg, open_dataset(golf), tmp_path / "run", progress=False, stop_after=1)
    ckpt = tmp_path / "run" / "checkpoint"
    (ckpt / "model.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(StcorrError, match="corrupt or unreadable safetensors"):
        load_matcher(ckpt)
    info = json.loads((ckpt / "checkpoint.json").read_text())
    info["model"].update(aggregator="st-cats", aggregator_args={})
    train(cfg, open_dataset(golf), tmp_path / "run2", progress=False, stop_after=1)
    (tmp_path / "run2" / "checkpoint" / "checkpoint.json").write_text(json.dumps(info))
    with pytest.raises(StcorrError, match="checkpoint is from another model"):
        load_matcher(tmp_path / "run2" / "checkpoint")


def test_unknown_config_key_is_an_error(golf, tmp_path):
    run = subprocess.run([sys.executable, "-m", "stcorr.cli.main", "train", "--data", str(golf), "--out", str(tmp_path / "r"),
                          "--set", "train.learning_rate=1"], capture_output=True, text=True)
    assert run.returncode == 2 and "unknown config key 'train.learning_rate'" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and not (tmp_path / "r").exists()
