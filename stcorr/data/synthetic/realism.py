"""Realism for the synthetic benchmark (``stcorr synth --realism R``, 0 <= R <= 1).

At R = 0 nothing here runs and synth writes what it always wrote. Above 0, each video draws, from
its own seed stream, which of these effects it gets (each with a probability proportional to R)
and how strong they are (also proportional to R):

- a real photograph as background (cropped, scaled, shifted, mirrored, defocused, colour-jittered),
  over the whole frame or above the horizon only;
- textured clothes and skin: per-person garment patterns (stripes, noise), a colour gain per
  limb, fabric and skin grain, shading across limbs; the textures follow the parts they are on;
- motion blur: each frame is the average of sub-frame renders of the performer and the objects
  over an exposure of part of the frame interval;
- lighting that changes over time: gain, colour cast and a spatial gradient;
- camera motion and zoom: a window of the rendered frame, 1 to 1.6 times smaller, that drifts and
  shakes, scaled up to the frame; the labels (joints, object keypoints, boxes) go through the same
  map, so they are where the parts appear in the final frame;
- partial occlusion by foreground objects (poles, rails, a spectator's head), defocused; a joint
  behind one is labelled not visible (docs/formats.md#penn-action-layout: occluded joints keep their coordinates);
- compression artefacts: the video encoded with H.264 at a low quality (PyAV) or each frame as a
  low-quality JPEG, then decoded.

Coordinates: frame pixels, x right, y down, pixel i centred on i (docs/formats.md#coordinates); the canvas is ``ss``
times finer, frame pixel i covering canvas [i * ss, (i + 1) * ss).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import io
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from stcorr.data.synthetic.background import Canvas, random_colour
from stcorr.data.synthetic.render import (
    HEAD, L_FARM, L_FOOT, L_HAND, L_SHIN, L_THIGH, L_UARM, NECK, PELVIS, R_FARM, R_FOOT, R_HAND, R_SHIN, R_THIGH,
    R_UARM, TORSO, Look, Painter)
from stcorr.errors import StcorrError

FOREGROUND = 31  # part-map grey level of a foreground occluder: the joints under it are not visible
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
# Photographs of scenes that ship inside packages (paths inside each package's folder), used when
# no --backgrounds folder is given. Portraits (scikit-image's astronaut, matplotlib's Grace Hopper)
# are left out: a big unlabelled person behind the performer is not what sports videos show.
PACKAGED_PHOTOS = {
    "skimage": ["data/coffee.png", "data/chelsea.png", "data/rocket.jpg", "data/motorcycle_left.png"],
    "sklearn": ["datasets/images/china.jpg", "datasets/images/flower.jpg"],
}
MIN_PHOTO_SIDE = 64
# How often each effect is on at R = 1 (at R it is on with R times this probability).
CHANCE = {"photo": 0.85, "texture": 0.9, "blur": 0.6, "lighting": 0.8, "view": 0.7, "occluder": 0.35, "compression": 0.8}


@dataclass(frozen=True)
class Photo:
    path: str
    sha256: str


def packaged_photos() -> list[Photo]:
    """Photographs inside installed packages (scikit-image, scikit-learn, matplotlib), found
    without importing them."""
    found = []
    for package, names in PACKAGED_PHOTOS.items():
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.submodule_search_locations:
            continue
        root = Path(list(spec.submodule_search_locations)[0])
        found += [root / name for name in names if (root / name).is_file()]
    return [_checked_photo(p) for p in found]


def folder_photos(folder: str | Path) -> list[Photo]:
    """The images directly inside ``folder`` (sorted by name); StcorrError when there are none or one is unreadable."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise StcorrError("backgrounds folder not found", folder)
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES and p.is_file())
    if not paths:
        raise StcorrError(f"no images ({', '.join(PHOTO_SUFFIXES)}) in the backgrounds folder", folder)
    return [_checked_photo(p) for p in paths]


def _checked_photo(path: Path) -> Photo:
    try:
        data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            small = min(image.size) < MIN_PHOTO_SIDE
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise StcorrError(f"not a readable image ({' '.join(str(err).split())[:80]})", path) from None
    if small:
        raise StcorrError(f"background image is smaller than {MIN_PHOTO_SIDE} pixels a side", path)
    return Photo(str(path.absolute()), hashlib.sha256(data).hexdigest())


@lru_cache(maxsize=16)
def _load_photo(path: str) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


# -- per-video parameters ------------------------------------------------------------------------
@dataclass
class Garment:
    """How one body part's pixels change: colour gain, a pattern in the part's own coordinates."""

    gain: np.ndarray  # (3,)
    pattern: str  # plain, stripes, noise
    amplitude: float
    period_m: float  # stripe period or noise cell, metres on the body
    angle: float  # stripe direction relative to the part's axis, radians
    phase: float
    grain: float  # fine noise amplitude
    tint: np.ndarray  # (3,) colour the stripes move towards (a factor)


@dataclass
class Occluder:
    kind: str  # pole, rail, head
    box: np.ndarray  # (4,) x1, y1, x2, y2 on the background canvas (moves with the camera's pan)
    colour: tuple
    defocus: float  # Gaussian blur radius, canvas pixels


@dataclass
class Realism:
    """The effects one video gets; ``None`` fields are off."""

    level: float
    frame_width: int  # of the rendered and the final frame, pixels
    photo: Image.Image | None = None  # background canvas-size photograph
    photo_sky_only: bool = False
    garments: dict[int, Garment] | None = None
    noise_tile: np.ndarray | None = None  # (64, 64) grain, about 0 mean and unit spread
    exposure: float = 0.0  # fraction of the frame interval; 0: no motion blur
    subframes: int = 1
    light_gain: np.ndarray | None = None  # (T,)
    light_cast: np.ndarray | None = None  # (T, 3)
    light_gradient: np.ndarray | None = None  # (T, 3): amplitude, direction cos, direction sin
    zoom: np.ndarray | None = None  # (T,) >= 1: the final frame shows a window 1/zoom the size
    window: np.ndarray | None = None  # (T, 2) top-left corner of that window, frame pixels (continuous)
    occluders: list[Occluder] = field(default_factory=list)
    compression: tuple[str, int] | None = None  # ("h264", crf) or ("jpeg", quality)

    # -- the view map: rendered frame -> final frame ----------------------------------------
    def to_final(self, xy: np.ndarray, t: int | None = None) -> np.ndarray:
        """Frame pixels of the rendered frame -> pixels of the final (zoomed) frame: ``xy`` (T, ..., 2)
        over the whole video, or (..., 2) of frame ``t``."""
        if self.zoom is None:
            return xy
        if t is not None:
            return (xy + 0.5 - self.window[t]) * self.zoom[t] - 0.5
        extra = (1,) * (xy.ndim - 2)
        zoom = self.zoom.reshape((-1,) + extra + (1,))
        window = self.window.reshape((-1,) + extra + (2,))
        return (xy + 0.5 - window) * zoom - 0.5

    def warp(self, t: int, image: Image.Image, resample) -> Image.Image:
        """The canvas of frame t as the camera window shows it (same size)."""
        if self.zoom is None:
            return image
        ss = image.width / self.frame_width
        z, (wx, wy) = float(self.zoom[t]), self.window[t] * ss
        return image.transform(image.size, Image.AFFINE, (1 / z, 0, wx, 0, 1 / z, wy), resample=resample)


def _smooth(rng: np.random.Generator, n: int, cycles: tuple[float, float] = (0.3, 1.5)) -> np.ndarray:
    """A smooth curve over n frames in [-1, 1]: two sinusoids of a few cycles per video."""
    t = np.arange(n) / max(n - 1, 1)
    waves = [np.sin(2 * np.pi * rng.uniform(*cycles) * t + rng.uniform(0, 2 * np.pi)) for _ in range(2)]
    return (waves[0] * 0.65 + waves[1] * 0.35)


def sample_realism(level: float, rng: np.random.Generator, clip_size: tuple[int, int], n_frames: int, look: Look,
                   photos: Sequence[Photo], canvas: Canvas, body_box: np.ndarray) -> Realism:
    """The effects of one video at realism ``level`` (0 < level <= 1), drawn from ``rng``.

    ``canvas`` is the video's background canvas (supersampled and padded, see background.py);
    ``body_box`` (T, 4) the performer's box per frame in frame pixels (where occluders go).
    """
    size, canvas_size, horizon = clip_size, (canvas.width, canvas.height), canvas.horizon()
    on = {name: rng.random() < chance * level for name, chance in CHANCE.items()}
    real = Realism(level=level, frame_width=size[0])
    if on["photo"] and photos:
        real.photo = _photo_background(rng, _load_photo(photos[int(rng.integers(len(photos)))].path), canvas_size, level)
        real.photo_sky_only = bool(rng.random() < 0.3) and 0 < horizon < canvas_size[1]
    if on["texture"]:
        real.garments = _garments(rng, look, level)
        real.noise_tile = rng.normal(0, 1, (64, 64)).astype(np.float32)
    if on["blur"]:
        real.exposure = float(rng.uniform(0.3, 1.0) * level)
        real.subframes = 3
    if on["lighting"]:
        real.light_gain = (1 + 0.25 * level * rng.uniform(0.3, 1) * _smooth(rng, n_frames)).astype(np.float32)
        cast = 0.12 * level * rng.uniform(0.2, 1, 3) * rng.choice([-1, 1], 3)
        real.light_cast = (1 + cast[None] * (0.5 + 0.5 * _smooth(rng, n_frames)[:, None])).astype(np.float32)
        angle = rng.uniform(0, 2 * np.pi) + 0.5 * _smooth(rng, n_frames)
        amplitude = 0.35 * level * rng.uniform(0.2, 1) * (0.6 + 0.4 * _smooth(rng, n_frames))
        real.light_gradient = np.stack([amplitude, np.cos(angle), np.sin(angle)], -1).astype(np.float32)
    if on["view"]:
        real.zoom, real.window = _camera_window(rng, size, n_frames, level)
    if on["occluder"]:
        real.occluders = _occluders(rng, size, canvas, body_box, level)
    if on["compression"]:
        real.compression = ("h264", int(round(24 + 14 * level * rng.uniform(0.4, 1)))) if rng.random() < 0.7 \
            else ("jpeg", int(round(60 - 50 * level * rng.uniform(0.4, 1))))
    return real


def _photo_background(rng, photo: Image.Image, canvas_size: tuple[int, int], level: float) -> Image.Image:
    width, height = canvas_size
    aspect = width / height
    crop_w = min(photo.width, photo.height * aspect) * rng.uniform(0.35, 1.0)
    crop_h = crop_w / aspect
    x0, y0 = rng.uniform(0, photo.width - crop_w), rng.uniform(0, photo.height - crop_h)
    image = photo.resize((width, height), Image.BILINEAR, box=(x0, y0, x0 + crop_w, y0 + crop_h), reducing_gap=2.0)
    if rng.random() < 0.5:
        image = image.transpose(Image.FLIP_LEFT_RIGHT)
    blur = rng.uniform(0, 1.5) * level * width / 300
    if blur > 0.3:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    colour = (rng.uniform(0.75, 1.15) * (1 + rng.normal(0, 0.06, 3))).astype(np.float32)
    return Image.fromarray(np.clip(np.asarray(image, np.float32) * colour, 0, 255).astype(np.uint8))


def _garments(rng, look: Look, level: float) -> dict[int, Garment]:
    """Per body part: the garment's pattern (shared by the parts it covers) and a gain of its own."""
    shirt = [TORSO, L_UARM, R_UARM] + ([] if look.short_sleeves else [L_FARM, R_FARM])
    pants = [PELVIS, L_THIGH, R_THIGH] + ([] if look.shorts else [L_SHIN, R_SHIN])
    skin = [NECK, L_HAND, R_HAND] + ([L_FARM, R_FARM] if look.short_sleeves else []) + ([L_SHIN, R_SHIN] if look.shorts else [])
    covers = {"shirt": shirt, "pants": pants, "skin": skin, "shoes": [L_FOOT, R_FOOT], "hair": [HEAD]}
    garments = {}
    for name, parts in covers.items():
        clothing = name in ("shirt", "pants")
        pattern = str(rng.choice(["plain", "stripes", "noise"], p=[0.3, 0.4, 0.3])) if clothing else "noise"
        base = dict(pattern=pattern, amplitude=float(level * (rng.uniform(0.2, 0.5) if clothing else rng.uniform(0.03, 0.1))),
                    period_m=float(rng.uniform(0.03, 0.12) if clothing else rng.uniform(0.01, 0.03)),
                    angle=float(rng.choice([0.0, np.pi / 2]) + rng.normal(0, 0.1)), phase=float(rng.uniform(0, 2 * np.pi)),
                    grain=float(level * rng.uniform(0.02, 0.08)),
                    tint=np.asarray(random_colour(rng), np.float32) / 160)
        spread = 0.08 if clothing else 0.04
        for part in parts:
            garments[part] = Garment(gain=(1 + rng.normal(0, spread * level, 3)).astype(np.float32), **base)
    return garments


def _camera_window(rng, size, n_frames, level) -> tuple[np.ndarray, np.ndarray]:
    """Zoom (T,) in [1, 1.6] and the window's top-left corner (T, 2): a smooth drift plus shake,
    always inside the rendered frame."""
    frame = np.array(size, float)
    zoom = 1.04 + level * rng.uniform(0.05, 0.55) * (0.5 + 0.5 * _smooth(rng, n_frames, (0.2, 1.0)))
    room = frame[None] * (1 - 1 / zoom[:, None])  # how far the window can move
    drift = 0.5 + 0.5 * np.stack([_smooth(rng, n_frames, (0.2, 1.2)) for _ in range(2)], -1)
    shake = rng.normal(0, 0.004 * level * max(size), (n_frames, 2)) if rng.random() < 0.5 else 0.0
    window = np.clip(drift * room + shake, 0, room)
    return zoom.astype(np.float64), window


def _occluders(rng, size, canvas: Canvas, body_box, level) -> list[Occluder]:
    """One or two foreground objects, placed across the performer's box at some point of the video."""
    ss, pad = canvas.ss, canvas.pad
    box = np.nanmedian(body_box, 0)  # frame pixels
    to_canvas = lambda v: (v + pad) * ss  # noqa: E731  frame -> background canvas (pan 0)
    out = []
    for _ in range(1 + int(rng.random() < 0.3)):
        kind = str(rng.choice(["pole", "rail", "head"]))
        w, h = box[2] - box[0], box[3] - box[1]
        if kind == "pole":
            x = rng.uniform(box[0], box[2])
            half = rng.uniform(0.04, 0.12) * w + 1
            shape = [x - half, -pad, x + half, size[1] + pad]
        elif kind == "rail":
            y = rng.uniform(box[1] + 0.3 * h, box[3])
            half = rng.uniform(0.02, 0.06) * h + 1
            shape = [-pad, y - half, size[0] + pad, y + half]
        else:
            x, r = rng.uniform(box[0], box[2]), rng.uniform(0.15, 0.35) * h
            shape = [x - r, size[1] - r * 0.9, x + r, size[1] + r * 1.2]
        colour = random_colour(rng, (0.0, 0.6), (0.1, 0.7))
        out.append(Occluder(kind, to_canvas(np.array(shape, float)), colour, float(rng.uniform(0, 2.5) * level * ss)))
    return out


# -- drawing ---------------------------------------------------------------------------------------
def subframe_painters(painter: Painter, exposure: float, count: int) -> list[Painter]:
    """Painters of the same video at times t + d for ``count`` offsets d spread over ``exposure``
    (a fraction of the frame interval), for motion blur: the average of their drawings. At offset
    0 (the middle one of an odd count) it is ``painter`` itself."""
    offsets = np.linspace(-exposure / 2, exposure / 2, count)
    painters = []
    for d in offsets:
        if abs(d) < 1e-9:
            painters.append(painter)
            continue
        skel = dataclasses.replace(painter.skel, **{f.name: _at(getattr(painter.skel, f.name), d)
                                                    for f in dataclasses.fields(painter.skel)})
        scene = dataclasses.replace(painter.scene, props=[
            dataclasses.replace(p, points={k: _at(v, d) for k, v in p.points.items()}) for p in painter.scene.props])
        camera = dataclasses.replace(painter.cam, pan=_at(painter.cam.pan, d))
        painters.append(Painter(skel, scene, painter.body, camera, painter.look, painter.ss))
    return painters


def _at(track: np.ndarray, offset: float) -> np.ndarray:
    """A (T, ...) track at times t + offset (linear between frames, held at the ends)."""
    n = len(track)
    times = np.clip(np.arange(n) + offset, 0, n - 1)
    lo = np.floor(times).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    w = (times - lo).reshape((-1,) + (1,) * (track.ndim - 1))
    return track[lo] * (1 - w) + track[hi] * w


def dress(real: Realism, painter: Painter, t: int, image: Image.Image, part_map: np.ndarray) -> Image.Image:
    """Textures on the body parts of the drawing of frame t (canvas), in each part's own coordinates."""
    if not real.garments:
        return image
    ys, xs = np.nonzero(part_map)
    ids = part_map[ys, xs]
    table = _garment_table(real, painter, t)
    keep = table["on"][ids]
    ys, xs, ids = ys[keep], xs[keep], ids[keep]
    if not len(ids):
        return image
    rel = np.stack([xs, ys], -1).astype(np.float32) - table["origin"][ids]
    axis = table["axis"][ids]
    along = (rel * axis).sum(-1)
    across = rel[:, 1] * axis[:, 0] - rel[:, 0] * axis[:, 1]
    scale = table["scale"][ids]
    angle = table["angle"][ids]
    stripe = np.sin(2 * np.pi * (along * np.cos(angle) + across * np.sin(angle)) / scale + table["phase"][ids]) > 0
    factor = table["gain"][ids] * (1 + (stripe * table["stripes"][ids])[:, None] * (table["tint"][ids] - 1))
    grain = table["noise"][ids] * _tile(real.noise_tile, along / scale, across / scale) \
        + table["grain"][ids] * _tile(real.noise_tile, along / 1.5 + 17, across / 1.5 + 5)
    radius = table["radius"][ids]
    shade = np.where(radius > 2, 1 - 0.3 * real.level * np.clip(across / np.maximum(radius, 1e-3), -1, 1) ** 2, 1)
    factor *= ((1 + grain) * shade)[:, None]
    pixels = np.asarray(image, np.float32).copy()
    pixels[ys, xs] *= factor
    return Image.fromarray(np.clip(pixels + 0.5, 0, 255).astype(np.uint8))


def _garment_table(real: Realism, painter: Painter, t: int) -> dict[str, np.ndarray]:
    """Per part-map grey level (256 rows): whether it is dressed and its texture's numbers at frame t."""
    per_metre = float(painter.cam.pixels(1.0, max(float(painter.trunk_depth[t]), 1e-3))) * painter.ss
    table = {"on": np.zeros(256, bool), "origin": np.zeros((256, 2), np.float32), "axis": np.zeros((256, 2), np.float32),
             "radius": np.zeros(256, np.float32), "scale": np.ones(256, np.float32), "angle": np.zeros(256, np.float32),
             "phase": np.zeros(256, np.float32), "gain": np.ones((256, 3), np.float32), "tint": np.ones((256, 3), np.float32),
             "stripes": np.zeros(256, np.float32), "noise": np.zeros(256, np.float32), "grain": np.zeros(256, np.float32)}
    for ident, (origin, axis, radius) in _part_frames(painter, t).items():
        garment = real.garments.get(ident)
        if garment is None:
            continue
        row = {"on": True, "origin": origin, "axis": axis, "radius": radius, "scale": garment.period_m * per_metre + 1e-3,
               "angle": garment.angle, "phase": garment.phase, "gain": garment.gain, "tint": garment.tint,
               "stripes": garment.amplitude if garment.pattern == "stripes" else 0.0,
               "noise": garment.amplitude if garment.pattern == "noise" else 0.0, "grain": garment.grain}
        for key, value in row.items():
            table[key][ident] = value
    return table


def _tile(tile: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    n = tile.shape[0]
    return tile[np.floor(v).astype(int) % n, np.floor(u).astype(int) % n]


def _part_frames(painter: Painter, t: int) -> dict[int, tuple[np.ndarray, np.ndarray, float]]:
    """Per drawn body part at frame t: an origin, a unit axis (canvas pixels) and a radius."""
    frames = {}
    for part in painter.parts:
        if not part.ident or not part.ok[t]:
            continue
        if part.kind == "capsule":
            ax, ay, bx, by, ra, rb = part.rows[t]
            frames[part.ident] = (np.array([ax, ay], np.float32), _unit(bx - ax, by - ay), (ra + rb) / 2)
        elif part.kind == "head":
            cx, cy, r = part.rows[t][:3]
            frames[part.ident] = (np.array([cx, cy], np.float32), np.array([1, 0], np.float32), 0.0)
    neck, pelvis = (painter._px(p[t:t + 1])[0][0] for p in (painter.skel.neck, painter.skel.pelvis))
    if np.isfinite(neck).all() and np.isfinite(pelvis).all():
        axis = _unit(*(pelvis - neck))
        for ident in (TORSO, PELVIS):
            frames[ident] = (neck.astype(np.float32), axis, 0.0)
    return frames


def _unit(dx: float, dy: float) -> np.ndarray:
    length = float(np.hypot(dx, dy))
    return np.array([dx / length, dy / length] if length > 1e-6 else [0.0, 1.0], np.float32)


def with_photo(background: Image.Image, real: Realism, horizon: float) -> Image.Image:
    """The video's background canvas with the photograph in it (all of it, or above the horizon)."""
    if real.photo is None:
        return background
    if not real.photo_sky_only:
        return real.photo.copy()
    out = background.copy()
    row = int(round(horizon))
    out.paste(real.photo.crop((0, 0, out.width, row)), (0, 0))
    return out


def draw_occluders(real: Realism, image: Image.Image, part_map: Image.Image, origin: np.ndarray) -> None:
    """Foreground objects over frame canvas ``image`` (in place); ``origin``: the canvas position of
    the frame's top-left corner on the background canvas (they move with the camera's pan)."""
    for occ in real.occluders:
        x1, y1, x2, y2 = (occ.box - np.tile(origin, 2)).tolist()
        mask = Image.new("L", image.size, 0)
        shape = ImageDraw.Draw(mask)
        (shape.ellipse if occ.kind == "head" else shape.rectangle)([x1, y1, x2, y2], fill=255)
        ImageDraw.Draw(part_map).bitmap((0, 0), mask.point(lambda v: 255 if v > 127 else 0), fill=FOREGROUND)
        if occ.defocus > 0.3:
            mask = mask.filter(ImageFilter.GaussianBlur(occ.defocus))
        image.paste(occ.colour, (0, 0) + image.size, mask)


def light(real: Realism, t: int, pixels: np.ndarray) -> np.ndarray:
    """Lighting of frame t over a (H, W, 3) float frame: gain, colour cast, linear gradient."""
    if real.light_gain is None:
        return pixels
    height, width = pixels.shape[:2]
    amplitude, cx, cy = real.light_gradient[t]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = ((xs / max(width - 1, 1) - 0.5) * cx + (ys / max(height - 1, 1) - 0.5) * cy) * 2
    return pixels * (real.light_gain[t] * real.light_cast[t])[None, None] * (1 + amplitude * ramp)[..., None]


def compress(real: Realism, frames: list[Image.Image]) -> list[Image.Image]:
    """The frames after a low-quality encode and decode (H.264 with PyAV, or JPEG per frame)."""
    if real.compression is None:
        return frames
    kind, quality = real.compression
    if kind == "h264":
        try:
            return _h264(frames, quality)
        except Exception:  # noqa: BLE001 — a PyAV without libx264: fall back to JPEG
            quality = 30
    out = []
    for frame in frames:
        buffer = io.BytesIO()
        frame.save(buffer, format="JPEG", quality=quality)
        buffer.seek(0)
        with Image.open(buffer) as decoded:
            out.append(decoded.convert("RGB"))
    return out


def _h264(frames: list[Image.Image], crf: int) -> list[Image.Image]:
    # PyAV loads when a video file (not a frame folder) is first read
    import av

    width, height = frames[0].size
    even = (width + width % 2, height + height % 2)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = even[0], even[1], "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast", "threads": "1"}
        stream.codec_context.thread_count = 1
        for frame in frames:
            padded = frame if frame.size == even else _pad_to(frame, even)
            for packet in stream.encode(av.VideoFrame.from_image(padded)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    buffer.seek(0)
    with av.open(buffer, mode="r") as container:
        decoded = [f.to_image().crop((0, 0, width, height)) for f in container.decode(video=0)]
    if len(decoded) != len(frames):
        raise RuntimeError("H.264 round trip lost frames")
    return decoded


def _pad_to(frame: Image.Image, size: tuple[int, int]) -> Image.Image:
    out = Image.new("RGB", size)
    out.paste(frame, (0, 0))
    return out
