"""PRED.json's score for the sequential methods: the alignment margin around the keypoint's frame
times the visibility and nearness of the joints that placed the point."""

from __future__ import annotations

import numpy as np
import pytest

from stcorr.baselines.methods import SequentialMethod, timed_alignment
from stcorr.baselines.spatial import BODY_REACH, DetectedPose, JOINT_REACH, placement_confidence
from stcorr.baselines.time_alignment import alignment_margin
from stcorr.data.pairs import Pair

from test_body_transfer import BODY, FixedPoses, joints, similarity


def moving_costs(n: int, m: int, period: int | None = None) -> np.ndarray:
    """(n, m) costs of a source frame against each target frame of the same motion played at m / n
    speed; with ``period`` the target repeats the motion every ``period`` frames."""
    phase_src = np.arange(n)[:, None] / n
    phase_tgt = np.arange(m)[None, :] / m if period is None else (np.arange(m)[None, :] % period) / period
    return 5.0 * np.abs(phase_src - phase_tgt)


def test_margin_is_high_where_only_the_matched_moment_matches():
    costs = moving_costs(40, 60) + 0.05
    matched = np.round(np.arange(10, 21) * 60 / 40).astype(int)
    assert alignment_margin(costs[10:21], matched, window=3) > 0.8


def test_margin_is_a_half_on_a_repeated_movement_and_lower_where_another_moment_matches_better():
    costs = moving_costs(30, 90, period=30) + 0.05  # the target does the movement three times
    matched = np.arange(10, 21)
    assert alignment_margin(costs[10:21], matched, window=3) == pytest.approx(0.5)
    assert alignment_margin(costs[10:21], matched + 8, window=3) < 0.4
    assert alignment_margin(costs[10:21], matched, window=89) == 1.0  # no shift long enough: nothing to weigh


def test_placement_confidence_weighs_visibility_and_nearness():
    body, seen = joints(BODY), {name: 1.0 for name in joints(BODY)}
    size = float(np.ptp(BODY, axis=0).max())
    wrist = np.array(body["left_wrist"])
    assert placement_confidence(wrist, ["left_wrist"], body, seen, seen, JOINT_REACH) == pytest.approx(1.0)
    half_way = wrist + [JOINT_REACH * size, 0.0]
    assert placement_confidence(half_way, ["left_wrist"], body, seen, seen, JOINT_REACH) == pytest.approx(0.5)
    dim = {**seen, "left_wrist": 0.4}
    assert placement_confidence(wrist, ["left_wrist"], body, seen, dim, JOINT_REACH) == pytest.approx(0.4)
    assert placement_confidence(wrist, [], body, seen, seen, JOINT_REACH) == 0.0


class SeenPoses(FixedPoses):
    """FixedPoses with a visibility per joint (the same in every frame)."""

    def __init__(self, by_video: dict, visibility: dict):
        super().__init__(by_video)
        self.seen = visibility

    def visibility(self, video, t: int) -> dict:
        return self.seen[video.name]


class Frames:
    """A data set of two videos that are only a name, a size and a length."""

    def video(self, name: str):
        return type("Video", (), {"name": name, "size": (320, 240), "num_frames": 40})()


class LinearAligner:
    """Source frame i -> target frame i, on descriptors that make that the one good match."""

    def align(self, dataset, pair: Pair) -> np.ndarray:
        return pair.src[:, 0].astype(np.int64)

    def descriptors(self, dataset, name: str) -> np.ndarray:
        t = np.arange(40, dtype=np.float64)
        return np.column_stack([np.sin(t / 7), np.cos(t / 5)])


def test_the_sequential_score_is_time_times_space_and_orders_points_by_how_sure_they_are():
    body = joints(BODY)
    seen = {name: 1.0 for name in body}
    dim = {**seen, "right_wrist": 0.3}
    matcher = DetectedPose(SeenPoses({"a": body, "b": joints(similarity(BODY))}, {"a": seen, "b": dim}))
    method = SequentialMethod("linear+pose", LinearAligner(), matcher, [])
    points = np.array([[20, *BODY[5]], [20, *BODY[6]], [20, 60.0, 135.0], [20, 300.0, 20.0]])
    pair = Pair("a", "b", "", "", ("left_wrist", "right_wrist", "club_head", None), (-1,) * 4, points,
                np.full_like(points, np.nan), np.full(4, np.nan))
    predicted, scores = method.predict_scored(Frames(), pair)
    np.testing.assert_allclose(predicted, method.predict(Frames(), pair))
    aligned, time = timed_alignment(method.aligner, Frames(), pair)
    np.testing.assert_array_equal(aligned, predicted[:, 0])
    assert np.all(time > 0.6) and np.all(time <= 1.0)  # the descriptors single out the matched stretch
    assert scores.dtype == np.float64 and np.all((scores >= 0) & (scores <= 1))
    assert scores[0] == pytest.approx(time[0])  # a joint on its detection, seen in both frames
    assert scores[1] == pytest.approx(0.3 * time[1])  # the same, but barely seen in the target
    assert scores[0] > scores[2] > scores[3]  # a point off the body is less sure, farther off still less
    assert BODY_REACH > JOINT_REACH
