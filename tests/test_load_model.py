"""Loading trained models for inference, with no training code: the model registry, the
checkpoint reader, ``stcorr.load_model`` and ``Predictor.from_checkpoint``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import write_frames
from stcorr.data.video import Video
from stcorr.errors import StcorrError
from stcorr.learners import LEARNERS
from stcorr.models.registry import MODELS

FIXTURE = Path(__file__).parent / "fixtures" / "old_checkpoint"
PARTIAL = Path(__file__).parent / "fixtures" / "partial_checkpoint"


def fixture_frames(root: Path, fixture: Path) -> Path:
    """The two frame folders a fixture's points were predicted on (tests/fixtures/make_*_checkpoint.py)."""
    expected = json.loads((fixture / "expected.json").read_text())
    for name, (n, seed) in expected["frames"].items():
        write_frames(root / name, n, seed=seed)
    return root


@pytest.fixture(scope="module")
def old_frames(tmp_path_factory) -> Path:
    return fixture_frames(tmp_path_factory.mktemp("old"), FIXTURE)


def test_every_learner_has_a_model_kind():
    assert set(LEARNERS) == set(MODELS)


def test_a_checkpoint_written_before_the_move_predicts_the_same_points(old_frames):
    from stcorr import Predictor

    expected = json.loads((FIXTURE / "expected.json").read_text())
    predictor = Predictor.from_checkpoint(FIXTURE / "checkpoint", "cpu")
    result = predictor.predict(old_frames / "source", old_frames / "target", np.array(expected["points"]))
    np.testing.assert_allclose(result.points, expected["predicted"], atol=1e-4)
    np.testing.assert_allclose(result.scores, expected["scores"], atol=1e-5)


def test_a_checkpoint_lacking_config_keys_takes_cpu_yamls_and_predicts_the_same_points(tmp_path):
    """Written by the code before the shadow defaults went (tests/fixtures/make_partial_checkpoint.py),
    with a model entry and a run config that lack keys; they are completed from cpu.yaml."""
    from stcorr import Predictor
    from stcorr.models.checkpoint import read_checkpoint_info

    info = json.loads((PARTIAL / "checkpoint" / "checkpoint.json").read_text())
    assert "input" not in info["model"] and "baseline" not in info["config"]
    frames = fixture_frames(tmp_path, PARTIAL)
    expected = json.loads((PARTIAL / "expected.json").read_text())
    predictor = Predictor.from_checkpoint(PARTIAL / "checkpoint", "cpu")
    result = predictor.predict(frames / "source", frames / "target", np.array(expected["points"]))
    np.testing.assert_allclose(result.points, expected["predicted"], atol=1e-4)
    np.testing.assert_allclose(result.scores, expected["scores"], atol=1e-5)
    filled = read_checkpoint_info(PARTIAL / "checkpoint")[1]["config"]
    assert filled["baseline"]["pose"]["min_visibility"] == 0.5 and filled["data"]["max_target_stride"] == 8
    import stcorr

    assert stcorr.load_model(PARTIAL / "checkpoint").config["readout"] == {"kind": "soft_argmax", "temperature": 0.05,
                                                                          "kernel_sigma": None}


def test_a_run_whose_checkpoint_lacks_keys_resumes_when_they_keep_cpu_yamls_values():
    from stcorr.config import load_config
    from stcorr.models.checkpoint import read_checkpoint_info
    from stcorr.training.checkpoint import check_resume_config

    folder, info = read_checkpoint_info(PARTIAL / "checkpoint")
    # the run's own values, as its config file gives them again; corrflow.propagation.topk was cpu.yaml's
    # 10 when the fixture was written (5 since): a key the checkpoint holds keeps the checkpoint's value
    cfg = load_config(None, {"model.width": 4, "model.grid": [4, 4, 4], "data.clip_len": 8, "data.size": 32,
                             "model.aggregator_args": {"hidden": 8, "feature_proj": 4},
                             "corrflow.propagation.topk": info["config"]["corrflow"]["propagation"]["topk"]})
    check_resume_config(info, cfg, folder)
    with pytest.raises(StcorrError, match="section data differs"):
        check_resume_config(info, {**cfg, "data": {**cfg["data"], "max_target_stride": 4}}, folder)


def test_load_model_gives_the_matcher_in_eval_mode():
    import stcorr
    from stcorr.models.matcher import Matcher

    model = stcorr.load_model(str(FIXTURE / "checkpoint"))
    assert isinstance(model, Matcher) and not model.training


def test_load_model_refuses_the_wrong_kind_in_one_line():
    from stcorr.models.checkpoint import load_checkpoint

    with pytest.raises(StcorrError, match="expected a TCC checkpoint, but it holds a space-time correspondence"):
        load_checkpoint(FIXTURE / "checkpoint", "tcc")


def test_an_unknown_shipped_name_is_one_error():
    import stcorr

    with pytest.raises(StcorrError, match="no shipped model 'nothing-such'"):
        stcorr.load_model("stcorr:nothing-such")


def test_loading_imports_no_training_code():
    code = ("import sys, stcorr; stcorr.load_model(sys.argv[1]); "
            "bad = sorted(m for m in sys.modules if m.startswith(('stcorr.training', 'stcorr.learners'))); "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code, str(FIXTURE / "checkpoint")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
