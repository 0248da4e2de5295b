"""What the patch embedding gives: track correspondence (Eq. 5) on two copies of one video, patch
correspondence, temporal alignment (Eq. 6) and video similarity (Eq. 7)."""

import numpy as np
import pytest
import torch
from PIL import Image

from stcorr.models.cycle_use import (embed_video, frame_similarity, nearest_patches, temporal_alignment,
                                        track_correspondence, video_similarity)
from stcorr.data.video import Video
from stcorr.models.patch_embedding import PatchEmbedding, PatchEmbeddingSettings

SIZE, FRAMES, SHIFT, DELAY = 128, 10, 16, 2


def smooth_noise(rng, t):
    small = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((SIZE, SIZE), Image.Resampling.BICUBIC))


def write(folder, frames):
    folder.mkdir()
    for t, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"{t + 1:06d}.png")
    return Video(folder)


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    """V, and W = V shifted 16 px right and starting 2 frames later; boxes of 5 tracks in both."""
    root = tmp_path_factory.mktemp("copies")
    rng = np.random.default_rng(0)
    frames = [smooth_noise(rng, t) for t in range(FRAMES + DELAY)]
    v = write(root / "v", frames[:FRAMES])
    shifted = [np.roll(f, SHIFT, axis=1) for f in frames[DELAY:]]
    w = write(root / "w", shifted)
    starts = rng.uniform(20, 70, (5, 2))
    drift = rng.uniform(-1.5, 1.5, (5, 2))
    centres = starts[:, None] + drift[:, None] * np.arange(FRAMES + DELAY)[None, :, None]  # (5, T, 2)
    boxes = np.concatenate([centres - 16, centres + 16], axis=-1)
    return v, w, boxes


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return PatchEmbedding(PatchEmbeddingSettings.defaults(size=SIZE)).eval()


def test_track_correspondence_finds_the_true_tracks_of_a_shifted_copy(copies, model):
    v, w, boxes = copies
    times = np.arange(FRAMES)
    order = np.array([3, 0, 4, 1, 2])  # W's tracks in another order
    a = embed_video(model, v, times, boxes[:, :FRAMES])
    w_boxes = boxes[order, DELAY:] + np.array([SHIFT, 0, SHIFT, 0])
    b = embed_video(model, w, times, w_boxes)
    best, scores = track_correspondence(a, b)
    assert scores.shape == (5, 5)
    np.testing.assert_array_equal(order[best], np.arange(5))


def test_patch_and_frame_correspondences_of_the_shifted_copy(copies, model):
    v, w, boxes = copies
    times = np.arange(FRAMES)
    a = embed_video(model, v, times, boxes[:, :FRAMES])
    b = embed_video(model, w, times, boxes[:, DELAY:] + np.array([SHIFT, 0, SHIFT, 0]))
    j, q, score = nearest_patches(a.emb[:, 5], b)  # frame 5 of V is frame 3 of W
    assert j.tolist() == list(range(5)) and q.tolist() == [5 - DELAY] * 5
    matched = temporal_alignment(frame_similarity(a, b))
    # V's last frame is W's frame 7 but the path must end at W's last frame (9): the median, 8
    assert (matched[DELAY:-1] == np.arange(FRAMES - DELAY - 1)).all()
    assert video_similarity(a, b) > video_similarity(a, embed_video(model, v, times[::-1], boxes[:, :FRAMES][:, ::-1]))
