"""Spatial precision of the timely points (stcorr/metrics/precision.py), against hand-worked cases."""

from __future__ import annotations

import json

import numpy as np

from stcorr.metrics.precision import finite_or_none, spatial_precision, spread_ratio


def test_distances_in_radii_per_k_and_per_keypoint():
    true = np.array([[10, 0, 0], [10, 0, 0], [10, 0, 0], [10, 0, 0]], float)
    pred = np.array([[10, 3, 4], [12, 20, 0], [16, 0, 1], [np.nan, np.nan, np.nan]], float)
    ref = np.full(4, 50.0)  # radius 5 px at alpha 0.1
    names = ["left_wrist", "head", "head", "ball"]
    out = spatial_precision(pred, true, ref, names, ["a"] * 4, ks=(1, 3, 10), alpha=0.1)
    assert out["1"]["n_points"] == 1 and out["1"]["fraction"] == 0.25
    assert out["1"]["distance"]["median"] == 1.0 and out["1"]["distance"]["inside"] == 1.0  # 5 px = 1 radius
    assert out["3"]["n_points"] == 2 and np.isclose(out["3"]["distance"]["median"], 2.5)  # 1 and 4 radii
    assert out["3"]["per_keypoint"] == {"head": {"median": 4.0, "n_points": 1}, "left_wrist": {"median": 1.0, "n_points": 1}}
    ten = out["10"]
    assert ten["n_points"] == 3 and np.isclose(ten["distance"]["median"], 1.0)  # 1, 4, 0.2: the missing one is out
    assert np.isclose(ten["distance"]["q1"], 0.6) and np.isclose(ten["distance"]["q3"], 2.5)


def test_spread_is_predicted_over_true_per_group():
    true = np.array([[0, 0], [10, 0], [0, 0], [0, 10], [5, 5]], float)
    pred = np.array([[4, 0], [6, 0], [0, 0], [0, 20], [7, 7]], float)  # group a pulled together, b pushed apart
    ratios = spread_ratio(pred, true, ["a", "a", "b", "b", "c"])  # c has one point: no spread
    assert ratios["n_groups"] == 2 and np.isclose(ratios["median"], (0.2 + 2.0) / 2)


def test_nothing_timely_gives_nulls_in_json():
    out = spatial_precision(np.array([[50.0, 0, 0]]), np.array([[0.0, 0, 0]]), np.array([10.0]), ["head"], ["a"], ks=(1,))
    text = json.dumps(finite_or_none(out), allow_nan=False)
    assert json.loads(text)["1"]["distance"]["median"] is None


def test_nearest_part_tells_own_mirror_and_other_parts_apart():
    # one moment: left and right wrist 20 px apart, the head above; predictions on the right wrist
    # (for the left wrist: its mirror), on the head (for the right wrist: another part), on itself (head)
    true = np.array([[5, 0, 0], [5, 20, 0], [5, 10, -30]], float)
    pred = np.array([[5, 19, 1], [5, 11, -29], [5, 10, -31]], float)
    names = ["left_wrist", "right_wrist", "head"]
    out = spatial_precision(pred, true, np.full(3, 60.0), names, ["p/5"] * 3, ks=(1,))["1"]["nearest_part"]
    assert out["n_points"] == 3
    assert np.isclose(out["itself"], 1 / 3) and np.isclose(out["mirror"], 1 / 3) and np.isclose(out["another"], 1 / 3)
    # the nearest part is looked for among the same moment's true points only
    apart = spatial_precision(pred[:1], true[:1], np.full(1, 60.0), names[:1], ["p/5"], ks=(1,))["1"]["nearest_part"]
    assert apart["itself"] == 1.0
