"""The one frame reader (stcorr.data.frames): what every learner and evaluator sees."""

import numpy as np
import torch

from stcorr.data.frames import crop_resize, read_frames
from stcorr.data.video import Video

from conftest import write_frames


def test_a_frame_of_the_asked_size_comes_back_unchanged(tmp_path):
    write_frames(tmp_path / "v", 3, size=(20, 12))
    video = Video(tmp_path / "v")
    frames = read_frames(video, [2, 0], (20, 12))
    assert frames.shape == (2, 3, 12, 20)
    expected = torch.from_numpy(video.frames([2, 0])).permute(0, 3, 1, 2).float() / 255
    assert torch.equal(frames, expected)


def test_a_box_is_resized_and_flipped_as_crop_resize_does(tmp_path):
    write_frames(tmp_path / "v", 2, size=(40, 30))
    video = Video(tmp_path / "v")
    box = (4.0, 6.0, 16.0, 16.0)
    frames = read_frames(video, [1], 8, box, flip=True)
    expected = crop_resize(video.frames([1]), box, (8, 8))[:, :, ::-1].astype(np.float32) / 255
    assert frames.shape == (1, 3, 8, 8)
    np.testing.assert_array_equal(frames.permute(0, 2, 3, 1).numpy(), expected)


def test_a_constant_box_stays_constant_when_shrunk():
    frames = np.full((1, 30, 40, 3), 77, np.uint8)
    assert (crop_resize(frames, (3.0, 2.0, 20.0, 20.0), (5, 5)) == 77).all()
