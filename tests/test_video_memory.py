"""Video files are read frame by frame: only what is asked is decoded, frame counts come from the
container, decoded frames are cached within a byte bound, and a long video stays within memory."""

import json
import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from stcorr.data import video as video_module
from stcorr.data.clips import sample_clip
from stcorr.data.video import FRAME_CACHE, FrameCache, Video, write_video

ROOT = Path(__file__).resolve().parents[1]


def moving_pattern(n: int, width: int = 96, height: int = 64):
    """Frames that differ from each other everywhere (a bar per axis and a changing colour)."""
    for t in range(n):
        frame = np.zeros((height, width, 3), np.uint8)
        frame[:, :, 0] = (t * 7) % 256
        frame[t % height, :, 1] = 255
        frame[:, (2 * t) % width, 2] = 255
        yield frame


@pytest.fixture(autouse=True)
def empty_cache():
    FRAME_CACHE.clear()
    yield
    FRAME_CACHE.clear()


@pytest.fixture(scope="module")
def mp4(tmp_path_factory) -> Path:
    """120 frames, a keyframe at least every 10 (B-frames too: x264's defaults)."""
    return write_video(tmp_path_factory.mktemp("v") / "pattern.mp4", moving_pattern(120), options={"g": "10"})


def decode_all(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def test_frame_count_comes_without_decoding(mp4):
    video = Video(mp4)
    assert video.num_frames == 120
    assert video.frames_decoded == 0


def test_random_access_is_frame_exact_and_decodes_one_stretch(mp4):
    reference = decode_all(mp4)
    video = Video(mp4)
    order = np.random.default_rng(0).permutation(120)[:30]
    for t in order:
        assert np.array_equal(video.frame(int(t)), reference[t]), t
    fresh = Video(mp4)
    FRAME_CACHE.clear()
    fresh.frames([95])
    assert 1 <= fresh.frames_decoded <= 11  # from the keyframe before 95, never the whole video


def test_reading_in_order_is_one_streaming_pass(mp4):
    video = Video(mp4)
    frames = np.stack(list(video.iter_frames(chunk=16)))
    assert np.array_equal(frames, decode_all(mp4))
    assert video.frames_decoded == 120


def test_the_cache_is_shared_between_videos_and_bounded(mp4, monkeypatch):
    first = Video(mp4)
    first.frames([40, 41, 80])
    second = Video(mp4)  # what a data set does for every pair
    assert np.array_equal(second.frames([80, 41]), first.frames([80, 41]))
    assert second.frames_decoded == 0
    frame_bytes = 96 * 64 * 3
    small = FrameCache(max_bytes=5 * frame_bytes)
    monkeypatch.setattr(video_module, "FRAME_CACHE", small)
    Video(mp4).frames(range(0, 120, 3))
    assert len(small) == 5 and small.bytes <= 5 * frame_bytes


PEAK_RSS_GROWTH = """
import resource, sys
import av, PIL.Image, torch
from stcorr.data.clips import sample_clip
from stcorr.data.video import Video
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
clip = sample_clip(Video(sys.argv[1]), 8, 32)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) * 1024, tuple(clip.frames.shape))
"""


def test_sampling_a_clip_holds_only_its_frames(tmp_path):
    """Peak memory growth while sampling a clip from a 300-frame 640x480 video (276 MB decoded):
    a few frames' worth (measured: 33 frames), not the video's (before: 324 frames)."""
    width, height = 640, 480
    path = write_video(tmp_path / "long.mp4", moving_pattern(300, width, height), options={"preset": "ultrafast"})
    run = subprocess.run([sys.executable, "-c", PEAK_RSS_GROWTH, str(path)], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr[-2000:]
    growth, shape = run.stdout.split(maxsplit=1)
    assert shape.strip() == "(3, 8, 32, 32)"
    frame_bytes = width * height * 3
    assert int(growth) < 60 * frame_bytes, f"peak grew by {int(growth) / frame_bytes:.0f} frames"


def test_cached_frames_cannot_be_changed_by_a_caller(mp4):
    video = Video(mp4)
    frame = video.frame(3)
    frame[:] = 0  # a copy: the cache keeps the decoded frame
    assert video.frame(3).any()


@pytest.mark.slow
def test_predict_on_a_long_1080p_video_stays_under_2_gb(tmp_path):
    """The benchmark on a 2-minute 1080p video at 10 fps (1200 frames): predict within 2 GB."""
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "video_memory.py"), "--minutes", "2",
                          "--fps", "10", "--work", str(tmp_path)], capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["frames"] == 1200
    assert result["predict_peak_rss_mb"] < 2048
