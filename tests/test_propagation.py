"""Label propagation: a keypoint on a translating texture is followed; coordinates; bounded work."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.ndimage import gaussian_filter, shift

from stcorr.data.video import Video
from stcorr.errors import StcorrError
from stcorr.models.propagation import (EncoderFeatures, PixelFeatures, PropagationSettings, cells_to_native,
                                       gaussian_maps, native_to_cells, propagate_keypoints, read_out,
                                       untrained_encoder)

VELOCITY = (1.5, -0.75)  # pixels per frame, x and y


def translating_texture(folder, frames=12, size=96, seed=0):
    """A smooth colour texture moving by VELOCITY each frame (sub-pixel shifts, spline-interpolated)."""
    rng = np.random.default_rng(seed)
    texture = np.stack([gaussian_filter(rng.random((2 * size, 2 * size)), 6.0) for _ in range(3)], -1)
    texture = (texture - texture.min()) / (texture.max() - texture.min())
    folder.mkdir()
    for t in range(frames):
        moved = shift(texture, (VELOCITY[1] * t, VELOCITY[0] * t, 0), order=3, mode="wrap")
        crop = moved[size // 2: size // 2 + size, size // 2: size // 2 + size]
        Image.fromarray((crop.clip(0, 1) * 255).round().astype(np.uint8)).save(folder / f"{t + 1:06d}.png")
    return Video(folder)


def test_a_keypoint_on_a_translating_texture_is_followed_within_a_pixel(tmp_path):
    """Sub-pixel motion (1.5, -0.75) px a frame, features at stride 4 (one cell = 4 px): the keypoints
    are found within a pixel on average over 11 frames and 5 points, and never off by a whole cell."""
    video = translating_texture(tmp_path / "texture")
    start = np.array([[45.0, 50.0], [30.0, 62.0], [60.0, 30.0], [20.0, 20.0], [70.0, 70.0]])
    tracks = propagate_keypoints(video, 0, start, PixelFeatures(), PropagationSettings.defaults(radius=8, memory=0, temperature=0.3))
    assert sorted(tracks) == list(range(12))
    errors = np.array([np.linalg.norm(rows[:, :2] - (start + np.array(VELOCITY) * t), axis=1) for t, rows in tracks.items()])
    assert errors[1:].mean() < 1.0, errors
    assert errors.max() < 4.0, errors


def test_backward_propagation_covers_the_frames_before_the_query(tmp_path):
    video = translating_texture(tmp_path / "texture", frames=6)
    start = np.array([[48.0, 48.0]])
    tracks = propagate_keypoints(video, 3, start, PixelFeatures(), PropagationSettings.defaults(radius=8, temperature=0.3), backward=True)
    assert sorted(tracks) == list(range(6))
    errors = [np.linalg.norm(tracks[t][0, :2] - (start[0] + np.array(VELOCITY) * (t - 3))) for t in range(6)]
    assert max(errors) < 4.0, errors


def test_cell_coordinates_round_trip_and_maps_read_back_at_their_centre():
    native, grid = (224, 160), (56, 40)
    xy = np.array([[10.3, 150.2], [0.0, 0.0], [223.0, 159.0]])
    np.testing.assert_allclose(cells_to_native(native_to_cells(xy, native, grid), native, grid), xy)
    cells = np.array([[10.25, 20.5], [3.0, 4.75]])
    read, peak = read_out(gaussian_maps(cells, grid, sigma=1.0), radius=3)
    np.testing.assert_allclose(read, cells, atol=0.02)
    assert (peak > 0.7).all()


def test_untrained_encoder_features_propagate_and_leave_the_global_seed_alone(tmp_path):
    video = translating_texture(tmp_path / "texture", frames=3, size=32)
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    model = untrained_encoder({"width": 4, "blocks": [1], "dim": 8, "clusters": 4})
    assert torch.equal(torch.rand(1), expected_next)
    tracks = propagate_keypoints(video, 0, np.array([[16.0, 16.0]]), EncoderFeatures(model), PropagationSettings.defaults(radius=2))
    assert len(tracks) == 3 and np.isfinite(np.stack(list(tracks.values()))).all()


def test_a_query_frame_outside_the_video_is_refused(tmp_path):
    video = translating_texture(tmp_path / "texture", frames=2, size=32)
    with pytest.raises(StcorrError, match="outside the video"):
        propagate_keypoints(video, 5, np.array([[1.0, 1.0]]), PixelFeatures(), PropagationSettings.defaults())


@pytest.mark.parametrize("block_rows", [None, 2, 3])
def test_fast_topk_attention_equals_restricted_attention_with_topk(block_rows):
    from stcorr.models.corrflow import restricted_attention
    from stcorr.models.propagation import topk_window_attention

    g = torch.Generator().manual_seed(1)
    query = torch.randn(1, 6, 7, 9, generator=g, dtype=torch.float64)
    keys = [torch.randn(1, 6, 7, 9, generator=g, dtype=torch.float64) for _ in range(3)]
    values = [torch.rand(1, 4, 7, 9, generator=g, dtype=torch.float64) for _ in range(3)]
    want = restricted_attention(query, keys, values, radius=2, temperature=0.3, topk=5)
    got = topk_window_attention(query, keys, values, radius=2, temperature=0.3, topk=5, block_rows=block_rows)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_long_term_memory_keeps_every_nth_frame_that_left_the_recent_memory(monkeypatch):
    import stcorr.models.propagation as propagation

    seen: list[set[int]] = []

    def record(query, keys, values, *args):
        seen.append({round(float(k[0, 0, 0, 0]) / 2) for k in keys})  # a key's first channel is 2 x the feature
        return values[0]

    monkeypatch.setattr(propagation, "topk_window_attention", record)
    frames = (torch.full((1, 2, 4, 4), float(t)) for t in range(13))
    settings = PropagationSettings.defaults(memory=2, long_memory=2, long_every=3)
    list(propagation.propagate_maps(frames, torch.zeros(1, 1, 4, 4), settings))
    assert seen[0] == {0}
    assert seen[7] == {0, 3, 6, 7}      # frame 8: recent 6, 7; frame 3 left the recent memory at frame 6
    assert seen[10] == {0, 3, 6, 9, 10}
    assert seen[11] == {0, 6, 9, 10, 11}  # frame 12: frame 9 joined, frame 3 dropped out (two long-term frames)


def test_first_weight_one_changes_nothing_and_a_huge_one_copies_the_query_frame_only():
    from stcorr.models.propagation import topk_window_attention

    g = torch.Generator().manual_seed(3)
    query = torch.randn(1, 6, 7, 9, generator=g, dtype=torch.float64)
    keys = [torch.randn(1, 6, 7, 9, generator=g, dtype=torch.float64) for _ in range(3)]
    values = [torch.rand(1, 4, 7, 9, generator=g, dtype=torch.float64) for _ in range(3)]
    args = dict(radius=2, temperature=0.3, topk=5, block_rows=3)
    plain = topk_window_attention(query, keys, values, **args)
    torch.testing.assert_close(topk_window_attention(query, keys, values, first_weight=1.0, **args), plain, rtol=0, atol=0)
    first_only = topk_window_attention(query, keys[:1], values[:1], **args)
    torch.testing.assert_close(topk_window_attention(query, keys, values, first_weight=1e40, **args), first_only)
    raised = topk_window_attention(query, keys, values, first_weight=3.0, **args)
    assert (raised - first_only).abs().mean() < (plain - first_only).abs().mean()
