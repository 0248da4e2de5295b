"""The overlay laid on the background (``--overlay-on background``) for a camera that pans: synthetic truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

import compare_synthetic as cs
from stcorr.compare import analyse
from stcorr.compare.overlay import apply, overlay_frames, overlay_transforms

pytest.importorskip("cv2")  # OpenCV comes with MediaPipe (the pose extra)

SIZE = (160, 120)
REF_ORIGIN = (40, 30)


def scenery(seed: int = 0) -> Image.Image:
    """A large backdrop full of corners: random rectangles and discs on a grey ground."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (400, 300), (110, 110, 110))
    draw = ImageDraw.Draw(image)
    for _ in range(260):
        x, y, w, h = rng.integers(0, 400), rng.integers(0, 300), rng.integers(4, 24), rng.integers(4, 24)
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        (draw.rectangle if rng.random() < 0.6 else draw.ellipse)([x, y, x + w, y + h], fill=colour)
    return image


def attempt_origin(u: int) -> tuple[float, float]:
    """Where the panning camera's window starts in the backdrop at attempt frame u."""
    return (20 + 1.5 * u, 50 - 0.5 * u)


def film(folder: Path, backdrop: Image.Image, frames: list, origin) -> Path:
    """Frames of the backdrop seen through a window at origin(t), the body (in window pixels) drawn on it."""
    folder.mkdir(parents=True, exist_ok=True)
    for t, joints in enumerate(frames):
        x0, y0 = origin(t)
        image = backdrop.crop((round(x0), round(y0), round(x0) + SIZE[0], round(y0) + SIZE[1]))
        draw = ImageDraw.Draw(image)
        for x, y in joints.values():
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=(250, 250, 250))
        image.save(folder / f"{t + 1:06d}.png")
    return folder


def test_background_homography_follows_a_panning_camera(tmp_path):
    backdrop = scenery()
    ref = [cs.body(t / 39, centre=(70, 75), scale=0.8) for t in range(40)]
    att = [cs.body(t / 39, centre=(90, 70), scale=0.8) for t in range(40)]
    reference = film(tmp_path / "reference", backdrop, ref, lambda t: REF_ORIGIN)
    attempt = film(tmp_path / "attempt", backdrop, att, lambda u: tuple(map(round, attempt_origin(u))))
    comparison = analyse(reference, attempt, pose=cs.FakePose({"reference": ref, "attempt": att}), key_moments=[20],
                         overlay_on="background")
    assert comparison.record["overlay_registration"] == "background"
    transforms = overlay_transforms(comparison)
    assert transforms.shape == (40, 3, 3)
    corners = np.array([[10.0, 10.0], [150.0, 10.0], [80.0, 110.0]])
    errors = []
    for t, transform in enumerate(transforms):
        u = int(comparison.attempt_times[t])
        ox, oy = map(round, attempt_origin(u))
        truth = corners + [ox - REF_ORIGIN[0], oy - REF_ORIGIN[1]]  # the same backdrop point in the reference
        errors.append(np.abs(apply(transform, corners) - truth).max())
    assert np.median(errors) < 1.0 and np.percentile(errors, 90) < 2.5
    frame = next(overlay_frames(comparison, ("left_wrist",)))
    assert frame.ndim == 3 and frame.shape[0] > SIZE[1]
