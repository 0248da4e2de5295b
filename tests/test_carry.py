"""Joints carried over the frames the pose source misses (stcorr.baselines.carry), and their place in the pose cache."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from stcorr.baselines.carry import JointCarrier, stretches, unseen_runs
from stcorr.data.video import Video
from stcorr.models.propagation import PixelFeatures, PropagationSettings
from stcorr.pose.cache import MediaPipePose
from stcorr.pose.track import JointTrack

SIZE, SIDE, FRAMES = 96, 16, 21


def texture(rng, size):
    t = np.stack([gaussian_filter(rng.random((size, size)), 2.0) for _ in range(3)], -1)
    return (t - t.min()) / (t.max() - t.min())


def there_and_back(folder):
    """A textured square going right 3 px a frame for 10 frames, then back; (video, (T, 2) its centre)."""
    rng = np.random.default_rng(0)
    background, square = 0.4 * texture(rng, SIZE), 0.5 + 0.5 * texture(rng, SIDE)
    folder.mkdir()
    centres = []
    for t in range(FRAMES):
        x0 = 10 + 3 * min(t, 20 - t)
        frame = background.copy()
        frame[40:40 + SIDE, x0:x0 + SIDE] = square
        centres.append((x0 + SIDE / 2 - 0.5, 40 + SIDE / 2 - 0.5))
        Image.fromarray((frame * 255).round().astype(np.uint8)).save(folder / f"{t + 1:06d}.png")
    return Video(folder), np.array(centres)


def settings():
    return PropagationSettings.checked({"radius": 6, "topk": 5, "memory": 3, "long_memory": 0, "long_every": 5,
                                        "first_weight": 1.0, "temperature": 0.1, "sigma": 1.0, "max_side": 96,
                                        "readout_radius": 2, "batch_frames": 8, "memory_budget_mb": 64})


def test_stretches_hold_each_unseen_run_with_the_seen_frames_around_it():
    seen = np.ones((12, 2), bool)
    seen[3:5, 0] = False   # frames 2..5
    seen[5:7, 1] = False   # frames 4..7: overlaps, merged
    seen[10:, 0] = False   # the end: 9..11
    assert stretches(unseen_runs(seen, None)) == [(2, 7), (9, 11)]
    never = np.zeros((5, 1), bool)
    assert stretches(unseen_runs(never, None)) == []  # a joint never seen has nothing to be carried from


def test_a_hidden_point_is_carried_where_a_line_would_miss_it(tmp_path):
    video, centres = there_and_back(tmp_path / "v")
    visibility = np.ones((FRAMES, 1))
    visibility[4:17] = 0.0   # hidden from frame 4 to 16: a line from 3 to 17 stays near x = 19-21
    visibility[19:] = 0.0    # and at the end, where no line reaches
    track = JointTrack(np.where(visibility[..., None] > 0, centres[:, None], np.nan), visibility, ("point",), (SIZE, SIZE))
    carried = JointCarrier(PixelFeatures(), settings(), 0.5)(video, track)
    error = np.linalg.norm(carried.xy[:, 0] - centres, axis=1)
    assert np.all(carried.visibility[:, 0] == 1.0)  # the visibility of the frames it came from
    assert error[10] < 3.0 and np.median(error[4:17]) < 3.0 and error[19:].max() < 3.0, error.round(1)
    line_x = np.interp(10, [3, 17], centres[[3, 17], 0])
    assert abs(line_x - centres[10, 0]) > 20  # where the line would have put it


def test_a_seen_joint_is_kept_and_a_never_seen_one_stays_unseen(tmp_path):
    video, centres = there_and_back(tmp_path / "v")
    xy = np.stack([centres, centres + 5], axis=1)
    visibility = np.stack([np.ones(FRAMES), np.zeros(FRAMES)], axis=1)
    visibility[5, 0] = 0.0
    track = JointTrack(xy, visibility, ("a", "b"), (SIZE, SIZE))
    carried = JointCarrier(PixelFeatures(), settings(), 0.5)(video, track)
    keep = np.arange(FRAMES) != 5
    assert np.array_equal(carried.xy[keep, 0], xy[keep, 0]) and np.all(carried.visibility[:, 1] == 0)


class CountingCarrier:
    identity = "counting"

    def __init__(self):
        self.calls = 0

    def __call__(self, video, track):
        self.calls += 1
        return replace(track, visibility=np.ones_like(track.visibility))


class StoredTracks:
    """A pose cache stand-in: one fixed 33-landmark track."""

    def __init__(self, folder, track):
        self.folder, self._track = folder, track

    def key(self, video):
        return "k" + video.path.name

    def track(self, video):
        return self._track


def test_carried_tracks_are_stored_and_read_back_not_carried_again(tmp_path):
    video, centres = there_and_back(tmp_path / "v")
    landmarks = JointTrack(np.zeros((FRAMES, 33, 2)), np.full((FRAMES, 33), 0.2), tuple(f"l{i}" for i in range(33)),
                           (SIZE, SIZE), np.zeros((FRAMES, 33, 3)), np.zeros((FRAMES, 33)))
    cache = StoredTracks(tmp_path / "cache", landmarks)
    (tmp_path / "cache").mkdir()
    first = CountingCarrier()
    track = MediaPipePose({"min_visibility": 0.5}, pose_cache=cache, carry=first).track(video)
    assert first.calls == 1 and np.all(track.visibility == 1.0) and len(list((tmp_path / "cache").glob("*.carried.npz"))) == 1
    again = CountingCarrier()
    read = MediaPipePose({"min_visibility": 0.5}, pose_cache=cache, carry=again).track(video)
    assert again.calls == 0 and np.array_equal(read.visibility, track.visibility) and read.names == track.names


def test_runs_longer_than_max_gap_stay_unseen(tmp_path):
    video, centres = there_and_back(tmp_path / "v")
    visibility = np.ones((FRAMES, 1))
    visibility[2:4] = 0.0    # 2 frames: carried
    visibility[6:16] = 0.0   # 10 frames: longer than max_gap 4, left unseen
    track = JointTrack(np.where(visibility[..., None] > 0, centres[:, None], np.nan), visibility, ("point",), (SIZE, SIZE))
    carried = JointCarrier(PixelFeatures(), settings(), 0.5, max_gap=4)(video, track)
    assert np.all(carried.visibility[2:4, 0] == 1.0) and np.all(carried.visibility[6:16, 0] == 0.0)
    assert np.isnan(carried.xy[6:16, 0]).all() and np.linalg.norm(carried.xy[2:4, 0] - centres[2:4], axis=1).max() < 3.0
