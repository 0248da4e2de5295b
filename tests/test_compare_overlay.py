"""The overlay: the attempt warped onto the reference by the torso's similarity transform, traces in reference pixels."""

from __future__ import annotations

import numpy as np
import pytest

import compare_synthetic as cs
from stcorr.compare import analyse
from stcorr.compare.overlay import apply, body_transforms, overlay_frames, trace_points, warp_attempt


def bright_centre(image) -> np.ndarray:
    pixels = np.asarray(image).sum(axis=2)
    ys, xs = np.nonzero(pixels > 380)
    return np.array([xs.mean(), ys.mean()])


@pytest.mark.parametrize("scale", [1.0, 0.25])  # 0.25: the frame is reduced by a whole factor first
def test_warp_puts_an_attempt_pixel_where_the_transform_says(scale):
    frame = np.zeros((300, 400, 3), np.uint8)
    frame[146:155, 196:205] = 255  # a square centred on attempt pixel (200, 150)
    angle, size = 0.3, 0.8
    transform = np.array([[size * np.cos(angle), -size * np.sin(angle), 40.0], [size * np.sin(angle), size * np.cos(angle), -10.0]])
    out = warp_attempt(frame, transform, (400, 300), scale)
    expected = (apply(transform, np.array([[200.0, 150.0]]))[0] + 0.5) * scale - 0.5
    assert bright_centre(out) == pytest.approx(expected, abs=max(1.0, 2 * scale))


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    reference, attempt, pose = cs.synthetic_pair(tmp_path_factory.mktemp("overlay"))
    return analyse(reference, attempt, pose=pose, key_moments=[12, 24, 36])


def test_torso_transform_maps_the_attempts_body_onto_the_references(comparison):
    transforms = body_transforms(comparison)
    ref, att = trace_points(comparison, transforms, ("left_hip", "right_shoulder", "left_knee"))
    # the attempt stands elsewhere at 1.3 times the size; mapped, its hips and shoulders sit on the reference's
    assert np.nanmax(np.abs(att[5:-5, :2] - ref[5:-5, :2])) < 2.0
    scale = np.sqrt(np.abs(np.linalg.det(transforms[:, :, :2])))
    assert scale == pytest.approx(np.full(len(scale), 1 / 1.3), abs=0.03)


def test_overlay_frames_have_both_panels_for_every_reference_frame(comparison):
    frames = list(overlay_frames(comparison))
    width, height = comparison.reference.size
    assert len(frames) == comparison.reference.num_frames
    assert frames[0].shape[0] == height + 20 and frames[0].shape[1] >= 2 * width
