"""The trained models that ship in the package (stcorr/weights/NAME, `--checkpoint stcorr:NAME`): each
loads, matches the sha256 on its card, and reproduces its card's check figure within noise."""

import hashlib
import json
from pathlib import Path

import pytest

from cli_helpers import run_stcorr
from stcorr.errors import StcorrError
from stcorr.evaluation.shipped_checks import check_figures
from stcorr.models.shipped import model_card, resolve_checkpoint, shipped_names
from stcorr.models.checkpoint import load_checkpoint

NAMES = shipped_names()


def test_resolve_checkpoint_maps_names_and_leaves_paths_alone():
    assert resolve_checkpoint("runs/x/checkpoint") == Path("runs/x/checkpoint")
    with pytest.raises(StcorrError) as error:
        resolve_checkpoint("stcorr:no-such-model")
    assert "no-such-model" in str(error.value) and all(f"stcorr:{n}" in str(error.value) for n in NAMES)
    for name in NAMES:
        assert resolve_checkpoint(f"stcorr:{name}").is_dir()


def test_the_expected_models_ship_and_stay_small():
    assert {"corrflow-cpu", "cycle", "cycle-pose", "cpu-long-pose", "lifter"} <= set(NAMES)
    sizes = {n: sum(f.stat().st_size for f in resolve_checkpoint(f"stcorr:{n}").iterdir()) for n in NAMES}
    assert sizes["cpu-long-pose"] < 14 * 2**20  # the joint model: 3.2 M float32 parameters
    assert sum(size for name, size in sizes.items() if name != "cpu-long-pose") < 8 * 2**20


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("shipped")


@pytest.mark.parametrize("name", NAMES)
def test_a_shipped_model_loads_and_reproduces_its_card(name, workdir):
    folder = resolve_checkpoint(f"stcorr:{name}")
    card = model_card(name)
    assert hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest() == card["sha256"]
    assert (folder / f"{name}.md").is_file() and card["figures"]
    model, info = load_checkpoint(folder, card["task"])
    assert info["step"] == card["steps"]
    measured = check_figures(folder, workdir)
    check = card["check"]
    assert measured.keys() == check["figures"].keys()
    for key, value in check["figures"].items():
        assert measured[key] == pytest.approx(value, abs=check["tolerance"]), key


@pytest.mark.skipif("corrflow-cpu" not in NAMES, reason="no shipped CorrFlow model")
def test_propagate_loads_a_shipped_model_by_name(tmp_path, golf):
    keypoints = tmp_path / "kp.json"
    keypoints.write_text(json.dumps({"keypoints": [{"name": "p", "t": 0, "x": 20.0, "y": 20.0}]}))
    out = tmp_path / "tracks.json"
    run = run_stcorr("propagate", "--video", golf / "frames" / "0001", "--keypoints", keypoints,
                     "--checkpoint", "stcorr:corrflow-cpu", "--out", out)
    assert run.returncode == 0, run.stderr
    assert json.loads(out.read_text())["checkpoint"] == "stcorr:corrflow-cpu"
    unknown = run_stcorr("propagate", "--video", golf / "frames" / "0001", "--keypoints", keypoints,
                         "--checkpoint", "stcorr:nope", "--out", tmp_path / "t.json")
    assert unknown.one_line_error and "stcorr:corrflow-cpu" in unknown.stderr


@pytest.mark.skipif("cycle" not in NAMES, reason="no shipped cycle embedding")
def test_retrieve_loads_the_shipped_cycle_embedding_by_name(tmp_path, golf):
    out = tmp_path / "r.json"
    run = run_stcorr("retrieve", "--query", golf / "frames" / "0002", "--data", golf, "--features", "cycle",
                     "--checkpoint", "stcorr:cycle", "--out", out)
    assert run.returncode == 0, run.stderr
    assert json.loads(out.read_text())["checkpoint"] == "stcorr:cycle"
