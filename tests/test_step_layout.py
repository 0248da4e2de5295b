"""benchmarks/cpu_layout.py trains the same global batch in every processes x threads layout."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from cpu_layout import layout_command  # noqa: E402


def _setting(command: list[str], key: str) -> str:
    values = [command[i + 1].split("=", 1)[1] for i, arg in enumerate(command[:-1])
              if arg == "--set" and command[i + 1].startswith(key + "=")]
    assert len(values) == 1
    return values[0]


def test_one_process_trains_the_whole_batch_without_torchrun(tmp_path):
    command = layout_command(1, tmp_path / "data", "demo", tmp_path / "run", 12, ["train.lr=0.01"], 2)
    assert "torch.distributed.run" not in command and command[1:4] == ["-m", "stcorr.cli.main", "train"]
    assert _setting(command, "train.batch_size") == "2" and _setting(command, "train.max_steps") == "12"
    assert _setting(command, "train.lr") == "0.01" and _setting(command, "train.val_every") == "0"


def test_two_processes_split_the_batch_under_torchrun(tmp_path):
    command = layout_command(2, tmp_path / "data", "cpu-long", tmp_path / "run", 12, [], 2)
    assert command[1:3] == ["-m", "torch.distributed.run"] and "--nproc-per-node=2" in command
    assert _setting(command, "train.batch_size") == "1"
