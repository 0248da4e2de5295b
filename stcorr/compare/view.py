"""How far apart the two cameras look at the body, from the body's orientation in MediaPipe's world landmarks.

The body's yaw in a frame: the direction of its left-to-right axis (the mean of the hip and the
shoulder lines) in the camera's horizontal plane (world x, z). Two views see the body along axes
``view_difference`` degrees apart, folded to [0, 90]: 0 = the same view, or the view from
behind (a mirror image of it, with the same 2D angles), 90 = one side-on and the other
front-on. A mirrored attempt video (its sides found swapped) turns its yaw's sign, so with
``mirrored`` the smaller of the two readings is kept: a mirrored video has the same 2D angles
(a mirrored video whose sides are not found swapped reads as a view apart). 2D angles are
compared only below ``VIEW_LIMIT_DEG``.
"""

from __future__ import annotations

import numpy as np

from stcorr.pose.skeleton import JOINTS

J = {name: k for k, name in enumerate(JOINTS)}
VIEW_LIMIT_DEG = 30.0  # beyond it, a 2D angle of a bent limb changes by tens of degrees with the view


def body_yaw(world: np.ndarray) -> np.ndarray:
    """(T,) degrees of the body's left-to-right axis in the camera's x-z plane, for world joints
    (T, 13, 3) (NaN where not found or the axis points at the camera)."""
    left = (world[:, J["left_hip"]] + world[:, J["left_shoulder"]]) / 2
    right = (world[:, J["right_hip"]] + world[:, J["right_shoulder"]]) / 2
    axis = right - left
    flat = np.hypot(axis[:, 0], axis[:, 2])
    with np.errstate(invalid="ignore"):
        yaw = np.degrees(np.arctan2(axis[:, 2], axis[:, 0]))
    return np.where(flat > 1e-6, yaw, np.nan)


def fold_axis(degrees: np.ndarray) -> np.ndarray:
    """Angles between two viewing axes, folded to [0, 90] (a view and the view from behind count as one)."""
    d = np.mod(degrees, 180.0)
    return np.minimum(d, 180.0 - d)


def view_difference(reference_world: np.ndarray | None, attempt_world: np.ndarray | None,
                    attempt_times: np.ndarray, mirrored: bool) -> float | None:
    """Median over aligned frames of the angle between the two viewing axes (module docstring),
    in degrees; None without world joints on both sides."""
    if reference_world is None or attempt_world is None:
        return None
    ref, att = body_yaw(reference_world), body_yaw(attempt_world)[attempt_times]
    readings = [fold_axis(att - ref)] + ([fold_axis(-att - ref)] if mirrored else [])
    medians = [np.nanmedian(r) for r in readings if np.isfinite(r).any()]
    return round(float(min(medians)), 1) if medians else None
