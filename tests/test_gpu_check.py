"""benchmarks/gpu_check.py: its CPU dry run (tiny sizes, torchrun with gloo) trains every case it is
given and reports a step time and a loss curve; the GPU run itself needs a CUDA machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


@pytest.mark.slow
def test_dry_run_trains_each_case(golf, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--data", str(golf), "--out", str(tmp_path),
                           "--cases", "ants8-fp32,sparse16-bf16", "--budget-s", "300"],
                          capture_output=True, text=True, env=env, timeout=400)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["dry_run"] and [c["case"] for c in report["cases"]] == ["ants8-fp32", "sparse16-bf16"]
    for case in report["cases"]:
        assert case["status"] == "ok", case["status"]
        assert case["steps_done"] == 4 and [step for step, _ in case["loss_curve"]] == [1, 2, 3, 4]
        assert all(loss > 0 for _, loss in case["loss_curve"])
        assert case["s_per_step"] is not None and case["s_per_step"] > 0
    sparse = report["cases"][1]["overrides"]
    assert sparse["model.aggregator"] == "sparse" and sparse["model.grid"] == [4, 4, 4]


def test_refuses_without_a_gpu_unless_dry_run(tmp_path):
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA machine: the real check would run")
    done = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and "--dry-run" in done.stderr
