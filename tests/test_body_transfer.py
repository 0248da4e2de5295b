"""Any point: a point that is not a joint is placed by the body around it (``body_transfer``)."""

from __future__ import annotations

import numpy as np
import pytest

from stcorr.baselines.spatial import DetectedPose, body_transfer, fit_similarity
from stcorr.data.pairs import Pair
from stcorr.pose.skeleton import JOINTS

#: A standing person, native pixels.
BODY = np.array([[100, 40], [85, 60], [115, 60], [75, 85], [125, 85], [70, 110], [130, 110],
                 [90, 115], [110, 115], [88, 150], [112, 150], [87, 185], [113, 185]], dtype=np.float64)


def similarity(points: np.ndarray, scale: float = 1.3, degrees: float = 20.0, shift=(15.0, -7.0)) -> np.ndarray:
    angle = np.deg2rad(degrees)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return scale * np.asarray(points, dtype=np.float64) @ rotation.T + np.array(shift)


def joints(points: np.ndarray) -> dict:
    return {name: tuple(p) for name, p in zip(JOINTS, points)}


def test_fit_similarity_recovers_scale_and_rotation():
    scale, rotation = fit_similarity(BODY, similarity(BODY))
    assert scale == pytest.approx(1.3)
    assert np.degrees(np.arctan2(rotation[1, 0], rotation[0, 0])) == pytest.approx(20.0)


@pytest.mark.parametrize("point", [[60.0, 135.0], [100.0, 20.0], [140.0, 200.0], [70.0, 110.0]])
def test_a_known_offset_is_recovered_sub_pixel(point):
    """Club head below the left hand, above the head, beside a foot, and on a joint itself."""
    found = body_transfer(np.array(point), joints(BODY), joints(similarity(BODY)))
    assert np.linalg.norm(found - similarity([point])[0]) < 1e-6


def test_noisy_target_joints_still_land_within_a_pixel():
    rng = np.random.default_rng(0)
    target = similarity(BODY) + rng.normal(0, 0.2, BODY.shape)
    point = np.array([60.0, 135.0])
    found = body_transfer(point, joints(BODY), joints(target))
    assert np.linalg.norm(found - similarity([point])[0]) < 1.0


def test_only_joints_found_in_both_frames_count():
    target = joints(similarity(BODY))
    del target["left_wrist"], target["left_elbow"]
    found = body_transfer(np.array([60.0, 135.0]), joints(BODY), target)
    assert np.linalg.norm(found - similarity([[60.0, 135.0]])[0]) < 1e-6
    assert body_transfer(np.array([1.0, 1.0]), joints(BODY), {}) is None


class FixedPoses:
    """A detector that finds the same pose in every frame of a video."""

    def __init__(self, by_video: dict):
        self.by_video = by_video

    def poses(self, video, t: int) -> list:
        return [self.by_video[video.name]]


class NamedVideos:
    """A data set whose videos are only a name and a frame size."""

    def video(self, name: str):
        return type("Video", (), {"name": name, "size": (320, 240)})()


def test_the_pose_matcher_keeps_joints_on_joints_and_carries_other_points():
    matcher = DetectedPose(FixedPoses({"a": joints(BODY), "b": joints(similarity(BODY))}))
    points = np.array([[0, 72.0, 108.0], [0, 60.0, 135.0], [0, 60.0, 135.0]])
    pair = Pair("a", "b", "", "", ("left_wrist", "club_head", None), (-1, -1, -1), points,
                np.full_like(points, np.nan), np.full(3, np.nan))
    out = matcher.match(NamedVideos(), pair, np.zeros(3, dtype=int))
    assert np.allclose(out[0], similarity(BODY[5:6])[0])  # a joint near its detection: that joint there
    assert np.allclose(out[1], similarity([[60.0, 135.0]])[0]) and np.allclose(out[2], out[1])


@pytest.mark.parametrize("linear", [np.array([[-1.1, 0.0], [0.0, 1.1]]),     # the person mirrored (seen from the other side)
                                    np.array([[0.45, 0.1], [-0.05, 1.2]])])  # turned sideways: narrower, not shorter
def test_a_mirrored_or_foreshortened_body_carries_the_point_too(linear):
    """A similarity cannot map these; the body's affine map can."""
    target = BODY @ linear.T + np.array([30.0, 5.0])
    point = np.array([60.0, 135.0])
    found = body_transfer(point, joints(BODY), joints(target))
    assert np.linalg.norm(found - (linear @ point + [30.0, 5.0])) < 1e-6


def test_joints_on_a_line_fall_back_to_the_similarity():
    on_a_line = {name: (100.0, 40.0 + 20 * k) for k, name in enumerate(["head", "left_hip", "left_knee", "left_ankle"])}
    target = {name: tuple(similarity([p])[0]) for name, p in on_a_line.items()}
    found = body_transfer(np.array([120.0, 90.0]), on_a_line, target)
    assert np.linalg.norm(found - similarity([[120.0, 90.0]])[0]) < 1e-6
