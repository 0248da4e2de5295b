"""The camera of one video: where it looks from, how it frames the performer, how it pans.

Views (the label files' ``pose`` field) say which side of the performer, in the starting stance,
the camera sees: front (the performer faces the camera), back, left (the camera is on the
performer's left) or right. Image coordinates: x to the right, y down, pixels of the frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VIEWS = {"front": 0.0, "left": 90.0, "back": 180.0, "right": -90.0}
NEAREST = 1.2  # points nearer to the camera than this (metres) are not drawn or labelled


@dataclass(frozen=True)
class Camera:
    view: str
    position: np.ndarray  # (3,)
    right: np.ndarray
    up: np.ndarray
    forward: np.ndarray
    focal: float  # pixels
    centre: np.ndarray  # (2,) principal point, pixels
    pan: np.ndarray  # (T, 2) per-frame image shift, pixels

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel positions (..., 2) and depths (...) of world points (T, ..., 3)."""
        rel = points - self.position
        depth = rel @ self.forward
        safe = np.where(depth > 1e-3, depth, np.nan)
        xy = np.stack([rel @ self.right, -(rel @ self.up)], -1) * (self.focal / safe)[..., None]
        shift = self.pan.reshape(self.pan.shape[:1] + (1,) * (xy.ndim - 2) + (2,))
        return xy + self.centre + shift, depth

    def pixels(self, metres: float | np.ndarray, depth: np.ndarray) -> np.ndarray:
        """Size in pixels of a length at a depth."""
        return self.focal * np.asarray(metres) / depth


def _axes(azimuth: float, elevation: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    az, el = np.radians(azimuth), np.radians(elevation)
    back = np.array([np.cos(el) * np.sin(az), np.sin(el), np.cos(el) * np.cos(az)])  # camera position direction
    forward = -back
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return right, up, forward


def _smooth_walk(n: int, amplitude: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n)[:, None, None]
    freq = rng.uniform(0.003, 0.02, (1, 2, 2))
    phase = rng.uniform(0, 2 * np.pi, (1, 2, 2))
    return amplitude * np.sin(2 * np.pi * freq * t + phase).mean(-1)


def sample_camera(points: np.ndarray, size: tuple[int, int], rng: np.random.Generator,
                  view: str | None = None) -> Camera:
    """A camera that frames ``points`` (T, N, 3: what should mostly be in view) in a ``size`` frame.

    The motion's extent fills 55 to 95 % of the frame height (sometimes more, so that limbs leave
    the frame), placed at random where it fits.
    """
    width, height = size
    view = view or str(rng.choice(list(VIEWS)))
    azimuth = VIEWS[view] + rng.uniform(-30, 30)
    elevation = rng.uniform(-2, 16)
    distance = rng.uniform(5.0, 12.0)
    target = np.nanmean(points.reshape(-1, 3), axis=0)
    target[1] = rng.uniform(0.8, 1.1)
    right, up, forward = _axes(azimuth, elevation)
    position = target - forward * distance
    unit_cam = Camera(view, position, right, up, forward, 1.0, np.zeros(2), np.zeros((len(points), 2)))
    xy, _ = unit_cam.project(points)
    lo, hi = np.nanmin(xy.reshape(-1, 2), 0), np.nanmax(xy.reshape(-1, 2), 0)
    extent = hi - lo
    fill = rng.uniform(0.55, 0.95) if rng.random() < 0.8 else rng.uniform(0.95, 1.25)
    focal = min(fill * height / extent[1], 1.1 * fill * width / extent[0])
    box = extent * focal
    frame = np.array([width, height], dtype=float)
    room = frame - box
    # where the motion's box goes: anywhere it fits, else centred with a random overhang
    corner = np.where(room > 0, rng.uniform(0, 1, 2) * room, room * rng.uniform(0.2, 0.8, 2))
    centre = corner - lo * focal
    pan = _smooth_walk(len(points), 0.03 * max(width, height), rng) if rng.random() < 0.6 else np.zeros((len(points), 2))
    return Camera(view, position, right, up, forward, float(focal), centre, pan)
