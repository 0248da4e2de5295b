"""``stcorr compare`` end to end on the synthetic pair (joints from a fake pose source, no MediaPipe)."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from unittest import mock

import numpy as np
import pytest

import compare_synthetic as cs
from stcorr.cli.main import main
from stcorr.data.video import Video


def run(*args) -> tuple[int, str]:
    """``stcorr ARGS`` in-process: (exit status, stderr)."""
    err = io.StringIO()
    code = 0
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()), \
            mock.patch.object(sys, "argv", ["stcorr", *map(str, args)]):
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, err.getvalue()


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    reference, attempt, pose = cs.synthetic_pair(tmp_path_factory.mktemp("pair"))
    with mock.patch("stcorr.compare.pipeline.default_pose", lambda **_: pose):
        yield reference, attempt


@pytest.fixture(scope="module")
def written(pair, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "squat"
    code, err = run("compare", *pair, "--out", out, "--action", "squat", "--key-moments", "12,24,36")
    assert code == 0, err
    return out


def test_writes_the_four_files(written):
    assert sorted(p.name for p in written.iterdir()) == ["compare.json", "index.html", "overlay.mp4", "side_by_side.mp4"]
    record = json.loads((written / "compare.json").read_text())
    assert [m["attempt_t"] for m in record["key_moments"]] == [26, 42, 58]
    assert record["key_moments"][1]["name"] == "hips at floor"


def test_side_by_side_has_every_reference_frame_and_the_held_key_moments(written):
    video = Video(written / "side_by_side.mp4")
    hold = round(0.6 * 30)
    assert video.num_frames == cs.N_REFERENCE + 3 * (hold - 1)
    frame = video.frame(0)
    assert frame.shape[0] == 360 + 34 and frame.shape[1] >= 2 * 280  # both panels at the same height, and the banner


def test_page_is_self_contained(written):
    html = (written / "index.html").read_text()
    assert "Content-Security-Policy" in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in html and html.count("data:image/jpeg;base64,") == 3 * cs.N_REFERENCE  # reference, attempt, attempt warped


@pytest.mark.parametrize("args, message", [
    (["--key-moments", "1,x"], "--key-moments takes"),
    (["--key-moments", "12,99"], "not a frame of the reference"),
    (["--action", "dancing"], "unknown action"),
    (["--method", "magic"], "unknown time alignment method"),
    (["--fps", "0"], "--fps"),
    (["--traces", "left_wrist,club"], "--traces takes joint names"),
])
def test_bad_input_one_line_exit_2_nothing_written(pair, tmp_path, args, message):
    out = tmp_path / "out"
    code, err = run("compare", *pair, "--out", out, *args)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and message in lines[0], err
    assert not out.exists() and not list(tmp_path.glob(".out*"))


def test_missing_video_and_busy_folder_are_refused(pair, tmp_path):
    code, err = run("compare", tmp_path / "nothing", pair[1], "--out", tmp_path / "out")
    assert code == 2 and "no such video" in err
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    code, err = run("compare", *pair, "--out", busy)
    assert code == 2 and "files stcorr did not write" in err and (busy / "notes.txt").read_text() == "mine"


def test_rerun_replaces_an_earlier_comparison(pair, written):
    before = json.loads((written / "compare.json").read_text())
    code, err = run("compare", *pair, "--out", written, "--key-moments", "24", "--no-video")
    assert code == 0, err
    after = json.loads((written / "compare.json").read_text())
    assert len(before["key_moments"]) == 3 and len(after["key_moments"]) == 1
    assert not (written / "side_by_side.mp4").exists()
    assert np.isfinite(after["key_moments"][0]["attempt_s"])


class ShiftingModel:
    """Stands in for a checkpoint's predictor: every point goes 3 frames and (5, 7) pixels on,
    and the clips it is given are kept."""

    clip_len, size, min_stride = 8, 32, 1

    def __init__(self):
        self.clips = []

    def predict_clips(self, src, tgt, points, videos=None):
        self.clips.append((src, tgt))
        return points + [3, 5, 7], np.ones(len(points))


def test_checkpoint_points_are_the_models(pair, tmp_path):
    model = ShiftingModel()
    with mock.patch("stcorr.compare.pipeline.load_model", lambda checkpoint, device: model):
        code, err = run("compare", *pair, "--out", tmp_path / "out", "--key-moments", "24", "--checkpoint", tmp_path / "ckpt",
                        "--device", "cpu", "--no-video")
    assert code == 0, err
    moment = json.loads((tmp_path / "out" / "compare.json").read_text())["key_moments"][0]
    assert {p["by"] for p in moment["points"]} == {"model"} and len(moment["points"]) == 13
    for p in moment["points"]:
        assert p["attempt"] == pytest.approx([p["reference"][0] + 3, p["reference"][1] + 5, p["reference"][2] + 7])
    assert all(abs(row["difference_deg"]) < 0.05 for row in moment["angles"])  # a shifted body has the same angles
    (src, tgt), = model.clips  # one clip of each video, around the key moment and its aligned frame
    assert 24 in src.native_times and moment["attempt_t"] in tgt.native_times and len(tgt.native_times) == 8


@pytest.mark.slow
def test_checkpoint_matches_the_joints_through_the_model(pair, tmp_path):
    from conftest import make_penn
    from stcorr.config import load_config
    from stcorr.data.datasets import open_dataset
    from stcorr.training.engine import train

    videos = {f"{i + 1:04d}": {"action": "bowl", "train": 1, "n": 14, "key_moments": [2, 10]} for i in range(3)}
    tiny = {"data.clip_len": 8, "data.size": 32, "model.grid": [4, 4, 4], "model.width": 8,
            "train.max_steps": 1, "train.val_every": 0}
    train(load_config("cpu", tiny), open_dataset(make_penn(tmp_path / "penn", videos)), tmp_path / "run", progress=False)
    out = tmp_path / "out"
    code, err = run("compare", *pair, "--out", out, "--key-moments", "12,24", "--checkpoint", tmp_path / "run" / "checkpoint",
                    "--device", "cpu", "--no-video")
    assert code == 0, err
    record = json.loads((out / "compare.json").read_text())
    assert record["checkpoint"].endswith("checkpoint")
    points = [p for m in record["key_moments"] for p in m["points"]]
    assert len(points) == 26 and {p["by"] for p in points} == {"model"}
    for p in points:
        t, x, y = p["attempt"]
        assert 0 <= t < cs.n_attempt() and -0.5 <= x <= 219.5 and -0.5 <= y <= 239.5


@pytest.mark.parametrize("figure, told", [(0.013, "is weak: its own validation T@3 is 1.3 %"), (0.6, None),
                                          (None, "carries no validation figure")])
def test_a_weak_model_is_said_in_the_summary(pair, tmp_path, figure, told):
    checkpoint = tmp_path / "run" / "checkpoint"
    checkpoint.mkdir(parents=True)
    metrics = {"loss": 3.0} if figure is None else {"loss": 3.0, "val_T@3": figure}
    (checkpoint / "checkpoint.json").write_text(json.dumps({"task": "correspondence", "metrics": metrics}))
    with mock.patch("stcorr.compare.pipeline.load_model", lambda checkpoint, device: ShiftingModel()):
        code, err = run("compare", *pair, "--out", tmp_path / "out", "--key-moments", "24", "--checkpoint", tmp_path / "run",
                        "--device", "cpu", "--no-video")
    assert code == 0, err
    summary = json.loads((tmp_path / "out" / "compare.json").read_text())["summary"]
    said = [line for line in summary if line.startswith("the model ")]
    assert (said and told in said[0]) if told else not said


def test_terminal_tells_each_key_moments_time_and_the_time_since_the_previous(pair, tmp_path):
    from stcorr.cli.compare_commands import moment_lines

    code, err = run("compare", *pair, "--out", tmp_path / "out", "--action", "squat", "--key-moments", "12,24,36", "--no-video")
    assert code == 0, err
    moments = json.loads((tmp_path / "out" / "compare.json").read_text())["key_moments"]
    lines = moment_lines(moments)
    assert len(lines) == 1 + len(moments) and "hips at floor" in lines[2]
    assert f"(frames {moments[1]['reference_t']} -> {moments[1]['attempt_t']})" in lines[2]
    assert f"{moments[1]['attempt_since_previous_s']:.2f} s after the previous" in lines[2]
    assert "after the previous" not in lines[1]
    assert moment_lines([]) == []
