"""Where a point of a reference frame goes in the attempt's aligned frame, through the two bodies' joints.

``pose_warp``: the similarity transform (rotation, uniform scale, translation) that best maps
the reference frame's joints onto the same joints of the attempt frame (least squares), plus
what it leaves over at each joint spread to the points around it by inverse-distance weights
(Shepard), so a joint goes exactly onto its namesake and a point far from the body moves with
the body as a whole. Coordinates: native pixels of each frame (x right, y down).
"""

from __future__ import annotations

import numpy as np

from stcorr.pose.skeleton import Joints

MIN_SHARED = 2


def similarity_fit(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(A (2, 2), b (2,)) of the least-squares similarity ``x -> A x + b`` from ``source`` (K, 2) to ``target`` (K, 2)."""
    mu_s, mu_t = source.mean(axis=0), target.mean(axis=0)
    s, t = source - mu_s, target - mu_t
    zs, zt = s[:, 0] + 1j * s[:, 1], t[:, 0] + 1j * t[:, 1]
    power = float(np.vdot(zs, zs).real)
    z = complex(np.vdot(zs, zt) / power) if power > 0 else 1.0
    a = np.array([[z.real, -z.imag], [z.imag, z.real]])
    return a, mu_t - a @ mu_s


def pose_warp(points: np.ndarray, reference: Joints, attempt: Joints, smoothing: float) -> np.ndarray | None:
    """(K, 2) reference points -> (K, 2) attempt points (module docstring), or None when the two
    bodies share fewer than two joints. ``smoothing``: pixels added to the distance in the
    weights (larger: the leftovers spread further)."""
    shared = [name for name in reference if name in attempt]
    if len(shared) < MIN_SHARED:
        return None
    src = np.array([reference[n] for n in shared], dtype=np.float64)
    dst = np.array([attempt[n] for n in shared], dtype=np.float64)
    a, b = similarity_fit(src, dst)
    leftover = dst - (src @ a.T + b)
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    squared = ((points[:, None, :] - src[None]) ** 2).sum(axis=2)
    weights = 1.0 / (squared + smoothing**2) ** 1.5
    weights /= weights.sum(axis=1, keepdims=True)
    return points @ a.T + b + weights @ leftover


def grid_points(width: int, height: int, cells: int) -> np.ndarray:
    """(cells * cells, 2) points at the centres of a cells x cells grid over a width x height frame, row by row."""
    xs = (np.arange(cells) + 0.5) * width / cells - 0.5
    ys = (np.arange(cells) + 0.5) * height / cells - 0.5
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], axis=1)
