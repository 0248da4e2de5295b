"""The overlay registered on the background, for a camera that moves (pans, zooms, follows the athlete).

``overlay.body_transforms`` lays the attempt's body on the reference's: right for a still camera
and two people in different places. When the camera moves, the place itself is the common
ground: per reference frame, the transform that maps the background of the attempt's aligned
frame onto the reference frame's (ORB corners outside both bodies' boxes, matched both ways, a
similarity fitted by RANSAC: a homography restricted to pan, zoom and roll, which a full one
was not steady enough on the few corners of a small frame to beat). Frames where it cannot be found (under ``MIN_INLIERS`` matches agree) take the nearest
frame's, and the homographies are smoothed over time as the body transforms are. OpenCV comes
with MediaPipe (the ``pose`` extra compare runs by default).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d
from PIL import Image

from stcorr.pose.track import JointTrack
from stcorr.compare.pipeline import MIN_CONFIDENCE, Comparison
from stcorr.errors import StcorrError

MIN_INLIERS = 12
BODY_MARGIN = 0.25  # the body's box grown by this share of its size on each side, left out of the matching
MAX_FEATURES = 1500
SMOOTH_FRAMES = 1.5
MAX_SIDE = 480  # frames are matched at most this large (corners of a 4K frame add time, not accuracy)
MIN_SIDE = 320  # and at least this large (a 224-pixel frame, doubled, keeps twice the corners)


def _cv2():
    try:
        import cv2  # OpenCV arrives with MediaPipe (the pose extra); only the background overlay needs it
    except ImportError:
        raise StcorrError("the overlay registered on the background needs OpenCV: pip install 'stcorr[pose]'") from None
    return cv2


def background_mask(track: JointTrack, t: int, size: tuple[int, int], scale: float) -> np.ndarray:
    """(H, W) uint8 255 where frame t's background is (outside the body's grown box), at ``scale``."""
    width, height = max(1, round(size[0] * scale)), max(1, round(size[1] * scale))
    mask = np.full((height, width), 255, dtype=np.uint8)
    seen = (track.visibility[t] >= MIN_CONFIDENCE) & np.isfinite(track.xy[t]).all(axis=1)
    if seen.sum() >= 2:
        low, high = track.xy[t, seen].min(axis=0), track.xy[t, seen].max(axis=0)
        grow = BODY_MARGIN * (high - low) + 0.05 * max(size)
        (x0, y0), (x1, y1) = ((low - grow) * scale).astype(int), ((high + grow) * scale).astype(int)
        mask[max(0, y0):max(0, y1), max(0, x0):max(0, x1)] = 0
    return mask


def frame_homography(reference: np.ndarray, attempt: np.ndarray, ref_mask: np.ndarray, att_mask: np.ndarray,
                     scales: tuple[float, float] = (1.0, 1.0)) -> np.ndarray | None:
    """(3, 3) transform taking attempt pixels to reference pixels (native pixels: the frames and
    their masks were resized by ``scales``), a similarity (pan, zoom, roll: what a camera turning
    about itself does to a distant scene, and steadier than a full homography on the few corners
    of a small frame), or None when fewer than ``MIN_INLIERS`` background matches agree."""
    cv2 = _cv2()
    orb = cv2.ORB_create(MAX_FEATURES, 1.2, 4, 15, 0, 2, cv2.ORB_HARRIS_SCORE, 15, 10)  # small patches: small frames keep their corners
    found = [orb.detectAndCompute(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), mask)
             for frame, mask in ((reference, ref_mask), (attempt, att_mask))]
    (ref_keys, ref_desc), (att_keys, att_desc) = found
    if ref_desc is None or att_desc is None or min(len(ref_keys), len(att_keys)) < MIN_INLIERS:
        return None
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(att_desc, ref_desc)
    if len(matches) < MIN_INLIERS:
        return None
    # keypoints in resized pixels -> native pixels (pixel centres at integers, docs/formats.md#coordinates)
    src = (np.float32([att_keys[m.queryIdx].pt for m in matches]) + 0.5) / scales[1] - 0.5
    dst = (np.float32([ref_keys[m.trainIdx].pt for m in matches]) + 0.5) / scales[0] - 0.5
    fitted, inliers = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=2.0)
    if fitted is None or inliers is None or int(inliers.sum()) < MIN_INLIERS:
        return None
    return np.vstack([fitted, [0.0, 0.0, 1.0]])


def background_transforms(comparison: Comparison) -> np.ndarray:
    """(N, 3, 3) per reference frame the homography taking attempt pixels (its aligned frame) to
    reference pixels (module docstring); the identity, scaled between the frame sizes, where no
    frame's background could be matched."""
    ref_video, att_video = comparison.reference, comparison.attempt
    n = ref_video.num_frames
    scales = [float(np.clip(max(video.size), MIN_SIDE, MAX_SIDE)) / max(video.size) for video in (ref_video, att_video)]
    found = np.full((n, 3, 3), np.nan)
    for t, ref_frame in zip(range(n), ref_video.iter_frames(range(n))):
        u = int(comparison.attempt_times[t])
        frames = [_scaled(ref_frame, scales[0]), _scaled(att_video.frame(u), scales[1])]
        masks = [background_mask(comparison.reference_joints, t, ref_video.size, scales[0]),
                 background_mask(comparison.attempt_joints, u, att_video.size, scales[1])]
        h = frame_homography(frames[0], frames[1], *masks, scales=(scales[0], scales[1]))
        if h is not None:
            found[t] = h
    known = np.flatnonzero(np.isfinite(found[:, 0, 0]))
    if not known.size:
        ratio = np.array(ref_video.size, dtype=np.float64) / np.array(att_video.size, dtype=np.float64)
        return np.tile(np.diag([ratio[0], ratio[1], 1.0]), (n, 1, 1))
    nearest = known[np.abs(np.arange(n)[:, None] - known[None, :]).argmin(axis=1)]
    found = found[nearest] / found[nearest][:, 2:3, 2:3]
    return gaussian_filter1d(found, SMOOTH_FRAMES, axis=0, mode="nearest") if n > 1 else found


def _scaled(frame: np.ndarray, scale: float) -> np.ndarray:
    if scale == 1.0:
        return frame
    image = Image.fromarray(frame)
    return np.asarray(image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.BILINEAR))
