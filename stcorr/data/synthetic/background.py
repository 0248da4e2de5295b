"""Backgrounds: a sky or wall above the horizon, a textured ground with lines in perspective,
stands, trees or racks, and distractor shapes. Drawn once per video on a canvas larger than the
frame so that the camera can pan over it.
"""

from __future__ import annotations

import colorsys

import numpy as np
from PIL import Image, ImageDraw

from stcorr.data.synthetic.camera import Camera

THEMES = ("baseball", "golf", "court", "lane", "gym")


def rgb(values) -> tuple[int, int, int]:
    return tuple(int(np.clip(round(float(v)), 0, 255)) for v in values)


def jitter(colour, rng: np.random.Generator, amount: float = 18) -> tuple[int, int, int]:
    return rgb(np.asarray(colour, dtype=float) + rng.normal(0, amount, 3))


def random_colour(rng: np.random.Generator, saturation=(0.2, 0.9), value=(0.3, 0.95)) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(*saturation), rng.uniform(*value))
    return rgb(np.array([r, g, b]) * 255)


class Canvas:
    """Projects static world geometry onto a background canvas (supersampled, padded)."""

    def __init__(self, camera: Camera, size: tuple[int, int], pad: int, ss: int):
        self.camera, self.pad, self.ss = camera, pad, ss
        self.width, self.height = (size[0] + 2 * pad) * ss, (size[1] + 2 * pad) * ss

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cam = self.camera
        rel = np.asarray(points, dtype=float) - cam.position
        depth = rel @ cam.forward
        xy = np.stack([rel @ cam.right, -(rel @ cam.up)], -1) * (cam.focal / np.maximum(depth, 1e-3))[..., None]
        return (xy + cam.centre + self.pad) * self.ss + self.ss / 2, depth

    def horizon(self) -> float:
        """Canvas row of the horizon (far points of the ground plane)."""
        fwd = self.camera.forward * np.array([1.0, 0.0, 1.0])
        far = self.camera.position * np.array([1.0, 0.0, 1.0]) + fwd / np.linalg.norm(fwd) * 1e5
        return float(self.project(far)[0][1])

    def ground_segment(self, draw: ImageDraw.ImageDraw, a, b, colour, width_m: float) -> None:
        """A line on the ground from a to b (world x, z), clipped in front of the camera."""
        a3, b3 = np.array([a[0], 0.0, a[1]]), np.array([b[0], 0.0, b[1]])
        (pa, pb), (da, db) = self.project(np.stack([a3, b3]))
        near = 0.8
        if da < near and db < near:
            return
        if da < near or db < near:  # clip the end behind the near plane
            u = (near - da) / (db - da)
            cut = a3 + (b3 - a3) * u
            if da < near:
                a3, da = cut, near
            else:
                b3, db = cut, near
            (pa, pb), _ = self.project(np.stack([a3, b3]))
        width = max(1, int(round(self.camera.focal * self.ss * width_m / ((da + db) / 2))))
        draw.line([tuple(pa), tuple(pb)], fill=colour, width=width)

    def ground_polygon(self, draw: ImageDraw.ImageDraw, xz: np.ndarray, colour) -> None:
        """A polygon on the ground (world x, z), clipped in front of the camera (Sutherland-Hodgman)."""
        pts = np.stack([xz[:, 0], np.zeros(len(xz)), xz[:, 1]], -1)
        depth = (pts - self.camera.position) @ self.camera.forward
        near, kept = 0.8, []
        for i in range(len(pts)):
            a, b, da, db = pts[i - 1], pts[i], depth[i - 1], depth[i]
            if (da >= near) != (db >= near):
                kept.append(a + (b - a) * (near - da) / (db - da))
            if db >= near:
                kept.append(b)
        if len(kept) >= 3:
            draw.polygon([tuple(p) for p in self.project(np.stack(kept))[0]], fill=colour)


def _gradient(top, bottom, rows: int, width: int) -> np.ndarray:
    u = np.linspace(0, 1, max(rows, 1))[:, None, None]
    col = np.asarray(top, float) * (1 - u) + np.asarray(bottom, float) * u
    return np.broadcast_to(col, (max(rows, 1), width, 3))


def _sky_and_ground(canvas: Canvas, sky_top, sky_bottom, ground) -> tuple[np.ndarray, int]:
    horizon = int(np.clip(round(canvas.horizon()), -1, canvas.height))
    img = np.empty((canvas.height, canvas.width, 3))
    if horizon > 0:
        img[:horizon] = _gradient(sky_top, sky_bottom, horizon, canvas.width)[:horizon]
    if horizon < canvas.height:
        rows = canvas.height - max(horizon, 0)
        img[max(horizon, 0):] = _gradient(np.asarray(ground) * 0.85, ground, rows, canvas.width)
    return img, horizon


def _band(draw: ImageDraw.ImageDraw, canvas: Canvas, horizon: int, height: int, rng, kind: str, base) -> None:
    """Stands (a crowd of small blobs), a tree line or a wall of racks just above the horizon."""
    top = horizon - height
    if kind == "stands":
        draw.rectangle([0, top, canvas.width, horizon], fill=jitter(base, rng))
        n = int(canvas.width * height / (6 * canvas.ss) ** 2 * 1.5)
        xs, ys = rng.uniform(0, canvas.width, n), rng.uniform(top, horizon, n)
        r = 1.2 * canvas.ss
        for x, y in zip(xs, ys):
            draw.ellipse([x - r, y - r, x + r, y + r], fill=random_colour(rng, (0.1, 0.8), (0.3, 1.0)))
    elif kind == "trees":
        for x in np.arange(-20, canvas.width + 20, rng.uniform(8, 20) * canvas.ss):
            h = rng.uniform(0.4, 1.0) * height
            w = rng.uniform(0.5, 1.2) * h
            draw.ellipse([x - w / 2, horizon - h, x + w / 2, horizon + 2], fill=jitter(base, rng, 12))
    elif kind == "racks":
        draw.rectangle([0, top, canvas.width, horizon], fill=jitter(base, rng))
        for x in np.arange(rng.uniform(0, 30), canvas.width, rng.uniform(25, 60) * canvas.ss):
            c = jitter((50, 50, 55), rng, 10)
            w = max(1, canvas.ss * 2)
            draw.rectangle([x, top + height * 0.1, x + w, horizon], fill=c)
            draw.rectangle([x, top + height * 0.45, x + rng.uniform(10, 30) * canvas.ss, top + height * 0.45 + w], fill=c)


def _distractors(draw: ImageDraw.ImageDraw, canvas: Canvas, rng, count: int) -> None:
    for _ in range(count):
        x, y = rng.uniform(0, canvas.width), rng.uniform(0, canvas.height * 0.8)
        w, h = rng.uniform(0.03, 0.15) * canvas.width, rng.uniform(0.03, 0.15) * canvas.height
        colour = random_colour(rng)
        shape = rng.integers(3)
        if shape == 0:
            draw.rectangle([x, y, x + w, y + h], fill=colour)
        elif shape == 1:
            draw.ellipse([x, y, x + w, y + h], fill=colour)
        else:
            pts = [(x + rng.uniform(0, w), y + rng.uniform(0, h)) for _ in range(rng.integers(3, 6))]
            draw.polygon(pts, fill=colour)


def _texture(shape: tuple[int, int], rng: np.random.Generator, strength: float) -> np.ndarray:
    """Multiplicative low-frequency texture, (H, W, 1), around 1."""
    cells = [Image.fromarray(rng.uniform(0, 255, (n, n)).astype(np.uint8)).resize((shape[1], shape[0]), Image.BILINEAR)
             for n in (4, 16)]
    tex = (np.asarray(cells[0], float) * 0.6 + np.asarray(cells[1], float) * 0.4) / 255 - 0.5
    return (1 + strength * tex)[..., None]


def make_background(theme: str, canvas: Canvas, rng: np.random.Generator) -> tuple[Image.Image, tuple[int, int, int]]:
    """The background canvas of a video and its ground colour (for the shadow)."""
    sky_top, sky_bottom = jitter((110, 160, 220), rng, 20), jitter((190, 215, 240), rng, 15)
    if theme == "baseball":
        ground = jitter((70, 135, 60), rng)
    elif theme == "golf":
        ground = jitter((85, 150, 70), rng)
    elif theme == "court":
        ground = jitter([(50, 90, 150), (60, 120, 80), (190, 100, 60), (100, 140, 70)][rng.integers(4)], rng, 10)
        sky_top = sky_bottom = jitter([(30, 70, 50), (30, 50, 100), (70, 70, 75)][rng.integers(3)], rng, 10)
    elif theme == "lane":
        ground = jitter((200, 160, 110), rng, 12)
        sky_top, sky_bottom = jitter((30, 30, 45), rng, 10), jitter((60, 60, 80), rng, 10)
    else:
        ground = jitter([(45, 45, 50), (150, 110, 70), (90, 90, 95)][rng.integers(3)], rng, 10)
        sky_top = sky_bottom = jitter([(200, 195, 185), (150, 155, 160), (120, 130, 150)][rng.integers(3)], rng, 15)
    img, horizon = _sky_and_ground(canvas, sky_top, sky_bottom, ground)
    image = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    band = int(rng.uniform(0.1, 0.3) * canvas.height)
    if theme == "baseball":
        _band(draw, canvas, horizon, band, rng, "stands", (60, 60, 70))
        for stripe in range(-12, 12, 2):
            canvas.ground_polygon(draw, np.array([[-30, stripe], [30, stripe], [30, stripe + 1], [-30, stripe + 1]]),
                                  rgb(np.asarray(ground) * 1.08))
        t = np.linspace(0, 2 * np.pi, 24)
        r = rng.uniform(1.5, 3.0)
        canvas.ground_polygon(draw, np.stack([r * np.cos(t), r * np.sin(t)], -1), jitter((170, 125, 80), rng, 12))
        for x in (-0.6, 0.6):
            canvas.ground_segment(draw, (x, -1.0), (x, 1.2), (235, 235, 230), 0.05)
    elif theme == "golf":
        _band(draw, canvas, horizon, band, rng, "trees", (40, 80, 40))
        for stripe in range(-20, 20, 3):
            canvas.ground_polygon(draw, np.array([[-40, stripe], [40, stripe], [40, stripe + 1.5], [-40, stripe + 1.5]]),
                                  rgb(np.asarray(ground) * 1.1))
    elif theme == "court":
        draw.rectangle([0, horizon - band, canvas.width, horizon - band * 0.7], fill=random_colour(rng))
        white = (235, 235, 235)
        base_z = rng.uniform(-1.0, -0.4)
        for a, b in (((-5.5, base_z), (5.5, base_z)), ((-5.5, base_z), (-5.5, base_z + 12)), ((5.5, base_z), (5.5, base_z + 12)),
                     ((-4.1, base_z), (-4.1, base_z + 12)), ((4.1, base_z), (4.1, base_z + 12)),
                     ((-4.1, base_z + 5.5), (4.1, base_z + 5.5)), ((0, base_z + 5.5), (0, base_z + 12)), ((0, base_z), (0, base_z + 0.2))):
            canvas.ground_segment(draw, a, b, white, 0.05)
    elif theme == "lane":
        for x in np.arange(-3.0, 3.1, 0.12):
            canvas.ground_segment(draw, (x, -6), (x, 25), rgb(np.asarray(ground) * rng.uniform(0.88, 1.0)), 0.01)
        for x in (-0.65, 0.65):
            canvas.ground_polygon(draw, np.array([[x - 0.12, -6], [x + 0.12, -6], [x + 0.12, 25], [x - 0.12, 25]]), (40, 40, 45))
        canvas.ground_segment(draw, (-0.6, 0.9), (0.6, 0.9), (30, 30, 30), 0.02)
        for i, x in enumerate(np.linspace(-0.45, 0.45, 7)):
            canvas.ground_polygon(draw, np.array([[x - 0.03, 5.0 + abs(i - 3) * 0.3], [x + 0.03, 5.0 + abs(i - 3) * 0.3],
                                                  [x, 5.3 + abs(i - 3) * 0.3]]), (40, 40, 140))
    else:
        _band(draw, canvas, horizon, band, rng, "racks", sky_bottom)
        canvas.ground_polygon(draw, np.array([[-1.5, -1.5], [1.5, -1.5], [1.5, 1.5], [-1.5, 1.5]]), jitter(ground, rng, 15))
    _distractors(draw, canvas, rng, int(rng.integers(2, 8)))
    arr = np.asarray(image, float) * _texture((canvas.height, canvas.width), rng, rng.uniform(0.1, 0.3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)), ground
