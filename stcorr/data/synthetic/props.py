"""The objects of each action: where they are in 3D on every frame and what they look like.

Object keypoints (docs/formats.md#penn-action-layout): circular objects (ball, disc) at their centre,
bar-shaped ones (bar, bat) at the middle of the shaft, the club at the centre of its head, the racket at the centre of
its head. ``left_disc`` is the disc on the performer's left. A track holds NaN on frames where
the object is not in the scene (a ball before it is thrown to the batter, long after release).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from stcorr.data.synthetic.body import unit
from stcorr.data.synthetic.motion import CLUB_LENGTH, Performance, tool_direction

UP = np.array([0.0, 1.0, 0.0])


@dataclass
class Prop:
    """Something to draw: ``kind`` says how, ``points`` are (T, 3) world tracks (NaN: absent)."""

    kind: str  # shaft, club, racket, ball, bar, disc, glove
    points: dict[str, np.ndarray]
    radius: float
    colour: tuple[int, int, int]
    extra: dict = field(default_factory=dict)


@dataclass
class Scene:
    props: list[Prop]
    keypoints: dict[str, np.ndarray]  # object name -> (T, 3) world track, NaN where absent


def _nan_like(track: np.ndarray) -> np.ndarray:
    return np.full_like(track, np.nan)


def _forearm(perf: Performance, side: str) -> np.ndarray:
    skel = perf.skeleton
    return unit(skel.joint(f"{side}_wrist") - skel.joint(f"{side}_elbow"))


def _flight(start: np.ndarray, velocity: np.ndarray, frames: np.ndarray, t0: int, steps: int,
            gravity: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Positions along a straight (or falling) path from ``start`` at frame t0, for ``steps`` frames."""
    dt = (frames - t0).astype(float)[:, None]
    pos = start + velocity * dt - 0.5 * gravity * UP * dt**2
    inside = (dt[:, 0] > 0) & (dt[:, 0] <= steps)
    return pos, inside


def _ball(radius: float, colour, track: np.ndarray) -> tuple[Prop, np.ndarray]:
    return Prop("ball", {"centre": track}, radius, colour), track


def _baseball_colour(rng):
    return tuple(int(v) for v in rng.integers(225, 256, 3))


def _pitch(perf: Performance, rng: np.random.Generator) -> Scene:
    skel, frames = perf.skeleton, np.arange(perf.n_frames)
    release = int(perf.moments[2])
    track = skel.right_hand - _forearm(perf, "right") * 0.02 * perf.body.scale
    speed = rng.uniform(1.0, 1.3)
    fly, inside = _flight(track[release], speed * unit(np.array([1.0, -0.04, 0.02])), frames, release, 6)
    track = np.where((frames > release)[:, None], np.where(inside[:, None], fly, np.nan), track)
    glove_colour = tuple(int(v) for v in rng.integers(60, 120) * np.array([1.0, 0.65, 0.4]))
    glove = Prop("glove", {"centre": (skel.joint("left_wrist") + skel.left_hand) / 2}, 0.075 * perf.body.scale, glove_colour)
    ball, kp = _ball(0.037, _baseball_colour(rng), track)
    return Scene([glove, ball], {"ball": kp})


def _swing(perf: Performance, rng: np.random.Generator) -> Scene:
    skel, frames, s = perf.skeleton, np.arange(perf.n_frames), perf.body.scale
    d = tool_direction(perf)
    wrist = skel.joint("left_wrist")
    knob, tip = wrist - d * 0.08 * s, wrist + d * 0.80 * s
    colour = tuple(int(v) for v in (rng.choice([[196, 150, 95], [150, 100, 60], [40, 40, 45], [170, 170, 180]])))
    bat = Prop("shaft", {"start": knob, "end": tip}, 0.034, colour, {"start_radius": 0.017})
    contact = int(perf.moments[1])
    hit = (wrist + d * 0.62 * s)[contact]
    incoming = rng.uniform(0.8, 1.0)
    before = hit + unit(np.array([1.0, 0.1, 0.05])) * incoming * (contact - frames)[:, None]
    after, inside_after = _flight(hit, rng.uniform(0.9, 1.3) * unit(np.array([0.8, 0.45, 0.45])), frames, contact, 5)
    track = np.where(((frames <= contact) & (contact - frames <= 7))[:, None], before, np.nan)
    track = np.where(inside_after[:, None], after, track)
    ball, kp = _ball(0.037, _baseball_colour(rng), track)
    return Scene([bat, ball], {"bat": (knob + tip) / 2, "ball": kp})


def _bowl(perf: Performance, rng: np.random.Generator) -> Scene:
    skel, frames = perf.skeleton, np.arange(perf.n_frames)
    radius = 0.109
    release = int(perf.moments[1])
    track = skel.right_hand + _forearm(perf, "right") * 0.03 - UP * 0.04 * perf.body.scale
    start = track[release]
    dt = (frames - release).astype(float)
    roll = start + np.array([0.0, 0.0, 1.0]) * rng.uniform(0.22, 0.32) * dt[:, None]
    roll[:, 1] = radius + (start[1] - radius) * np.clip(1 - (dt / 4) ** 2, 0, 1)
    track = np.where((frames > release)[:, None], np.where((dt <= 14)[:, None], roll, np.nan), track)
    colour = tuple(int(v) for v in rng.choice([[30, 40, 140], [120, 20, 30], [25, 25, 30], [90, 30, 120], [20, 100, 90]]))
    ball, kp = _ball(radius, colour, track)
    return Scene([ball], {"ball": kp})


def _golf(perf: Performance, rng: np.random.Generator) -> Scene:
    skel, frames, s = perf.skeleton, np.arange(perf.n_frames), perf.body.scale
    d = tool_direction(perf)
    wrist = skel.joint("left_wrist")
    grip, neck = wrist - d * 0.06 * s, wrist + d * CLUB_LENGTH * s
    toe = unit(np.cross(d, UP) * np.array([1.0, 0.0, 1.0]) + 1e-6)
    head = neck + toe * 0.045
    shaft = Prop("shaft", {"start": grip, "end": neck}, 0.009, (60, 60, 65), {"start_radius": 0.013})
    colour = tuple(int(v) for v in rng.choice([[40, 40, 45], [170, 170, 180], [120, 90, 60]]))
    club = Prop("shaft", {"start": neck - toe * 0.01, "end": neck + toe * 0.09}, 0.025, colour)
    impact = int(perf.moments[1])
    rest = head[impact].copy()
    rest[1] = 0.021
    flight, inside = _flight(rest, rng.uniform(1.2, 1.6) * unit(np.array([1.0, 0.35, 0.1])), frames, impact, 3)
    track = np.where((frames <= impact)[:, None], rest, np.where(inside[:, None], flight, np.nan))
    ball = Prop("ball", {"centre": track}, 0.021, (245, 245, 245))  # drawn, not annotated
    return Scene([shaft, club, ball], {"club_head": head})


def _squat(perf: Performance, rng: np.random.Generator) -> Scene:
    skel = perf.skeleton
    axes = skel.torso_axes
    left = axes[:, :, 0]
    centre = skel.neck + np.einsum("tij,j->ti", axes, np.array([0.0, 0.03, -0.10]) * perf.body.scale)
    bar = Prop("bar", {"start": centre - left * 1.05, "end": centre + left * 1.05}, 0.014, (175, 175, 185))
    colour = tuple(int(v) for v in rng.choice([[25, 25, 28], [160, 30, 30], [30, 60, 160], [30, 120, 50]]))
    radius = float(rng.choice([0.16, 0.225]))
    discs, keypoints = [], {"bar": centre}
    for name, sign in (("left_disc", 1.0), ("right_disc", -1.0)):
        c = centre + sign * left * 0.82
        discs.append(Prop("disc", {"centre": c, "axis": left}, radius, colour, {"thickness": 0.07}))
        keypoints[name] = c
    return Scene([bar, *discs], keypoints)


def _racket(perf: Performance, rng: np.random.Generator, face: np.ndarray) -> tuple[Prop, Prop, np.ndarray]:
    skel, s = perf.skeleton, perf.body.scale
    d = tool_direction(perf)
    wrist = skel.joint("right_wrist")
    normal = unit(face - np.sum(face * d, -1, keepdims=True) * d)
    across = unit(np.cross(d, normal))
    centre = wrist + d * 0.45 * s
    frame_colour = tuple(int(v) for v in rng.choice([[30, 30, 35], [200, 40, 40], [230, 230, 230], [40, 90, 200], [240, 200, 40]]))
    handle = Prop("shaft", {"start": wrist - d * 0.03 * s, "end": wrist + d * 0.28 * s}, 0.016, frame_colour)
    head = Prop("racket", {"centre": centre, "along": d, "across": across}, 0.0, frame_colour,
                {"half_length": 0.165, "half_width": 0.128})
    return handle, head, centre


def _forehand(perf: Performance, rng: np.random.Generator) -> Scene:
    frames = np.arange(perf.n_frames)
    handle, head, centre = _racket(perf, rng, np.array([0.0, 0.0, 1.0]))
    contact = int(perf.moments[1])
    hit = centre[contact]
    before = hit + unit(np.array([0.05, -0.15, 1.0])) * rng.uniform(0.45, 0.65) * (contact - frames)[:, None]
    after, inside_after = _flight(hit, rng.uniform(0.6, 0.9) * unit(np.array([0.15, 0.2, 1.0])), frames, contact, 6)
    track = np.where(((frames <= contact) & (contact - frames <= 9))[:, None], before, np.nan)
    track = np.where(inside_after[:, None], after, track)
    ball, kp = _ball(0.034, (210, 235, 60), track)
    return Scene([handle, head, ball], {"racket": centre, "ball": kp})


def _serve(perf: Performance, rng: np.random.Generator) -> Scene:
    skel, frames = perf.skeleton, np.arange(perf.n_frames)
    handle, head, centre = _racket(perf, rng, np.array([1.0, 0.0, 0.0]))
    release, contact = int(perf.moments[0]), int(perf.moments[2])
    in_hand = skel.left_hand + UP * 0.03 * perf.body.scale
    start, hit = in_hand[release], centre[contact]
    u = ((frames - release) / (contact - release))[:, None]
    apex = rng.uniform(0.4, 0.8) * perf.body.scale
    toss = (1 - u) * start + u * hit + UP * 4 * apex * u * (1 - u)
    after, inside_after = _flight(hit, rng.uniform(0.9, 1.3) * unit(np.array([1.0, -0.25, 0.05])), frames, contact, 5)
    track = np.where((frames <= release)[:, None], in_hand, np.where((frames <= contact)[:, None], toss, np.nan))
    track = np.where(inside_after[:, None], after, track)
    ball, kp = _ball(0.034, (210, 235, 60), track)
    return Scene([handle, head, ball], {"racket": centre, "ball": kp})


SCENES = {
    "baseball_pitch": _pitch,
    "baseball_swing": _swing,
    "bowl": _bowl,
    "golf_swing": _golf,
    "squat": _squat,
    "tennis_forehand": _forehand,
    "tennis_serve": _serve,
}


def build_scene(perf: Performance, rng: np.random.Generator) -> Scene:
    return SCENES[perf.action](perf, rng)


def mirror_scene(scene: Scene) -> Scene:
    """The scene of a mirrored (left-handed) performance: x negated, left and right discs swapped."""
    flip = np.array([-1.0, 1.0, 1.0])
    props = [Prop(p.kind, {k: v * flip for k, v in p.points.items()}, p.radius, p.colour, dict(p.extra)) for p in scene.props]
    swap = {"left_disc": "right_disc", "right_disc": "left_disc"}
    return Scene(props, {swap.get(k, k): v * flip for k, v in scene.keypoints.items()})
