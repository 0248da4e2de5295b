"""Test-time augmentation of the pose pass (stcorr.pose.augment): geometry with a landmarker whose
answer is known, and MediaPipe's augmented pass invariant to mirroring the video (real-dev frames)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stcorr.pose.mediapipe import MEDIAPIPE_TO_PENN
from stcorr.pose.skeleton import JOINTS, mirrored_name
from stcorr.pose.augment import (MIRRORED_LANDMARKS, AugmentedLandmarker, Box, combine, crop_frame, flipped,
                                 mirror_result, uncrop_result)

REAL_DEV = Path(__file__).resolve().parents[2] / "shared" / "real-dev"


def box_landmarker(frame: np.ndarray):
    """Stands in for MediaPipe on a frame holding one bright rectangle (the "person"): the person's
    left limbs on the rectangle's right edge (as for a person facing the camera), the right limbs on
    its left edge, each limb pair a little lower; x, y normalised, pixel edges (column i spans [i, i + 1))."""
    rows, cols = np.nonzero(frame[..., 0] > 127)
    if len(rows) == 0:
        return None
    height, width = frame.shape[:2]
    left, right, top, bottom = cols.min(), cols.max() + 1, rows.min(), rows.max() + 1
    landmarks = np.zeros((33, 4))
    landmarks[:, 3] = 0.9
    landmarks[:11, :2] = ((left + right) / 2 / width, top / height)
    for k in range(11, 33):
        y = top + (k - 11) // 2 / 11 * (bottom - top)
        landmarks[k, :2] = ((right if k % 2 else left) / width, y / height)
    return landmarks, np.zeros((33, 3))


def frame_with_person(width: int = 120, height: int = 90, box=(40, 20, 62, 58)) -> np.ndarray:
    frame = np.zeros((height, width, 3), np.uint8)
    frame[box[1]:box[3], box[0]:box[2]] = 255
    return frame


def test_the_mirror_map_swaps_left_and_right_names():
    for joint in JOINTS:
        assert MIRRORED_LANDMARKS[MEDIAPIPE_TO_PENN[joint]] == MEDIAPIPE_TO_PENN[mirrored_name(joint)]
    np.testing.assert_array_equal(MIRRORED_LANDMARKS[MIRRORED_LANDMARKS], np.arange(33))
    result = (np.random.default_rng(0).random((33, 4)), np.random.default_rng(1).random((33, 3)))
    twice = mirror_result(mirror_result(result))
    np.testing.assert_allclose(twice[0], result[0])
    np.testing.assert_allclose(twice[1], result[1])


def test_the_flip_pass_mapped_back_agrees_with_the_plain_pass():
    frame = frame_with_person()
    plain, flip = box_landmarker(frame), flipped(box_landmarker)(frame)
    np.testing.assert_allclose(flip[0], plain[0], atol=1e-12)


def test_a_crop_mapped_back_lands_on_the_frame_coordinates():
    frame = frame_with_person()
    box = Box(30, 10, 60)  # 2 frame pixels per crop pixel... enlarged to 240: 1/4 frame pixel each
    crop = crop_frame(frame, box, 240)
    assert crop.shape == (240, 240, 3)
    back = uncrop_result(box_landmarker(crop), box, 120, 90)
    np.testing.assert_allclose(back[0][:, :2] * (120, 90), box_landmarker(frame)[0][:, :2] * (120, 90), atol=0.5)


def test_a_crop_reaching_outside_the_frame_is_padded():
    frame = frame_with_person(box=(0, 0, 30, 40))
    box = Box(-20, -10, 70)
    back = uncrop_result(box_landmarker(crop_frame(frame, box, 140)), box, 120, 90)
    np.testing.assert_allclose(back[0][:, :2] * (120, 90), box_landmarker(frame)[0][:, :2] * (120, 90), atol=0.75)


def test_the_augmented_pass_finds_the_person_where_the_plain_pass_does():
    frame = frame_with_person()
    augmented = AugmentedLandmarker(box_landmarker, flip=True, crop_size=256)(frame)
    np.testing.assert_allclose(augmented[0][:, :2] * (120, 90), box_landmarker(frame)[0][:, :2] * (120, 90), atol=0.75)
    assert AugmentedLandmarker(box_landmarker, True, 256)(np.zeros((90, 120, 3), np.uint8)) is None


def test_combining_weighs_by_visibility_and_undoes_a_side_confusion():
    plain = box_landmarker(frame_with_person())
    other = (plain[0].copy(), plain[1].copy())
    other[0][:, 0] += 0.1
    other[0][:, 3] = 0.3
    landmarks, _ = combine([plain, other])
    np.testing.assert_allclose(landmarks[:, 0], plain[0][:, 0] + 0.1 * 0.3 / 1.2)
    np.testing.assert_allclose(landmarks[:, 3], 0.6)
    zoomed, _ = combine([plain, other], [1.0, 3.0])  # the second pass saw the person three times larger
    np.testing.assert_allclose(zoomed[:, 0], plain[0][:, 0] + 0.1 * 0.9 / 1.8)
    confused = (plain[0][MIRRORED_LANDMARKS], plain[1][MIRRORED_LANDMARKS])  # left and right labels swapped
    np.testing.assert_allclose(combine([plain, confused])[0], plain[0])
    assert combine([None, None]) is None


@pytest.mark.skipif(not (REAL_DEV / "frames" / "0280").is_dir(), reason="needs ../shared/real-dev")
def test_mediapipe_augmented_pass_is_invariant_to_mirroring_the_video():
    pytest.importorskip("mediapipe")
    from stcorr.pose.cache import MediaPipeLandmarker
    from stcorr.data.video import Video

    video = Video(REAL_DEV / "frames" / "0280")
    plain = MediaPipeLandmarker(1)
    augmented = AugmentedLandmarker(plain, flip=True, crop_size=256)
    penn = [MEDIAPIPE_TO_PENN[j] for j in JOINTS]
    for t in (20,):
        frame = video.frame(t)
        straight = augmented(frame)
        mirrored = mirror_result(augmented(np.ascontiguousarray(frame[:, ::-1])))
        error = np.abs(straight[0][penn, :2] - mirrored[0][penn, :2]).max() * frame.shape[1]
        assert error < 0.75, f"frame {t}: the mirrored video's joints, mirrored back, are {error:.2f} px off"


def seen_as(visibility: float):
    """box_landmarker with every landmark's visibility set to ``visibility``."""
    def run(frame: np.ndarray):
        found = box_landmarker(frame)
        if found is None:
            return None
        found[0][:, 3] = visibility
        return found

    return run


@pytest.mark.parametrize("visibility, box, calls", [
    (0.95, (10, 5, 110, 88), 1),   # well seen and large: the plain pass alone
    (0.8, (10, 5, 110, 88), 3),    # seen less well: the crop and its mirror image, not the whole mirrored frame
    (0.5, (10, 5, 110, 88), 4),    # poorly seen: every pass
    (0.95, (55, 40, 65, 52), 3),   # well seen but small: the crop (the person zoomed) and its mirror image
])
def test_the_extra_passes_run_only_where_the_plain_pass_needs_them(visibility, box, calls):
    frame = frame_with_person(box=box)
    adaptive = AugmentedLandmarker(seen_as(visibility), True, 256, 1.0, flip_below=0.7, crop_below=0.9, crop_zoom=1.5)
    found = adaptive(frame)
    assert adaptive.calls == calls
    np.testing.assert_allclose(found[0][:, :2] * (120, 90), box_landmarker(frame)[0][:, :2] * (120, 90), atol=0.75)
    every = AugmentedLandmarker(seen_as(visibility), True, 256, 1.0)
    every(frame)
    assert every.calls == 4  # no thresholds: every pass on every frame


def test_nobody_found_by_the_plain_pass_brings_the_mirror_image():
    calls = []

    def only_mirrored(frame: np.ndarray):  # finds the person only when the frame is mirrored
        calls.append(frame)
        return box_landmarker(frame) if len(calls) % 2 == 0 else None

    adaptive = AugmentedLandmarker(only_mirrored, True, None, flip_below=0.7)
    assert adaptive(frame_with_person()) is not None and adaptive.calls == 2


def test_mirrored_frames_and_crops_go_to_the_extra_landmarker_only():
    seen_by: dict[str, list] = {"plain": [], "extra": []}

    def recording(name):
        def run(frame):
            seen_by[name].append(frame.shape)
            found = box_landmarker(frame)
            if found is not None:
                found[0][:, 3] = 0.5  # poorly seen: every pass runs
            return found
        return run

    frame = frame_with_person()
    AugmentedLandmarker(recording("plain"), True, 256, extra=recording("extra"))(frame)
    assert seen_by["plain"] == [frame.shape]  # a tracking landmarker sees the video's own frames, in order
    assert seen_by["extra"] == [frame.shape, (256, 256, 3), (256, 256, 3)]  # mirror, crop, mirrored crop


def missing_small_people(min_height: float):
    """box_landmarker that, like MediaPipe's detector, finds nobody shorter than ``min_height`` of the frame."""
    def run(frame: np.ndarray):
        rows = np.nonzero((frame[..., 0] > 127).any(axis=1))[0]
        if len(rows) == 0 or (rows.max() + 1 - rows.min()) < min_height * frame.shape[0]:
            return None
        return box_landmarker(frame)
    return run


SMALL = (70, 50, 80, 70)  # 20 rows of 90: too small for the whole frame, large enough in a grid crop


def test_a_person_too_small_for_the_whole_frame_is_found_by_the_search_and_then_held():
    frame = frame_with_person(box=SMALL)
    truth = box_landmarker(frame)[0][:, :2] * (120, 90)
    plain_only = AugmentedLandmarker(missing_small_people(0.25), False, 256, crop_below=0.9, crop_zoom=1.5)
    assert plain_only(frame) is None
    searching = AugmentedLandmarker(missing_small_people(0.25), False, 256, crop_below=0.9, crop_zoom=1.5,
                                    hold_box=15, search_every=8)
    found = searching(frame)
    assert found is not None and searching.calls == 1 + 9  # the whole frame, then the 3 x 3 grid
    np.testing.assert_allclose(found[0][:, :2] * (120, 90), truth, atol=0.75)
    moved = frame_with_person(box=(66, 48, 76, 68))  # the next frame: the person moved a little
    found = searching(moved)
    assert searching.calls == 10 + 2  # the whole frame, then the crop around the box held from the last frame
    np.testing.assert_allclose(found[0][:, :2] * (120, 90), box_landmarker(moved)[0][:, :2] * (120, 90), atol=0.75)


def test_the_search_runs_every_few_frames_without_anyone_and_a_new_video_forgets_the_box():
    empty = np.zeros((90, 120, 3), np.uint8)
    searching = AugmentedLandmarker(missing_small_people(0.25), False, 256, hold_box=2, search_every=3)
    calls = []
    for _ in range(7):
        assert searching(empty) is None
        calls.append(searching.calls)
    assert np.diff([0] + calls).tolist() == [10, 1, 1, 10, 1, 1, 10]  # searched at once, then every third frame
    searching.new_video()  # the next video is searched at its first frame without anyone
    assert searching(frame_with_person(box=SMALL)) is not None and searching.last_box is not None
    searching.new_video()
    assert searching.last_box is None and searching(empty) is None
    assert searching.calls == 34 + 10 + 10  # the first frame of each video searched
