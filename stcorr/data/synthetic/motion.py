"""One performance of an action: its timing, its per-frame pose and the resulting 3D skeleton.

Times are video frame indices (0-based, 30 frames per second at normal speed). The keyframes
that are key moments fall on whole frames, so the key moments are known exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import PchipInterpolator

from stcorr.data.synthetic.actions import ANGLE_FIELDS, LENGTH_FIELDS, POSE_FIELDS, SPECS, ActionSpec, keyframe_table
from stcorr.data.synthetic.body import BodyShape, Skeleton, direction, forward_kinematics

MIN_FRAMES, MAX_FRAMES = 40, 150
CLUB_LENGTH = 0.95  # left wrist to club head, metres for a 1.75 m performer
BALL_ON_TEE = 0.025


@dataclass
class Performance:
    action: str
    body: BodyShape
    n_frames: int
    key_times: np.ndarray  # (K,) frame of every keyframe (pauses repeat a keyframe)
    key_index: np.ndarray  # (K,) which keyframe of the action's list each one is
    moments: np.ndarray  # (M,) frame of each key moment, in the action's order
    params: dict[str, np.ndarray]  # per-frame pose fields, (T,) or (T, n)
    skeleton: Skeleton

    def phase(self) -> np.ndarray:
        """(T,) float64: the position along the action's keyframe list at each frame (keyframe j
        at j, linear between consecutive keyframes, constant in a pause and outside the motion),
        the same for every performance of the action (``stcorr.data.dense``)."""
        return np.interp(np.arange(self.n_frames), self.key_times, self.key_index.astype(np.float64))


@dataclass(frozen=True)
class Timeline:
    key_times: np.ndarray
    key_index: np.ndarray
    n_frames: int


def sample_timeline(spec: ActionSpec, rng: np.random.Generator) -> Timeline:
    """Keyframe times: random speed, per-segment jitter, pauses, lead-in and tail, 40 to 150 frames."""
    keys = spec.keys
    speed = rng.uniform(0.75, 1.45)
    gaps = np.array([k.gap for k in keys[1:]]) * speed * rng.uniform(0.85, 1.2, len(keys) - 1)
    index, durations = [0], []
    for i, key in enumerate(keys[1:], start=1):
        durations.append(max(2.0, gaps[i - 1]))
        index.append(i)
        if key.hold and i < len(keys) - 1 and rng.random() < 0.4:
            durations.append(rng.uniform(4, 16))
            index.append(i)
    durations = np.array(durations)
    first_moment = next(i for i, k in enumerate(keys) if k.moment)
    for _ in range(20):
        times = np.concatenate([[0.0], np.cumsum(durations)])
        core = times[-1]
        to_first = times[index.index(first_moment)]
        lead = rng.uniform(-0.4 * to_first, 30)
        lead = max(lead, 3 - to_first)
        tail = rng.uniform(2, 30)
        target = int(np.clip(rng.uniform(MIN_FRAMES, MAX_FRAMES), MIN_FRAMES, MAX_FRAMES))
        n = lead + core + tail
        if n < MIN_FRAMES:  # too short: a longer wait before and after the motion
            extra = MIN_FRAMES - n + rng.uniform(0, max(0.0, target - MIN_FRAMES) * 0.3)
            share = rng.uniform(0.2, 0.8)
            lead, tail = lead + extra * share, tail + extra * (1 - share)
        if lead + core + tail <= MAX_FRAMES - 1:
            break
        durations = durations * 0.85  # too long even so: a faster performance
    else:  # pragma: no cover - the durations shrink geometrically, so this is not reached
        raise RuntimeError("could not fit the performance into the frame budget")
    key_times = np.round(lead + times).astype(int)
    for k in range(1, len(key_times)):
        key_times[k] = max(key_times[k], key_times[k - 1] + 2)
    n_frames = int(min(MAX_FRAMES, max(MIN_FRAMES, np.ceil(lead + core + tail), key_times[-1] + 2)))
    return Timeline(key_times=key_times, key_index=np.array(index), n_frames=n_frames)


def _vary(table: list[dict[str, np.ndarray]], rng: np.random.Generator) -> list[dict[str, np.ndarray]]:
    """Each performer does the poses a little differently."""
    varied = []
    style = {name: rng.normal(0, 3.0, POSE_FIELDS[name]) for name in ANGLE_FIELDS}
    for pose in table:
        pose = dict(pose)
        for name in ANGLE_FIELDS:
            sigma = 5.0 if name == "tool" else 3.0
            pose[name] = pose[name] + style[name] + rng.normal(0, sigma, POSE_FIELDS[name])
        for name in LENGTH_FIELDS:
            pose[name] = pose[name] + rng.normal(0, 0.02, POSE_FIELDS[name])
        varied.append(pose)
    return varied


def _stack(table: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    out = {}
    for name, size in POSE_FIELDS.items():
        values = np.stack([pose[name] for pose in table])
        out[name] = values[:, 0] if size == 1 else values
    return out


def _solve_constraints(spec: ActionSpec, table: list[dict[str, np.ndarray]], body: BodyShape) -> None:
    """Adjust keyframes so that their defining contact holds for this performer's body."""
    for key, pose in zip(spec.keys, table):
        if key.constraint == "club_on_ground":
            skel = forward_kinematics(_stack([pose]), body, spec.lead_grip)
            wrist_y = skel.joint("left_wrist")[0, 1]
            sin_el = np.clip((BALL_ON_TEE * body.scale - wrist_y) / (CLUB_LENGTH * body.scale), -0.99, 0.99)
            pose["tool"] = np.array([pose["tool"][0], np.degrees(np.arcsin(sin_el))])
        elif key.constraint == "hips_at_knees":
            low, high = 0.25, 0.9
            for _ in range(30):  # bisection on the pelvis height: hips level with the knees
                mid = (low + high) / 2
                pose["pelvis"] = np.array([pose["pelvis"][0], mid, pose["pelvis"][2]])
                skel = forward_kinematics(_stack([pose]), body, spec.lead_grip)
                j = skel.joints[0]
                hip_minus_knee = (j[7, 1] + j[8, 1]) / 2 - (j[9, 1] + j[10, 1]) / 2
                low, high = (low, mid) if hip_minus_knee > 0 else (mid, high)
        elif key.constraint is not None:
            raise ValueError(f"unknown constraint {key.constraint!r}")


def _sway(n: int, size: int, amplitude: float, rng: np.random.Generator) -> np.ndarray:
    """Slow random wobble, (n, size)."""
    t = np.arange(n)[:, None, None]
    freq = rng.uniform(0.01, 0.06, (1, size, 2))
    phase = rng.uniform(0, 2 * np.pi, (1, size, 2))
    return amplitude * np.sin(2 * np.pi * freq * t + phase).sum(-1) / np.sqrt(2)


def _lift_stepping_feet(params: dict[str, np.ndarray], key_times: np.ndarray, table: list[dict[str, np.ndarray]]) -> None:
    """A foot that moves between two keyframes leaves the ground on the way."""
    frames = np.arange(len(params["pelvis"]))
    for name in ("l_ankle", "r_ankle"):
        for k in range(len(key_times) - 1):
            a, b = table[k][name], table[k + 1][name]
            step = np.hypot(*(b - a)[[0, 2]])
            if step < 0.1 or max(a[1], b[1]) > 0.2:  # standing still, or the foot is up anyway
                continue
            u = (frames - key_times[k]) / (key_times[k + 1] - key_times[k])
            inside = (u > 0) & (u < 1)
            params[name][inside, 1] += min(0.15, 0.35 * step) * np.sin(np.pi * u[inside])


SWAY = {"pelvis": 0.01, "torso": 1.5, "head": 4.0, "l_wrist": 0.012, "r_wrist": 0.012, "pelvis_yaw": 1.5}


def perform(action: str, body: BodyShape, rng: np.random.Generator) -> Performance:
    """A random performance of ``action`` by ``body``, right-handed, in the action's world frame."""
    spec = SPECS[action]
    timeline = sample_timeline(spec, rng)
    base = _vary(keyframe_table(spec), rng)
    _solve_constraints(spec, base, body)
    table = [base[i] for i in timeline.key_index]
    stacked = _stack(table)
    frames = np.clip(np.arange(timeline.n_frames), timeline.key_times[0], timeline.key_times[-1])
    params = {name: PchipInterpolator(timeline.key_times, values, axis=0)(frames) for name, values in stacked.items()}
    _lift_stepping_feet(params, timeline.key_times, table)
    for name, amplitude in SWAY.items():
        size = POSE_FIELDS[name]
        wobble = _sway(timeline.n_frames, size, amplitude, rng)
        params[name] = params[name] + (wobble[:, 0] if size == 1 else wobble)
    skeleton = forward_kinematics(params, body, spec.lead_grip)
    moment_keys = [i for i, k in enumerate(spec.keys) if k.moment]
    moments = np.array([timeline.key_times[list(timeline.key_index).index(i)] for i in moment_keys])
    return Performance(action=action, body=body, n_frames=timeline.n_frames, key_times=timeline.key_times,
                       key_index=timeline.key_index, moments=moments, params=params, skeleton=skeleton)


def tool_direction(perf: Performance) -> np.ndarray:
    return direction(perf.params["tool"][:, 0], perf.params["tool"][:, 1])
