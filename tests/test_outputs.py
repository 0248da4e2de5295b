"""Never lose a user's file (issue 21): the output policy of every verb (stcorr/cli/outputs.py, docs/outputs.md).

Each row of the issue's table is a case: the command must end with one ``error:`` line, exit
status 2, and every file that was there before unchanged. Then a property test: for random verbs,
inputs and output places, no file that existed before and that stcorr did not write changes. The
train cases (two runs on one folder, kill -9 then --resume) run a real second process.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from stcorr.config import load_config
from stcorr.data.datasets import open_dataset
from stcorr.data.masks import write_mask

from cli_helpers import run_stcorr
from conftest import make_penn, write_frames

TINY = {"data.clip_len": 8, "data.size": 32, "model.grid": [4, 4, 4], "model.width": 8, "train.max_steps": 1,
        "train.val_every": 0, "train.log_every": 1}
TINY_SETS = [a for key, value in TINY.items() if key.startswith(("data.", "model."))
             for a in ("--set", f"{key}={json.dumps(value).replace(' ', '')}")]
TRAIN = ["--config", "cpu", *TINY_SETS, "--set", "train.val_every=0", "--no-progress"]
PALETTE = [0, 0, 0, 200, 30, 40] + [7] * (768 - 6)


def snapshot(root: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under ``root`` (links followed)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def refused(run, *words) -> None:
    assert run.returncode is not None, f"traceback:\n{run.stderr}"
    assert run.one_line_error, f"not one error line with exit 2 (exit {run.returncode}):\n{run.stderr}"
    for word in words:
        assert word in run.stderr, run.stderr


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    """Small valid inputs of every kind (seconds): a Penn layout, a pairs layout, a trained
    checkpoint, keypoints, a frame folder with a first-frame mask, a RESULTS.json."""
    from stcorr.training.engine import train

    root = tmp_path_factory.mktemp("outputs")
    videos = {f"{i + 1:04d}": {"action": "golf_swing", "train": 1 if i < 3 else -1, "n": 12 + i, "key_moments": [2, 9]}
              for i in range(6)}
    penn = make_penn(root / "penn", videos)
    train(load_config("cpu", TINY), open_dataset(penn), root / "run", progress=False)
    (root / "kp.json").write_text(json.dumps({"keypoints": [{"name": "head", "t": 2, "x": 10.0, "y": 12.5}]}))
    mask = np.zeros((48, 64), np.uint8)
    mask[10:20, 10:30] = 1
    write_mask(root / "first.png", mask, PALETTE)
    results = root / "results"
    made = run_stcorr("eval", "--data", penn, "--method", "gt-time+pose-oracle", "--out", results / "m.json", "--no-progress")
    assert made.returncode == 0, made.stderr
    return {"root": root, "penn": penn, "ckpt": root / "run" / "checkpoint", "kp": root / "kp.json",
            "mask": root / "first.png", "results": results / "m.json"}


def pairs_layout(folder: Path) -> Path:
    """A pairs-layout data set with four pairs."""
    for name in ("a", "b"):
        write_frames(folder / "frames" / name, 6)
    points = [{"name": n, "source": [1, 10.0 + i, 10.0], "target": [2, 12.0 + i, 11.0]}
              for i, n in enumerate(("head", "left_wrist", "right_wrist"))]
    records = [{"source": s, "target": t, "split": "val", "correspondences": points}
               for s, t in (("a", "b"), ("b", "a"), ("a", "a"), ("b", "b"))]
    (folder / "pairs.json").write_text(json.dumps(records))
    return folder


def png_frames(folder: Path, n: int = 4) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for t in range(n):
        Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(folder / f"{t + 1:06d}.png")
    return folder


def predict_args(world, kp: Path, out: Path, *more) -> list:
    return ["predict", "--checkpoint", world["ckpt"], "--source", world["penn"] / "frames/0001",
            "--target", world["penn"] / "frames/0004", "--keypoints", kp, "--out", out, "--device", "cpu", *more]


# ----------------------------------------------------------------------------- the table, row by row


def test_masks_over_a_frame_folder(world, tmp_path):
    video = png_frames(tmp_path / "video")
    frames = png_frames(tmp_path / "FRAMES")  # another clip's frames: names like masks, not stcorr's
    before = snapshot(tmp_path)
    for out_masks in (frames, video):
        run = run_stcorr("propagate", "--video", video, "--masks", world["mask"], "--out-masks", out_masks,
                         "--features", "pixels")
        refused(run, "--out-masks")
    assert snapshot(tmp_path) == before


def test_masks_into_their_own_folder_again(world, tmp_path):
    video = png_frames(tmp_path / "video")
    for _ in range(2):  # stcorr's own mask folder is replaced, a second time too
        run = run_stcorr("propagate", "--video", video, "--masks", world["mask"], "--out-masks", tmp_path / "m",
                         "--features", "pixels")
        assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in (tmp_path / "m").iterdir() if not p.name.startswith(".")) == [f"{t:05d}.png" for t in range(4)]


def test_eval_over_its_data(world, tmp_path):
    data = pairs_layout(tmp_path / "P")
    before = snapshot(tmp_path)
    run = run_stcorr("eval", "--data", data, "--method", "gt-time+pose-oracle", "--setup", "3+3",
                     "--out", data / "pairs.json", "--no-progress")
    refused(run, "--out", "--data")
    assert snapshot(tmp_path) == before


def test_eval_over_a_checkpoint(world, tmp_path):
    before = snapshot(world["ckpt"])
    run = run_stcorr("eval", "--data", world["penn"], "--checkpoint", world["ckpt"], "--max-pairs", "1",
                     "--out", world["ckpt"] / "checkpoint.json", "--device", "cpu", "--no-progress")
    refused(run, "--checkpoint")
    assert snapshot(world["ckpt"]) == before


@pytest.mark.parametrize("verb", ["predict", "propagate"])
def test_keypoints_as_output(world, tmp_path, verb):
    kp = tmp_path / "kp.json"
    kp.write_bytes(world["kp"].read_bytes())
    args = predict_args(world, kp, kp) if verb == "predict" else \
        ["propagate", "--video", world["penn"] / "frames/0001", "--keypoints", kp, "--out", kp, "--features", "pixels"]
    run = run_stcorr(*args)
    refused(run, "same path")
    assert kp.read_bytes() == world["kp"].read_bytes()


def test_pairs_over_its_data(tmp_path):
    data = pairs_layout(tmp_path / "P")
    before = snapshot(tmp_path)
    run = run_stcorr("pairs", "--data", data, "--setup", "3+3", "--min-visible", "1", "--out", data / "pairs.json",
                     "--max-pairs", "1")
    refused(run, "--data")
    assert snapshot(tmp_path) == before and len(json.loads((data / "pairs.json").read_text())) == 4


def test_same_path_twice(world, tmp_path):
    x = tmp_path / "X.json"
    run = run_stcorr("eval", "--data", world["penn"], "--method", "gt-time+pose-oracle", "--save-predictions", x,
                     "--out", x, "--no-progress")
    refused(run, "same path")
    assert not x.exists()
    made = run_stcorr("eval", "--data", world["penn"], "--method", "gt-time+pose-oracle", "--out", x, "--no-progress")
    assert made.returncode == 0, made.stderr
    kept = x.read_bytes()
    refused(run_stcorr("eval", "--data", world["penn"], "--method", "gt-time+pose-oracle", "--save-predictions", x,
                       "--out", tmp_path / "x" / ".." / "X.json", "--no-progress"), "same path")
    assert x.read_bytes() == kept


def test_train_into_a_folder_with_a_users_files(world, tmp_path):
    run_dir = tmp_path / "DIR"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text("my: config\n")
    (run_dir / "train_log.csv").write_text("step,loss\n1,0.5\n")
    before = snapshot(tmp_path)
    run = run_stcorr("train", "--data", world["penn"], *TRAIN, "--max-steps", "1", "--out", run_dir)
    refused(run, "--out", "not an earlier `stcorr train` output")
    assert snapshot(tmp_path) == before


def test_report_into_a_folder_with_a_users_page(world, tmp_path):
    (tmp_path / "DIR").mkdir()
    (tmp_path / "DIR" / "index.html").write_text("<p>my page</p>")
    before = snapshot(tmp_path)
    refused(run_stcorr("report", world["results"], "--out", tmp_path / "DIR"), "--out")
    assert snapshot(tmp_path) == before
    done = run_stcorr("report", world["results"], "--out", tmp_path / "mine")
    assert done.returncode == 0, done.stderr
    again = run_stcorr("report", world["results"], "--out", tmp_path / "mine")  # its own folder: fine
    assert again.returncode == 0, again.stderr


def test_predict_over_a_users_file(world, tmp_path):
    precious = tmp_path / "DIR" / "precious.txt"
    precious.parent.mkdir()
    precious.write_text("years of notes")
    refused(run_stcorr(*predict_args(world, world["kp"], precious)), "--overwrite")
    assert precious.read_text() == "years of notes"
    done = run_stcorr(*predict_args(world, world["kp"], tmp_path / "pred.json", "--viz", tmp_path / "pred.png"))
    assert done.returncode == 0, done.stderr
    again = run_stcorr(*predict_args(world, world["kp"], tmp_path / "pred.json", "--viz", tmp_path / "pred.png"))
    assert again.returncode == 0, again.stderr  # stcorr's own PRED.json and picture are replaced
    forced = run_stcorr(*predict_args(world, world["kp"], precious, "--overwrite"))
    assert forced.returncode == 0 and json.loads(precious.read_text())["keypoints"], forced.stderr


def _train_process(world, out: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, "-m", "stcorr.cli.main", "train", "--data", str(world["penn"]), *map(str, TRAIN),
               "--set", "train.checkpoint_every=1", "--max-steps", "100000", "--out", str(out)]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for(condition, process: subprocess.Popen, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"the first run ended early:\n{process.stderr.read().decode()}")
        assert time.monotonic() < deadline, "the first run did not get going"
        time.sleep(0.2)


def test_two_runs_on_one_folder_then_kill_9_and_resume(world, tmp_path, monkeypatch):
    out = tmp_path / "RUN"
    first = _train_process(world, out)
    try:
        _wait_for(lambda: (out / "checkpoint" / "checkpoint.json").is_file(), first)
        began = time.monotonic()
        second = run_stcorr("train", "--data", world["penn"], *TRAIN, "--max-steps", "1", "--out", out)
        refused(second, "in use")
        refused(run_stcorr("train", "--data", world["penn"], *TRAIN, "--max-steps", "1", "--resume", "--out", out), "in use")
        assert time.monotonic() - began < 20  # stopped at once, before loading or training
        assert first.poll() is None  # the first run goes on
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    step = json.loads((out / "checkpoint" / "checkpoint.json").read_text())["step"]
    import stcorr.training.engine

    monkeypatch.setattr(stcorr.training.engine, "train", functools.partial(stcorr.training.engine.train, stop_after=step + 1))
    resumed = run_stcorr("train", "--data", world["penn"], *TRAIN, "--set", "train.checkpoint_every=1",
                         "--max-steps", "100000", "--resume", "--out", out)
    assert resumed.returncode == 0, resumed.stderr  # the lock file left by kill -9 blocks nothing
    assert json.loads((out / "checkpoint" / "checkpoint.json").read_text())["step"] == step + 1


# ----------------------------------------------------------------------------- disk full, read-only, names


def test_disk_full_midway_leaves_no_half_set(world, tmp_path, monkeypatch):
    import stcorr.files

    real = stcorr.files._write_bytes
    calls = []

    def full_on_second(path, data):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, data)

    monkeypatch.setattr(stcorr.files, "_write_bytes", full_on_second)
    run = run_stcorr("eval", "--data", world["penn"], "--method", "gt-time+pose-oracle", "--out", tmp_path / "R.json",
                     "--save-predictions", tmp_path / "P.json", "--no-progress")
    refused(run, "No space left")
    assert list(tmp_path.iterdir()) == []  # neither P.json nor R.json, nor a temporary file


def test_train_disk_full_at_the_checkpoint_leaves_no_config(world, tmp_path, monkeypatch):
    import stcorr.training.engine

    def full(folder, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder / "model.safetensors"))

    monkeypatch.setattr(stcorr.training.engine, "save_checkpoint", full)
    run = run_stcorr("train", "--data", world["penn"], *TRAIN, "--max-steps", "1", "--out", tmp_path / "run")
    refused(run, "No space left")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("how", ["read-only", "no space"])
def test_unwritable_place_is_found_before_the_work(world, tmp_path, monkeypatch, how):
    import stcorr.cli.outputs

    if how == "read-only":
        real = os.statvfs
        monkeypatch.setattr(stcorr.cli.outputs.os, "statvfs", lambda p: os.statvfs_result(
            (*real(p)[:8], real(p).f_flag | os.ST_RDONLY, real(p).f_namemax)))
    else:
        monkeypatch.setattr(stcorr.cli.outputs.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9 - 1000, 1000))
    began = time.monotonic()
    for args in (["eval", "--data", world["penn"], "--method", "gt-time+pose-oracle", "--out", tmp_path / "R.json",
                  "--no-progress"],
                 ["train", "--data", world["penn"], *TRAIN, "--max-steps", "1", "--out", tmp_path / "run"]):
        refused(run_stcorr(*args), "Read-only" if how == "read-only" else "free")
    assert time.monotonic() - began < 10 and list(tmp_path.iterdir()) == []


def test_name_too_long_and_path_is_a_folder(world, tmp_path):
    eval_args = ["eval", "--data", world["penn"], "--method", "gt-time+pose-oracle", "--no-progress", "--out"]
    refused(run_stcorr(*eval_args, tmp_path / ("r" * 300 + ".json")), "too long")
    refused(run_stcorr(*eval_args, tmp_path / ("r" * 250 + ".json")), "too long")  # fits, its temporary sibling does not
    (tmp_path / "folder.json").mkdir()
    refused(run_stcorr(*eval_args, tmp_path / "folder.json"), "is a folder")
    (tmp_path / "file").write_text("mine")
    refused(run_stcorr(*eval_args, tmp_path / "file" / "r.json"), "is a file")
    refused(run_stcorr("report", world["results"], "--out", tmp_path / "file"), "is a file")
    assert (tmp_path / "file").read_text() == "mine" and list((tmp_path / "folder.json").iterdir()) == []


# ----------------------------------------------------------------------------- the property


def _layout(world, root: Path, verb: str, place: str, name: str) -> list:
    """(command, inputs) for ``verb`` whose output is put at ``place``, with copied inputs under ``root``."""
    kp = root / "in" / "kp.json"
    kp.parent.mkdir(parents=True, exist_ok=True)
    kp.write_bytes(world["kp"].read_bytes())
    video = png_frames(root / "in" / "video")
    penn = pairs_layout(root / "in" / "P")
    user = root / "user"
    user.mkdir()
    (user / name).write_text("user's file")
    (user / "notes.txt").write_text("user's notes")
    places = {"new": root / "new" / name, "user file": user / name, "user folder": user, "input file": kp,
              "inside input": video / name, "input folder": video, "holds inputs": root / "in",
              "data file": penn / "pairs.json", "data folder": penn}
    out = places[place]
    if verb == "pairs":
        return ["pairs", "--data", penn, "--setup", "3+3", "--min-visible", "1", "--out", out]
    if verb == "propagate":
        return ["propagate", "--video", video, "--keypoints", kp, "--out", out, "--features", "pixels"]
    if verb == "propagate --out-masks":
        return ["propagate", "--video", video, "--masks", world["mask"], "--out-masks", out, "--features", "pixels"]
    if verb == "report":
        return ["report", world["results"], "--out", out]
    if verb == "predict":
        return predict_args(world, kp, out)
    if verb == "score":
        return ["score", "--data", penn, "--setup", "3+3", "--predictions", kp, "--out", out]
    raise AssertionError(verb)


@settings(max_examples=int(os.environ.get("STCORR_OUTPUT_EXAMPLES", 15)), deadline=None, derandomize=True,
          database=None, suppress_health_check=list(HealthCheck))
@given(verb=st.sampled_from(["pairs", "predict", "propagate", "propagate --out-masks", "report", "score"]),
       place=st.sampled_from(["new", "user file", "user folder", "input file", "inside input", "input folder",
                              "holds inputs", "data file", "data folder"]),
       name=st.sampled_from(["out.json", "index.html", "00000.png", "pairs.json", "checkpoint.json", "x"]))
def test_no_users_file_changes(world, tmp_path_factory, verb, place, name):
    root = tmp_path_factory.mktemp("layout")
    command = _layout(world, root, verb, place, name)
    before = snapshot(root)
    run = run_stcorr(*command)
    assert run.returncode is not None, run.stderr
    if run.returncode:
        assert run.one_line_error, run.stderr
    after = snapshot(root)
    changed = [p for p, digest in before.items() if after.get(p) != digest]
    assert not changed, f"{verb} with its output at {place} ({name}) changed {changed}:\n{run.stderr}"


# ----------------------------------------------------------------------------- numbers that size work, odd inputs


@pytest.mark.parametrize("args, words", [
    (["--set", "corrflow.propagation.radius=100000000000"], ["radius", "limit"]),
    (["--set", "x=[1"], ["not plain YAML"]),
    (["--set", "seed=!!python/object/apply:os.system ['touch /tmp/stcorr-pwned']"], ["not plain YAML"]),
], ids=["radius 1e11", "unbalanced bracket", "python tag"])
def test_set_values_end_in_one_line(world, tmp_path, args, words):
    run = run_stcorr("propagate", "--video", world["penn"] / "frames/0001", "--keypoints", world["kp"],
                     "--out", tmp_path / "t.json", "--features", "pixels", *args)
    refused(run, *words)
    assert not (tmp_path / "t.json").exists() and not Path("/tmp/stcorr-pwned").exists()


@pytest.mark.parametrize("args, words", [
    (["synth", "{tmp}/s", "--videos-per-action", "10000000"], ["--videos-per-action"]),
    (["train", "--data", "{penn}", "--max-steps", "10000000000", "--out", "{tmp}/run"], ["--max-steps"]),
    (["eval", "--data", "{penn}", "--method", "gt-time+pose-oracle", "--ks", "1,100000", "--out", "{tmp}/r.json"], ["--ks"]),
    (["eval", "--data", "{penn}", "--method", "gt-time+pose-oracle", "--split", "test", "--out", "{tmp}/r.json"], ["test"]),
    (["train", "--data", "{penn}", "--set", "model.width=200000", "--out", "{tmp}/run"], ["model.width"]),
    (["train", "--data", "{penn}", "--set", 'model.aggregator_args={"hidden": "many"}', "--out", "{tmp}/run"],
     ["aggregator_args.hidden"]),
    (["compare", "{penn}/frames/0001", "{penn}/frames/0002", "--fps", "1e9", "--out", "{tmp}/c"], ["--fps"]),
], ids=["videos per action", "max steps", "ks", "split test", "model width", "aggregator_args type", "fps"])
def test_numbers_past_any_real_use_end_in_one_line(world, tmp_path, args, words):
    args = [a.replace("{tmp}", str(tmp_path)).replace("{penn}", str(world["penn"])) for a in args]
    refused(run_stcorr(*args), *words)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["../outside", "/etc"], ids=["climbs out", "absolute"])
def test_pairs_json_names_stay_inside_the_root(tmp_path, name, monkeypatch):
    data = pairs_layout(tmp_path / "P")
    records = json.loads((data / "pairs.json").read_text())
    records[0]["source"] = name
    (data / "pairs.json").write_text(json.dumps(records))
    refused(run_stcorr("pairs", "--data", data, "--setup", "3+3", "--min-visible", "1", "--out", tmp_path / "o.json"),
            "outside the data root")
    monkeypatch.setenv("STCORR_ALLOW_OUTSIDE_ROOT", "1")  # the user means it: the name is then looked up
    assert "outside the data root" not in run_stcorr("pairs", "--data", data, "--setup", "3+3", "--out", tmp_path / "o.json").stderr


def test_sixteen_bit_png_frames_are_read_right(tmp_path):
    from stcorr.data.video import Video

    folder = tmp_path / "v16"
    folder.mkdir()
    grey = np.linspace(0, 65535, 48 * 64).reshape(48, 64).astype(np.uint16)
    for t in range(2):
        Image.fromarray(grey).save(folder / f"{t + 1:06d}.png")
    frame = Video(folder).frame(0)
    assert frame.shape == (48, 64, 3) and frame.dtype == np.uint8
    assert abs(int(frame[-1, -1, 0]) - 255) <= 1 and frame[0, 0, 0] == 0 and 100 < frame[24, 32, 1] < 160


def test_checkpoint_with_nan_weights_or_oversized_settings_is_refused_at_load(world, tmp_path):
    import shutil as sh

    from safetensors.torch import load_file, save_file

    nan = tmp_path / "nan"
    sh.copytree(world["ckpt"], nan)
    state = load_file(str(nan / "model.safetensors"))
    first = next(k for k, v in state.items() if v.is_floating_point())
    state[first][...] = float("nan")
    save_file(state, str(nan / "model.safetensors"))
    eval_args = ["eval", "--data", world["penn"], "--max-pairs", "1", "--device", "cpu", "--no-progress", "--checkpoint"]
    refused(run_stcorr(*eval_args, nan, "--out", tmp_path / "r.json"), "NaN")
    huge = tmp_path / "huge"
    sh.copytree(world["ckpt"], huge)
    info = json.loads((huge / "checkpoint.json").read_text())
    info["model"]["width"] = 200000
    (huge / "checkpoint.json").write_text(json.dumps(info))
    began = time.monotonic()
    refused(run_stcorr(*eval_args, huge, "--out", tmp_path / "r.json"), "GiB")
    assert time.monotonic() - began < 30 and not (tmp_path / "r.json").exists()


def test_a_video_frame_past_libx264s_size_is_one_line(tmp_path):
    from stcorr.data.video import write_video
    from stcorr.errors import StcorrError

    with pytest.raises(StcorrError, match="at most 16384"):
        write_video(tmp_path / "wide.mp4", [np.zeros((16, 20000, 3), np.uint8)])
    assert list(tmp_path.iterdir()) == []


def test_propagate_viz_streams_the_drawing(tmp_path):
    import tracemalloc

    from stcorr.cli.track_commands import draw_tracks

    class Long:  # 300 frames of 320x240: 69 MB if they were all kept
        num_frames, size = 300, (320, 240)

        def frame(self, t):
            return np.full((240, 320, 3), t % 255, np.uint8)

    tracks = [{"points": [[t, 100.0, 100.0, 1.0] for t in range(300)]}]
    tracemalloc.start()
    try:
        draw_tracks(tmp_path / "v.mp4", Long(), tracks)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (tmp_path / "v.mp4").stat().st_size > 0 and peak < 20e6, peak


def test_help_and_printed_figures(world, tmp_path):
    from stcorr.config import packaged_configs

    text = run_stcorr("train", "--help").stdout
    assert "<bool>" not in text and "--resume" in text
    flat = " ".join(text.replace("│", " ").split())
    assert all(name in flat for name in packaged_configs()), flat
    assert "train.lr" not in run_stcorr("retrieve", "--help").stdout  # its --set example concerns retrieve
    scored = run_stcorr("eval", "--data", world["penn"], "--method", "gt-time+pose-oracle", "--out", tmp_path / "r.json",
                        "--no-progress")
    obj = next(line for line in scored.stderr.splitlines() if " obj " in line)
    assert "–" in obj and "0.0" not in obj, obj


class NoPerson:
    """A pose source that finds nobody."""
    name = "none"

    def track(self, video):
        from stcorr.pose.track import JointTrack

        return JointTrack(np.full((video.num_frames, 13, 2), np.nan), np.zeros((video.num_frames, 13)))


def test_compare_says_when_there_is_no_person_or_one_frame(tmp_path):
    from unittest import mock

    clip, single = png_frames(tmp_path / "clip", 6), png_frames(tmp_path / "single", 1)
    with mock.patch("stcorr.compare.pipeline.default_pose", lambda **_: NoPerson()):
        refused(run_stcorr("compare", clip, clip, "--out", tmp_path / "c", "--no-video"), "no person found")
        refused(run_stcorr("compare", single, clip, "--out", tmp_path / "c", "--no-video"), "a comparison needs a movement")
    assert not (tmp_path / "c").exists()


def test_the_policy_knows_every_file_compare_writes():
    from stcorr.cli.outputs import FOLDER_KINDS
    from stcorr.compare.outputs import OUTPUTS

    assert set(OUTPUTS) <= set(FOLDER_KINDS["compare"].own)


def test_the_policy_knows_every_entry_synth_writes():
    from fnmatch import fnmatch

    from stcorr.cli.outputs import FOLDER_KINDS
    from stcorr.data.synthetic.build import OWN_ENTRIES

    assert all(any(fnmatch(entry, pattern) for pattern in FOLDER_KINDS["synth"].own) for entry in OWN_ENTRIES)


def test_synth_again_over_its_own_output_with_overwrite(tmp_path):
    out = tmp_path / "set"
    for _ in range(2):
        run = run_stcorr("synth", out, "--videos-per-action", 2, "--size", "32x32", "--overwrite")
        assert run.returncode == 0, run.stderr
    assert (out / "joints3d").is_dir()
