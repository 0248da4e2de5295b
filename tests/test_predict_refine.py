"""Any point refined by learned local matching (stcorr.baselines.refine): on a pair of frames related
by a known similarity, a placement a few pixels off is moved back onto the true point."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from stcorr.baselines.refine import LocalRefiner
from stcorr.models.checkpoint import load_model

SCALE, DEGREES, SHIFT, CENTRE = 1.2, 15.0, np.array([8.0, -5.0]), np.array([100.0, 100.0])


def turn(degrees: float) -> np.ndarray:
    angle = np.deg2rad(degrees)
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


def similarity(xy: np.ndarray) -> np.ndarray:
    return CENTRE + SCALE * turn(DEGREES) @ (np.asarray(xy) - CENTRE) + SHIFT


def textured_frame(size: int = 200, seed: int = 0) -> torch.Tensor:
    """(1, 3, size, size) smooth random colour texture in [0, 1]."""
    noise = torch.rand(1, 3, size // 4, size // 4, generator=torch.Generator().manual_seed(seed))
    frame = F.interpolate(noise, size=(size, size), mode="bicubic", align_corners=False)
    return ((frame - frame.min()) / (frame.max() - frame.min())).float()


def warped(frame: torch.Tensor) -> torch.Tensor:
    """``frame`` moved by ``similarity``: the target pixel at y shows the source at similarity^-1(y)."""
    size = frame.shape[-1]
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    back = np.linalg.inv(SCALE * turn(DEGREES)) @ (np.stack([xs, ys], -1) - CENTRE - SHIFT).reshape(-1, 2).T
    back = back.T.reshape(size, size, 2) + CENTRE
    grid = torch.from_numpy((back + 0.5) / size * 2 - 1)[None].float()
    return F.grid_sample(frame, grid, mode="bilinear", align_corners=False)


@pytest.fixture(scope="module")
def refiner() -> LocalRefiner:
    torch.set_num_threads(1)
    return LocalRefiner(load_model("stcorr:corrflow-cpu", "corrflow"))


def test_a_placement_a_few_pixels_off_is_moved_onto_the_true_point(refiner):
    source = textured_frame()
    target = warped(source)
    rng = np.random.default_rng(1)
    before, after = [], []
    for _ in range(12):
        xy = rng.uniform(70, 130, 2)
        truth = similarity(xy)
        off = rng.uniform(3, 6, 2) * rng.choice([-1, 1], 2)
        refined = refiner.refine(source, xy, target, truth + off, SCALE * turn(DEGREES), person_size=100.0)
        before.append(np.linalg.norm(off))
        after.append(np.linalg.norm(refined.xy - truth))
    after = np.array(after)
    assert min(before) > 4.0
    assert np.median(after) < 1.0  # sub-pixel for most points
    assert (after < 1.5).mean() >= 0.8 and after.max() <= max(before)  # never worse than it was


def test_a_window_with_nothing_to_match_keeps_the_placement(refiner):
    source = textured_frame()
    blank = torch.zeros_like(source)
    placed = np.array([104.0, 97.0])
    refined = refiner.refine(source, np.array([100.0, 100.0]), blank, placed, np.eye(2), person_size=100.0)
    assert not refined.moved and np.array_equal(refined.xy, placed)


class FrameVideo:
    """A video that is one frame (any t), a name and a size."""

    def __init__(self, name: str, frame: torch.Tensor):
        self.name, self.path, self.image = name, name, (frame[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        self.size = (self.image.shape[1], self.image.shape[0])

    def frame(self, t: int) -> np.ndarray:
        return self.image


def test_the_pose_matcher_refines_a_point_its_detector_placed_a_few_pixels_off(refiner):
    from stcorr.baselines.spatial import DetectedPose
    from stcorr.data.pairs import Pair

    from test_body_transfer import BODY, FixedPoses, joints

    source = textured_frame()
    videos = {"a": FrameVideo("a", source), "b": FrameVideo("b", warped(source))}
    body = BODY * 0.8 + 20  # inside the textured frame
    detected = np.array([similarity(p) for p in body]) + [4.0, -3.0]  # the target's joints detected 5 px off
    poses = FixedPoses({"a": joints(body), "b": joints(detected)})
    points = np.array([[0, 95.0, 110.0]])
    pair = Pair("a", "b", "", "", ("club_head",), (-1,), points, np.full_like(points, np.nan), np.ones(1))
    dataset = type("Videos", (), {"video": lambda self, name: videos[name]})()
    truth = similarity(points[0, 1:])
    carried = DetectedPose(poses).match(dataset, pair, np.zeros(1, dtype=int))[0]
    refined = DetectedPose(poses, refiner).match(dataset, pair, np.zeros(1, dtype=int))[0]
    assert np.linalg.norm(carried - truth) == pytest.approx(5.0, abs=0.01)
    assert np.linalg.norm(refined - truth) < 1.5
