"""Every learner of the registry (``stcorr.learners.LEARNERS``) tested alike: its config section and a
bad config as one line, an exact resume, one process = two processes (gloo), its validation. A new
learner is tested here by its registry line alone: its ``tiny`` overrides size the runs.

The two-process case of the default task (cpu.yaml's ``task``) runs by default; the others start
three interpreters each and are marked slow (``pytest -m slow``).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from cli_helpers import run_stcorr
from stcorr.config import load_config
from stcorr.data.datasets import open_dataset
from stcorr.errors import StcorrError
from stcorr.learners import LEARNERS, learner_sections
from stcorr.settings import default_section
from stcorr.training.engine import train

RUN = {"train.max_steps": 4, "train.checkpoint_every": 2, "train.log_every": 1, "train.val_every": 0}
DEFAULT_TASK = load_config(None)["task"]


#: learners whose data need MediaPipe (the optional `pose` extra): the lifter reads its world joints
NEEDS_MEDIAPIPE = {"lifter"}


def tiny_config(task: str, **more) -> dict:
    if task in NEEDS_MEDIAPIPE:
        pytest.importorskip("mediapipe")
    return load_config(None, {"task": task, **LEARNERS[task].tiny, **RUN, **more})


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "checkpoint" / "model.safetensors"))


def untrained(task: str, data: Path) -> torch.nn.Module:
    """The model a run of ``tiny_config(task)`` starts from (the engine seeds torch so before the learner)."""
    cfg = tiny_config(task)
    torch.manual_seed(cfg["seed"])
    return LEARNERS[task](cfg, open_dataset(data), torch.device("cpu")).build_model()


def one_line(error: StcorrError) -> str:
    message = str(error)
    assert "\n" not in message
    return message


def two_processes_case(task: str):
    if not LEARNERS[task].per_example:
        return pytest.param(task, marks=pytest.mark.skip(
            reason="per_example False: BatchNorm sees each process's examples, so N processes train differently"))
    return pytest.param(task, marks=() if task == DEFAULT_TASK else pytest.mark.slow)


# ---------------------------------------------------------------- the registry and the config


@pytest.mark.parametrize("task", LEARNERS)
def test_the_registry_line_names_the_learner_as_it_names_itself(task):
    learner = LEARNERS[task]
    assert learner.name == task and learner.description
    assert learner.section is None or learner.section.__module__ == learner.__module__  # its schema beside it


@pytest.mark.parametrize("key", learner_sections())
def test_each_learner_section_takes_cpu_yaml_values_and_sits_in_the_config(key):
    schema = learner_sections()[key]
    section = load_config(None)
    for part in key.split("."):
        section = section[part]
    assert section == schema.checked(default_section(key)).model_dump()


@pytest.mark.parametrize("key", learner_sections())
def test_a_bad_key_or_value_in_a_learner_section_is_one_line_naming_it(key):
    with pytest.raises(StcorrError) as unknown:
        load_config(None, {f"{key}.nonsense": 1})
    assert f"{key}.nonsense" in one_line(unknown.value)
    first = next(iter(learner_sections()[key].model_fields))
    with pytest.raises(StcorrError) as wrong:
        load_config(None, {f"{key}.{first}": {"not": "this"}})
    assert f"{key}.{first}" in one_line(wrong.value)


def test_an_unknown_task_is_one_line_naming_every_registered_one():
    with pytest.raises(StcorrError) as err:
        load_config(None, {"task": "nonsense"})
    assert all(task in one_line(err.value) for task in LEARNERS)


def test_train_lists_the_registry():
    listing = run_stcorr("train", "--list-tasks")
    assert listing.returncode == 0
    assert [line.split()[0] for line in listing.stdout.splitlines()] == list(LEARNERS)
    assert run_stcorr("train", "--out", "x").one_line_error


# ---------------------------------------------------------------- training through the engine


@pytest.mark.parametrize("task", LEARNERS)
def test_a_resumed_run_trains_exactly_as_an_uninterrupted_one(task, golf, tmp_path):
    cfg = tiny_config(task)
    whole = train(cfg, open_dataset(golf), tmp_path / "whole", progress=False)
    part = train(cfg, open_dataset(golf), tmp_path / "split", progress=False, stop_after=2)
    assert part.step == 2 and json.loads((tmp_path / "split/checkpoint/checkpoint.json").read_text())["step"] == 2
    at_step_2 = weights(tmp_path / "split")
    resumed = train(cfg, open_dataset(golf), tmp_path / "split", resume=True, progress=False)
    assert resumed.step == 4 and resumed.losses == whole.losses[2:] and all(math.isfinite(x) for x in whole.losses)
    a, b = weights(tmp_path / "whole"), weights(tmp_path / "split")
    assert a.keys() == b.keys() == untrained(task, golf).state_dict().keys()  # buffers too (CorrFlow's colours)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], at_step_2[k]) for k in a)  # the last two steps trained something
    rows = (tmp_path / "split" / "train_log.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows] == ["step", "1", "2", "3", "4"]
    assert rows == (tmp_path / "whole" / "train_log.csv").read_text().splitlines()[:1] + rows[1:]


@pytest.mark.parametrize("task", [two_processes_case(task) for task in LEARNERS])
def test_two_gloo_processes_train_as_one_process_with_the_same_global_batch(task, golf, tmp_path):
    sets = [f"--set={k}={json.dumps(v)}" for k, v in {"task": task, **LEARNERS[task].tiny, **RUN, "train.max_steps": 2}.items()]
    common = ["train", "--data", str(golf), "--no-progress", *sets]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    single = subprocess.run([sys.executable, "-m", "stcorr.cli.main", *common, "--out", str(tmp_path / "one"),
                             "--set", "train.batch_size=2"], capture_output=True, text=True, env=env)
    assert single.returncode == 0, single.stderr[-3000:]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "stcorr.cli.main"]
    double = subprocess.run([*launcher, *common, "--out", str(tmp_path / "two"), "--set", "train.batch_size=1"],
                            capture_output=True, text=True, env=env)
    assert double.returncode == 0, double.stderr[-3000:]
    one, two = weights(tmp_path / "one"), weights(tmp_path / "two")
    initial = dict(untrained(task, golf).named_parameters())  # buffers (BatchNorm's running statistics) are rank 0's
    for name in initial:
        torch.testing.assert_close(one[name], two[name], rtol=1e-5, atol=1e-6, msg=name)
    assert any(not torch.equal(one[name], value) for name, value in initial.items())


@pytest.mark.parametrize("task", LEARNERS)
def test_validation_gives_finite_figures_or_none(task, golf):
    learner = LEARNERS[task](tiny_config(task), open_dataset(golf), torch.device("cpu"))
    figures = learner.validate(untrained(task, golf), 1)
    assert figures is None or (figures and all(math.isfinite(float(v)) for v in figures.values()))
