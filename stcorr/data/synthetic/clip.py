"""One synthetic video from its seed: performer, performance, objects, camera, look, frames, labels.

Everything is drawn from ``numpy.random.SeedSequence(entropy)`` through separate child streams,
so a video depends on its seed only (not on which worker makes it, nor on other videos).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
from PIL import Image, ImageDraw

from stcorr.data.synthetic.actions import SPECS
from stcorr.data.synthetic.background import THEMES, Canvas, make_background, random_colour, rgb
from stcorr.data.synthetic.body import sample_body
from stcorr.data.synthetic.camera import NEAREST, Camera, sample_camera
from stcorr.data.synthetic.motion import Performance, perform
from stcorr.data.synthetic.props import Scene, build_scene, mirror_scene
from stcorr.data.synthetic.realism import (Photo, Realism, compress, draw_occluders, dress, light, sample_realism,
                                           subframe_painters, with_photo)
from stcorr.data.synthetic.render import Look, Painter, sample_look

JPEG_QUALITY = 90


@dataclass
class Clip:
    """A video ready to draw: what it shows and its labels in pixels of the frame."""

    action: str
    size: tuple[int, int]  # (width, height)
    performance: Performance
    scene: Scene
    camera: Camera
    look: Look
    mirrored: bool
    theme: str
    painter: Painter
    background: Image.Image
    ground: tuple[int, int, int]
    ss: int
    pad: int
    noise_sigma: float
    gain: np.ndarray
    movers: list
    render_seed: np.random.SeedSequence
    realism: Realism | None = None  # None: the plain look (realism 0)

    @property
    def n_frames(self) -> int:
        return self.performance.n_frames

    @property
    def key_moments(self) -> list[int]:
        return [int(t) for t in self.performance.moments]

    def joints_xy(self) -> np.ndarray:
        """(T, 13, 2) joints in pixels of the final frame, wherever they are (also outside the frame)."""
        return self._final(self.painter.joints_xy)

    def camera_joints(self) -> np.ndarray:
        """(T, 13, 3) true 3D joints in metres in the camera's axes (x right, y down, z away from the
        camera: MediaPipe's world frame up to a translation), before any 2D realism effect."""
        axes = np.stack([self.camera.right, -self.camera.up, self.camera.forward], 1)
        return self.performance.skeleton.joints @ axes

    def body_box(self) -> np.ndarray:
        """(T, 4) [x1, y1, x2, y2] of the drawn body in the final frame, clipped to it."""
        box = self.painter.body_box(self.size)
        if self.realism is None or self.realism.zoom is None:
            return box
        width, height = self.size
        corners = self.realism.to_final(box.reshape(-1, 2, 2)).reshape(-1, 4)
        return np.clip(corners, 0, [width - 1, height - 1, width - 1, height - 1])

    def _final(self, xy: np.ndarray) -> np.ndarray:
        return xy if self.realism is None else self.realism.to_final(xy)

    def object_points(self) -> dict[int, dict[str, list[float]]]:
        """{frame: {object: [x, y]}} for every object present and inside the frame on that frame."""
        width, height = self.size
        out: dict[int, dict[str, list[float]]] = {}
        for name, track in self.scene.keypoints.items():
            xy, depth = self.camera.project(track)
            xy = self._final(xy)
            ok = np.isfinite(xy).all(-1) & (np.nan_to_num(depth) > NEAREST)
            ok &= (xy[:, 0] >= 0) & (xy[:, 0] <= width - 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= height - 1)
            for t in np.flatnonzero(ok):
                out.setdefault(int(t), {})[name] = [round(float(xy[t, 0]), 2), round(float(xy[t, 1]), 2)]
        return {t: out[t] for t in sorted(out)}


def make_clip(action: str, entropy, size: tuple[int, int], view: str | None = None, realism: float = 0.0,
              photos: Sequence[Photo] = ()) -> Clip:
    """The video of ``action`` drawn from seed ``entropy`` (an int or a sequence of ints) at ``size``
    (width, height); ``view`` forces the camera side (front, back, left, right). ``realism`` in
    [0, 1] adds the effects of realism.py, drawn from a seed stream of their own (at 0 the video
    is what it always was); ``photos`` are the background photographs to draw from."""
    seeds = np.random.SeedSequence(entropy).spawn(5)
    motion_rng, scene_rng, camera_rng, look_rng = (np.random.default_rng(s) for s in seeds[:4])
    body = sample_body(motion_rng)
    perf = perform(action, body, motion_rng)
    scene = build_scene(perf, scene_rng)
    skel = perf.skeleton
    mirrored = bool(scene_rng.random() < 0.25)
    if mirrored:
        skel, scene = skel.mirrored(), mirror_scene(scene)
        perf.skeleton = skel
    framed = [skel.joints] + [v[:, None] for k, v in scene.keypoints.items() if k in ("bat", "club_head", "racket", "bar")]
    camera = sample_camera(np.concatenate(framed, 1), size, camera_rng, view)
    look = sample_look(look_rng)
    theme = SPECS[action].theme if look_rng.random() < 0.8 else str(look_rng.choice(THEMES))
    ss = 2 if size[0] * size[1] <= 256 * 256 else 1
    pad = int(np.ceil(0.04 * max(size))) + 2
    canvas = Canvas(camera, size, pad, ss)
    background, ground = make_background(theme, canvas, look_rng)
    painter = Painter(skel, scene, body, camera, look, ss)
    movers = _movers(look_rng, size, ss, perf.n_frames)
    real = None
    if realism > 0:
        realism_rng = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(len(seeds),)))
        real = sample_realism(realism, realism_rng, size, perf.n_frames, look, photos, canvas, painter.body_box(size))
        background = with_photo(background, real, canvas.horizon())
    return Clip(action, tuple(size), perf, scene, camera, look, mirrored, theme, painter, background, ground, ss, pad,
                float(look_rng.uniform(1.5, 5.0)), look_rng.uniform(0.9, 1.1, 3), movers, seeds[4], real)


def _movers(rng: np.random.Generator, size, ss, n) -> list:
    """0 to 2 distractor shapes that drift across the frame behind the performer."""
    movers = []
    for _ in range(int(rng.choice([0, 1, 1, 2]))):
        start = rng.uniform(0, 1, 2) * np.array(size) * ss
        velocity = rng.normal(0, 0.01, 2) * np.array(size) * ss
        radius = rng.uniform(0.02, 0.08) * max(size) * ss
        movers.append((start, velocity, radius, random_colour(rng), int(rng.integers(2))))
    return movers


def render_frames(clip: Clip) -> Iterator[tuple[Image.Image, np.ndarray, np.ndarray]]:
    """Frames (RGB, native size) with, per joint, whether it is inside the frame and visible."""
    frames = _render(clip)
    if clip.realism is None or clip.realism.compression is None:
        yield from frames
        return
    images, inside, visible = zip(*frames)
    yield from zip(compress(clip.realism, list(images)), inside, visible)


def _render(clip: Clip) -> Iterator[tuple[Image.Image, np.ndarray, np.ndarray]]:
    width, height = clip.size
    real = clip.realism
    blurred = subframe_painters(clip.painter, real.exposure, real.subframes) if real and real.exposure > 0 else None
    ss, pad = clip.ss, clip.pad
    rng = np.random.default_rng(clip.render_seed)
    noise = rng.normal(0, clip.noise_sigma, (height + 16, width + 16, 3)).astype(np.float32)
    skel, cam = clip.painter.skel, clip.camera
    ground_xy, ground_depth = cam.project(skel.pelvis * np.array([1.0, 0.0, 1.0]))
    shadow_r = cam.pixels(0.45 * clip.performance.body.scale, np.maximum(ground_depth, NEAREST)) * ss
    shadow_colour = rgb(np.asarray(clip.ground) * 0.6)
    for t in range(clip.n_frames):
        ox, oy = (np.round((pad - cam.pan[t]) * ss)).astype(int)
        image = clip.background.crop((ox, oy, ox + width * ss, oy + height * ss))
        draw = ImageDraw.Draw(image)
        if ground_depth[t] > NEAREST:
            c, r = ground_xy[t] * ss + ss / 2, shadow_r[t]
            draw.ellipse([c[0] - r, c[1] - r * 0.22, c[0] + r, c[1] + r * 0.22], fill=shadow_colour)
        for start, velocity, radius, colour, shape in clip.movers:
            c = start + velocity * t
            box = [c[0] - radius, c[1] - radius * 0.7, c[0] + radius, c[1] + radius * 0.7]
            (draw.ellipse if shape else draw.rectangle)(box, fill=colour)
        part_map = Image.new("L", image.size, 0)
        if real is None:
            clip.painter.draw(t, image, part_map)
        else:
            image = _draw_real(clip, real, blurred, t, image, part_map)
            draw_occluders(real, image, part_map, np.array([ox, oy], float))
        inside, visible = clip.painter.visibility(t, np.asarray(part_map), clip.size)
        if real is not None and real.zoom is not None:
            image = real.warp(t, image, Image.BILINEAR)
            xy = real.to_final(clip.painter.joints_xy[t], t)
            inside = inside & (xy >= 0).all(-1) & (xy[:, 0] <= width - 1) & (xy[:, 1] <= height - 1)
            visible = visible & inside
        if ss > 1:
            image = image.reduce(ss)
        dx, dy = rng.integers(0, 16, 2)
        pixels = np.asarray(image, np.float32)
        if real is not None:
            pixels = light(real, t, pixels)
        pixels = pixels * clip.gain + noise[dy:dy + height, dx:dx + width]
        yield Image.fromarray(np.clip(pixels + 0.5, 0, 255).astype(np.uint8)), inside, visible


def _draw_real(clip: Clip, real: Realism, blurred: list[Painter] | None, t: int, image: Image.Image,
               part_map: Image.Image) -> Image.Image:
    """The performer and objects over ``image`` with textures, averaged over sub-frames when
    ``blurred``; ``part_map`` gets the parts at frame t itself (for visibility)."""
    if blurred is None:
        clip.painter.draw(t, image, part_map)
        return dress(real, clip.painter, t, image, np.asarray(part_map))
    if clip.painter not in blurred:
        clip.painter.draw(t, image.copy(), part_map)
    total = np.zeros((image.height, image.width, 3), np.float32)
    for painter in blurred:
        sub, sub_map = image.copy(), part_map if painter is clip.painter else Image.new("L", image.size, 0)
        painter.draw(t, sub, sub_map)
        total += np.asarray(dress(real, painter, t, sub, np.asarray(sub_map)), np.float32)
    return Image.fromarray(np.clip(total / len(blurred) + 0.5, 0, 255).astype(np.uint8))
