"""DIR/side_by_side.mp4: the reference and, beside it, the attempt time-warped onto it.

One output frame per reference frame (at the reference's rate), the attempt's aligned frame on
the right; both bodies' limbs drawn from the pose track; at each key moment the reference's
matched points on the left and where they went on the right (same colour per joint), the
moment's name in the banner, held for ``HOLD_SECONDS``. Frames are streamed: a chunk of each
video at a time, one output frame in memory.
"""

from __future__ import annotations

import colorsys
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from stcorr.compare.pipeline import MIN_CONFIDENCE, Comparison
from stcorr.pose.skeleton import JOINTS, LIMBS, Joints, limb_side
from stcorr.data.video import write_video

BANNER = 34
GAP = 6
HOLD_SECONDS = 0.6
CHUNK = 32
BACKGROUND = (24, 26, 30)
TEXT = (236, 236, 236)
KEY_TEXT = (255, 214, 10)
SIDE_COLOURS = {"left": (255, 150, 40), "right": (40, 170, 255), "centre": (235, 235, 235)}


def joint_colour(name: str) -> tuple[int, int, int]:
    """A distinct colour per joint (hues spread around the wheel)."""
    if name not in JOINTS:  # a point the user picked ("point 1", ...): pale, between the joints' hues
        k = int(name.rsplit(" ", 1)[-1]) if name.rsplit(" ", 1)[-1].isdigit() else 0
        return tuple(int(255 * c) for c in colorsys.hsv_to_rgb((k * 0.381966 + 0.04) % 1.0, 0.35, 1.0))  # type: ignore[return-value]
    return tuple(int(255 * c) for c in colorsys.hsv_to_rgb(JOINTS.index(name) / len(JOINTS), 0.85, 1.0))  # type: ignore[return-value]


@lru_cache(maxsize=4)
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def panel_height(comparison: Comparison, limit: int = 480, least: int = 360) -> int:
    """Output height of both panels: the reference's, kept within [least, limit], even; a reference
    taller than ``limit`` is divided by the smallest whole factor that brings it within, when that
    stays at least ``least`` (720 -> 360, 1080 -> 360: a box reduction, no resampling)."""
    native = comparison.reference.size[1]
    height = min(max(native, least), limit)
    factor = -(-native // limit)
    if native > limit and native % factor == 0 and native // factor >= least:
        height = native // factor
    return height - height % 2


def at_scale(frame: np.ndarray, scale: float) -> Image.Image:
    """The frame at ``scale``: reduced by a whole factor first when much larger (a box filter:
    cheap, no aliasing), resampled only for what is left."""
    image = Image.fromarray(frame)
    width, height = max(2, round(image.width * scale)), max(2, round(image.height * scale))
    factor = max(1, int(1.0 / scale + 1e-6))
    if factor > 1:
        image = image.reduce(factor)
    return image if image.size == (width, height) else image.resize((width, height), Image.BILINEAR)


def scaled(frame: np.ndarray, height: int) -> tuple[Image.Image, float]:
    """The frame at ``height`` (aspect kept, ``at_scale``), and the scale factor."""
    scale = height / frame.shape[0]
    return at_scale(frame, scale), scale


def draw_skeleton(draw: ImageDraw.ImageDraw, joints: Joints, scale: float, dx: int, dy: int) -> None:
    def at(name: str) -> tuple[float, float]:
        x, y = joints[name]
        return ((x + 0.5) * scale - 0.5 + dx, (y + 0.5) * scale - 0.5 + dy)

    for a, b in LIMBS:
        if a in joints and b in joints:
            draw.line([at(a), at(b)], fill=(0, 0, 0), width=5)
            draw.line([at(a), at(b)], fill=SIDE_COLOURS[limb_side(a, b)], width=3)


def draw_point(draw: ImageDraw.ImageDraw, xy: tuple[float, float], colour, diamond: bool) -> None:
    x, y, r = xy[0], xy[1], 6
    shape = [(x, y - r), (x + r, y), (x, y + r), (x - r, y)] if diamond else None
    if diamond:
        draw.polygon(shape, fill=colour, outline=(0, 0, 0))
    else:
        draw.ellipse([x - r, y - r, x + r, y + r], fill=colour, outline=(0, 0, 0), width=2)


def compose(comparison: Comparison, t: int, ref_frame: np.ndarray, att_frame: np.ndarray, height: int,
            moment: tuple[int, dict] | None) -> np.ndarray:
    """One output frame (RGB uint8) for reference frame t."""
    ref_image, ref_scale = scaled(ref_frame, height)
    att_image, att_scale = scaled(att_frame, height)
    width = ref_image.width + GAP + att_image.width
    canvas = Image.new("RGB", (width + width % 2, height + BANNER), BACKGROUND)
    canvas.paste(ref_image, (0, BANNER))
    canvas.paste(att_image, (ref_image.width + GAP, BANNER))
    draw = ImageDraw.Draw(canvas)
    u = int(comparison.attempt_times[t])
    ref_fps, att_fps = comparison.fps
    draw.text((6, 2), f"reference  t={t}  {t / ref_fps:.2f} s", fill=TEXT, font=font(13))
    draw.text((ref_image.width + GAP + 6, 2), f"attempt  t={u}  {u / att_fps:.2f} s", fill=TEXT, font=font(13))
    draw_skeleton(draw, comparison.reference_joints.joints_at(t, MIN_CONFIDENCE), ref_scale, 0, BANNER)
    draw_skeleton(draw, comparison.attempt_joints.joints_at(u, MIN_CONFIDENCE), att_scale, ref_image.width + GAP, BANNER)
    if moment is not None:
        index, row = moment
        label = f"key moment {index + 1}" + (f": {row['name']}" if row.get("name") else "")
        draw.text((6, 17), label, fill=KEY_TEXT, font=font(13))
        for point in row["points"]:
            colour = joint_colour(point["name"])
            _, x, y = point["reference"]
            draw_point(draw, ((x + 0.5) * ref_scale - 0.5, (y + 0.5) * ref_scale - 0.5 + BANNER), colour, False)
            _, x, y = point["attempt"]
            draw_point(draw, ((x + 0.5) * att_scale - 0.5 + ref_image.width + GAP, (y + 0.5) * att_scale - 0.5 + BANNER),
                       colour, True)
    return np.asarray(canvas)


def side_by_side_frames(comparison: Comparison, height: int | None = None) -> Iterator[np.ndarray]:
    """Output frames, streamed (module docstring)."""
    height = height or panel_height(comparison)
    moments = {row["reference_t"]: (i, row) for i, row in enumerate(comparison.record["key_moments"])}
    hold = max(1, int(round(HOLD_SECONDS * comparison.fps[0])))
    n = comparison.reference.num_frames
    for start in range(0, n, CHUNK):
        times = list(range(start, min(n, start + CHUNK)))
        ref_frames = comparison.reference.frames(times)
        wanted = sorted({int(comparison.attempt_times[t]) for t in times})
        att_frames = dict(zip(wanted, comparison.attempt.frames(wanted)))
        for t, ref_frame in zip(times, ref_frames):
            frame = compose(comparison, t, ref_frame, att_frames[int(comparison.attempt_times[t])], height, moments.get(t))
            for _ in range(hold if t in moments else 1):
                yield frame


def write_side_by_side(comparison: Comparison, path: str | Path) -> Path:
    """Writes the side-by-side video (H.264 mp4, atomically) at the reference's frame rate."""
    return write_video(path, side_by_side_frames(comparison), fps=comparison.fps[0], options={"preset": "superfast", "crf": "26"})
