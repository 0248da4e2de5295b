"""``stcorr synth --realism``: realism 0 is today's data, byte for byte; with realism the labels
still lie on the drawn body (under camera motion and zoom), occluded joints are not visible, and
the same seed gives the same data."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import stcorr.data.synthetic.realism as realism_module
from stcorr.data.synthetic import generate
from stcorr.data.synthetic.clip import make_clip, render_frames
from stcorr.data.synthetic.realism import FOREGROUND, Occluder, folder_photos, packaged_photos
from stcorr.data.synthetic.render import Painter
from stcorr.errors import StcorrError

from cli_helpers import run_stcorr

# sha256 over the file names and bytes of generate(seed=3, videos_per_action=1, size=(64, 48),
# actions=["squat", "golf_swing"], workers=1), computed with the generator as it was before realism
# existed (commit f3efb73). JPEG bytes depend on Pillow's libjpeg: update this only with a reason.
PLAIN_DIGEST = "043adfa2554ca29d0a6091165773569e25ff4fb91f4435c1543fa10025455950"


def digest(root: Path) -> str:
    """Of every file but the true 3D joints (``joints3d/``, written since 2026-12-08: the rest is unchanged)."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.relative_to(root).parts[0] != "joints3d":
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def only(monkeypatch, *effects: str) -> None:
    """Realism draws exactly these effects (each on at R = 1), no others."""
    monkeypatch.setattr(realism_module, "CHANCE", {k: float(k in effects) for k in realism_module.CHANCE})


def test_realism_zero_is_todays_data(tmp_path):
    generate(tmp_path / "s", seed=3, videos_per_action=1, size=(64, 48), actions=["squat", "golf_swing"], workers=1,
             realism=0)
    assert digest(tmp_path / "s") == PLAIN_DIGEST
    assert len(list((tmp_path / "s" / "joints3d").glob("*.npy"))) == 4


def test_same_seed_same_data_with_every_effect(tmp_path, monkeypatch):
    only(monkeypatch, *realism_module.CHANCE)
    runs = []
    for name in ("a", "b"):
        generate(tmp_path / name, seed=5, videos_per_action=1, size=(64, 48), actions=["tennis_serve"], workers=1, realism=1)
        runs.append(digest(tmp_path / name))
    assert runs[0] == runs[1]
    generate(tmp_path / "plain", seed=5, videos_per_action=1, size=(64, 48), actions=["tennis_serve"], workers=1)
    frame = "frames/0001/000010.jpg"
    assert (tmp_path / "a" / frame).read_bytes() != (tmp_path / "plain" / frame).read_bytes()
    manifest = json.loads((tmp_path / "a" / "synth.json").read_text())
    assert manifest["realism"] == 1 and len(manifest["backgrounds"]) == len(packaged_photos())


def _zoomed_clip(monkeypatch, effects=("view", "texture", "blur", "lighting", "photo")):
    only(monkeypatch, *effects)
    clip = make_clip("baseball_swing", (7, 0, 1, 2), (96, 96), realism=1.0, photos=packaged_photos())
    n = clip.n_frames
    clip.realism.zoom = np.linspace(1.3, 1.6, n)  # strong zoom, the window drifting from corner to corner
    room = 96 * (1 - 1 / clip.realism.zoom)
    clip.realism.window = np.stack([np.linspace(0, 1, n) * room, np.linspace(1, 0, n) * room], -1)
    return clip


def _without_body(clip, monkeypatch) -> list[np.ndarray]:
    with monkeypatch.context() as m:
        m.setattr(Painter, "draw", lambda self, t, image, part_map: None)
        return [np.asarray(image, float) for image, _, _ in render_frames(clip)]


def test_visible_joints_lie_on_the_drawn_body_under_camera_motion_and_zoom(monkeypatch):
    clip = _zoomed_clip(monkeypatch)
    frames, visible = zip(*((np.asarray(image, float), vis) for image, _, vis in render_frames(clip)))
    empty = _without_body(clip, monkeypatch)

    def on_body(xy: np.ndarray) -> float:
        hits = []
        for t in range(0, clip.n_frames, 3):
            for k in np.flatnonzero(visible[t]):
                x, y = np.round(xy[t, k]).astype(int)
                if 0 <= x < 96 and 0 <= y < 96:
                    hits.append(np.abs(frames[t][y, x] - empty[t][y, x]).sum() > 12)
        return float(np.mean(hits))

    assert on_body(clip.joints_xy()) > 0.95
    assert on_body(clip.painter.joints_xy) < 0.8  # the labels before the camera's zoom miss the body


def test_a_marker_at_a_joint_lands_on_its_label(monkeypatch):
    """Sub-pixel check of the camera map: a dot drawn at the head joint, nothing else, found where
    the label says."""
    clip = _zoomed_clip(monkeypatch, effects=("view",))
    clip.background = Image.new("RGB", clip.background.size)
    clip.noise_sigma, clip.gain = 0.0, np.ones(3)
    clip.movers = []
    ss = clip.ss

    def dot(self, t, image, part_map):
        x, y = self.joints_xy[t, 0] * ss + ss / 2
        image.paste((255, 255, 255), tuple(int(round(v)) for v in (x - 2 * ss, y - 2 * ss, x + 2 * ss, y + 2 * ss)))

    monkeypatch.setattr(Painter, "draw", dot)
    monkeypatch.setattr(realism_module, "compress", lambda real, frames: frames)
    labels = clip.joints_xy()[:, 0]
    errors = []
    for t, (image, inside, _) in enumerate(render_frames(clip)):
        if not inside[0] or not (6 < labels[t, 0] < 90 and 6 < labels[t, 1] < 90):
            continue
        grey = np.asarray(image, float).mean(-1)
        grey = np.where(grey > 40, grey, 0)
        ys, xs = np.mgrid[:96, :96]
        found = np.array([(grey * xs).sum(), (grey * ys).sum()]) / grey.sum()
        errors.append(np.abs(found - labels[t]).max())
    assert len(errors) > 10 and max(errors) < 0.75, errors


def test_joints_behind_a_foreground_object_are_not_visible(monkeypatch):
    only(monkeypatch)
    clip = make_clip("squat", (1, 1, 1, 1), (64, 64), realism=1.0)
    plain = [vis for _, _, vis in render_frames(clip)]
    width, height = clip.background.size
    clip.realism.occluders = [Occluder("pole", np.array([0.0, 0.0, width / 2, height]), (90, 60, 40), 0.0)]
    hidden = [(inside, vis) for _, inside, vis in render_frames(clip)]
    xy = clip.joints_xy()
    left = xy[..., 0] < 64 / 2 - 2  # the pole covers the left half of the frame (pan is small)
    right = xy[..., 0] > 64 / 2 + 4
    assert np.array(plain)[left].any() and not np.array([v for _, v in hidden])[left].any()
    assert np.array_equal(np.array([v for _, v in hidden])[right], np.array(plain)[right])
    assert FOREGROUND not in range(1, 17)


def test_background_folder(tmp_path, monkeypatch):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("b.png", "a.jpg"):
        Image.fromarray(rng.integers(0, 255, (80, 120, 3), dtype=np.uint8)).save(folder / name)
    (folder / "notes.txt").write_text("not an image")
    assert [Path(p.path).name for p in folder_photos(folder)] == ["a.jpg", "b.png"]
    only(monkeypatch, "photo")
    generate(tmp_path / "s", seed=1, videos_per_action=1, size=(48, 48), actions=["bowl"], workers=1, realism=0.5,
             backgrounds=folder)
    manifest = json.loads((tmp_path / "s" / "synth.json").read_text())
    assert [b["file"] for b in manifest["backgrounds"]] == ["a.jpg", "b.png"]


def test_bad_background_folders_are_one_line_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(StcorrError, match="no images"):
        folder_photos(empty)
    (empty / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(StcorrError, match="not a readable image"):
        folder_photos(empty)
    run = run_stcorr("synth", tmp_path / "out", "--backgrounds", empty)
    assert run.one_line_error and "realism above 0" in run.stderr
    run = run_stcorr("synth", tmp_path / "out", "--realism", "0.5", "--backgrounds", tmp_path / "missing")
    assert run.one_line_error and "not found" in run.stderr
    assert not (tmp_path / "out").exists()
