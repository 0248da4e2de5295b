"""Training: refused resumes, the schedule, checkpoints, and the train/eval commands (exact resume and
one process = N processes, for every learner: tests/test_learners.py)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
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


def test_resume_refuses_a_changed_config(golf, tmp_path):
    cfg = load_config("cpu", TINY)
    train(cfg, open_dataset(golf), tmp_path / "run", progress=False, stop_after=2)
    changed = load_config("cpu", {**TINY, "train.lr": 0.5})
    with pytest.raises(StcorrError, match="different config"):
        train(changed, open_dataset(golf), tmp_path / "run", resume=True, progress=False)
    # the example thread changes how the run computes, not what: a run resumes with it switched
    assert cfg["train"]["prefetch"] == "auto"
    other_thread = load_config("cpu", {**TINY, "train.prefetch": True})
    assert train(other_thread, open_dataset(golf), tmp_path / "run", resume=True, progress=False).losses


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
