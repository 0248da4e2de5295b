"""The synthetic benchmark: Penn Action layout, label fields, key moments, determinism, safety."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

import stcorr.data.synthetic.build as build_module
from stcorr.data.synthetic import ACTIONS, contact_sheet, generate
from stcorr.data.synthetic.body import sample_body
from stcorr.data.synthetic.build import video_tasks
from stcorr.data.synthetic.clip import make_clip
from stcorr.data.synthetic.motion import perform
from stcorr.data.synthetic.props import build_scene
from stcorr.errors import StcorrError

SIZE = (64, 64)
VIDEOS = 2  # per action and split


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "set"
    summary = generate(root, seed=0, videos_per_action=VIDEOS, size=SIZE, workers=1)
    assert summary["videos"] == {"train": 7 * VIDEOS, "val": 7 * VIDEOS}
    return root


@pytest.fixture(scope="module")
def labels(dataset) -> dict[str, dict]:
    return {p.stem: scipy.io.loadmat(p) for p in sorted((dataset / "labels").glob("*.mat"))}


def _tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _scalar(value):
    return np.asarray(value).ravel()[0]


def test_layout_has_penn_action_names(dataset):
    names = [f"{n:04d}" for n in range(1, 14 * VIDEOS + 1)]
    assert sorted(p.name for p in (dataset / "frames").iterdir()) == names
    assert sorted(p.name for p in (dataset / "labels").iterdir()) == [n + ".mat" for n in names]
    key_moments = json.loads((dataset / "key_moments.json").read_text())
    objects = json.loads((dataset / "object_keypoints.json").read_text())
    assert sorted(key_moments) == names and sorted(objects) == names
    frames = sorted(p.name for p in (dataset / "frames" / "0001").iterdir())
    assert frames[0] == "000001.jpg" and frames == [f"{i:06d}.jpg" for i in range(1, len(frames) + 1)]
    with Image.open(dataset / "frames" / "0001" / frames[0]) as image:
        assert image.format == "JPEG" and image.size == SIZE and image.mode == "RGB"


def test_label_fields_shapes_and_dtypes(dataset, labels):
    width, height = SIZE
    x_types, nframes_types, bbox_mismatch, splits = set(), set(), 0, []
    for name, m in labels.items():
        n = int(_scalar(m["nframes"]))
        assert len(list((dataset / "frames" / name).glob("*.jpg"))) == n
        assert 40 <= n <= 150
        assert str(_scalar(m["action"])) in ACTIONS
        assert str(_scalar(m["pose"])) in ("front", "back", "left", "right")
        assert m["x"].shape == m["y"].shape == m["visibility"].shape == (n, 13)
        assert m["x"].dtype == m["y"].dtype and m["visibility"].dtype == np.uint8
        assert set(np.unique(m["visibility"])) <= {0, 1}
        assert m["dimensions"].dtype == np.uint16 and m["dimensions"].ravel().tolist() == [height, width, n]
        assert m["bbox"].shape[1] == 4 and n - 2 <= m["bbox"].shape[0] <= n
        boxes = m["bbox"]
        assert np.all(boxes[:, :2] <= boxes[:, 2:]) and boxes.min() >= 0 and boxes[:, 2].max() <= width - 1
        x_types.add(m["x"].dtype)
        nframes_types.add(m["nframes"].dtype)
        bbox_mismatch += m["bbox"].shape[0] != n
        splits.append(int(_scalar(m["train"])))
    assert x_types == {np.dtype(np.float64), np.dtype(np.uint16), np.dtype(np.uint8)}
    assert nframes_types == {np.dtype(np.uint8), np.dtype(np.uint16)}
    assert bbox_mismatch >= 1
    assert sorted(set(splits)) == [-1, 1] and splits.count(1) == splits.count(-1)
    float_files = [m for m in labels.values() if m["x"].dtype == np.float64]
    assert len(float_files) > len(labels) / 2


def test_key_moments_in_order_within_each_video(dataset, labels):
    key_moments = json.loads((dataset / "key_moments.json").read_text())
    for name, moments in key_moments.items():
        m = labels[name]
        n = int(_scalar(m["nframes"]))
        assert len(moments) == len(ACTIONS[str(_scalar(m["action"]))]["moments"])
        assert all(isinstance(t, int) for t in moments)
        assert 0 <= moments[0] and moments[-1] < n
        assert all(a < b for a, b in zip(moments, moments[1:]))


def test_unlabelled_joints_are_exactly_those_outside_the_frame(dataset, labels):
    width, height = SIZE
    tasks = {f"{t.number:04d}": t for t in video_tasks(dataset, 0, VIDEOS, SIZE, list(ACTIONS))}
    outside_seen = occluded_seen = 0
    for name, m in labels.items():
        x, y, vis = m["x"].astype(float), m["y"].astype(float), m["visibility"].astype(bool)
        origin = (x == 0) & (y == 0)
        assert not np.any(vis & origin)
        assert np.all((x[vis] >= 0) & (x[vis] <= width - 1) & (y[vis] >= 0) & (y[vis] <= height - 1))
        task = tasks[name]
        true_xy = make_clip(task.action, task.entropy, SIZE).joints_xy()
        outside = ~((true_xy[..., 0] >= 0) & (true_xy[..., 0] <= width - 1)
                    & (true_xy[..., 1] >= 0) & (true_xy[..., 1] <= height - 1))
        np.testing.assert_array_equal(origin, outside)
        assert np.allclose(x[~outside], true_xy[~outside][:, 0], atol=0.5)
        outside_seen += outside.sum()
        occluded_seen += (~outside & ~vis).sum()
    assert outside_seen > 0 and occluded_seen > 0  # both kinds of invisible joints occur


def test_object_keypoints_present_at_key_moments(dataset, labels):
    key_moments = json.loads((dataset / "key_moments.json").read_text())
    objects = json.loads((dataset / "object_keypoints.json").read_text())
    tasks = {f"{t.number:04d}": t for t in video_tasks(dataset, 0, VIDEOS, SIZE, list(ACTIONS))}
    width, height = SIZE
    at_moments = 0
    for name, moments in key_moments.items():
        action = str(_scalar(labels[name]["action"]))
        for frame in objects[name].values():
            assert set(frame) <= set(ACTIONS[action]["objects"])
            assert all(0 <= x <= width - 1 and 0 <= y <= height - 1 for x, y in frame.values())
        clip = make_clip(action, tasks[name].entropy, SIZE)
        expected = {str(t): points for t, points in clip.object_points().items()}
        assert objects[name] == expected
        main_object = ACTIONS[action]["objects"][0]  # held or worn all through the video
        track, _ = clip.camera.project(clip.scene.keypoints[main_object])
        for t in moments:
            inside = 0 <= track[t, 0] <= width - 1 and 0 <= track[t, 1] <= height - 1
            assert (main_object in objects[name].get(str(t), {})) == inside
            at_moments += inside
    assert at_moments >= 0.8 * sum(len(m) for m in key_moments.values())


def test_key_moments_are_the_key_poses():
    """Squat: the hips are lowest at "hips at floor" and level with the knees at the other two."""
    for seed in range(8):
        rng = np.random.default_rng(seed)
        perf = perform("squat", sample_body(rng), rng)
        down, floor, up = perf.moments
        pelvis_y = perf.skeleton.pelvis[:, 1]
        assert abs(int(np.argmin(pelvis_y)) - floor) <= 2
        hips = perf.skeleton.joints[:, 7:9, 1].mean(1)
        knees = perf.skeleton.joints[:, 9:11, 1].mean(1)
        assert abs(hips[down] - knees[down]) < 0.08 and abs(hips[up] - knees[up]) < 0.08
        assert hips[0] - knees[0] > 0.3  # standing at the start
    rng = np.random.default_rng(0)
    perf = perform("tennis_serve", sample_body(rng), rng)
    scene = build_scene(perf, rng)
    release, back, contact = perf.moments
    racket_height = scene.keypoints["racket"][:, 1] - perf.skeleton.neck[:, 1]
    assert abs(release + int(np.argmin(racket_height[release:contact])) - back) <= 2
    ball, racket = scene.keypoints["ball"], scene.keypoints["racket"]
    assert np.linalg.norm(ball[contact] - racket[contact]) < 1e-6


def test_left_is_the_performers_left_also_when_mirrored():
    seen = set()
    for i in range(12):
        clip = make_clip("squat", (5, 0, 4, i), SIZE)
        skel, seen = clip.painter.skel, seen | {clip.mirrored}
        across = skel.joint("left_shoulder") - skel.joint("right_shoulder")
        facing = np.cross(across, skel.neck - skel.pelvis)  # forward, for a body with its left on the left
        toes = (skel.left_toe - skel.left_heel) + (skel.right_toe - skel.right_heel)
        assert np.mean(np.sum(facing * toes, -1) > 0) > 0.9
        discs = clip.scene.keypoints
        to_left = np.linalg.norm(discs["left_disc"] - skel.joint("left_wrist"), axis=-1)
        to_right = np.linalg.norm(discs["left_disc"] - skel.joint("right_wrist"), axis=-1)
        assert np.all(to_left < to_right)
    assert seen == {True, False}


def test_train_and_val_differ(dataset, labels):
    def first_frame(name):
        return (dataset / "frames" / name / "000001.jpg").read_bytes()

    train = [n for n, m in labels.items() if _scalar(m["train"]) == 1]
    val = [n for n, m in labels.items() if _scalar(m["train"]) == -1]
    assert {first_frame(n) for n in train}.isdisjoint({first_frame(n) for n in val})
    for a in train:
        for b in val:
            same_shape = labels[a]["x"].shape == labels[b]["x"].shape
            assert not (same_shape and np.array_equal(labels[a]["x"], labels[b]["x"]))


def test_same_seed_same_bytes_different_seed_different(tmp_path):
    config = {"videos_per_action": 1, "size": (48, 48), "actions": ["golf_swing", "squat"]}
    first = generate(tmp_path / "a", seed=3, workers=1, **config)
    generate(tmp_path / "b", seed=3, workers=2, **config)  # another process layout, same bytes
    generate(tmp_path / "c", seed=4, workers=1, **config)
    assert _tree_hash(tmp_path / "a") == _tree_hash(tmp_path / "b")
    assert _tree_hash(tmp_path / "a") != _tree_hash(tmp_path / "c")
    assert first["frames"]["train"] == sum(
        int(_scalar(scipy.io.loadmat(p)["nframes"])) for p in (tmp_path / "a" / "labels").glob("*.mat")
        if _scalar(scipy.io.loadmat(p)["train"]) == 1)


def test_a_video_does_not_depend_on_the_other_actions(dataset, tmp_path):
    generate(tmp_path / "squat", seed=0, videos_per_action=1, size=SIZE, actions=["squat"], workers=1)
    number = list(ACTIONS).index("squat") * 2 * VIDEOS + 1  # the first training squat video in `dataset`
    alone = (tmp_path / "squat" / "frames" / "0001" / "000010.jpg").read_bytes()
    assert alone == (dataset / "frames" / f"{number:04d}" / "000010.jpg").read_bytes()


def test_refuses_a_foreign_non_empty_folder(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(StcorrError, match="not empty"):
        generate(foreign, videos_per_action=1, size=(48, 48), actions=["bowl"], workers=1)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(StcorrError):
        generate(tmp_path / "file", videos_per_action=1, size=(48, 48), actions=["bowl"], workers=1)
    with pytest.raises(StcorrError, match="unknown action"):
        generate(tmp_path / "new", actions=["bowling"], workers=1)


def test_overwrites_an_earlier_synth_output(tmp_path):
    out = tmp_path / "set"
    generate(out, seed=1, videos_per_action=1, size=(48, 48), actions=["bowl"], workers=1)
    generate(out, seed=2, videos_per_action=1, size=(48, 48), actions=["squat"], workers=1)
    assert str(_scalar(scipy.io.loadmat(out / "labels" / "0001.mat")["action"])) == "squat"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]  # no temporary folders left


def test_refuses_an_earlier_synth_output_that_holds_the_users_files(tmp_path):
    out = tmp_path / "set"
    generate(out, seed=1, videos_per_action=1, size=(48, 48), actions=["bowl"], workers=1)
    (out / "my_notes.txt").write_text("keep me")
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(StcorrError, match="my_notes.txt"):
        generate(out, seed=2, videos_per_action=1, size=(48, 48), actions=["bowl"], workers=1)
    assert sorted(p.name for p in out.iterdir()) == before and (out / "my_notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]


def test_failure_leaves_nothing_behind(tmp_path, monkeypatch):
    calls = []

    def failing(task):
        calls.append(task.number)
        if len(calls) == 2:
            raise RuntimeError("disk on fire")
        return real(task)

    real = build_module.make_video
    monkeypatch.setattr(build_module, "make_video", failing)
    with pytest.raises(RuntimeError, match="disk on fire"):
        generate(tmp_path / "set", videos_per_action=1, size=(48, 48), actions=["bowl"], workers=1)
    assert list(tmp_path.iterdir()) == []


def test_contact_sheet(dataset, tmp_path):
    out = contact_sheet(dataset, tmp_path / "sheet.png", videos_per_action=1, split="val")
    with Image.open(out) as image:
        width, height = image.size
        pixels = np.asarray(image.convert("RGB"))
    assert height > 7 * 160 and width > 3 * 160  # a row per action, up to three key moments a row
    assert pixels.std() > 20  # frames were pasted, not an empty canvas
    with pytest.raises(StcorrError):
        contact_sheet(dataset, tmp_path / "x.png", split="test")
