"""The pose cache: one pose run per video content, shared by every pose method, reused from disk."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import stcorr.pose.cache as pose_cache
from stcorr.baselines import methods as baseline_methods
from stcorr.pose.mediapipe import HEAD_CENTRE, MEDIAPIPE_TO_PENN, penn_track
from stcorr.pose.cache import (MediaPipePose, PoseCache, default_cache_folder, landmark_track, stored_landmarks,
                               track_from_bytes)
from stcorr.config import load_config
from stcorr.data.datasets import open_dataset
from stcorr.pose.skeleton import JOINTS
from stcorr.data.video import FRAME_CACHE, Video
from stcorr.evaluation.methods import build_method

from conftest import make_penn, write_frames
from test_pose_descriptors import skeleton_clip

REAL_DEV = Path(__file__).resolve().parents[2] / "shared" / "real-dev"


class FakeLandmarker:
    """Stands in for MediaPipe: a skeleton whose phase is the frame's mean brightness; counts frames."""

    def __init__(self, calls: list):
        self.calls = calls

    def __call__(self, frame: np.ndarray):
        self.calls.append(1)
        joints = skeleton_clip(np.array([frame.mean() / 255.0]), origin=(32.0, 24.0))[0] / 4
        landmarks = np.zeros((33, 4))
        landmarks[:, 3] = 0.9
        for k, joint in enumerate(JOINTS):
            landmarks[MEDIAPIPE_TO_PENN[joint], :2] = (joints[k] + 0.5) / (frame.shape[1], frame.shape[0])
        landmarks[HEAD_CENTRE, :2] = landmarks[MEDIAPIPE_TO_PENN["head"], :2]  # eyes and ears on the head
        landmarks[MEDIAPIPE_TO_PENN["left_ankle"], 3] = 0.2  # a low-visibility joint
        return landmarks, np.zeros((33, 3))


def fake_cache(folder: Path, calls: list, made: list | None = None, settings: dict | None = None) -> PoseCache:
    def make():
        if made is not None:
            made.append(1)
        return FakeLandmarker(calls)

    return PoseCache(make, settings or {"model": "fake", "version": 1}, folder)


@pytest.fixture
def video(tmp_path) -> Video:
    write_frames(tmp_path / "video", 7)
    return Video(tmp_path / "video")


def test_a_track_is_computed_once_then_read_back_from_disk(video, tmp_path):
    calls, made = [], []
    cache = fake_cache(tmp_path / "cache", calls, made)
    track = cache.track(video)
    assert len(calls) == 7 and cache.computed == 1 and stored_landmarks(track).shape == (7, 33, 4)
    assert cache.track(video) is track and len(calls) == 7
    again = fake_cache(tmp_path / "cache", calls, made)  # a later run
    reread = again.track(video)
    assert len(calls) == 7 and again.computed == 0 and len(made) == 1
    np.testing.assert_array_equal(stored_landmarks(reread), stored_landmarks(track))
    assert reread.size == (64, 48) and sorted(p.name for p in (tmp_path / "cache").iterdir()) == [f"{again.key(video)}.npz"]


def test_the_key_is_the_content_not_the_path(video, tmp_path):
    calls = []
    fake_cache(tmp_path / "cache", calls).track(video)
    shutil.copytree(video.path, tmp_path / "moved")
    cache = fake_cache(tmp_path / "cache", calls)
    cache.track(Video(tmp_path / "moved"))
    assert cache.computed == 0 and len(calls) == 7


def test_a_changed_video_or_detector_is_computed_again(video, tmp_path):
    calls = []
    before = fake_cache(tmp_path / "cache", calls).track(video)
    frame = video.path / "000004.jpg"
    Image.fromarray(np.full((48, 64, 3), 250, np.uint8)).save(frame)
    FRAME_CACHE.clear()
    cache = fake_cache(tmp_path / "cache", calls)
    after = cache.track(Video(video.path))
    assert cache.computed == 1 and len(calls) == 14
    after, before = stored_landmarks(after), stored_landmarks(before)
    assert not np.allclose(after[3], before[3]) and np.allclose(after[0], before[0])
    other = fake_cache(tmp_path / "cache", calls, settings={"model": "fake", "version": 2})
    other.track(Video(video.path))
    assert other.computed == 1 and len(calls) == 21


def test_the_same_object_sees_a_video_change_in_place(video, tmp_path):
    calls = []
    cache = fake_cache(tmp_path / "cache", calls)
    cache.track(video)
    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(video.path / "000002.jpg")
    FRAME_CACHE.clear()
    cache.track(video)
    assert cache.computed == 2


def test_an_unreadable_cache_file_is_computed_again(video, tmp_path):
    calls = []
    cache = fake_cache(tmp_path / "cache", calls)
    cache.track(video)
    (tmp_path / "cache" / f"{cache.key(video)}.npz").write_bytes(b"not a zip")
    again = fake_cache(tmp_path / "cache", calls)
    again.track(video)
    assert again.computed == 1 and len(calls) == 14


def test_track_joints_follow_the_visibility_threshold(video, tmp_path):
    cache = fake_cache(tmp_path / "cache", [])
    track = cache.track(video)
    penn = penn_track(track)
    xy, visibility = penn.xy, penn.visibility
    assert xy.shape == (7, 13, 2) and np.allclose(visibility[:, JOINTS.index("left_ankle")], 0.2)
    poses = MediaPipePose({"min_visibility": 0.5}, pose_cache=cache).poses(video, 2)
    assert len(poses) == 1 and set(poses[0]) == set(JOINTS) - {"left_ankle"}
    assert np.allclose(poses[0]["head"], xy[2, 0])
    empty = landmark_track(np.full((2, 33, 4), np.nan), np.full((2, 33, 3), np.nan), (8, 8))
    assert not empty.found.any() and empty.joints_at(0, 0.5) == {}


def test_the_head_is_the_centre_of_the_eyes_and_ears_with_the_noses_visibility():
    xy = np.zeros((1, 33, 2))
    xy[0, 0] = (50.0, 40.0)  # the nose, in front of and below the head's centre
    xy[0, HEAD_CENTRE] = [(46.0, 30.0), (54.0, 30.0), (40.0, 34.0), (60.0, 34.0)]  # eyes, then ears
    visibility = np.full((1, 33), 0.9)
    visibility[0, 0], visibility[0, HEAD_CENTRE] = 0.8, 0.3
    world = np.zeros((1, 33, 3))
    world[0, HEAD_CENTRE, 2] = [0.1, 0.1, 0.3, 0.3]
    marks = np.zeros((1, 33, 4))
    marks[..., :2], marks[..., 3] = xy, visibility
    landmarks = landmark_track(marks, world, (100, 100))
    penn = penn_track(landmarks)
    head = JOINTS.index("head")
    assert np.allclose(penn.xy[0, head], [50.0, 32.0])
    assert penn.visibility[0, head] == pytest.approx(0.8)
    assert penn.world[0, head, 2] == pytest.approx(0.2)
    assert np.allclose(penn.xy[0, JOINTS.index("left_wrist")], landmarks.xy[0, MEDIAPIPE_TO_PENN["left_wrist"]])


def test_default_folder_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_folder() == tmp_path / "stcorr" / "pose"
    cfg = load_config("cpu", {"baseline.pose.cache": str(tmp_path / "c")})
    assert cfg["baseline"]["pose"]["cache"] == str(tmp_path / "c")


def test_every_pose_method_shares_one_pose_run_per_video(tmp_path, monkeypatch):
    """dtw-pose+pose, then nn-pose+pose and dtw+pose on the same videos: no second pose run."""
    videos = {f"{i:04d}": {"action": "golf_swing", "train": -1, "n": 9 + i, "key_moments": [2, 6]} for i in (1, 2)}
    dataset = open_dataset(make_penn(tmp_path / "penn", videos))
    calls: list = []
    shared = fake_cache(tmp_path / "cache", calls)
    monkeypatch.setattr(pose_cache, "mediapipe_cache", lambda pose: shared)
    monkeypatch.setattr(baseline_methods, "_SHARED", {})
    cfg = load_config("cpu", {"baseline.frames.size": 32})
    pair = next(iter(dataset.pairs("val")))
    for name in ("dtw-pose+pose", "nn-pose+pose", "dtw+pose"):
        predicted = build_method(name, cfg, torch.device("cpu")).predict(dataset, pair)
        assert predicted.shape == (len(pair), 3) and np.isfinite(predicted).all()
        assert len(calls) == 10 + 11, name  # every frame of both videos, once
    assert shared.computed == 2


@pytest.mark.skipif(not REAL_DEV.is_dir(), reason="the real clips of ../shared/real-dev are not here")
def test_mediapipe_track_of_a_real_clip(tmp_path):
    pytest.importorskip("mediapipe", reason="MediaPipe (the pose extra) is not installed")
    from stcorr.pose.cache import mediapipe_cache

    cache = mediapipe_cache({"model_complexity": 1, "cache": str(tmp_path)})
    clip = tmp_path / "clip"
    clip.mkdir()
    for src in sorted((REAL_DEV / "frames" / "0280").iterdir())[:4]:
        shutil.copy(src, clip / src.name)
    track = cache.track(Video(clip))
    assert track.found.all() and track.size == (224, 224)
    xy, visibility = penn_track(track).xy, penn_track(track).visibility
    assert (visibility > 0.5).mean() > 0.5 and ((xy >= 0) & (xy < 224)).mean() > 0.8


def pose_settings(**changes) -> dict:
    settings = {**load_config(None)["baseline"]["pose"], **changes}
    return settings


def test_the_plain_pass_keeps_its_key_and_augmentation_changes_it(tmp_path, video):
    pytest.importorskip("mediapipe")
    from stcorr.pose.cache import mediapipe_cache

    plain = {"flip": False, "crop": None, "crop_margin": 0.25}
    keys = {name: mediapipe_cache(pose_settings(augment=augment, cache=str(tmp_path), tracking=False)).key(video)
            for name, augment in (("plain", plain), ("flip", {**plain, "flip": True}),
                                  ("crop", {**plain, "crop": 256}), ("margin", {**plain, "crop": 256, "crop_margin": 0.5}),
                                  ("where", {**plain, "crop": 256, "flip": True, "flip_below": 0.7}),
                                  ("where2", {**plain, "crop": 256, "flip": True, "flip_below": 0.8}),
                                  ("hold", {**plain, "crop": 256, "hold_box": 15}),
                                  ("search", {**plain, "crop": 256, "hold_box": 15, "search_every": 8}))}
    assert len(set(keys.values())) == 8
    no_crop = mediapipe_cache(pose_settings(augment={**plain, "flip": True, "hold_box": 15, "search_every": 8},
                                            cache=str(tmp_path), tracking=False))
    assert no_crop.key(video) == keys["flip"]  # the held box and the search are crops: nothing without one
    old = mediapipe_cache({"model_complexity": 1, "cache": str(tmp_path)})  # a caller without augment: the plain pass
    assert old.key(video) == keys["plain"]
    assert "augment" not in old.settings


def test_the_video_mode_keys_apart_and_starts_a_fresh_landmarker_for_every_video(video, tmp_path):
    pytest.importorskip("mediapipe")
    from stcorr.pose.cache import mediapipe_cache

    plain = mediapipe_cache(pose_settings(cache=str(tmp_path), tracking=False))
    assert mediapipe_cache(pose_settings(cache=str(tmp_path), tracking=True)).key(video) != plain.key(video)
    write_frames(tmp_path / "other", 5, seed=3)
    for static, starts in ((True, 1), (False, 2)):
        made: list = []
        cache = fake_cache(tmp_path / f"cache-{static}", [], made, {"model": "fake", "static_image_mode": static})
        cache.track(video), cache.track(Video(tmp_path / "other"))
        assert len(made) == starts  # a landmarker that follows one person must not carry it into the next video


def test_the_filter_is_applied_as_tracks_are_read_and_not_stored(video, tmp_path):
    from stcorr.pose.cache import filtered_track

    class MissesFrameThree(FakeLandmarker):
        def __call__(self, frame):
            found = super().__call__(frame)
            return None if len(self.calls) == 4 else found

    flt = {"sides": True, "window": 0, "degree": 2, "max_gap": 4}
    cache = PoseCache(lambda: MissesFrameThree([]), {"model": "fake"}, tmp_path / "cache",
                      finish=lambda track: filtered_track(track, flt, 0.5))
    track = cache.track(video)
    stored_track = track_from_bytes(next((tmp_path / "cache").iterdir()).read_bytes())
    stored, filtered = stored_landmarks(stored_track), stored_landmarks(track)
    assert not stored_track.found[3] and np.isnan(stored[3]).all()  # stored as detected
    wrist, ankle = MEDIAPIPE_TO_PENN["left_wrist"], MEDIAPIPE_TO_PENN["left_ankle"]
    np.testing.assert_allclose(filtered[3, wrist, :2], (stored[2, wrist, :2] + stored[4, wrist, :2]) / 2)
    assert filtered[3, wrist, 3] == pytest.approx(0.9)
    assert np.isnan(filtered[3, ankle]).all()  # below min_visibility everywhere: nothing to fill from
    np.testing.assert_allclose(np.delete(filtered, 3, axis=0), np.delete(stored, 3, axis=0))


def test_a_long_videos_pose_pass_shows_its_progress_and_a_bar_inside_another_stays_silent(tmp_path, monkeypatch):
    import io

    from rich.console import Console

    import stcorr.progress as progress

    write_frames(tmp_path / "long", 6)
    long_video = Video(tmp_path / "long")
    screen = io.StringIO()
    monkeypatch.setattr(progress, "console", Console(file=screen, force_terminal=True, width=100))
    monkeypatch.setattr(pose_cache, "LONG_VIDEO_FRAMES", 5)
    pose_cache.detect_track(long_video, FakeLandmarker([]))
    assert "pose long" in screen.getvalue() and "6/6" in screen.getvalue()

    screen.truncate(0)
    with progress.progress_bar("outer", 1) as bar:  # e.g. eval's bar over pairs: rich shows one live display
        pose_cache.detect_track(long_video, FakeLandmarker([]))
        bar.advance()
    assert "outer" in screen.getvalue() and "pose long" not in screen.getvalue()

    screen.truncate(0)
    monkeypatch.setattr(pose_cache, "LONG_VIDEO_FRAMES", 7)
    pose_cache.detect_track(long_video, FakeLandmarker([]))
    assert screen.getvalue().strip("\x00") == ""
