"""The bad-input sweep (issue 9 item 4): every verb fed malformed versions of every file it reads.

Malformed JSON files are drawn by hypothesis from the real files the verbs write (truncated,
non-UTF-8, a value of the wrong type, a key dropped, NaN and out-of-range numbers); videos,
label files, checkpoints, configs, weights and logs are broken in listed ways. Each case must
end with exit status 2, exactly one line on stderr and nothing at the output path, or succeed
(exit 0) when the change left a valid file. A traceback always fails. Data-set videos that
cannot be read are skipped with a warning by design (``stcorr.data.datasets``); a data set with
no readable video is an error.

The default run draws a few examples per file and tries one variant of each listed defect;
``pytest -m slow`` tries every variant and draws 120 examples per file (``STCORR_SWEEP_EXAMPLES=N``
to change it). The number of cases tried is printed in pytest's closing summary.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.io import savemat

from stcorr.config import load_config
from stcorr.data.datasets import open_dataset

from cli_helpers import Run, run_stcorr
from conftest import make_penn, write_frames, write_label_file

FAST = settings(max_examples=4, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))
MANY = settings(max_examples=int(os.environ.get("STCORR_SWEEP_EXAMPLES", 120)), deadline=None, database=None, suppress_health_check=list(HealthCheck))
TINY = {"data.clip_len": 8, "data.size": 32, "model.grid": [4, 4, 4], "model.width": 8, "train.max_steps": 1,
        "train.val_every": 0, "train.log_every": 1}
TINY_SETS = [a for key, value in TINY.items() if key.startswith(("data.", "model."))
             for a in ("--set", f"{key}={json.dumps(value).replace(' ', '')}")]

CASES: Counter = Counter()


def spread(cases: list, variants: list, expected_failures: dict | None = None) -> list:
    """Every (case, variant) pair; the default run keeps one variant per case (in turn), the rest are
    slow. ``expected_failures``: case or (case, variant) -> an ``owned_elsewhere`` mark."""
    expected_failures = expected_failures or {}
    params = []
    for i, case in enumerate(cases):
        for j, variant in enumerate(variants):
            marks = [] if j == i % len(variants) else [pytest.mark.slow]
            mark = expected_failures.get((case, variant), expected_failures.get(case))
            params.append(pytest.param(case, variant, id=f"{case}-{variant}", marks=marks + ([mark] if mark else [])))
    return params


def owned_elsewhere(owner: str, what: str):
    """An expected failure in a file this sweep's author does not own, with whose it is (see the report)."""
    return pytest.mark.xfail(reason=f"{owner}: {what}", strict=False)


class CaseCount:
    """Prints the number of cases tried in pytest's closing summary."""

    def pytest_terminal_summary(self, terminalreporter):
        counts = ", ".join(f"{kind} {n}" for kind, n in sorted(CASES.items()))
        terminalreporter.write_line(f"bad-input sweep: {sum(CASES.values())} cases tried ({counts})")


@pytest.fixture(scope="module", autouse=True)
def case_count(request):
    if not request.config.pluginmanager.has_plugin("stcorr-bad-input-count"):
        request.config.pluginmanager.register(CaseCount(), "stcorr-bad-input-count")
    yield


# ----------------------------------------------------------------------------- the valid world


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    """Valid inputs of every kind, made by stcorr itself where it writes that kind of file."""
    from stcorr.training.engine import train

    root = tmp_path_factory.mktemp("world")
    videos = {f"{i + 1:04d}": {"action": "golf_swing", "train": 1 if i < 3 else -1, "n": 12 + i, "key_moments": [2, 9]}
              for i in range(6)}
    penn = make_penn(root / "penn", videos, {"0004": {"2": {"club_head": [10.0, 11.0]}}})
    pairs_layout = root / "pairs-data"
    for name in ("a", "b"):
        write_frames(pairs_layout / "frames" / name, 6)
    correspondences = [{"name": n, "source": [1, 10.0 + i, 10.0], "target": [2, 12.0 + i, 11.0]}
                       for i, n in enumerate(("head", "left_wrist", "right_wrist"))]
    (pairs_layout / "pairs.json").write_text(json.dumps(
        [{"source": s, "target": t, "split": "val", "correspondences": correspondences} for s, t in (("a", "b"), ("b", "a"))]))
    train(load_config("cpu", TINY), open_dataset(penn), root / "run", progress=False)
    other = root / "tcc-run"
    train(load_config("tcc", {"train.max_steps": 1, "train.log_every": 1, "baseline.frames.size": 32,
                              "baseline.tcc.seq_len": 6, "baseline.tcc.hidden": 16, "baseline.tcc.embedding_dim": 8,
                              "baseline.tcc.videos_per_step": 2}), open_dataset(penn), other, progress=False)
    results = root / "results"
    made = run_stcorr("eval", "--data", penn, "--method", "gt-time+pose-oracle", "--out", results / "m.json",
                      "--save-predictions", results / "m.predictions.json", "--no-progress")
    assert made.returncode == 0, made.stderr
    (root / "kp.json").write_text(json.dumps({"keypoints": [{"name": "head", "t": 2, "x": 10.0, "y": 12.5},
                                                            {"name": None, "t": 5, "x": 40, "y": 30}]}))
    from stcorr.data.video import write_video

    frames = [np.full((48, 64, 3), 10 * t, dtype=np.uint8) for t in range(8)]
    write_video(root / "clip.mp4", frames)
    return {"root": root, "penn": penn, "pairs": pairs_layout, "ckpt": root / "run" / "checkpoint", "run": root / "run",
            "other_ckpt": other / "checkpoint", "results": results / "m.json",
            "preds": results / "m.predictions.json", "kp": root / "kp.json", "mp4": root / "clip.mp4"}


_SCRATCH_ROOT: list[Path] = []


def scratch() -> Path:
    """A fresh folder per case (hypothesis calls the test body many times per fixture), all under
    one folder that is removed when the test process ends."""
    if not _SCRATCH_ROOT:
        _SCRATCH_ROOT.append(Path(tempfile.mkdtemp(prefix="stcorr-bad-")))
        atexit.register(shutil.rmtree, _SCRATCH_ROOT[0], True)
    return Path(tempfile.mkdtemp(dir=_SCRATCH_ROOT[0]))


def expect_clean_failure(kind: str, run: Run, outputs: list[Path], surely_bad: bool) -> None:
    """The sweep's rule: never a traceback; a failure is one line, exit 2, nothing written;
    input that is surely bad must fail."""
    CASES[kind] += 1
    assert run.returncode is not None, f"traceback:\n{run.stderr}"
    if surely_bad:
        assert run.returncode == 2, f"bad input accepted (exit {run.returncode}):\n{run.stderr}"
    if run.returncode != 0:
        assert run.one_line_error, f"not one line, exit 2:\n{run.stderr}"
        written = [p for p in outputs if p.exists()]
        assert not written, f"written despite the error: {written}"


# ----------------------------------------------------------------------------- malformed JSON


def _locations(value, path=()):
    """Every (path, value) of a JSON document: containers and leaves."""
    yield path, value
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield from _locations(child, path + (key,))


def _set(document, path, value):
    if not path:
        return value
    node = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return document


WRONG_VALUES = [None, True, "x", "", -1, 0, 10**12, 1.5, [], {}, [[[]]], {"a": 1}, "NaN", [None, None, None]]
BAD_NUMBERS = [math.nan, math.inf, -math.inf, -1, -1e9, 1e9, 0.5, 1e308]


@st.composite
def broken_json(draw, text: str) -> tuple[bytes, bool]:
    """(file content, whether it is surely bad) from a valid JSON text."""
    data = text.encode("utf-8")
    kind = draw(st.sampled_from(["truncate", "not-utf8", "wrong-type", "drop-key", "bad-number", "bad-number"]))
    if kind == "truncate":
        return data.strip()[:draw(st.integers(0, len(data.strip()) - 1))], True
    if kind == "not-utf8":
        at = draw(st.integers(0, len(data)))
        return data[:at] + b"\xff\xfe\xc3" + data[at:], True
    document = json.loads(text)
    places = list(_locations(document))
    if kind == "drop-key":
        dicts = [(p, v) for p, v in places if isinstance(v, dict) and v]
        if dicts:
            _, chosen = draw(st.sampled_from(dicts))
            del chosen[draw(st.sampled_from(sorted(chosen)))]
        return json.dumps(document).encode(), False
    if kind == "bad-number":
        numbers = [p for p, v in places if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if numbers:
            document = _set(document, draw(st.sampled_from(numbers)), draw(st.sampled_from(BAD_NUMBERS)))
        return json.dumps(document).encode(), False  # NaN and Infinity as Python writes them
    path, _ = draw(st.sampled_from(places))
    return json.dumps(_set(document, path, draw(st.sampled_from(WRONG_VALUES)))).encode(), False


def _copy_data(source: Path, into: Path) -> Path:
    """A data set copy whose frames are links to the original (cheap), other files copied."""
    copy = into / source.name
    copy.mkdir()
    for item in source.iterdir():
        if item.name in ("frames", "videos"):
            (copy / item.name).symlink_to(item)
        elif item.is_dir():
            shutil.copytree(item, copy / item.name)
        else:
            shutil.copy(item, copy / item.name)
    return copy


def _json_case(world, kind: str, content: bytes, surely_bad: bool) -> None:
    """Puts ``content`` where verb ``kind`` reads it, runs the verb, applies the rule."""
    tmp = scratch()
    try:
        out = tmp / "out.json"
        if kind == "score --predictions":
            (tmp / "p.json").write_bytes(content)
            run = run_stcorr("score", "--data", world["penn"], "--predictions", tmp / "p.json", "--out", out)
        elif kind == "predict --keypoints":
            (tmp / "kp.json").write_bytes(content)
            run = run_stcorr("predict", "--checkpoint", world["ckpt"], "--source", world["penn"] / "frames/0001",
                             "--target", world["penn"] / "frames/0004", "--keypoints", tmp / "kp.json", "--out", out,
                             "--device", "cpu")
        elif kind == "propagate --keypoints":
            (tmp / "kp.json").write_bytes(content)
            run = run_stcorr("propagate", "--features", "pixels", "--video", world["penn"] / "frames/0001",
                             "--keypoints", tmp / "kp.json", "--out", out)
        elif kind in ("report RESULTS", "report predictions"):
            shutil.copy(world["results"], tmp / "m.json")
            shutil.copy(world["preds"], tmp / "m.predictions.json")
            (tmp / ("m.json" if kind == "report RESULTS" else "m.predictions.json")).write_bytes(content)
            out = tmp / "report"
            run = run_stcorr("report", tmp / "m.json", tmp / "m.predictions.json", "--out", out)
        elif kind == "pairs layout pairs.json":
            data = _copy_data(world["pairs"], tmp)
            (data / "pairs.json").write_bytes(content)
            run = run_stcorr("pairs", "--data", data, "--setup", "3+3", "--min-visible", "1", "--out", out)
        elif kind in ("penn key_moments.json", "penn object_keypoints.json"):
            data = _copy_data(world["penn"], tmp)
            (data / kind.split()[1]).write_bytes(content)
            run = run_stcorr("pairs", "--data", data, "--out", out)
        elif kind == "checkpoint.json":
            ckpt = tmp / "checkpoint"
            shutil.copytree(world["ckpt"], ckpt)
            (ckpt / "checkpoint.json").write_bytes(content)
            run = run_stcorr("eval", "--data", world["penn"], "--checkpoint", ckpt, "--max-pairs", "1", "--out", out,
                             "--no-progress", "--device", "cpu")
        else:
            raise AssertionError(kind)
        expect_clean_failure(kind, run, [out], surely_bad)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


JSON_TARGETS = {  # verb reading it -> the valid file it starts from
    "score --predictions": "preds",
    "predict --keypoints": "kp",
    "propagate --keypoints": "kp",
    "report RESULTS": "results",
    "report predictions": "preds",
    "pairs layout pairs.json": ("pairs", "pairs.json"),
    "penn key_moments.json": ("penn", "key_moments.json"),
    "penn object_keypoints.json": ("penn", "object_keypoints.json"),
    "checkpoint.json": ("ckpt", "checkpoint.json"),
}


def _valid_text(world, kind: str) -> str:
    where = JSON_TARGETS[kind]
    path = world[where] if isinstance(where, str) else world[where[0]] / where[1]
    return path.read_text(encoding="utf-8")


def _sweep_json(world, kind: str, examples: settings) -> None:
    @examples
    @given(case=st.data())
    def sweep(case):
        content, surely_bad = case.draw(broken_json(_valid_text(world, kind)))
        _json_case(world, kind, content, surely_bad)

    sweep()


JSON_KIND_FAILURES: dict = {}  # kind -> an owned_elsewhere mark
JSON_KINDS = [pytest.param(kind, marks=[JSON_KIND_FAILURES[kind]] if kind in JSON_KIND_FAILURES else [])
              for kind in JSON_TARGETS]


@pytest.mark.parametrize("kind", JSON_KINDS)
def test_malformed_json(world, kind):
    _sweep_json(world, kind, FAST)


@pytest.mark.slow
@pytest.mark.parametrize("kind", JSON_KINDS)
def test_malformed_json_many(world, kind):
    _sweep_json(world, kind, MANY)


DEEP = b"[" * 100_000 + b"]" * 100_000
JSON_DEFECTS = [  # (verb reading it, defect, content)
    *[(kind, "empty file", b"") for kind in JSON_TARGETS],
    *[(kind, "nested 100000 deep", DEEP) for kind in JSON_TARGETS],
    ("score --predictions", "NaN target", b'[{"source": "0004", "target": "0005", "keypoints": '
                                          b'[{"source": [2, 1, 1], "target": [2, NaN, 1]}]}]'),
    ("predict --keypoints", "NaN x", b'{"keypoints": [{"t": 2, "x": NaN, "y": 1}]}'),
    ("predict --keypoints", "a name that is an object", b'{"keypoints": [{"name": {"a": 1}, "t": 2, "x": 1, "y": 1}]}'),
    ("report RESULTS", "T@1 NaN", b'{"method": "m", "T@1": NaN, "T@3": 0.5, "T@5": 0.5}'),
    ("report RESULTS", "T@1 above 1", b'{"method": "m", "T@1": 2, "T@3": 0.5, "T@5": 0.5}'),
    ("report RESULTS", "per_action a list", b'{"method": "m", "T@1": 0.1, "T@3": 0.5, "T@5": 0.5, "per_action": [1]}'),
    ("pairs layout pairs.json", "NaN x", b'[{"source": "a", "target": "b", "correspondences": [{"name": "head", '
                                         b'"source": [1, NaN, 1], "target": [2, 1, 1]}]}]'),
    ("penn key_moments.json", "a moment past the end", b'{"0004": [2, 99]}'),
    ("penn object_keypoints.json", "NaN x", b'{"0004": {"2": {"club_head": [NaN, 11.0]}}, '
                                            b'"0005": {"2": {"club_head": [NaN, 11.0]}}}'),
    ("penn object_keypoints.json", "a frame past the end", b'{"0004": {"99": {"club_head": [1.0, 11.0]}}}'),
]
JSON_DEFECT_OWNERS: dict = {}  # (kind, defect) -> an owned_elsewhere mark


@pytest.mark.parametrize("kind, defect, content", [
    pytest.param(kind, defect, content, id=f"{kind}-{defect}",
                 marks=[JSON_DEFECT_OWNERS[kind, defect]] if (kind, defect) in JSON_DEFECT_OWNERS else [])
    for kind, defect, content in JSON_DEFECTS])
def test_json_defects(world, kind, defect, content):
    _json_case(world, kind, content, surely_bad=True)


# ----------------------------------------------------------------------------- videos


def _video(world, kind: str, tmp: Path) -> Path:
    """A broken video of the given kind."""
    frames = world["penn"] / "frames" / "0001"
    if kind == "empty mp4":
        (tmp / "v.mp4").write_bytes(b"")
        return tmp / "v.mp4"
    if kind == "garbage mp4":
        (tmp / "v.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
        return tmp / "v.mp4"
    if kind == "truncated mp4":
        data = world["mp4"].read_bytes()
        (tmp / "v.mp4").write_bytes(data[: len(data) // 2])
        return tmp / "v.mp4"
    if kind == "empty folder":
        (tmp / "v").mkdir()
        return tmp / "v"
    folder = tmp / "v"
    shutil.copytree(frames, folder)
    jpgs = sorted(folder.glob("*.jpg"))
    if kind == "JPEG folder with a gap":
        jpgs[3].unlink()
    elif kind == "corrupt JPEG":
        jpgs[2].write_bytes(b"\xff\xd8\xff" + b"\x00" * 40)
    elif kind == "text file among frames":
        (folder / "000100.jpg").write_text("not a picture")
    elif kind == "frames of two sizes":
        from PIL import Image

        Image.new("RGB", (20, 10)).save(jpgs[1])
    elif kind == "missing path":
        shutil.rmtree(folder)
    return folder


VIDEO_DEFECTS = ["empty mp4", "garbage mp4", "truncated mp4", "empty folder", "JPEG folder with a gap", "corrupt JPEG",
                 "text file among frames", "frames of two sizes", "missing path"]


VIDEO_FAILURES: dict = {}  # all fixed (stcorr/data/video.py)


@pytest.mark.parametrize("defect, side", spread(VIDEO_DEFECTS, ["--source", "--target"], VIDEO_FAILURES))
def test_predict_with_a_broken_video(world, defect, side):
    tmp = scratch()
    video = _video(world, defect, tmp)
    good = world["penn"] / "frames" / "0004"
    source, target = (video, good) if side == "--source" else (world["penn"] / "frames" / "0001", video)
    run = run_stcorr("predict", "--checkpoint", world["ckpt"], "--source", source, "--target", target,
                     "--keypoints", world["kp"], "--out", tmp / "o.json", "--viz", tmp / "o.png", "--device", "cpu")
    expect_clean_failure(f"predict video {side}", run, [tmp / "o.json", tmp / "o.png"], surely_bad=True)


DATA_SET_VERBS = {"pairs": ["pairs"], "eval": ["eval", "--method", "nn+pose-oracle", "--no-progress",
                                                "--set", "baseline.frames.size=32"]}


OTHER_VIDEO_VERBS = {
    "propagate": lambda video, w, tmp: ["propagate", "--features", "pixels", "--video", video, "--keypoints", w["kp"],
                                        "--out", tmp / "o.json"],
    "retrieve": lambda video, w, tmp: ["retrieve", "--query", video, "--data", w["penn"], "--out", tmp / "o.json",
                                       "--features", "cycle", "--device", "cpu"],
    "compare": lambda video, w, tmp: ["compare", video, w["penn"] / "frames" / "0004", "--method", "uniform", "--no-video",
                                      "--out", tmp / "o.json"],
}


@pytest.mark.parametrize("defect, verb", spread(VIDEO_DEFECTS, list(OTHER_VIDEO_VERBS), VIDEO_FAILURES))
def test_other_verbs_with_a_broken_video(world, defect, verb):
    tmp = scratch()
    run = run_stcorr(*OTHER_VIDEO_VERBS[verb](_video(world, defect, tmp), world, tmp))
    # retrieve reads a sample of the query's frames: a broken frame it never reads goes unseen
    unread = verb == "retrieve" and defect in ("corrupt JPEG", "text file among frames")
    expect_clean_failure(f"{verb} video", run, [tmp / "o.json"], surely_bad=not unread)


@pytest.mark.parametrize("defect, verb", spread(["empty folder", "JPEG folder with a gap", "corrupt JPEG",
                                                 "frames of two sizes"], list(DATA_SET_VERBS),
                                                VIDEO_FAILURES))
def test_data_set_with_a_broken_video(world, defect, verb):
    """A broken video of a data set: skipped with a warning naming it, or a one-line error; eval then scores
    the pairs it can (a failed pair counts as wrong)."""
    tmp = scratch()
    data = tmp / "penn"
    shutil.copytree(world["penn"], data)
    shutil.rmtree(data / "frames" / "0004")
    shutil.move(_video(world, defect, tmp), data / "frames" / "0004")
    run = run_stcorr(*DATA_SET_VERBS[verb], "--data", data, "--out", tmp / "o.json")
    expect_clean_failure(f"data set video ({verb})", run, [tmp / "o.json"], surely_bad=False)


# ----------------------------------------------------------------------------- Penn Action label files


def _labels(kind: str, path: Path, n: int) -> None:
    """Writes a broken ``labels/NNNN.mat``."""
    rng = np.random.default_rng(0)
    x, y, vis = rng.uniform(5, 60, (n, 13)), rng.uniform(5, 40, (n, 13)), np.ones((n, 13))
    fields = {"action": "golf_swing", "pose": "front", "x": x, "y": y, "visibility": vis,
              "bbox": np.tile([[1.0, 2.0, 30.0, 40.0]], (n, 1)), "dimensions": np.array([[48, 64, n]]),
              "nframes": np.array([[n]]), "train": np.array([[-1]])}
    if kind.startswith("missing "):
        del fields[kind.split()[1]]
    elif kind == "NaN coordinates":
        x[2, 3] = np.nan
    elif kind == "coordinates far outside the frame":
        x[2, :] = 1e9
    elif kind == "negative coordinates":
        y[9, :] = -500
    elif kind == "x of the wrong shape":
        fields["x"] = x[:, :5]
    elif kind == "text where numbers belong":
        fields["nframes"] = "many"
    elif kind == "more frames than the video":
        fields["nframes"] = np.array([[n + 50]])
        for key in ("x", "y", "visibility"):
            fields[key] = np.concatenate([fields[key]] * 5)[: n + 50]
    elif kind == "zero frames":
        fields.update(nframes=np.array([[0]]), x=np.zeros((0, 13)), y=np.zeros((0, 13)), visibility=np.zeros((0, 13)))
    elif kind == "visibility 7":
        vis[:] = 7
    elif kind == "empty dimensions":
        fields["dimensions"] = np.zeros((0, 0))
    if kind in ("truncated .mat", "not a .mat"):
        savemat(str(path), fields)
        path.write_bytes(path.read_bytes()[:200] if kind == "truncated .mat" else b"hello")
        return
    savemat(str(path), fields)


LABEL_DEFECTS = ["missing x", "missing nframes", "missing dimensions", "missing train", "missing action", "NaN coordinates",
                 "coordinates far outside the frame", "negative coordinates", "x of the wrong shape",
                 "text where numbers belong", "more frames than the video", "zero frames", "visibility 7",
                 "empty dimensions", "truncated .mat", "not a .mat"]


LABEL_FAILURES: dict = {}  # all fixed (stcorr/data/penn.py read_label_file, stcorr/data/datasets.py)


@pytest.mark.parametrize("defect, how_many", spread(LABEL_DEFECTS, ["one video", "every video"], LABEL_FAILURES))
def test_label_file_defects(world, defect, how_many):
    tmp = scratch()
    data = _copy_data(world["penn"], tmp)
    names = ["0004"] if how_many == "one video" else [p.stem for p in (data / "labels").glob("*.mat")]
    for name in names:
        _labels(defect, data / "labels" / f"{name}.mat", n=len(list((world["penn"] / "frames" / name).glob("*.jpg"))))
    for args in (["pairs"], ["score", "--predictions", world["preds"]], ["eval", "--method", "gt-time+pose-oracle",
                                                                         "--no-progress"]):
        out = tmp / "o.json"
        run = run_stcorr(*args, "--data", data, "--out", out)
        expect_clean_failure(f".mat {how_many} ({args[0]})", run, [out], surely_bad=how_many == "every video")
        if run.returncode == 0:
            written = json.loads(out.read_text())  # strict JSON: no NaN, readable by the verbs that read it
            assert "NaN" not in out.read_text() and written is not None
            out.unlink()


# ----------------------------------------------------------------------------- checkpoints, configs, weights


def _checkpoint(world, defect: str, tmp: Path) -> Path:
    if defect == "from another learner (TCC)":
        return world["other_ckpt"]
    ckpt = tmp / "checkpoint"
    shutil.copytree(world["ckpt"], ckpt)
    weights = ckpt / "model.safetensors"
    if defect == "no model.safetensors":
        weights.unlink()
    elif defect == "truncated model.safetensors":
        weights.write_bytes(weights.read_bytes()[:300])
    elif defect == "weights of another model":
        from safetensors.torch import save_file
        import torch

        save_file({"w": torch.zeros(3)}, str(weights))
    elif defect == "no checkpoint.json":
        (ckpt / "checkpoint.json").unlink()
    elif defect == "a file, not a folder":
        shutil.rmtree(ckpt)
        ckpt.write_text("x")
    return ckpt


CHECKPOINT_DEFECTS = ["from another learner (TCC)", "no model.safetensors", "truncated model.safetensors",
                      "weights of another model", "no checkpoint.json", "a file, not a folder"]


@pytest.mark.parametrize("defect, verb", spread(CHECKPOINT_DEFECTS, ["eval", "predict", "table"]))
def test_broken_checkpoint(world, defect, verb):
    tmp = scratch()
    ckpt, out = _checkpoint(world, defect, tmp), tmp / "o.json"
    if verb == "eval":
        run = run_stcorr("eval", "--data", world["penn"], "--checkpoint", ckpt, "--out", out, "--no-progress")
    elif verb == "predict":
        run = run_stcorr("predict", "--checkpoint", ckpt, "--source", world["penn"] / "frames/0001",
                         "--target", world["penn"] / "frames/0004", "--keypoints", world["kp"], "--out", out)
    else:
        out = tmp / "table"
        run = run_stcorr("table", "--data", world["penn"], "--checkpoint", ckpt, "--methods", "gt-time+pose-oracle",
                         "--out", out, "--no-progress")
    expect_clean_failure(f"checkpoint ({verb})", run, [out], surely_bad=True)


CONFIG_DEFECTS = {
    "not YAML": "model: [unclosed\n",
    "a list": "- 1\n- 2\n",
    "an unknown key": "modle:\n  width: 8\n",
    "a number of the wrong type": "model:\n  width: wide\n",
    "a negative size": "data:\n  size: -32\n",
    "NaN": "data:\n  size: .nan\n",
    "not UTF-8": b"model:\n  backbone: r3d18\xff\xfe\n",
}


CONFIG_FAILURES: dict = {}


@pytest.mark.parametrize("defect", [pytest.param(d, marks=[CONFIG_FAILURES[d]] if d in CONFIG_FAILURES else [])
                                    for d in CONFIG_DEFECTS])
def test_broken_config(world, defect):
    tmp = scratch()
    config = tmp / "c.yaml"
    text = CONFIG_DEFECTS[defect]
    config.write_bytes(text if isinstance(text, bytes) else text.encode())
    run = run_stcorr("eval", "--data", world["penn"], "--method", "st-match", "--config", config, "--max-pairs", "1",
                     "--out", tmp / "o.json", "--no-progress")
    expect_clean_failure("eval --config", run, [tmp / "o.json"], surely_bad=True)


@pytest.mark.parametrize("defect", ["empty", "garbage", "pickle with code", "other keys", "missing"])
def test_broken_backbone_weights(world, defect):
    import pickle

    import torch
    from safetensors.torch import save_file

    tmp = scratch()
    weights = tmp / ("w.pth" if defect == "pickle with code" else "w.safetensors")
    if defect == "empty":
        weights.write_bytes(b"")
    elif defect == "garbage":
        weights.write_bytes(b"\x00" * 64)
    elif defect == "pickle with code":
        weights.write_bytes(pickle.dumps(Exploit()))
    elif defect == "other keys":
        save_file({"fc.weight": torch.zeros(2, 2)}, str(weights))
    run = run_stcorr("eval", "--data", world["penn"], "--method", "st-match", "--backbone-weights", weights,
                     *TINY_SETS, "--max-pairs", "1", "--out", tmp / "o.json", "--no-progress")
    expect_clean_failure("eval --backbone-weights", run, [tmp / "o.json"], surely_bad=True)
    assert not (tmp / "pwned").exists()


class Exploit:
    def __reduce__(self):
        return (Path.touch, (Path(tempfile.gettempdir()) / "stcorr-bad-input-pwned",))


# ----------------------------------------------------------------------------- training runs and train's inputs


RUN_DEFECTS = {
    "train log not UTF-8": ("train_log.csv", b"step,loss\n1,\xff\xfe\n"),
    "train log without loss": ("train_log.csv", b"step,epoch\n1,0\n"),
    "train log with words": ("train_log.csv", b"step,loss\n1,lots\n"),
    "val log without step": ("val_log.csv", b"T@1,T@3\n0.1,0.2\n"),
    "config not UTF-8": ("config.yaml", b"\xff\xfe\x00"),
    "killed mid-row": ("train_log.csv", b"step,loss,lr\n1,0.5,0.1\n2,0."),
}


@pytest.mark.parametrize("defect", list(RUN_DEFECTS))
def test_report_with_a_broken_run_folder(world, defect):
    tmp = scratch()
    run_dir = tmp / "run"
    shutil.copytree(world["run"], run_dir, ignore=shutil.ignore_patterns("checkpoint*"))
    name, content = RUN_DEFECTS[defect]
    (run_dir / name).write_bytes(content)
    run = run_stcorr("report", world["results"], "--run", run_dir, "--out", tmp / "report")
    expect_clean_failure("report --run", run, [tmp / "report"], surely_bad=defect != "killed mid-row")


@pytest.mark.parametrize("args", [
    ["--init", "{other_ckpt}"],
    ["--config", "{root}/absent.yaml"],
    ["--backbone-weights", "{root}/kp.json"],
    ["--set", "train.lr=-1"],
    ["--set", "model.width=0"],
], ids=["init from another learner", "missing config", "weights not a state dict", "negative lr", "zero width"])
def test_train_refuses_bad_input_before_training(world, args):
    tmp = scratch()
    args = [a.format(**{k: str(v) for k, v in world.items()}) for a in args]
    run = run_stcorr("train", "--data", world["penn"], "--config", "cpu", *TINY_SETS, "--max-steps", "1",
                     *args, "--out", tmp / "run", "--no-progress")
    expect_clean_failure("train", run, [tmp / "run"], surely_bad=True)


def test_synth_over_a_file(world):
    tmp = scratch()
    (tmp / "file").write_text("mine")
    run = run_stcorr("synth", tmp / "file", "--videos-per-action", "2", "--size", "32x32")
    expect_clean_failure("synth", run, [], surely_bad=True)
    assert (tmp / "file").read_text() == "mine"
