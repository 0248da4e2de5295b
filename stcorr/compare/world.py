"""Steadier 3D joints from MediaPipe's world landmarks (one view, one frame at a time, so they shake and misjudge depth).

- ``LiftedPose``: a pose source that also lifts its world joints with the shipped lifter
  (``stcorr.models.lifter``, ``stcorr:lifter``): what ``compare`` reads by default
  (``pipeline.default_pose``) for its 3D angles; measured in docs/compare.md, "Views";

- ``smoothed_world``: each joint's track smoothed over time by a Gaussian of ``sigma`` frames,
  NaN-aware (a frame without the joint neither counts nor is filled);
- ``lengths_kept``: each limb bone (upper arm, forearm, thigh, shin) given its median length over
  the video by changing only its depth (the camera's z): its image-plane extent (x, y) is what a
  single view measures best, the depth is what it guesses, and a bone does not change length.

benchmarks/compare_views.py measures what each does to the 3D angle difference between two views
of the same performance (docs/compare.md, "Views"). compare does not use them yet: smoothing
helps on the synthetic views but, on real mirrored copies (benchmarks/compare_self.py), the
left/right check (``pipeline.sides_swapped``, on 3D angles) then no longer finds the two mirrored
swings' sides swapped, their views read about 40 degrees apart, they are compared in 3D and list
differences (presumably MediaPipe's limbs change sides from frame to frame in these clips and
smoothing mixes them); it needs the sides made consistent first (``steadied`` is what compare would call).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
from scipy.ndimage import gaussian_filter1d

from stcorr.data.video import Video
from stcorr.pose.skeleton import JOINTS, LIMB_BONES
from stcorr.pose.track import JointTrack, PoseSource

if TYPE_CHECKING:
    from stcorr.models.lifter import WorldLifter

J = {name: k for k, name in enumerate(JOINTS)}
WORLD_SMOOTH_FRAMES = 2.0  # the best of the variants benchmarks/compare_views.py measured
#: Limb bones, parent joint first (nearer the torso): the child's depth is adjusted.
BONES: tuple[tuple[str, str], ...] = tuple((f"{side}_{a}", f"{side}_{b}") for side in ("left", "right") for a, b in LIMB_BONES)


def smoothed_world(world: np.ndarray, sigma: float) -> np.ndarray:
    """(T, 13, 3) world joints smoothed over time by a Gaussian of ``sigma`` frames, ignoring
    NaN frames (normalised convolution); NaN stays NaN."""
    if sigma <= 0 or len(world) < 2:
        return world.copy()
    seen = np.isfinite(world).all(axis=2, keepdims=True).astype(np.float64)
    total = gaussian_filter1d(np.nan_to_num(world) * seen, sigma, axis=0, mode="nearest")
    weight = gaussian_filter1d(np.broadcast_to(seen, world.shape).astype(np.float64), sigma, axis=0, mode="nearest")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = total / weight
    return np.where(seen > 0, out, np.nan)


def lengths_kept(world: np.ndarray) -> np.ndarray:
    """(T, 13, 3) world joints whose limb bones keep their median length (module docstring): from
    the torso outwards, each child joint's depth offset from its parent is set to
    sign(dz) * sqrt(max(L^2 - dx^2 - dy^2, 0)), its x and y kept."""
    out = world.copy()
    for parent, child in BONES:
        p, c = J[parent], J[child]
        bone = world[:, c] - world[:, p]
        length = np.linalg.norm(bone, axis=1)
        if not np.isfinite(length).any():
            continue
        typical = float(np.nanmedian(length))
        flat = bone[:, 0] ** 2 + bone[:, 1] ** 2
        depth = np.sign(bone[:, 2]) * np.sqrt(np.clip(typical ** 2 - flat, 0.0, None))
        out[:, c, 0] = out[:, p, 0] + bone[:, 0]
        out[:, c, 1] = out[:, p, 1] + bone[:, 1]
        out[:, c, 2] = out[:, p, 2] + depth
    return out


def steadied(track: JointTrack, sigma: float = WORLD_SMOOTH_FRAMES) -> JointTrack:
    """The track with its world joints smoothed over time (``smoothed_world``); a track without them as it is."""
    if track.world is None:
        return track
    return dataclasses.replace(track, world=smoothed_world(track.world, sigma))


class LiftedPose:
    """``inner``'s joints, and their world joints lifted by ``lifter`` on demand (``lifted``;
    ``lift_world``, symmetric): compare lifts them only when the two cameras' views differ
    (``pipeline.analyse``), so a comparison from one view is what ``inner`` alone gives. Named
    ``"{inner}+lifter"``, so compare's noise floors tell the two apart; ``checkpoint`` names the
    lifter for messages."""

    def __init__(self, inner: PoseSource, lifter: "WorldLifter", checkpoint: str = "stcorr:lifter"):
        self.inner, self.lifter, self.checkpoint = inner, lifter, checkpoint
        self.name = f"{inner.name}+lifter"

    def track(self, video: Video) -> JointTrack:
        return self.inner.track(video)

    def lifted(self, track: JointTrack) -> JointTrack:
        """``track`` with its world joints lifted; a track without world joints as it is."""
        from stcorr.models.lifter import lift_world  # torch: loaded with the lifter

        return track if track.world is None else dataclasses.replace(track, world=lift_world(self.lifter, track.world))
