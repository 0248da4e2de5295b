"""stcorr.baselines.pose_pass: videos sharded by rank, spread over processes, tracks in the cache."""

from __future__ import annotations

import numpy as np
import pytest

from stcorr.baselines.pose_pass import pose_pass, rank_share, torchrun_rank
from stcorr.data.video import Video, write_video
from stcorr.errors import StcorrError


def test_ranks_share_every_video_once():
    videos = [f"v{i}.mp4" for i in range(7)]
    shares = [rank_share(videos, rank, 3) for rank in range(3)]
    assert sorted(str(p) for share in shares for p in share) == sorted(videos)
    assert [len(share) for share in shares] == [3, 2, 2]
    with pytest.raises(StcorrError):
        rank_share(videos, 3, 3)


def test_rank_comes_from_torchrun_variables(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert torchrun_rank() == (0, 1)
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert torchrun_rank() == (2, 4)


@pytest.mark.slow
def test_two_processes_write_the_tracks_one_process_would(tmp_path):
    pytest.importorskip("mediapipe")
    from stcorr.pose.cache import mediapipe_cache, stored_landmarks

    rng = np.random.default_rng(0)
    paths = []
    for i in range(3):
        path = tmp_path / f"clip{i}.mp4"
        write_video(path, [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(4 + i)])
        paths.append(path)
    settings = {"min_visibility": 0.5, "model_complexity": 1}
    one = pose_pass(paths, {**settings, "cache": str(tmp_path / "one")}, processes=1, rank=0, world_size=1)
    two = pose_pass(paths, {**settings, "cache": str(tmp_path / "two")}, processes=2, rank=0, world_size=1)
    assert (one.videos, one.computed, one.frames) == (two.videos, two.computed, two.frames) == (3, 3, 15)
    for path in paths:
        a = mediapipe_cache({**settings, "cache": str(tmp_path / "one")}).track(Video(path))
        b = mediapipe_cache({**settings, "cache": str(tmp_path / "two")}).track(Video(path))
        assert np.array_equal(stored_landmarks(a), stored_landmarks(b), equal_nan=True)
    again = pose_pass(paths, {**settings, "cache": str(tmp_path / "two")}, processes=2, rank=1, world_size=2)
    assert (again.videos, again.computed) == (1, 0)  # rank 1 of 2: the second video, cached already
