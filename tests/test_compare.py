"""stcorr.compare on a synthetic reference and attempt whose timing and angles are known (tests/compare_synthetic.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import compare_synthetic as cs
from stcorr.compare import align, compare
from stcorr.pose.angles import joint_angles
from stcorr.pose.track import JointTrack
from stcorr.compare.spatial import grid_points, pose_warp, similarity_fit
from stcorr.errors import StcorrError

# Reference frames whose phase the attempt shows exactly (t / SPEED is whole), so the attempt's true
# frame is a whole frame and the angle differences at it are exactly the offsets.
MOMENTS = [12, 24, 36]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    return cs.synthetic_pair(tmp_path_factory.mktemp("compare"))


@pytest.fixture(scope="module")
def record(pair):
    reference, attempt, pose = pair
    return compare(reference, attempt, key_moments=MOMENTS, pose=pose)


def test_key_moment_timings_within_one_frame(record):
    for moment, t in zip(record["key_moments"], MOMENTS):
        assert moment["reference_t"] == t
        assert abs(moment["attempt_t"] - cs.true_attempt_time(t)) <= 1
        assert moment["reference_s"] == pytest.approx(t / 30.0, abs=1e-3)
        assert moment["attempt_s"] == pytest.approx(moment["attempt_t"] / 30.0, abs=1e-3)
    first, second = record["key_moments"][:2]
    assert first["attempt_since_previous_s"] == pytest.approx(first["attempt_s"])
    assert second["attempt_since_previous_s"] == pytest.approx(second["attempt_s"] - first["attempt_s"])


def test_whole_alignment_within_one_frame_and_monotonic(record):
    pairs = np.array(record["time_alignment"])
    assert pairs[:, 0].tolist() == list(range(cs.N_REFERENCE))
    assert np.all(np.diff(pairs[:, 1]) >= 0) and pairs[-1, 1] <= cs.n_attempt() - 1
    errors = [abs(u - cs.true_attempt_time(t)) for t, u in pairs[1:-1]]  # the ends hold still in the attempt
    assert max(errors) <= 1.0


def test_angle_differences_within_two_degrees(record):
    # flexion (angles.CONVENTION) is 180 - the inner angle the synthetic body is built from
    expected = {"left_knee": -cs.KNEE_OFFSET, "right_knee": -cs.KNEE_OFFSET, "left_elbow": -cs.ELBOW_OFFSET,
                "right_elbow": -cs.ELBOW_OFFSET}
    for moment in record["key_moments"]:
        rows = {row["joint"]: row for row in moment["angles"]}
        assert len(rows) == 9
        for joint, row in rows.items():
            assert row["difference_deg"] == pytest.approx(expected.get(joint, 0.0), abs=2.0), (moment["reference_t"], joint)
            assert row["difference_deg"] == pytest.approx(row["attempt_deg"] - row["reference_deg"], abs=0.02)
        truth = joint_angles(cs.reference_frames()[moment["reference_t"]])
        assert rows["left_knee"]["reference_deg"] == pytest.approx(truth["left_knee"], abs=1.0)  # a median over 5 frames


def test_summary_names_the_largest_differences(record):
    assert all("knee is 15 degrees more bent" in line for line in record["summary"][:3])
    assert "no 3D joints: the angles are 2D" in record["summary"][3] and len(record["summary"]) == 4


def test_points_come_from_pose_and_land_on_the_attempts_joints(record):
    attempt = cs.attempt_frames()
    for moment in record["key_moments"]:
        assert {p["name"] for p in moment["points"]} == set(attempt[0])
        for point in moment["points"]:
            assert point["by"] == "pose"
            t, x, y = point["attempt"]
            assert t == moment["attempt_t"]
            assert (x, y) == pytest.approx(attempt[t][point["name"]], abs=0.01)


def test_record_is_strict_json_with_the_spec_keys(record):
    text = json.dumps(record, allow_nan=False)
    assert set(json.loads(text)) >= {"reference", "attempt", "fps", "time_alignment", "key_moments", "summary"}
    moment = record["key_moments"][0]
    assert set(moment) >= {"name", "reference_t", "attempt_t", "reference_s", "attempt_s", "points", "angles"}
    assert set(moment["angles"][0]) == {"joint", "reference_deg", "attempt_deg", "difference_deg", "uncertainty_deg"}
    assert record["fps"] == [30.0, 30.0]


def test_turning_point_found_and_mapped(pair):
    reference, attempt, pose = pair
    found = compare(reference, attempt, pose=pose)
    assert [m["reference_t"] for m in found["key_moments"]] == [cs.TURN]
    assert abs(found["key_moments"][0]["attempt_t"] - cs.true_attempt_time(cs.TURN)) <= 1
    assert found["key_moments"][0]["name"] is None and found["key_moments"][0]["by"] == "turning point"


def test_squat_rule_names_all_three_moments_in_both_videos(pair):
    reference, attempt, pose = pair
    found = compare(reference, attempt, pose=pose, action="squat")
    moments = found["key_moments"]
    assert [m["name"] for m in moments] == ["hips at knees going down", "hips at floor", "hips at knees going up"]
    assert all(m["by"] == "rule" for m in moments) and found["missing_key_moments"] == []
    assert abs(moments[1]["reference_t"] - cs.TURN) <= 1
    assert moments[0]["reference_t"] < cs.TURN < moments[2]["reference_t"]
    for m in moments:  # found by the rule in the attempt too, where the same phase is
        assert abs(m["attempt_t"] - cs.true_attempt_time(m["reference_t"])) <= 2  # a frame of rounding in each video


def test_a_moment_that_cannot_be_found_is_said_with_its_reason(pair, tmp_path):
    reference, attempt, _ = pair
    still = [cs.body(0.0, centre=(60, 100)) for _ in range(cs.N_REFERENCE)]  # standing: no squat
    pose = cs.FakePose({"reference": still, "attempt": cs.attempt_frames()})
    found = compare(reference, attempt, pose=pose, action="squat")
    assert found["key_moments"] == [] and len(found["missing_key_moments"]) == 3
    assert all("no squat seen" in m["reason"] for m in found["missing_key_moments"])
    assert any("'hips at floor' not found in the reference" in line or "hips at floor not found in the reference" in line
               for line in found["summary"])


def test_action_names_the_moments(pair):
    reference, attempt, pose = pair
    found = compare(reference, attempt, pose=pose, action="squat", key_moments=MOMENTS)
    assert [m["name"] for m in found["key_moments"]] == ["hips at knees going down", "hips at floor", "hips at knees going up"]
    assert "at 'hips at floor'" in " ".join(found["summary"])


def test_mirrored_attempt_aligns_the_same():
    """x -> W - x and left/right labels swapped (what a detector sees in a mirrored video)."""
    width = 220
    mirrored = [{_swap(name): (width - 1 - x, y) for name, (x, y) in joints.items()} for joints in cs.attempt_frames()]
    times = align.dtw_alignment(align.frame_descriptors(JointTrack.from_joints(cs.reference_frames())),
                                align.frame_descriptors(JointTrack.from_joints(mirrored)))
    assert max(abs(times[t] - cs.true_attempt_time(t)) for t in range(1, cs.N_REFERENCE - 1)) <= 1.0


def test_mirrored_attempt_is_compared_side_for_side(pair, record):
    reference, attempt, _ = pair
    mirrored = [{_swap(name): (219 - x, y) for name, (x, y) in joints.items()} for joints in cs.attempt_frames()]
    pose = cs.FakePose({"reference": cs.reference_frames(), "attempt": mirrored})
    found = compare(reference, attempt, key_moments=MOMENTS, pose=pose)
    assert found["attempt_sides"] == "swapped" and record["attempt_sides"] == "as detected"
    assert "mirrored" in found["summary"][-1]
    for plain, swapped in zip(record["key_moments"], found["key_moments"]):
        assert swapped["attempt_t"] == plain["attempt_t"]
        assert [a["difference_deg"] for a in swapped["angles"]] == pytest.approx([a["difference_deg"] for a in plain["angles"]], abs=0.05)
        wrist = next(p for p in swapped["points"] if p["name"] == "left_wrist")
        assert wrist["attempt"][1] == pytest.approx(219 - cs.attempt_frames()[wrist["attempt"][0]]["left_wrist"][0], abs=0.01)


def _swap(name: str) -> str:
    return name.replace("left", "@").replace("right", "left").replace("@", "right")


def test_uniform_method_spreads_frames_evenly(pair):
    reference, attempt, pose = pair
    found = compare(reference, attempt, pose=pose, key_moments=[0, 49], method="uniform")
    assert [m["attempt_t"] for m in found["key_moments"]] == [0, cs.n_attempt() - 1]


@pytest.mark.parametrize("options, message", [
    ({"key_moments": [10, 60]}, "not a frame of the reference"),
    ({"key_moments": [20, 10]}, "must increase"),
    ({"action": "dancing"}, "unknown action"),
    ({"action": "squat", "key_moments": [10, 20]}, "squat has 3 key moments"),
    ({"method": "magic"}, "unknown time alignment method"),
])
def test_bad_input_is_one_stcorr_error(pair, options, message):
    reference, attempt, pose = pair
    with pytest.raises(StcorrError, match=message):
        compare(reference, attempt, pose=pose, **options)


def test_similarity_fit_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    source = rng.uniform(0, 100, (6, 2))
    angle, scale = 0.4, 1.7
    a = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    fitted_a, fitted_b = similarity_fit(source, source @ a.T + [5.0, -3.0])
    assert fitted_a == pytest.approx(a) and fitted_b == pytest.approx([5.0, -3.0])


def test_pose_warp_moves_joints_onto_their_namesakes_and_far_points_with_the_body():
    reference = cs.reference_frames()[10]
    attempt = {name: (2 * x + 7, 2 * y - 4) for name, (x, y) in cs.reference_frames()[30].items()}
    names = list(reference)
    warped = pose_warp(np.array([reference[n] for n in names]), reference, attempt, smoothing=0.5)
    assert warped == pytest.approx(np.array([attempt[n] for n in names]), abs=1.0)
    same = pose_warp(grid_points(140, 180, 4), reference, {n: (2 * x + 7, 2 * y - 4) for n, (x, y) in reference.items()}, 5.0)
    assert same == pytest.approx(grid_points(140, 180, 4) * 2 + [7, -4], abs=1e-6)
    assert pose_warp(np.zeros((1, 2)), {"head": (0, 0)}, {"head": (1, 1)}, 5.0) is None


@pytest.mark.parametrize("blank", ["attempt", "reference"])
def test_nobody_found_is_said_in_one_line(pair, blank):
    reference, attempt, pose = pair
    frames = {"attempt": cs.attempt_frames(), "reference": cs.reference_frames()}
    frames[blank] = [{} for _ in frames[blank]]
    with pytest.raises(StcorrError, match="no person found in any of its"):
        compare(reference, attempt, pose=cs.FakePose(frames))


def test_too_few_frames_is_said_in_one_line(pair, tmp_path):
    reference, _, _ = pair
    short = cs.write_frames(tmp_path / "short", cs.reference_frames()[:1], (140, 180))
    pose = cs.FakePose({"reference": cs.reference_frames(), "short": cs.reference_frames()[:1]})
    with pytest.raises(StcorrError, match="has 1 frame: a comparison needs"):
        compare(reference, short, pose=pose)


def test_itself_slowed_and_mirrored_lists_no_difference_and_finds_the_moments(tmp_path):
    """The reference against itself 1.5 times slower and mirrored (x -> W - 1 - x, sides swapped)."""
    ref = cs.reference_frames()
    slow = [ref[min(round(u / 1.5), len(ref) - 1)] for u in range(round((len(ref) - 1) * 1.5) + 1)]
    mirrored = [{_swap(name): (139 - x, y) for name, (x, y) in joints.items()} for joints in slow]
    reference = cs.write_frames(tmp_path / "reference", ref, (140, 180))
    attempt = cs.write_frames(tmp_path / "mirror", mirrored, (140, 180))
    found = compare(reference, attempt, pose=cs.FakePose({"reference": ref, "mirror": mirrored}), action="squat")
    assert found["attempt_sides"] == "swapped" and len(found["key_moments"]) == 3
    for moment in found["key_moments"]:
        assert abs(moment["attempt_t"] - 1.5 * moment["reference_t"]) <= 1.0
    assert not any(line.startswith("at ") for line in found["summary"])  # "at MOMENT your ... is N degrees ..."
    assert found["summary"][0].startswith("no angle differs by more than the noise floor")


def _w_squat(rise: float, n: int = 81) -> list:
    """A squat whose bottom is two dips (at 3/8 and 5/8 of the way) with the hips rising by ``rise`` of the depth between."""
    t = np.arange(n) / (n - 1)
    bump = np.sin(np.pi * t) ** 2 * (1 - rise * np.exp(-((t - 0.5) / 0.06) ** 2))
    return [cs.body(0.5, centre=(70, 110), depth=float(b)) for b in bump]


def test_the_bottom_of_a_squat_does_not_jump_when_a_wobble_crosses_its_level():
    from stcorr.compare.moments import bottom_frame

    t = np.arange(81.0)
    w = 1 - np.exp(-((t - 32) / 6) ** 2) - np.exp(-((t - 48) / 6) ** 2)  # two dips; between them the hips come up a little
    for edge in (-0.002, 0.002):  # the rise just inside and just outside the bottom's band: the moment barely moves
        h = w.copy()
        h[35:46] = np.minimum(h[35:46], h.min() + 0.1 * (h.max() - h.min()) + edge)
        assert abs(bottom_frame(h) - 40) <= 1
        assert abs(bottom_frame(h[::2]) - 20) <= 1


def test_itself_at_twice_the_pace_with_a_two_dip_bottom_lists_no_difference(tmp_path):
    """The 1 of 14 real self-comparisons that listed a difference (docs/compare.md, noise floor): a
    squat whose bottom is two dips, against its copy at twice the pace: the moment must land on the
    same stretch of the movement in both, and the copy stay one rep."""
    ref, fast = _w_squat(0.18), _w_squat(0.21, 41)  # the rise just outside, and just inside, the bottom's band (10 % of the depth)
    reference = cs.write_frames(tmp_path / "reference", ref, (140, 180))
    attempt = cs.write_frames(tmp_path / "fast", fast, (140, 180))
    found = compare(reference, attempt, pose=cs.FakePose({"reference": ref, "fast": fast}), action="squat")
    assert len(found["key_moments"]) == 3
    for moment in found["key_moments"]:
        assert abs(moment["attempt_t"] - moment["reference_t"] / 2) <= 1.0, moment["name"]
    assert not any(line.startswith("at ") for line in found["summary"]), found["summary"]


def test_frame_velocities_are_per_frame_whatever_the_video_holds_around_the_movement():
    """The same rep alone and inside a video three times as long (rests before and after) moves
    as fast per frame: its descriptors agree away from the ends (per unit of video length they
    differed by the length ratio)."""
    rep = cs.rep_frames([1.0], rest=0)
    padded = [rep[0]] * 40 + rep + [rep[-1]] * 40
    alone = align.frame_descriptors(JointTrack.from_joints(rep))
    inside = align.frame_descriptors(JointTrack.from_joints(padded))[40:40 + len(rep)]
    middle = slice(4, len(rep) - 4)
    assert np.abs(alone[middle, 9:]).max() > 0.1  # the rep does move
    assert np.allclose(alone[middle], inside[middle], atol=1e-6)


def test_a_slower_attempt_has_its_velocities_brought_to_the_reference_speed():
    reference = align.frame_descriptors(JointTrack.from_joints(cs.rep_frames([1.0], frames_per_rep=30, rest=0)))
    slower = align.frame_descriptors(JointTrack.from_joints(cs.rep_frames([1.0], frames_per_rep=45, rest=0)))
    matched = align.at_reference_speed(reference, slower)
    assert np.nanmax(np.abs(slower[:, 9:])) < 0.8 * np.nanmax(np.abs(reference[:, 9:]))
    assert np.nanmax(np.abs(matched[:, 9:])) == pytest.approx(np.nanmax(np.abs(reference[:, 9:])), rel=0.15)
    assert np.array_equal(matched[:, :9], slower[:, :9])


def test_compare_reads_the_plain_static_pass_its_noise_floors_were_measured_on(tmp_path):
    pytest.importorskip("mediapipe")
    from stcorr.compare.pipeline import default_pose
    from stcorr.compare.summary import MEASURED_FLOORS

    lifted = default_pose(cache=str(tmp_path))
    assert lifted.name == "mediapipe+lifter" and lifted.name in MEASURED_FLOORS  # the shipped lifter's 3D joints
    pose = default_pose(lifter=None, cache=str(tmp_path))
    assert lifted.inner.cache.settings == pose.cache.settings
    assert pose.name in MEASURED_FLOORS
    assert pose.cache.settings["static_image_mode"] is True  # predict's video mode widened the floors (docs/compare.md)
    assert "augment" not in pose.cache.settings
    track = JointTrack(np.zeros((2, 1, 2)), np.ones((2, 1)))
    assert pose.cache.finish(track) is track  # no temporal filter either
    video_mode = default_pose(lifter=None, cache=str(tmp_path), tracking=True)
    assert video_mode.cache.settings["static_image_mode"] is False
    assert video_mode.name not in MEASURED_FLOORS  # the floors were measured on the static pass only
