"""Test-time augmentation of a frame landmarker: the frame mirrored, and a crop around the person
resampled larger than the frame shows it, combined by visibility-weighted averaging.

A landmarker maps an RGB uint8 frame (H, W, 3) to (landmarks (33, 4): x, y normalised to [0, 1]
of the frame, z in the scale of x, visibility; world (33, 3) metres) or None (MediaPipe Pose's
33 landmarks, in its order). ``AugmentedLandmarker`` is one too, so whatever runs a landmarker on
every frame runs the augmented one unchanged.

Passes, each mapped back to the frame's coordinates before combining:
- plain: the frame as it is;
- flip: the frame mirrored left-right; x -> 1 - x (world x -> -x) and the left/right landmarks
  swapped (the mirror image of a left wrist looks like a right wrist);
- crop: a square around the person found by the passes above (their landmarks' box, enlarged by
  ``crop_margin`` of its size on each side but no larger than the frame's longer side, padded
  black outside the frame), resized to ``crop_size`` pixels a side (bicubic), and mirrored too
  when ``flip`` is on. MediaPipe's person detector wants context: with a margin of 0.25 it found
  nobody in most crops of small people; 1.0 (the crop three times the person's size) works.
- held box: where the whole-frame passes find nobody, the crop passes run on the box of the last
  frame (at most ``hold_box`` frames back) where the person was found: a small or blurred person the
  detector misses in the whole frame is often found larger in the crop. Found there, the box moves on.
- search: where nobody was found in the whole frame nor in a held box, every ``search_every``-th such
  frame is searched by crops of a grid (3 x 3 squares of half the frame's longer side, overlapping by
  half) resized to ``crop_size``; the crop whose person is seen best gives the frame's landmarks
  and the box that the following frames hold. People too small for MediaPipe's detector in the whole
  frame are found this way.

Combining: before averaging, each pass's left/right labelling is matched to the first pass's
(a pass whose swapped limbs lie nearer the first pass's is swapped), so that one pass that
confused the sides does not pull both limbs to the middle; then x, y, z and world are averaged
with the passes' visibilities as weights, a crop pass's also multiplied by its zoom (the frame's
longer side over the crop's side: a pass that saw the person larger counts more), and the
visibility is the mean over the passes that found the person.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
from PIL import Image

Result = tuple[np.ndarray, np.ndarray]
Landmarker = Callable[[np.ndarray], Optional[Result]]

#: MediaPipe Pose landmark -> its mirror image (nose, eyes, ears, mouth, then the left/right limb pairs 11..32).
MIRRORED_LANDMARKS: np.ndarray = np.array(
    [0, 4, 5, 6, 1, 2, 3, 8, 7, 10, 9] + [k + 1 if k % 2 else k - 1 for k in range(11, 33)])
#: Landmarks of the limbs (shoulders to feet), where a left/right confusion matters.
LIMBS = np.arange(11, 33)
BOX_VISIBILITY = 0.5  # landmarks at least this visible make the person's box (all of them when too few are)
MIN_WEIGHT = 1e-3  # a pass's weight never drops to 0, so a joint all passes deem invisible still averages


def mirror_result(result: Result) -> Result:
    """A result on the mirrored frame, expressed on the frame itself (or the reverse: mirroring twice is the identity)."""
    landmarks, world = (np.array(a, dtype=np.float64) for a in result)
    landmarks[:, 0] = 1.0 - landmarks[:, 0]
    world[:, 0] = -world[:, 0]
    return landmarks[MIRRORED_LANDMARKS], world[MIRRORED_LANDMARKS]


def flipped(landmarker: Landmarker) -> Landmarker:
    """``landmarker`` run on the mirrored frame, its answer mirrored back."""
    def run(frame: np.ndarray) -> Result | None:
        found = landmarker(np.ascontiguousarray(frame[:, ::-1]))
        return None if found is None else mirror_result(found)

    return run


@dataclass(frozen=True)
class Box:
    """A square of the frame in pixels: columns x0 .. x0 + side - 1, rows y0 .. y0 + side - 1 (may reach outside)."""

    x0: int
    y0: int
    side: int


def person_box(landmarks: np.ndarray, width: int, height: int, margin: float) -> Box:
    """The square around the visible landmarks ((33, 4) normalised), enlarged by ``margin`` of its
    side each way, at most the frame's longer side (a crop never shows the person smaller than the frame)."""
    seen = landmarks[:, 3] >= BOX_VISIBILITY
    if seen.sum() < 4:
        seen[:] = True
    x = landmarks[seen, 0] * width  # pixel edges: column i spans [i, i + 1)
    y = landmarks[seen, 1] * height
    side = min(max(x.max() - x.min(), y.max() - y.min(), 8.0) * (1.0 + 2.0 * margin), max(width, height))
    centre_x, centre_y = (x.max() + x.min()) / 2, (y.max() + y.min()) / 2
    side_px = int(np.ceil(side))
    return Box(int(round(centre_x - side_px / 2)), int(round(centre_y - side_px / 2)), side_px)


def crop_frame(frame: np.ndarray, box: Box, size: int) -> np.ndarray:
    """The box of ``frame`` (black outside it), resized to (size, size, 3) bicubic."""
    height, width = frame.shape[:2]
    crop = np.zeros((box.side, box.side, 3), dtype=np.uint8)
    x1, y1 = max(box.x0, 0), max(box.y0, 0)
    x2, y2 = min(box.x0 + box.side, width), min(box.y0 + box.side, height)
    if x2 > x1 and y2 > y1:
        crop[y1 - box.y0:y2 - box.y0, x1 - box.x0:x2 - box.x0] = frame[y1:y2, x1:x2]
    return np.asarray(Image.fromarray(crop).resize((size, size), Image.BICUBIC))


def uncrop_result(result: Result, box: Box, width: int, height: int) -> Result:
    """A result on the crop, expressed on the whole frame (x, y normalised to it; z in the scale of its x)."""
    landmarks, world = (np.array(a, dtype=np.float64) for a in result)
    landmarks[:, 0] = (box.x0 + landmarks[:, 0] * box.side) / width
    landmarks[:, 1] = (box.y0 + landmarks[:, 1] * box.side) / height
    landmarks[:, 2] = landmarks[:, 2] * box.side / width
    return landmarks, world


def match_sides(result: Result, reference: Result) -> Result:
    """``result`` with its left/right landmarks swapped when the swapped limbs lie nearer ``reference``'s."""
    def limb_distance(landmarks: np.ndarray) -> float:
        return float(np.linalg.norm(landmarks[LIMBS, :2] - reference[0][LIMBS, :2], axis=1).sum())

    swapped = (result[0][MIRRORED_LANDMARKS], result[1][MIRRORED_LANDMARKS])
    return swapped if limb_distance(swapped[0]) < limb_distance(result[0]) else result


def combine(results: list[Result | None], zooms: list[float] | None = None) -> Result | None:
    """Visibility-weighted average of the passes that found the person (module docstring), each
    pass's weights also multiplied by its ``zooms`` entry (default 1); None if no pass found anyone."""
    zooms = zooms or [1.0] * len(results)
    kept = [(r, z) for r, z in zip(results, zooms) if r is not None]
    if not kept:
        return None
    found = [kept[0][0]] + [match_sides(r, kept[0][0]) for r, _ in kept[1:]]
    landmarks = np.stack([r[0] for r in found])  # (P, 33, 4)
    world = np.stack([r[1] for r in found])  # (P, 33, 3)
    zoom = np.array([z for _, z in kept])[:, None, None]
    weight = np.maximum(landmarks[..., 3], MIN_WEIGHT)[..., None] * zoom  # (P, 33, 1)
    out = np.empty(landmarks.shape[1:])
    out[:, :3] = (landmarks[..., :3] * weight).sum(axis=0) / weight.sum(axis=0)
    out[:, 3] = landmarks[..., 3].mean(axis=0)
    return out, (world * weight).sum(axis=0) / weight.sum(axis=0)


def mean_visibility(result: Result | None, judged: np.ndarray) -> float:
    """The mean visibility of the ``judged`` landmarks of a pass (0 when it found nobody)."""
    return 0.0 if result is None else float(np.mean(result[0][judged, 3]))


class AugmentedLandmarker:
    """A landmarker run on the frame, its mirror image (``flip``) and a ``crop_size`` crop around the
    person (None: no crop), combined (module docstring). With neither it is the landmarker itself.

    The extra passes can be kept to the frames that need them, judged by the plain pass: the mirror
    image only where the plain pass found nobody or the mean visibility of its ``judged`` landmarks
    is below ``flip_below``; the crop (and its mirror image when ``flip`` is on) only where that
    visibility is below ``crop_below`` or the person is small (the crop would show them at least
    ``crop_zoom`` times larger). None: on every frame (for the crop: ``crop_below`` and ``crop_zoom``
    both None). ``hold_box`` > 0: where nobody is found in the whole frame, the crop passes run on the
    person's box of the last frame (at most that many frames back) that found them; ``new_video``
    forgets it. ``search_every`` > 0: where there is no held box either, every that many frames a grid
    of crops is searched for the person (module docstring). ``extra`` runs the mirrored and cropped
    passes (default: ``landmarker``); a landmarker that follows the person from frame to frame must
    see only the plain frames."""

    def __init__(self, landmarker: Landmarker, flip: bool, crop_size: int | None, crop_margin: float = 1.0,
                 flip_below: float | None = None, crop_below: float | None = None, crop_zoom: float | None = None,
                 judged: np.ndarray | None = None, extra: Landmarker | None = None, hold_box: int = 0,
                 search_every: int = 0):
        self.landmarker, self.flip = landmarker, bool(flip)
        self.extra = extra or landmarker  # what runs on mirrored frames and crops
        self.crop_size, self.crop_margin = crop_size, float(crop_margin)
        self.flip_below, self.crop_below, self.crop_zoom = flip_below, crop_below, crop_zoom
        self.judged = np.arange(33) if judged is None else np.asarray(judged)
        self.calls = 0  # landmarker calls so far (what the passes cost)
        self.hold_box, self.search_every = int(hold_box), int(search_every)
        self.new_video()

    def new_video(self) -> None:
        """Forget the person's last box (the next frame starts another video)."""
        self.last_box: Box | None = None
        self.since_box = 0  # frames since the last box was found
        self.unsearched = self.search_every  # frames without anyone since the last search (search at once)

    def run(self, landmarker: Landmarker, frame: np.ndarray) -> Result | None:
        self.calls += 1
        return landmarker(frame)

    def passes(self, frame: np.ndarray, flip: bool) -> list[Result | None]:
        """The ``extra`` landmarker's passes over ``frame`` (a crop): as it is, then mirrored when ``flip``."""
        return [self.run(run, frame) for run in [self.extra] + ([flipped(self.extra)] if flip else [])]

    def __call__(self, frame: np.ndarray) -> Result | None:
        plain = self.run(self.landmarker, frame)
        seen = mean_visibility(plain, self.judged)
        every_frame = self.flip_below is None
        results = [plain]
        if self.flip and (every_frame or plain is None or seen < self.flip_below):
            results.append(self.run(flipped(self.extra), frame))
        whole = combine(results)
        if self.crop_size is None:
            return whole
        height, width = frame.shape[:2]
        if whole is None:
            return self.in_held_box(frame)
        box = person_box(whole[0], width, height, self.crop_margin)
        self.last_box, self.since_box = box, 0
        zoom = max(width, height) / box.side  # how much larger the crop passes saw the person (>= 1)
        if not self.crop_wanted(seen, zoom):
            return whole
        cropped = self.cropped(frame, box)
        return combine(results + cropped, [1.0] * len(results) + [zoom] * len(cropped))

    def cropped(self, frame: np.ndarray, box: Box) -> list[Result | None]:
        """The crop passes over ``box`` of ``frame``, each mapped back to the frame."""
        height, width = frame.shape[:2]
        crop = crop_frame(frame, box, self.crop_size)
        return [None if r is None else uncrop_result(r, box, width, height) for r in self.passes(crop, self.flip)]

    def in_held_box(self, frame: np.ndarray) -> Result | None:
        """The crop passes over the person's last box, where the whole frame showed nobody (None if
        there is no box of the last ``hold_box`` frames, or nobody in it either)."""
        self.since_box += 1
        found = None
        if self.last_box is not None and self.since_box <= self.hold_box:
            found = combine(self.cropped(frame, self.last_box))
        if found is None:
            found = self.searched(frame)
        if found is not None:
            height, width = frame.shape[:2]
            self.last_box, self.since_box = person_box(found[0], width, height, self.crop_margin), 0
        return found

    def searched(self, frame: np.ndarray) -> Result | None:
        """The person seen best in the crops of a 3 x 3 grid over ``frame`` (module docstring), every
        ``search_every``-th call; None between searches or if no crop shows anyone."""
        if self.search_every <= 0:
            return None
        self.unsearched += 1
        if self.unsearched < self.search_every:
            return None
        self.unsearched = 0
        height, width = frame.shape[:2]
        side = max(width, height) // 2
        best, best_seen = None, 0.0
        for y0 in np.linspace(0, max(height - side, 0), 3).round().astype(int):
            for x0 in np.linspace(0, max(width - side, 0), 3).round().astype(int):
                found = combine(self.cropped(frame, Box(int(x0), int(y0), side)))
                seen = mean_visibility(found, self.judged)
                if found is not None and seen > best_seen:
                    best, best_seen = found, seen
        return best

    def crop_wanted(self, seen: float, zoom: float) -> bool:
        """Whether the crop passes run on a frame whose plain pass saw ``seen`` and whose crop zooms ``zoom``."""
        if self.crop_below is None and self.crop_zoom is None:
            return True
        return (self.crop_below is not None and seen < self.crop_below) or (self.crop_zoom is not None and zoom >= self.crop_zoom)
