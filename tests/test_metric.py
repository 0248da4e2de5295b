import numpy as np
import pytest

from stcorr.data.pairs import Pair
from stcorr.evaluation.results import score_pairs
from stcorr.metrics.pck import correct_matches, grouped_scores, pck_curves, pck_scores


def test_point_just_inside_and_just_outside_the_radius():
    true = np.array([[10, 100.0, 100.0]] * 3)
    ref = np.array([50.0] * 3)  # alpha 0.1 -> radius 5 px
    pred = np.array([[10, 103.0, 104.0], [10, 103.0, 104.001], [10, 105.0, 100.0]])  # 5.0, just over 5, 5.0
    np.testing.assert_array_equal(correct_matches(pred, true, ref, k=0, alpha=0.1), [True, False, True])


def test_time_tolerance_is_inclusive_k_and_not_k_plus_one():
    true = np.array([[20, 0.0, 0.0]] * 4)
    pred = np.array([[23, 0.0, 0.0], [17, 0.0, 0.0], [24, 0.0, 0.0], [16, 0.0, 0.0]])
    ref = np.ones(4)
    np.testing.assert_array_equal(correct_matches(pred, true, ref, k=3), [True, True, False, False])
    assert correct_matches(pred[:1], true[:1], ref[:1], k=2)[0] == np.False_


def test_missing_prediction_counts_as_wrong():
    true = np.zeros((2, 3))
    pred = np.array([[0, 0, 0], [np.nan, np.nan, np.nan]])
    assert pck_scores(pred, true, np.ones(2), ks=(1,)) == {"T@1": 0.5, "n_points": 2}


def _pair(action, names, src, tgt, ref):
    return Pair("s", "t", action, "val", tuple(names), tuple([0] * len(names)), np.array(src, float), np.array(tgt, float), np.array(ref, float))


def test_box_set_by_object_keypoint_changes_the_verdict():
    # the same 8-pixel error is right when a ball far away widens the box, wrong without it
    tgt = [[5, 10.0, 10.0]]
    pred = [[5, 18.0, 10.0]]
    small_box = _pair("bowl", ["head"], [[1, 0, 0]], tgt, [40.0])   # radius 4
    with_ball = _pair("bowl", ["head"], [[1, 0, 0]], tgt, [100.0])  # radius 10
    assert score_pairs([small_box], [np.array(pred)], ks=(1,))["T@1"] == 0.0
    assert score_pairs([with_ball], [np.array(pred)], ks=(1,))["T@1"] == 1.0


def test_results_breakdowns_by_action_and_type():
    a = _pair("bowl", ["head", "ball"], [[1, 0, 0]] * 2, [[5, 0, 0], [5, 0, 0]], [100, 100])
    b = _pair("squat", ["head", "left_knee"], [[1, 0, 0]] * 2, [[5, 0, 0], [5, 0, 0]], [100, 100])
    preds = [np.array([[5, 0, 0], [9, 0, 0]]), np.array([[6, 0, 0], [5, 50, 0]])]
    r = score_pairs([a, b], preds, ks=(1, 3, 5), method="m", data="d", split="val", setup="13+3")
    assert r["n_points"] == 4 and r["n_pairs"] == 2
    assert (r["T@1"], r["T@3"], r["T@5"]) == (0.5, 0.5, 0.75)
    assert r["per_action"]["bowl"]["T@3"] == 0.5 and r["per_action"]["bowl"]["T@5"] == 1.0
    assert r["per_type"]["hum"] == {"T@1": 2 / 3, "T@3": 2 / 3, "T@5": 2 / 3, "n_points": 3}
    assert r["per_type"]["obj"]["T@5"] == 1.0 and r["per_type"]["obj"]["T@3"] == 0.0
    assert r["per_action_type"]["squat"]["hum"]["n_points"] == 2
    assert [p["T@1"] for p in r["per_pair"]] == [0.5, 0.5]


def test_curves_are_monotone_in_k_and_alpha():
    rng = np.random.default_rng(0)
    true = rng.uniform(0, 100, (200, 3)); true[:, 0] = rng.integers(0, 50, 200)
    pred = true + rng.normal(0, 6, true.shape)
    pred[:, 0] = np.round(pred[:, 0])
    curves = pck_curves(pred, true, np.full(200, 80.0))
    assert np.all(np.diff(curves["pck_vs_k"]) >= 0) and curves["k"] == list(range(11))
    for series in curves["pck_vs_alpha"].values():
        assert np.all(np.diff(series) >= 0)
    assert curves["alpha"][0] == 0.05 and curves["alpha"][-1] == 0.3


def test_grouped_scores_split_by_label():
    true = np.zeros((3, 3)); pred = np.array([[0, 0, 0], [0, 0, 0], [9, 0, 0]])
    g = grouped_scores(pred, true, np.ones(3), ["x", "y", "y"], ks=(1,))
    assert g == {"x": {"T@1": 1.0, "n_points": 1}, "y": {"T@1": 0.5, "n_points": 2}}
