"""Steadier 3D joints (stcorr/compare/world.py) on synthetic truth: the same performance from two views, its world joints shaken."""

from __future__ import annotations

import numpy as np
import pytest

import compare_synthetic as cs
from stcorr.pose.angles import angle_series
from stcorr.compare.world import BONES, J, lengths_kept, smoothed_world, steadied


@pytest.fixture(scope="module")
def views(tmp_path_factory):
    return cs.two_views(tmp_path_factory.mktemp("views"))


def test_smoothing_brings_two_shaken_views_closer(views):
    _, _, pose = views
    rng = np.random.default_rng(0)
    true = [pose.tracks[name].world for name in ("reference", "attempt")]
    shaken = [w + rng.normal(scale=0.03, size=w.shape) for w in true]  # 3 cm of detector noise a frame
    raw = np.nanmedian(np.abs(angle_series(shaken[0]) - angle_series(shaken[1])))
    smooth = np.nanmedian(np.abs(angle_series(smoothed_world(shaken[0], 2.0)) - angle_series(smoothed_world(shaken[1], 2.0))))
    exact = np.nanmax(np.abs(angle_series(smoothed_world(true[0], 2.0)) - angle_series(smoothed_world(true[1], 2.0))))
    assert smooth < 0.7 * raw and exact < 1.0  # smoothing both views alike keeps the truth's agreement


def test_smoothing_leaves_missing_frames_missing_and_does_not_spread_them():
    world = np.tile(np.arange(13 * 3, dtype=float).reshape(1, 13, 3), (20, 1, 1))
    world[5:8, 2] = np.nan
    out = smoothed_world(world, 2.0)
    assert np.isnan(out[5:8, 2]).all() and np.allclose(out[~np.isnan(world)], world[~np.isnan(world)])


def test_lengths_kept_gives_every_limb_its_median_length_and_keeps_x_y():
    rng = np.random.default_rng(1)
    world = rng.normal(scale=0.3, size=(30, 13, 3))
    out = lengths_kept(world)
    for parent, child in BONES:
        bone = world[:, J[child]] - world[:, J[parent]]
        new = out[:, J[child]] - out[:, J[parent]]
        assert np.allclose(new[:, :2], bone[:, :2])
        fits = np.hypot(bone[:, 0], bone[:, 1]) <= np.median(np.linalg.norm(bone, axis=1))
        assert np.allclose(np.linalg.norm(new, axis=1)[fits], np.median(np.linalg.norm(bone, axis=1)))


def test_a_track_without_world_joints_is_left_as_it_is(views):
    track = cs.FakePose({"a": cs.reference_frames()}).tracks["a"]
    assert steadied(track) is track
