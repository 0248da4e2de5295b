"""Predict on a long target video: the pose time aligner runs over every frame of both videos (the
movement sits deep inside a 20 000-frame target, far past any clip of 32 frames), in bounded memory,
and the time confidence comes with it."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np

from stcorr.alignment.dtw import MAX_DTW_CELLS
from stcorr.baselines.methods import build_pose_aligner, timed_alignment
from stcorr.data.pairs import Pair
from stcorr.pose.track import JointTrack

from test_body_transfer import BODY

STILL_BEFORE, MOVING, TARGET_FRAMES = 10_000, 450, 20_000
SOURCE_STILL, SOURCE_MOVING = 20, 300


def pose_at(phase: np.ndarray) -> np.ndarray:
    """(T, 13, 2) joints of a person raising the left arm (all the way) and the right arm (up and back
    down) as ``phase`` goes from 0 to 1: every moment of the movement looks different."""
    poses = np.repeat(BODY[None], len(phase), axis=0)
    for shoulder, elbow, wrist, angle in ((1, 3, 5, 2.0 * phase), (2, 4, 6, -2.0 * np.sin(np.pi * phase))):
        turn = np.stack([np.stack([np.cos(angle), -np.sin(angle)], -1), np.stack([np.sin(angle), np.cos(angle)], -1)], -2)
        for joint in (elbow, wrist):
            poses[:, joint] = BODY[shoulder] + np.einsum("tij,j->ti", turn, BODY[joint] - BODY[shoulder])
    return poses


def phases(still: int, moving: int, total: int) -> np.ndarray:
    """Still at phase 0 for ``still`` frames, the movement over ``moving`` frames, then still at 1."""
    return np.clip((np.arange(total) - still) / (moving - 1), 0.0, 1.0)


def Track(xy: np.ndarray) -> JointTrack:
    return JointTrack(xy, np.ones(xy.shape[:2]))


class Cache:
    """A pose source whose tracks are given (``MediaPipePose.track``)."""

    def __init__(self, tracks: dict):
        self.tracks = tracks

    def track(self, video) -> JointTrack:
        return self.tracks[video.name]


class Videos:
    """A data set of videos that are only a name and a length."""

    root = Path("long")

    def __init__(self, lengths: dict):
        self.lengths = lengths

    def video(self, name: str):
        return type("Video", (), {"name": name, "path": Path(name), "num_frames": self.lengths[name], "size": (224, 224)})()


def test_a_movement_deep_inside_a_long_target_is_found_in_bounded_memory():
    rng = np.random.default_rng(0)
    n = SOURCE_STILL * 2 + SOURCE_MOVING
    source = pose_at(phases(SOURCE_STILL, SOURCE_MOVING, n)) + rng.normal(0, 0.3, (n, 13, 2))
    target = pose_at(phases(STILL_BEFORE, MOVING, TARGET_FRAMES)) + rng.normal(0, 0.3, (TARGET_FRAMES, 13, 2))
    aligner = build_pose_aligner("dtw-pose", lambda: Cache({"s": Track(source), "t": Track(target)}))
    moments = np.array([60, 170, 280])
    points = np.column_stack([moments, np.full((3, 2), 50.0)])
    pair = Pair("s", "t", "", "", (None,) * 3, (-1,) * 3, points, np.full_like(points, np.nan), np.full(3, np.nan))
    tracemalloc.start()
    aligned, confidence = timed_alignment(aligner, Videos({"s": n, "t": TARGET_FRAMES}), pair)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    truth = STILL_BEFORE + (moments - SOURCE_STILL) / (SOURCE_MOVING - 1) * (MOVING - 1)
    # within 3 frames (2, 1 and 0 off): velocities are per frame, whatever the videos' lengths, and
    # brought to the source's speed along the path (stcorr.pose.descriptors.speed_ratio; the target
    # moves 450 frames where the source moves 300). Per unit of each video's length, as before, they
    # were 60 times apart, and the moments 21, 0 and 11 frames off.
    assert np.all(np.abs(aligned - truth) <= 3), (aligned, truth)
    bound = MAX_DTW_CELLS * 17 + (16 << 20)  # the largest DTW table the aligner builds, and some slack
    full_table = n * TARGET_FRAMES * 17  # cost, accumulated cost and moves of the whole DTW table: ~115 MB
    assert full_table > bound and peak < bound, f"peak {peak / 1e6:.0f} MB"
    assert np.all((confidence >= 0.0) & (confidence <= 1.0))
