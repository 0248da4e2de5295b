"""``--trace-point``: a point the user picks (here a red "club head" held in the right hand), carried through both
videos by label propagation and traced like a joint; synthetic truth from tests/compare_synthetic.py."""

from __future__ import annotations

import json
from unittest import mock

import numpy as np
import pytest

import compare_synthetic as cs
from stcorr.compare import analyse
from stcorr.compare.overlay import body_transforms, trace_points
from stcorr.errors import StcorrError
from stcorr.models.propagation import PixelFeatures, PropagationSettings
from test_compare_cli import run

QUERY_T = 10


@pytest.fixture(scope="module")
def club(tmp_path_factory):
    root = tmp_path_factory.mktemp("club")
    ref, att = cs.reference_frames(), cs.attempt_frames()
    reference = cs.write_frames(root / "reference", ref, (140, 180), marker="right_wrist")
    attempt = cs.write_frames(root / "attempt", att, (220, 240), marker="right_wrist")
    return reference, attempt, cs.FakePose({"reference": ref, "attempt": att}), ref, att


def test_a_picked_point_is_carried_through_both_videos(club):
    reference, attempt, pose, ref, att = club
    query = np.array([[QUERY_T, *ref[QUERY_T]["right_wrist"]]])
    comparison = analyse(reference, attempt, pose=pose, key_moments=[24], trace_points=query,
                         propagation=(PixelFeatures(), PropagationSettings.defaults()))
    (point,) = comparison.record["trace_points"]
    start = point["attempt_start"]
    assert start[0] == int(comparison.attempt_times[QUERY_T])
    assert np.hypot(*(np.array(start[1:]) - att[start[0]]["right_wrist"])) < 2  # the bodies take it onto the attempt's wrist
    ref_error = [np.hypot(*(np.array(p) - ref[t]["right_wrist"])) for t, p in enumerate(point["reference"])]
    att_error = [np.hypot(*(np.array(p) - att[u]["right_wrist"])) for u, p in enumerate(point["attempt"])]
    assert None not in point["reference"] and None not in point["attempt"]  # never lost (LOST_SCORE)
    assert np.median(ref_error) < 4 and np.median(att_error) < 5  # the club head's path, in each video's pixels
    ref_traces, att_traces = trace_points(comparison, body_transforms(comparison), ("left_wrist", "point 1"))
    assert ref_traces.shape == (cs.N_REFERENCE, 2, 2)
    assert np.allclose(ref_traces[:, 1], comparison.points.reference[:, 0], equal_nan=True)
    # the attempt's club head, warped onto the reference by the bodies, follows the reference's (the same swing)
    assert np.nanmedian(np.hypot(*(att_traces[:, 1] - ref_traces[:, 1]).T)) < 8


@pytest.fixture(scope="module")
def short_club(tmp_path_factory):
    """The first frames of the club pair (the command line's plumbing; the accuracy is tested above)."""
    root = tmp_path_factory.mktemp("short")
    ref, att = cs.reference_frames()[:16], cs.attempt_frames()[:24]
    reference = cs.write_frames(root / "reference", ref, (140, 180), marker="right_wrist")
    attempt = cs.write_frames(root / "attempt", att, (220, 240), marker="right_wrist")
    return reference, attempt, cs.FakePose({"reference": ref, "attempt": att}), ref, att


def test_trace_point_on_the_command_line(short_club, tmp_path):
    reference, attempt, pose, ref, _ = short_club
    x, y = ref[QUERY_T]["right_wrist"]
    with mock.patch("stcorr.compare.pipeline.default_pose", lambda **_: pose):
        code, err = run("compare", reference, attempt, "--out", tmp_path / "out", "--key-moments", "8", "--no-video",
                        "--trace-point", f"{QUERY_T},{x},{y}", "--trace-features", "pixels")
        assert code == 0, err
        record = json.loads((tmp_path / "out" / "compare.json").read_text())
        assert record["trace_points"][0]["query"] == [QUERY_T, round(x, 2), round(y, 2)]
        assert "point 1" in (tmp_path / "out" / "index.html").read_text()
        code, err = run("compare", reference, attempt, "--out", tmp_path / "bad", "--trace-point", "10,999,5",
                        "--trace-features", "pixels")
        assert code == 2 and "outside the reference" in err
        code, err = run("compare", reference, attempt, "--out", tmp_path / "bad", "--trace-point", "10,5")
        assert code == 2 and "t,x,y" in err


def test_points_outside_the_reference_are_refused(club):
    from stcorr.compare.points import check_points
    from stcorr.data.video import Video

    with pytest.raises(StcorrError, match="not a frame of the reference"):
        check_points(np.array([[99, 5, 5]]), Video(club[0]))
