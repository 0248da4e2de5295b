"""Mask propagation (DAVIS-style indexed PNGs): a moving square is followed, palettes are kept,
bad mask files are one-line errors and nothing is written."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import gaussian_filter

from stcorr.data.masks import mask_file_name, read_mask, write_mask
from stcorr.data.video import Video
from stcorr.errors import StcorrError
from stcorr.metrics.masks import region_similarity
from stcorr.models.propagation import PixelFeatures, PropagationSettings, propagate_masks
from tests.cli_helpers import run_stcorr as stcorr

SIZE, SIDE, FRAMES = 96, 24, 12
VELOCITY = (2, 1)  # pixels per frame, x and y
PALETTE = [0, 0, 0, 200, 30, 40, 20, 180, 60] + [7] * (768 - 9)


def smooth_texture(rng, size):
    texture = np.stack([gaussian_filter(rng.random((size, size)), 3.0) for _ in range(3)], -1)
    return (texture - texture.min()) / (texture.max() - texture.min())


def moving_square(folder, frames=FRAMES):
    """A textured square (SIDE px) moving by VELOCITY over a static texture of other colours;
    returns the video and the true (H, W) label image of every frame (1 inside the square)."""
    rng = np.random.default_rng(0)
    background = 0.5 * smooth_texture(rng, SIZE)
    square = 0.5 + 0.5 * smooth_texture(rng, SIDE)
    folder.mkdir()
    truths = []
    for t in range(frames):
        x0, y0 = 10 + VELOCITY[0] * t, 20 + VELOCITY[1] * t
        frame = background.copy()
        frame[y0: y0 + SIDE, x0: x0 + SIDE] = square
        truth = np.zeros((SIZE, SIZE), np.uint8)
        truth[y0: y0 + SIDE, x0: x0 + SIDE] = 1
        truths.append(truth)
        Image.fromarray((frame * 255).round().astype(np.uint8)).save(folder / f"{t + 1:06d}.png")
    return Video(folder), truths


def mean_j(predicted: dict, truths: list) -> float:
    return float(np.mean([region_similarity(predicted[t], truths[t], [1])[0] for t in range(1, len(truths))]))


def test_a_moving_square_is_followed_and_a_still_mask_is_not(tmp_path):
    """The square moves 22 px right and 11 px down over 11 frames: propagation keeps J high
    where the first mask left in place (no motion) falls well below the threshold."""
    video, truths = moving_square(tmp_path / "square")
    settings = PropagationSettings.defaults(radius=4, temperature=0.3)
    predicted = dict(propagate_masks(video, 0, truths[0], PixelFeatures(), settings))
    assert sorted(predicted) == list(range(FRAMES))
    assert np.array_equal(predicted[0], truths[0])
    no_motion = mean_j({t: truths[0] for t in range(FRAMES)}, truths)
    followed = mean_j(predicted, truths)
    assert no_motion < 0.5 < 0.75 < followed, (no_motion, followed)
    assert region_similarity(predicted[FRAMES - 1], truths[FRAMES - 1], [1])[0] > 0.6


def test_masks_propagate_backward_and_keep_every_label(tmp_path):
    video, truths = moving_square(tmp_path / "square", frames=6)
    labels = truths[3] * 3  # one object, label value 3
    labels[:8, :8] = 1      # a second object, still, in a corner
    frames = dict(propagate_masks(video, 3, labels, PixelFeatures(), PropagationSettings.defaults(radius=4, temperature=0.3),
                                  backward=True))
    assert sorted(frames) == list(range(6))
    assert all(set(np.unique(m)) <= {0, 1, 3} for m in frames.values())
    assert region_similarity(frames[0], truths[0] * 3, [3])[0] > 0.6


def test_mask_files_round_trip_with_their_palette(tmp_path):
    labels = np.zeros((10, 12), np.uint8)
    labels[2:5, 3:9] = 2
    write_mask(tmp_path / "m.png", labels, PALETTE)
    mask = read_mask(tmp_path / "m.png", size=(12, 10))
    assert np.array_equal(mask.labels, labels) and mask.objects == [2]
    assert mask.palette[:9] == PALETTE[:9]
    assert [mask_file_name(t, n) for t, n in [(0, 50), (7, 100_000), (123456, 200_000)]] == ["00000.png", "00007.png", "123456.png"]


def test_propagate_masks_from_the_command_line_keeps_the_palette(tmp_path):
    video, truths = moving_square(tmp_path / "square", frames=4)
    write_mask(tmp_path / "first.png", truths[0], PALETTE)
    out = tmp_path / "masks"
    done = stcorr("propagate", "--video", video.path, "--masks", tmp_path / "first.png", "--out-masks", out,
                  "--features", "pixels", "--set", "corrflow.propagation.radius=4")
    assert done.returncode == 0, done.stderr
    assert sorted(f.name for f in out.iterdir()) == [f"{t:05d}.png" for t in range(4)]
    for t in range(4):
        with Image.open(out / f"{t:05d}.png") as image:
            assert image.mode == "P" and image.getpalette()[:9] == PALETTE[:9]
            assert region_similarity(np.array(image), truths[t], [1])[0] > 0.6


def bad_mask_files(tmp_path):
    """(file, message) pairs: each mask file is wrong in one way."""
    cases = []
    rgb = tmp_path / "rgb.png"
    Image.new("RGB", (SIZE, SIZE), (255, 0, 0)).save(rgb)
    cases.append((rgb, "not an indexed PNG"))
    empty = tmp_path / "empty.png"
    write_mask(empty, np.zeros((SIZE, SIZE), np.uint8), PALETTE)
    cases.append((empty, "holds no object"))
    small = tmp_path / "small.png"
    write_mask(small, np.ones((SIZE // 2, SIZE), np.uint8), PALETTE)
    cases.append((small, "the video's frames are 96x96"))
    jpeg = tmp_path / "mask.jpg"
    Image.new("L", (SIZE, SIZE), 1).save(jpeg)
    cases.append((jpeg, "this is JPEG"))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    cases.append((broken, "cannot read the mask"))
    cases.append((tmp_path / "absent.png", "mask file not found"))
    return cases


def test_bad_mask_files_are_one_line_errors_and_nothing_is_written(tmp_path):
    video, truths = moving_square(tmp_path / "square", frames=3)
    out = tmp_path / "masks"
    for path, message in bad_mask_files(tmp_path):
        done = stcorr("propagate", "--video", video.path, "--masks", path, "--out-masks", out, "--features", "pixels")
        assert done.one_line_error and message in done.stderr, (path, done.stderr)
        with pytest.raises(StcorrError, match=message):
            read_mask(path, size=(SIZE, SIZE))
    assert not out.exists()


def test_bad_mask_options_are_one_line_errors(tmp_path):
    video, truths = moving_square(tmp_path / "square", frames=3)
    write_mask(tmp_path / "first.png", truths[0], PALETTE)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("mine")
    base = ["propagate", "--video", video.path, "--features", "pixels"]
    cases = [
        (["--masks", tmp_path / "first.png"], "--masks and --out-masks go together"),
        (["--out-masks", tmp_path / "m"], "give --keypoints"),
        (["--masks", tmp_path / "first.png", "--out-masks", tmp_path / "m", "--mask-frame", "3"], "outside the video"),
        (["--masks", tmp_path / "first.png", "--out-masks", tmp_path / "first.png"], "is a file"),
        (["--masks", tmp_path / "first.png", "--out-masks", tmp_path / "notes"], "stcorr did not write"),
        (["--masks", tmp_path / "first.png", "--out-masks", tmp_path / "m", "--viz", tmp_path / "v.mp4"], "--viz draws"),
    ]
    for args, message in cases:
        done = stcorr(*base, *args)
        assert done.one_line_error and message in done.stderr, (args, done.stderr)
    assert not (tmp_path / "m").exists() and (tmp_path / "notes" / "keep.txt").read_text() == "mine"
