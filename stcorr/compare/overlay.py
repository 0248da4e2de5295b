"""The attempt drawn onto the reference in space and time: DIR/overlay.mp4, and what the page's overlay is drawn from.

For each reference frame t, the attempt's aligned frame is warped by the similarity transform
(rotation, uniform scale, translation; ``spatial.similarity_fit``) that maps the attempt's hips
and shoulders onto the reference's at t. Frames where either body lacks two of those joints take
the transform of the nearest frame that has them; the transforms are smoothed over
``SMOOTH_FRAMES`` so the ghost does not shake with the detector. overlay.mp4 shows, per reference
frame, two panels: the ghost (the warped attempt blended over the reference, ``GHOST_ALPHA``) and
the split (the reference left of a vertical line, the warped attempt right of it), both with the
trajectory traces of the chosen joints over the last ``TRACE_SECONDS`` (reference solid,
attempt dashed-looking: dots), in the reference's pixels. Streamed: one output frame in memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from PIL import Image, ImageDraw
from scipy.ndimage import gaussian_filter1d

from stcorr.compare.background import background_transforms
from stcorr.compare.pipeline import MIN_CONFIDENCE, Comparison
from stcorr.compare.points import point_paths
from stcorr.compare.render import at_scale, font, joint_colour
from stcorr.compare.spatial import similarity_fit
from stcorr.pose.skeleton import JOINTS
from stcorr.data.video import write_video

TORSO = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
TRACE_JOINTS = ("left_wrist", "right_wrist", "left_ankle", "right_ankle")
GHOST_ALPHA = 0.5
SMOOTH_FRAMES = 1.5
TRACE_SECONDS = 1.5
MAX_HEIGHT = 288
CHUNK = 32


def body_transforms(comparison: Comparison) -> np.ndarray:
    """(N, 2, 3) per reference frame the affine ``[A | b]`` taking attempt pixels (its aligned
    frame) to reference pixels (module docstring); the identity where no frame has both torsos."""
    n = comparison.reference.num_frames
    params = np.full((n, 4), np.nan)  # a, b (rotation-scale as a + ib), tx, ty
    for t in range(n):
        ref = comparison.reference_joints.joints_at(t, MIN_CONFIDENCE)
        att = comparison.attempt_joints.joints_at(int(comparison.attempt_times[t]), MIN_CONFIDENCE)
        shared = [j for j in TORSO if j in ref and j in att]
        if len(shared) >= 2:
            a, b = similarity_fit(np.array([att[j] for j in shared]), np.array([ref[j] for j in shared]))
            params[t] = (a[0, 0], a[1, 0], b[0], b[1])
    known = np.flatnonzero(np.isfinite(params[:, 0]))
    if not known.size:
        params[:] = (1.0, 0.0, 0.0, 0.0)
    else:
        nearest = known[np.abs(np.arange(n)[:, None] - known[None, :]).argmin(axis=1)]
        params = gaussian_filter1d(params[nearest], SMOOTH_FRAMES, axis=0, mode="nearest") if n > 1 else params[nearest]
    a, b, tx, ty = params.T
    return np.stack([np.stack([a, -b, tx], axis=1), np.stack([b, a, ty], axis=1)], axis=1)


def overlay_transforms(comparison: Comparison) -> np.ndarray:
    """Per reference frame the transform taking the attempt's aligned frame onto it: the bodies'
    (N, 2, 3) similarity (``body_transforms``), or with ``"overlay_registration": "background"``
    in the record the backgrounds' (N, 3, 3) homography (``background.background_transforms``)."""
    if comparison.record.get("overlay_registration") == "background":
        return background_transforms(comparison)
    return body_transforms(comparison)


def as_matrix(transform: np.ndarray) -> np.ndarray:
    """(3, 3) of a (2, 3) affine or (3, 3) projective transform."""
    return transform if transform.shape == (3, 3) else np.vstack([transform, [0.0, 0.0, 1.0]])


def apply(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(K, 2) points mapped by one (2, 3) affine or (3, 3) projective transform."""
    matrix = as_matrix(transform)
    mapped = points @ matrix[:2, :2].T + matrix[:2, 2]
    if transform.shape == (2, 3):
        return mapped
    with np.errstate(invalid="ignore", divide="ignore"):
        return mapped / (points @ matrix[2, :2] + matrix[2, 2])[:, None]


def warp_attempt(frame: np.ndarray, transform: np.ndarray, size: tuple[int, int], scale: float) -> Image.Image:
    """The attempt frame warped into the reference's frame, drawn at ``scale`` times the
    reference's ``size`` (width, height); pixel centres as docs/formats.md#coordinates (x + 0.5 scales). A frame much
    larger than the output is first reduced by a whole factor (a box filter: cheap, no aliasing)."""
    matrix = as_matrix(transform)
    gain = scale * float(np.sqrt(abs(np.linalg.det(matrix[:2, :2] / matrix[2, 2]))))  # output pixels per attempt pixel
    factor = max(1, int(1.0 / gain)) if gain > 0 else 1
    image = Image.fromarray(frame)
    if factor > 1:
        image = image.reduce(factor)
    # a reduced pixel p is the full-size pixel factor * p + (factor - 1) / 2; an output pixel q is scale * (x + 0.5) - 0.5
    unreduce = np.array([[factor, 0.0, (factor - 1) / 2], [0.0, factor, (factor - 1) / 2], [0.0, 0.0, 1.0]])
    to_output = np.array([[scale, 0.0, 0.5 * scale - 0.5], [0.0, scale, 0.5 * scale - 0.5], [0.0, 0.0, 1.0]])
    inverse = np.linalg.inv(to_output @ matrix @ unreduce)
    width, height = max(2, round(size[0] * scale)), max(2, round(size[1] * scale))
    if transform.shape == (2, 3):
        return image.transform((width, height), Image.AFFINE, tuple((inverse[:2] / inverse[2, 2]).ravel()), Image.BILINEAR)
    return image.transform((width, height), Image.PERSPECTIVE, tuple((inverse / inverse[2, 2]).ravel()[:8]), Image.BILINEAR)


def trace_points(comparison: Comparison, transforms: np.ndarray, joints: Sequence[str] = TRACE_JOINTS) -> tuple[np.ndarray, np.ndarray]:
    """((N, J, 2) the reference's ``joints`` (joint names, or the names of the points the user
    picked, ``comparison.points``) at each reference frame, (N, J, 2) the attempt's at its
    aligned frame mapped into the reference's pixels); NaN where not seen."""
    named = [j for j in joints if j in JOINTS]
    index = [JOINTS.index(j) for j in named]
    ref_track, att_track = comparison.reference_joints, comparison.attempt_joints
    u = comparison.attempt_times
    ref_points, att_points = point_paths(comparison.points, joints, u)
    ref = np.where((ref_track.visibility[:, index] >= MIN_CONFIDENCE)[..., None], ref_track.xy[:, index], np.nan)
    att_raw = np.where((att_track.visibility[u][:, index] >= MIN_CONFIDENCE)[..., None], att_track.xy[u][:, index], np.nan)
    order = _trace_order(joints, named)
    ref, att_raw = np.concatenate([ref, ref_points], axis=1)[:, order], np.concatenate([att_raw, att_points], axis=1)[:, order]
    att = np.stack([apply(transforms[t], att_raw[t]) for t in range(len(u))]) if len(u) else att_raw
    return ref, att


def _trace_order(traces: Sequence[str], joints: list[str]) -> list[int]:
    """Where each of ``traces`` sits in [joints..., then the picked points in their order]."""
    points = [t for t in traces if t not in joints]
    return [joints.index(t) if t in joints else len(joints) + points.index(t) for t in traces]


def draw_traces(image: Image.Image, ref: np.ndarray, att: np.ndarray, joints: Sequence[str], t: int,
                span: int, scale: float) -> None:
    """The last ``span`` frames of each joint's path up to frame t: the reference's a line, the attempt's dots."""
    draw = ImageDraw.Draw(image)
    start = max(0, t - span)
    for k, joint in enumerate(joints):
        colour = joint_colour(joint)
        path = [((x + 0.5) * scale - 0.5, (y + 0.5) * scale - 0.5) for x, y in ref[start:t + 1, k] if np.isfinite(x)]
        if len(path) > 1:
            draw.line(path, fill=colour, width=2)
        for x, y in att[start:t + 1, k]:
            if np.isfinite(x):
                cx, cy = (x + 0.5) * scale - 0.5, (y + 0.5) * scale - 0.5
                draw.ellipse([cx - 2, cy - 2, cx + 2, cy + 2], outline=colour, width=1)


def overlay_frames(comparison: Comparison, joints: Sequence[str] = TRACE_JOINTS, height: int | None = None) -> Iterator[np.ndarray]:
    """overlay.mp4's frames (module docstring), streamed."""
    width_ref, height_ref = comparison.reference.size
    scale = min(height or MAX_HEIGHT, height_ref) / height_ref
    transforms = overlay_transforms(comparison)
    ref_points, att_points = trace_points(comparison, transforms, joints)
    span = max(1, int(round(TRACE_SECONDS * comparison.fps[0])))
    n = comparison.reference.num_frames
    for start in range(0, n, CHUNK):
        times = list(range(start, min(n, start + CHUNK)))
        wanted = sorted({int(comparison.attempt_times[t]) for t in times})
        attempts = dict(zip(wanted, comparison.attempt.frames(wanted)))
        for t, ref_frame in zip(times, comparison.reference.frames(times)):
            reference = at_scale(ref_frame, scale)
            warped = warp_attempt(attempts[int(comparison.attempt_times[t])], transforms[t], (width_ref, height_ref), scale)
            ghost = Image.blend(reference, warped, GHOST_ALPHA)
            split = reference.copy()
            half = reference.width // 2
            split.paste(warped.crop((half, 0, warped.width, warped.height)), (half, 0))
            for panel in (ghost, split):
                draw_traces(panel, ref_points, att_points, joints, t, span, scale)
            canvas = Image.new("RGB", (2 * reference.width + 6 + (2 * reference.width + 6) % 2, reference.height + 20), (24, 26, 30))
            canvas.paste(ghost, (0, 20))
            canvas.paste(split, (reference.width + 6, 20))
            draw = ImageDraw.Draw(canvas)
            draw.line([(reference.width + 6 + half, 20), (reference.width + 6 + half, canvas.height)], fill=(255, 214, 10), width=2)
            u = int(comparison.attempt_times[t])
            draw.text((4, 3), f"ghost: reference t={t} + attempt t={u}", fill=(236, 236, 236), font=font(12))
            draw.text((reference.width + 10, 3), "split: reference | attempt", fill=(236, 236, 236), font=font(12))
            yield np.asarray(canvas)


def write_overlay(comparison: Comparison, path: str | Path, joints: Sequence[str] = TRACE_JOINTS) -> Path:
    """Writes overlay.mp4 (H.264, atomically) at the reference's frame rate."""
    return write_video(path, overlay_frames(comparison, joints), fps=comparison.fps[0], options={"preset": "superfast", "crf": "26"})
