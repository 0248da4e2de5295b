"""Clip sampling, augmentation and the exact clip <-> native coordinate map."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stcorr.data.augment import AugmentParams, ClipAugment
from stcorr.data.clips import Clip, clip_keypoints, sample_clip, temporal_stride, window_start
from stcorr.data.video import Video
from stcorr.errors import StcorrError

WIDTH, HEIGHT = 40, 30
MARKER = 2  # the marker is a (2 * MARKER + 1)-pixel square


def marker_xy(t: int) -> tuple[int, int]:
    return 8 + t % 25, 6 + (3 * t) % 18


def write_frames(folder: Path, n: int) -> Path:
    """PNG frames: red marker square centred at marker_xy(t), green = 2 * t everywhere, blue noise."""
    folder.mkdir()
    noise = np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH), dtype=np.uint8)
    for t in range(n):
        frame = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
        x, y = marker_xy(t)
        frame[y - MARKER:y + MARKER + 1, x - MARKER:x + MARKER + 1, 0] = 255
        frame[..., 1] = 2 * t
        frame[..., 2] = noise
        Image.fromarray(frame).save(folder / f"{t + 1:06d}.png")
    return folder


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Video:
    return Video(write_frames(tmp_path_factory.mktemp("v") / "long", 90))


@pytest.fixture(scope="module")
def short_video(tmp_path_factory) -> Video:
    return Video(write_frames(tmp_path_factory.mktemp("v") / "short", 5))


class CountingVideo(Video):
    def __init__(self, path):
        super().__init__(path)
        self.requests: list[list[int]] = []

    def frames(self, indices):
        self.requests.append([int(i) for i in indices])
        return super().frames(indices)


CROP_ONLY = ClipAugment.only(crop=1.0, crop_scale=(0.6, 1.0))


def test_stride_is_the_smallest_that_covers_the_key_frames(video):
    clip = sample_clip(video, 8, 16, key_frames=[10, 50])
    assert clip.stride == 6 == temporal_stride(40, 8)  # 7 * 5 = 35 < 40 <= 7 * 6
    assert clip.native_times[0] <= 10 and clip.native_times[-1] >= 50
    assert np.all(np.diff(clip.native_times) == 6)
    assert temporal_stride(7, 8) == 1 and temporal_stride(8, 8) == 2
    assert sample_clip(video, 8, 16, key_frames=[40, 44], min_stride=3).stride == 3


def test_window_is_centred_on_the_key_frames(video):
    clip = sample_clip(video, 8, 16, key_frames=[41, 44])
    before, after = 41 - clip.native_times[0], clip.native_times[-1] - 44
    assert clip.stride == 1 and abs(before - after) <= 1
    assert list(clip.native_times) == list(range(39, 47))


def test_window_stays_inside_the_video_near_its_ends(video):
    assert sample_clip(video, 8, 16, key_frames=[1]).native_times[0] == 0
    clip = sample_clip(video, 8, 16, key_frames=[88])
    assert clip.native_times[-1] == 89 and not clip.padded.any()


def test_without_key_frames_the_clip_subsamples_the_whole_video(video):
    clip = sample_clip(video, 16, 16)
    assert clip.stride == 6  # ceil(89 / 15)
    assert clip.native_times[0] == 0 and clip.native_times[-1] == 89


def test_time_jitter_moves_the_window_but_keeps_the_key_frames(video):
    starts = set()
    for seed in range(40):
        clip = sample_clip(video, 8, 16, key_frames=[40, 44], rng=np.random.default_rng(seed), time_jitter=True)
        assert clip.native_times[0] <= 40 and clip.native_times[-1] >= 44
        starts.add(int(clip.start))
    assert starts == {37, 38, 39, 40}
    assert window_start(40, 44, 90, 8, 1) == 38  # centred without an rng


@pytest.mark.parametrize("size", [16, (64, 48), (24, 20), (40, 30)])
def test_native_clip_native_round_trip_is_exact(video, size):
    rng = np.random.default_rng(1)
    for _ in range(5):
        clip = sample_clip(video, 8, size, key_frames=[20, 60], rng=rng, augment=CROP_ONLY)
        points = np.stack([clip.native_times.astype(float),
                           rng.uniform(-0.5, WIDTH - 0.5, 8), rng.uniform(-0.5, HEIGHT - 0.5, 8)], axis=1)
        back = clip.to_native(clip.to_clip(points))
        assert np.array_equal(back[:, 0], points[:, 0])
        np.testing.assert_allclose(back[:, 1:], points[:, 1:], atol=1e-4, rtol=0)
    assert clip.to_clip(np.zeros((0, 3))).shape == (0, 3)


def test_clip_to_native_rounds_time_to_the_nearest_frame_and_clamps(video):
    clip = sample_clip(video, 8, 16, key_frames=[10, 50])  # start 9, stride 6
    assert (clip.start, clip.stride) == (9, 6)
    native = clip.to_native(np.array([[0.4, 0, 0], [0.6, 0, 0], [-5, 0, 0], [30, 0, 0]]))
    assert list(native[:, 0]) == [11, 13, 0, 89]
    np.testing.assert_allclose(clip.to_clip(np.array([[12, 0, 0]]))[0, 0], 0.5)


@pytest.mark.parametrize("size", [(64, 48), (24, 20)])
def test_marker_lands_at_the_predicted_clip_pixel(video, size):
    rng = np.random.default_rng(2)
    for _ in range(4):
        key_frames = [15, 45]
        keep = np.array([[x + dx, y + dy] for t in range(90) for x, y in [marker_xy(t)]
                         for dx in (-MARKER - 1, MARKER + 1) for dy in (-MARKER - 1, MARKER + 1)], float)
        clip = sample_clip(video, 8, size, key_frames=key_frames, rng=rng, augment=CROP_ONLY, keep_points=keep)
        red = clip.frames[0].numpy()
        for j, t in enumerate(clip.native_times):
            predicted = clip.to_clip(np.array([[t, *marker_xy(int(t))]]))[0]
            assert predicted[0] == j
            ys, xs = np.mgrid[:size[1], :size[0]]
            mass = red[j]
            centroid = np.array([(xs * mass).sum(), (ys * mass).sum()]) / mass.sum()
            # measured error ~0.04 px; a half-pixel slip of the convention gives 0.1-0.6 px
            assert np.abs(centroid - predicted[1:]).max() <= 0.1, (j, centroid, predicted)
            np.testing.assert_allclose(clip.frames[1, j].numpy(), 2 * t / 255, atol=1 / 255)


def test_same_seed_same_clip_and_independent_draws(video):
    augment = ClipAugment.typical()
    kwargs = dict(key_frames=[20, 40], augment=augment, time_jitter=True)
    a = sample_clip(video, 8, 16, rng=np.random.default_rng(7), **kwargs)
    b = sample_clip(video, 8, 16, rng=np.random.default_rng(7), **kwargs)
    assert a.augment_params == b.augment_params and a.start == b.start
    assert torch_equal(a.frames, b.frames)
    rng = np.random.default_rng(7)
    draws = [sample_clip(video, 8, 16, rng=rng, **kwargs) for _ in range(4)]
    assert len({(c.augment_params, c.start) for c in draws}) > 1


def torch_equal(a, b) -> bool:
    return bool((a == b).all())


def test_grayscale_is_applied_to_all_frames_or_none(video):
    augment = ClipAugment.only(grayscale=0.5)
    seen = set()
    for seed in range(12):
        clip = sample_clip(video, 8, 16, key_frames=[30], rng=np.random.default_rng(seed), augment=augment)
        frames = clip.frames.numpy()
        gray = [np.allclose(frames[0, j], frames[1, j]) and np.allclose(frames[1, j], frames[2, j])
                for j in range(clip.clip_len)]
        assert len(set(gray)) == 1 and gray[0] == clip.augment_params.grayscale
        seen.add(gray[0])
    assert seen == {True, False}


def test_solarize_uses_one_threshold_for_the_whole_clip(video):
    plain = sample_clip(video, 8, 16, key_frames=[30])
    clip = sample_clip(video, 8, 16, key_frames=[30], rng=np.random.default_rng(3),
                       augment=ClipAugment.only(solarize=1.0, solarize_threshold=(60, 200)))
    threshold = clip.augment_params.solarize_threshold
    values = np.rint(plain.frames.numpy() * 255)
    expected = np.where(values >= threshold, 255 - values, values)
    np.testing.assert_array_equal(np.rint(clip.frames.numpy() * 255), expected)


def test_equalize_uses_one_histogram_over_the_whole_clip():
    dark = np.full((2, 4, 4, 3), 10, np.uint8)
    dark[:, :2] = 20
    frames = np.concatenate([dark, dark + 100])
    out = AugmentParams(equalize=True).apply(frames)
    assert out[:2].max() < out[2:].min()  # per-frame equalisation would stretch each frame alike


def test_photometric_ops_do_not_move_the_mapping(video):
    everything_but_crop = ClipAugment.only(grayscale=1, posterize=1, equalize=1, brightness_contrast=1, solarize=1)
    clip = sample_clip(video, 8, 16, key_frames=[30], rng=np.random.default_rng(0), augment=everything_but_crop)
    assert clip.crop == (0.0, 0.0, WIDTH, HEIGHT)
    assert clip.frames.shape == (3, 8, 16, 16) and 0 <= clip.frames.min() and clip.frames.max() <= 1


def test_crop_keeps_the_given_points_or_is_skipped(video):
    keep = np.array([[30, 3, 4], [30, 35, 26]], float)
    for seed in range(10):
        clip = sample_clip(video, 8, 16, key_frames=[30], rng=np.random.default_rng(seed),
                           augment=CROP_ONLY, keep_points=keep)
        assert clip_keypoints(clip, keep)[1].all()
    impossible = np.array([[30, 0, 0], [30, 39, 29]], float)
    clip = sample_clip(video, 8, 16, key_frames=[30], rng=np.random.default_rng(0),
                       augment=ClipAugment.only(crop=1.0, crop_scale=(0.5, 0.9)), keep_points=impossible)
    assert clip.crop == (0.0, 0.0, WIDTH, HEIGHT)


def test_clip_keypoints_marks_points_outside_time_or_crop_invalid(video):
    clip = sample_clip(video, 8, 16, key_frames=[40, 44])  # frames 38..45
    crop_clip = Clip(clip.frames, clip.native_times, clip.start, clip.stride, (10.0, 5.0, 20.0, 20.0),
                     clip.native_size, clip.num_native_frames)
    points = np.array([[40, 20, 15], [37, 20, 15], [46, 20, 15], [40, 9.4, 15], [40, 29.6, 15], [40, np.nan, 1]])
    _, valid = clip_keypoints(crop_clip, points)
    assert list(valid) == [True, False, False, False, False, False]
    assert clip_keypoints(clip, points[:5])[1].tolist() == [True, False, False, True, True]


def test_short_video_is_padded_and_to_native_clamps(short_video):
    clip = sample_clip(short_video, 8, 16)
    assert list(clip.native_times) == [0, 1, 2, 3, 4, 4, 4, 4]
    assert list(clip.padded) == [False] * 5 + [True] * 3
    assert torch_equal(clip.frames[:, 7], clip.frames[:, 4])
    assert clip.to_native(np.array([[7.0, 0, 0]]))[0, 0] == 4


def test_key_frames_past_the_end_name_the_video(video):
    for bad in ([10, 90], [-1]):
        with pytest.raises(StcorrError, match="long.*key frame"):
            sample_clip(video, 8, 16, key_frames=bad)


def test_only_the_frames_shown_are_read(video, short_video):
    counting = CountingVideo(video.path)
    clip = sample_clip(counting, 8, 16, key_frames=[10, 50])
    assert sum(counting.requests, []) == sorted(set(clip.native_times.tolist()))
    short = CountingVideo(short_video.path)
    clip = sample_clip(short, 8, 16)
    assert sum(short.requests, []) == [0, 1, 2, 3, 4]


def test_augment_settings_check_keys_and_values():
    off = ClipAugment.none().model_dump()
    augment = ClipAugment.checked({**off, "grayscale": 0.3, "crop": 1, "crop_scale": [0.8, 1.0]})
    assert augment == ClipAugment.only(grayscale=0.3, crop=1.0, crop_scale=(0.8, 1.0))
    assert not ClipAugment.none().enabled and augment.enabled
    with pytest.raises(StcorrError, match="'blur'"):
        ClipAugment.checked({**off, "blur": 0.5})
    with pytest.raises(StcorrError, match="'grayscale'"):
        ClipAugment.checked({**off, "grayscale": 1.5})
    with pytest.raises(StcorrError, match="cfg.yaml.*'posterize_bits'"):
        ClipAugment.checked({**off, "posterize_bits": [4.5, 6]}, source="cfg.yaml")
    with pytest.raises(StcorrError, match="'crop_scale'.*low <= high"):
        ClipAugment.checked({**off, "crop_scale": [0.9, 0.8]})


def test_augmentation_without_an_rng_is_refused(video):
    with pytest.raises(ValueError):
        sample_clip(video, 8, 16, augment=ClipAugment.only(grayscale=1.0))
