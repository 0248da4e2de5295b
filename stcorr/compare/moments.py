"""Key moments found in a video by a rule of its action, or where its motion turns, each named from the action's list.

Rules (2D joints, filled and smoothed; a video's frames ``start``..``end`` only, so one rep of many):

- ``squat``: the hips' height above the ankles, in leg lengths. "hips at floor" = its lowest
  stretch's middle (``bottom_frame``: weighted by how far below ``BOTTOM_FLAT`` of the dip's depth each frame lies); "hips at knees going down / up" = where it crosses, before and after, the level
  ``SQUAT_LEVEL`` of the way from standing down to that lowest height. Not found: the hips never
  drop by ``MIN_SQUAT_DROP`` leg lengths; the video starts or ends with the hips down.
- ``baseball_swing``, ``golf_swing``, ``tennis_forehand``, ``bowl`` (a swing of the hands): the
  hands' speed (the wrists' midpoint, in torso lengths a frame) peaks in the swing. "swung back
  fully" = the last frame before the peak where it is under ``SWING_CALM`` of the peak; the hit /
  release = for ``baseball_swing`` the first frame after the peak under that fraction (the bat
  meets the ball as the hands slow, 3-4 frames after their fastest in both real swings of
  real-dev), else the peak itself. Not found: no wrist seen, the hands never reach
  ``MIN_SWING_SPEED``, the video starts or ends inside the swing.
- any other action (and no action): the frames where the motion turns (``align.turning_points``),
  as many as the action has names, each named in order when all are found.

A moment that cannot be found comes back with ``t`` None and the reason in words.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import stcorr.compare.align as align
from stcorr.pose.track import JointTrack
from stcorr.pose.skeleton import JOINTS, KEY_MOMENTS

J = {name: k for k, name in enumerate(JOINTS)}
SQUAT_LEVEL = 0.7
MIN_SQUAT_DROP = 0.15
BOTTOM_FLAT = 0.1
BOTTOM_REACH = 0.3
SWING_ACTIONS = ("baseball_swing", "golf_swing", "tennis_forehand", "bowl")
SWING_CALM = 0.35
MIN_SWING_SPEED = 0.08


@dataclass(frozen=True)
class Moment:
    """A key moment: its name (None when the action has none), its frame (None when not found)
    and, when not found, why; ``by`` says how it was found ("rule", "turning point", "given")."""

    name: str | None
    t: int | None
    reason: str | None = None
    by: str = "rule"


def has_rule(action: str | None) -> bool:
    return action == "squat" or action in SWING_ACTIONS


def find_moments(action: str | None, track: JointTrack, start: int = 0, end: int | None = None) -> list[Moment]:
    """The action's key moments in frames ``start``..``end`` (inclusive; default the whole video), in order (module docstring)."""
    end = track.num_frames - 1 if end is None else end
    names = KEY_MOMENTS.get(action or "")
    if track.num_frames == 0 or not track.found[start:end + 1].any():
        return [Moment(n, None, "no person found") for n in names or (None,)]
    xy = align.filled_joints(track)[start:end + 1]
    if action == "squat":
        return [Moment(m.name, None if m.t is None else m.t + start, m.reason) for m in squat_moments(xy)]
    if action in SWING_ACTIONS:
        return [Moment(m.name, None if m.t is None else m.t + start, m.reason) for m in swing_moments(action, xy)]
    return turning_moments(names, track, start, end)


def hip_height(xy: np.ndarray) -> np.ndarray:
    """(T,) the hips' height above the ankles (image y points down) in median leg lengths."""
    hips = np.nanmean(xy[:, [J["left_hip"], J["right_hip"]]], axis=1)
    knees = np.nanmean(xy[:, [J["left_knee"], J["right_knee"]]], axis=1)
    ankles = np.nanmean(xy[:, [J["left_ankle"], J["right_ankle"]]], axis=1)
    leg = np.linalg.norm(hips - knees, axis=1) + np.linalg.norm(knees - ankles, axis=1)
    scale = np.nanmedian(leg) if np.isfinite(leg).any() else np.nan
    return (ankles[:, 1] - hips[:, 1]) / scale


def squat_moments(xy: np.ndarray) -> list[Moment]:
    """The squat's three moments (module docstring) in frames of ``xy`` (T, 13, 2)."""
    down_name, bottom_name, up_name = KEY_MOMENTS["squat"]
    height = hip_height(xy)
    if not np.isfinite(height).any():
        return [Moment(n, None, "hips, knees or ankles not seen") for n in KEY_MOMENTS["squat"]]
    bottom, low = bottom_frame(height), float(np.nanmin(height))
    top_before = np.nanmax(height[: bottom + 1])
    top_after = np.nanmax(height[bottom:])
    found = [Moment(bottom_name, bottom)]
    if max(top_before, top_after) - low < MIN_SQUAT_DROP:
        why = f"the hips never drop by {MIN_SQUAT_DROP:.0%} of the leg's length: no squat seen"
        return [Moment(n, None, why) for n in KEY_MOMENTS["squat"]]
    level = top_before - SQUAT_LEVEL * (top_before - low)
    below = np.flatnonzero(height[: bottom + 1] > level)
    found.insert(0, Moment(down_name, int(below[-1]) + 1) if below.size and top_before - low >= MIN_SQUAT_DROP
                 else Moment(down_name, None, "the video starts with the hips already down"))
    level = top_after - SQUAT_LEVEL * (top_after - low)
    above = np.flatnonzero(height[bottom:] > level)
    found.append(Moment(up_name, bottom + int(above[0])) if above.size and top_after - low >= MIN_SQUAT_DROP
                 else Moment(up_name, None, "the video ends before the hips come back up"))
    return found


def bottom_frame(height: np.ndarray, flat: float = BOTTOM_FLAT, reach: float = BOTTOM_REACH) -> int:
    """The middle of the bottom of the dip around the lowest frame: the centroid of how far
    ``height`` lies below the level ``flat`` of the whole dip's depth above its lowest, over the
    stretch around the lowest frame that stays within ``reach`` of the depth (a squat held at the
    bottom has its moment in the middle). Weighted, so a frame that wobbles across the level moves
    the moment by a fraction of a frame (a plain stretch within ``flat`` would jump by several)."""
    lowest = int(np.nanargmin(height))
    depth = np.nanmax(height) - height[lowest]
    filled = np.nan_to_num(height, nan=np.inf)
    near = filled <= height[lowest] + reach * depth
    start, end = lowest, lowest
    while start > 0 and near[start - 1]:
        start -= 1
    while end < len(height) - 1 and near[end + 1]:
        end += 1
    part = filled[start:end + 1]
    weight = np.clip(height[lowest] + flat * depth - part, 0.0, None)
    if not weight.sum() > 0:
        return lowest
    return int(round(start + float(np.sum(weight * np.arange(len(part))) / weight.sum())))


def hand_speed(xy: np.ndarray) -> np.ndarray:
    """(T,) speed of the wrists' midpoint in torso lengths a frame (NaN without wrists)."""
    p = align.normalised_joints(xy)
    hands = np.nanmean(p[:, [J["left_wrist"], J["right_wrist"]]], axis=1)
    if len(hands) < 2:
        return np.full(len(hands), np.nan)
    return np.linalg.norm(np.gradient(hands, axis=0), axis=1)


def swing_moments(action: str, xy: np.ndarray) -> list[Moment]:
    """The swing's two moments (module docstring) in frames of ``xy`` (T, 13, 2)."""
    back_name, hit_name = KEY_MOMENTS[action]
    speed = hand_speed(xy)
    if not np.isfinite(speed).any():
        return [Moment(n, None, "no wrist seen") for n in (back_name, hit_name)]
    peak = int(np.nanargmax(speed))
    if speed[peak] < MIN_SWING_SPEED:
        why = f"the hands never move faster than {speed[peak]:.2f} torso lengths a frame: no swing seen"
        return [Moment(n, None, why) for n in (back_name, hit_name)]
    calm = np.nan_to_num(speed, nan=np.inf) < SWING_CALM * speed[peak]
    before, after = np.flatnonzero(calm[:peak]), peak + np.flatnonzero(calm[peak:])
    back = Moment(back_name, int(before[-1])) if before.size else Moment(back_name, None, "the video starts inside the swing")
    if action != "baseball_swing":
        return [back, Moment(hit_name, peak)]
    hit = Moment(hit_name, int(after[0])) if after.size else Moment(hit_name, None, "the video ends inside the swing")
    return [back, hit]


def turning_moments(names: tuple[str, ...] | None, track: JointTrack, start: int, end: int) -> list[Moment]:
    """Frames where the motion turns, named from ``names`` when there are as many (module docstring)."""
    part = JointTrack(track.xy[start:end + 1], track.visibility[start:end + 1])
    found = [t + start for t in align.turning_points(part, count=len(names) if names else None)]
    if not names:
        return [Moment(None, t, by="turning point") for t in found]
    if len(found) == len(names):
        return [Moment(n, t, by="turning point") for n, t in zip(names, found)]
    why = f"{len(found)} turning point{'' if len(found) == 1 else 's'} found for {len(names)} key moments: none can be named"
    return [Moment(None, t, by="turning point") for t in found] + [Moment(n, None, why) for n in names]
