"""compare across camera views (3D angles from world joints) and over every rep, on synthetic truth."""

from __future__ import annotations

import numpy as np
import pytest

import compare_synthetic as cs
from stcorr.compare import compare
from stcorr.pose.angles import angle_series
from stcorr.pose.track import JointTrack
from stcorr.compare.reps import find_reps, rep_rows, rep_sentences
from stcorr.compare.view import body_yaw, fold_axis, view_difference


@pytest.fixture(scope="module")
def views(tmp_path_factory):
    return cs.two_views(tmp_path_factory.mktemp("views"))


def test_views_apart_are_told_and_angles_come_from_3d(views):
    reference, attempt, pose = views
    record = compare(reference, attempt, pose=pose, key_moments=[20, 50, 80])
    assert record["view_difference_deg"] > 45 and record["angles_from"] == "world (3D)"
    assert any("degrees apart" in line and "3D" in line for line in record["summary"])
    ref, att = pose.tracks["reference"], pose.tracks["attempt"]
    for moment in record["key_moments"]:  # the same performance: 3D angles agree, the 2D ones do not
        assert max(abs(a["difference_deg"]) for a in moment["angles"]) < 1.0
    flat = np.abs(angle_series(att.xy) - angle_series(ref.xy))
    assert np.nanmax(flat) > 30
    assert record["angle_convention"]["name"] == "stcorr-flexion-1"


def test_same_view_keeps_2d_angles(tmp_path):
    reference, attempt, pose = cs.two_views(tmp_path, views=("left", "left"))
    record = compare(reference, attempt, pose=pose, key_moments=[20, 50])
    assert record["view_difference_deg"] < 30 and record["angles_from"] == "image (2D)"


class CountingLift:
    """compare's lifting pose source around a synthetic one, its lifter standing in: the truth as it is."""

    def __init__(self, inner):
        from stcorr.compare.world import LiftedPose

        class Lifting(LiftedPose):
            def lifted(self, track):
                self.calls += 1
                return track

        self.pose = Lifting(inner, lifter=None, checkpoint="a stand-in")
        self.pose.calls = 0


def test_the_3d_lifter_lifts_only_when_the_views_differ(views, tmp_path):
    reference, attempt, pose = views
    lifting = CountingLift(pose).pose
    record = compare(reference, attempt, pose=lifting, key_moments=[20, 50, 80])
    assert lifting.calls == 2 and record["angles_from"] == "world (3D)" and record["pose"] == f"{pose.name}+lifter"
    assert any("lifted by the 3D lifter a stand-in" in line for line in record["summary"])
    reference, attempt, same = cs.two_views(tmp_path, views=("left", "left"))
    lifting = CountingLift(same).pose
    record = compare(reference, attempt, pose=lifting, key_moments=[20, 50])
    assert lifting.calls == 0 and record["angles_from"] == "image (2D)"  # one view: the pose source as it is


def test_view_difference_folds_back_view_and_mirror():
    rng = np.random.default_rng(0)
    world = rng.normal(size=(10, 13, 3))
    turned = world.copy()
    turned[..., 0], turned[..., 2] = -world[..., 0], -world[..., 2]  # the camera behind: 180 degrees round
    times = np.arange(10)
    assert view_difference(world, turned, times, mirrored=False) == pytest.approx(0.0, abs=1e-6)
    side = world.copy()
    side[..., 0], side[..., 2] = world[..., 2], -world[..., 0]  # 90 degrees round
    assert view_difference(world, side, times, mirrored=False) == pytest.approx(90.0, abs=1e-6)
    assert fold_axis(np.array([170.0, -20.0, 95.0])) == pytest.approx([10.0, 20.0, 85.0])
    assert np.isfinite(body_yaw(world)).all()
    assert view_difference(None, world, times, False) is None


DEPTHS = [0.9, 0.5, 1.0, 0.7, 0.8]


def test_reps_of_known_depths_are_found_and_ranked_exactly():
    track = JointTrack.from_joints(cs.rep_frames(DEPTHS))
    for action in ("squat", None):  # the squat's hip height, or the motion's own main component
        reps = find_reps(track, action)
        assert len(reps) == len(DEPTHS), action
        for k, rep in enumerate(reps):
            assert k * 36 + 6 <= rep.start <= k * 36 + 6 + 4 and abs(rep.bottom - (k * 36 + 6 + 14.5)) <= 1.5
    rows = rep_rows(track, find_reps(track, "squat"), 30.0, None)
    assert [r["depth_rank"] for r in rows] == [2, 5, 1, 4, 3]  # deepest first
    words = rep_sentences(rows)
    assert "rep 2 of 5 is the one whose knee goes least deep" in words[1] and "rep 3 goes deepest" in words[1]


def test_one_rep_against_a_video_of_reps_is_compared_with_the_closest(tmp_path):
    one = cs.rep_frames([0.7])
    many = cs.rep_frames(DEPTHS)
    ref = cs.write_frames(tmp_path / "one", one, (200, 220))
    att = cs.write_frames(tmp_path / "many", many, (200, 220))
    record = compare(ref, att, pose=cs.FakePose({"one": one, "many": many}), action="squat")
    start, end = record["compared_attempt_frames"]
    assert 3 * 36 <= start and end <= 4 * 36 + 6  # rep 4 goes 0.7 of the way down, as the reference
    assert all(start <= m["attempt_t"] <= end for m in record["key_moments"])
    assert len(record["reps"]["attempt"]) == 5 and len(record["reps"]["reference"]) == 1
    closest = min(record["reps"]["attempt"], key=lambda r: r["distance_to_reference"])
    assert closest["rep"] == 4
    assert any("rep 2 of 5 is the one whose knee goes least deep" in line for line in record["summary"])
