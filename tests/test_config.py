import pytest

from stcorr.config import load_config, packaged_configs, parse_overrides
from stcorr.errors import StcorrError
from stcorr.models.matcher import build_matcher


def test_packaged_configs_named_by_the_spec_exist_and_build():
    assert {"cpu", "paper-3+3", "paper-13+3", "pouring", "demo"} <= set(packaged_configs())
    for name in ("cpu", "paper-3+3", "paper-13+3"):
        cfg = load_config(name)
        build_matcher({**cfg["model"], "width": 4, "blocks": None if cfg["model"]["blocks"] is None else [1, 1, 1, 1]})
    assert load_config("paper-3+3")["data"]["setup"] == "3+3"
    assert load_config("paper-13+3")["model"]["backbone"] == "r2plus1d34"


def test_yaml_file_and_dotted_overrides_merge_onto_the_default(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("train:\n  lr: 0.5\nmodel:\n  aggregator_args: {hidden: 4}\n")
    cfg = load_config(f, parse_overrides(["train.max_steps=7", "model.grid=[4, 8, 8]"]))
    assert cfg["train"]["lr"] == 0.5 and cfg["train"]["max_steps"] == 7 and cfg["model"]["grid"] == [4, 8, 8]
    assert cfg["model"]["aggregator_args"] == {"hidden": 4}
    assert cfg["train"]["backbone_lr"] == load_config()["train"]["backbone_lr"]


@pytest.mark.parametrize("text, message", [
    ("train:\n  learning_rate: 1\n", "unknown config key 'train.learning_rate'"),
    ("trian: {}\n", "unknown config key 'trian'"),
    ("train: [1, 2\n", "not valid YAML"),
    ("- 1\n", "expected a mapping"),
])
def test_bad_config_files_name_the_problem(tmp_path, text, message):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(StcorrError, match=message):
        load_config(f)


def test_unknown_packaged_config_and_bad_override():
    with pytest.raises(StcorrError, match="no config file or packaged config named 'paper-99'"):
        load_config("paper-99")
    with pytest.raises(StcorrError, match="--set takes KEY=VALUE"):
        parse_overrides(["train.lr"])


def test_overrides_of_an_open_mapping_add_up():
    cfg = load_config("tcc", {"baseline.tcc_checkpoint": "A", "baseline.cats2d_checkpoint": "B"})
    assert cfg["baseline"]["tcc_checkpoint"] == "A" and cfg["baseline"]["cats2d_checkpoint"] == "B"
    assert set(load_config("tcc")["baseline"]) <= set(cfg["baseline"])  # the packaged values stay


@pytest.mark.parametrize("name", packaged_configs())
def test_every_packaged_config_loads_against_the_schema(name):
    assert load_config(name)["task"]


def test_a_task_no_learner_trains_is_refused_when_the_config_is_loaded():
    with pytest.raises(StcorrError, match="unknown task 'tracking'"):
        load_config(None, {"task": "tracking"})
    assert load_config(None, {"task": "cycle"})["task"] == "cycle"
