"""A synthetic reference and attempt whose truth is known, for the compare tests.

A 2D body moves through one squat-like motion with its arms: joint angles are set by
construction (forward kinematics from the hip midpoint), so the angles compare must report are
known exactly. The attempt waits ``LEAD`` frames, plays the motion at ``SPEED`` times the
reference's pace, holds the last pose, stands elsewhere in a frame of another size at another
scale, and bends its knees ``KNEE_OFFSET`` degrees more and its elbows ``ELBOW_OFFSET`` less.
Frames are small grey JPEGs with the skeleton drawn; the joints come from ``FakePose``, so
no pose detector runs.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from stcorr.pose.track import Joints, JointTrack
from stcorr.pose.skeleton import JOINTS
from stcorr.data.video import Video

N_REFERENCE = 50
LEAD, SPEED, TAIL = 10, 0.75, 5
KNEE_OFFSET, ELBOW_OFFSET = -15.0, 12.0
TURN = 25  # the reference frame where the motion turns (phase 0.5)


def angles_at(phase: float, depth: float = 1.0) -> dict[str, float]:
    """Degrees of every angle at a phase in [0, 1] of the motion: down and up again, arms raised
    and lowered, the left arm ahead of the right; ``depth`` scales how far down it goes."""
    bump = depth * math.sin(math.pi * phase) ** 2
    return {"knee": 175 - 85 * bump, "hip": 170 - 70 * bump, "lean": 5 + 30 * bump,
            "left_shoulder": 20 + 120 * bump, "right_shoulder": 15 + 90 * math.sin(math.pi * phase),
            "left_elbow": 160 - 60 * bump, "right_elbow": 150 - 40 * bump}


def _step(origin: np.ndarray, direction_deg: float, length: float) -> np.ndarray:
    """origin + length along a direction measured from straight up, clockwise in the image (x right, y down)."""
    rad = math.radians(direction_deg)
    return origin + length * np.array([math.sin(rad), -math.cos(rad)])


def body(phase: float, knee_offset: float = 0.0, elbow_offset: float = 0.0,
         centre=(0.0, 0.0), scale: float = 1.0, depth: float = 1.0) -> Joints:
    """The 13 joints at ``phase``, facing right (side view), hips at ``centre``, torso ``40 * scale`` long."""
    a = angles_at(phase, depth)
    hip = np.array(centre, dtype=np.float64)
    trunk = a["lean"]  # trunk direction from vertical, leaning forward (to the right)
    shoulder = _step(hip, trunk, 40 * scale)
    joints: dict[str, np.ndarray] = {"head": _step(shoulder, trunk, 15 * scale)}
    for side, dx in (("left", -3.0), ("right", 3.0)):
        s, h = shoulder + [dx * scale, 0], hip + [dx * scale, 0]
        # thigh: the hip angle opens from the trunk direction, turning forward (knees ahead)
        thigh = trunk + 180 - (180 - a["hip"])
        knee = _step(h, thigh, 35 * scale)
        knee_angle = a["knee"] + knee_offset
        ankle = _step(knee, thigh - (180 - knee_angle), 35 * scale)
        upper = trunk + 180 - a[f"{side}_shoulder"]
        elbow = _step(s, upper, 25 * scale)
        forearm = upper + (180 - (a[f"{side}_elbow"] + elbow_offset))
        wrist = _step(elbow, forearm, 22 * scale)
        joints.update({f"{side}_shoulder": s, f"{side}_hip": h, f"{side}_knee": knee,
                       f"{side}_ankle": ankle, f"{side}_elbow": elbow, f"{side}_wrist": wrist})
    return {name: (float(p[0]), float(p[1])) for name, p in joints.items()}


def attempt_phase(u: int) -> float:
    return float(np.clip((u - LEAD) * SPEED / (N_REFERENCE - 1), 0.0, 1.0))


def n_attempt() -> int:
    return LEAD + math.ceil((N_REFERENCE - 1) / SPEED) + 1 + TAIL


def true_attempt_time(t_reference: float) -> float:
    """The attempt frame (fractional) at the reference frame's phase."""
    return LEAD + t_reference / SPEED


def reference_frames() -> list[Joints]:
    return [body(t / (N_REFERENCE - 1), centre=(60, 100)) for t in range(N_REFERENCE)]


def attempt_frames() -> list[Joints]:
    return [body(attempt_phase(u), KNEE_OFFSET, ELBOW_OFFSET, centre=(110, 130), scale=1.3) for u in range(n_attempt())]


def write_frames(folder: Path, frames: list[Joints], size: tuple[int, int], marker: str | None = None) -> Path:
    """JPEG frames with the skeleton drawn, 000001.jpg ...; ``marker``: a joint that also holds a
    red square (a club head in the hand: something to trace that is no joint)."""
    folder.mkdir(parents=True, exist_ok=True)
    for t, joints in enumerate(frames):
        image = Image.new("RGB", size, (90, 90, 90))
        draw = ImageDraw.Draw(image)
        for x, y in joints.values():
            draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=(250, 250, 250))
        if marker is not None:
            x, y = joints[marker]
            draw.rectangle([x - 4, y - 4, x + 4, y + 4], fill=(230, 20, 20))
        image.save(folder / f"{t + 1:06d}.jpg", quality=80)
    return folder


class FakePose:
    """A pose source that knows each video's joints (by folder name), and their world joints when given."""

    name = "fake"

    def __init__(self, tracks: dict[str, list[Joints]], world: dict[str, list[dict]] | None = None):
        world = world or {}
        self.tracks = {name: JointTrack.from_joints(frames, world.get(name)) for name, frames in tracks.items()}

    def track(self, video: Video) -> JointTrack:
        return self.tracks[video.name]


def synthetic_pair(root: Path) -> tuple[Path, Path, FakePose]:
    """(reference folder, attempt folder, their pose source)."""
    ref, att = reference_frames(), attempt_frames()
    reference = write_frames(root / "reference", ref, (140, 180))
    attempt = write_frames(root / "attempt", att, (220, 240))
    return reference, attempt, FakePose({"reference": ref, "attempt": att})


def rep_frames(depths: list[float], frames_per_rep: int = 30, rest: int = 6) -> list[Joints]:
    """Squat reps one after the other, rep k going ``depths[k]`` of the way down, ``rest`` frames
    standing before each and after the last."""
    frames = []
    for depth in depths:
        frames += [body(0.0, centre=(100, 120))] * rest
        frames += [body(u / (frames_per_rep - 1), centre=(100, 120), depth=depth) for u in range(frames_per_rep)]
    return frames + [body(0.0, centre=(100, 120))] * rest


def two_views(root: Path, action: str = "squat", seed: int = 3, views=("front", "left")) -> tuple[Path, Path, FakePose]:
    """One synthetic performance (``stcorr.data.synthetic``) filmed from two views: (reference
    folder, attempt folder, a pose source giving each view's true 2D joints and its true world
    joints in that camera's axes, hip-centred, as MediaPipe's world landmarks are)."""
    from stcorr.data.synthetic.clip import make_clip

    tracks, world, folders = {}, {}, []
    for name, view in zip(("reference", "attempt"), views):
        clip = make_clip(action, seed, (160, 160), view=view)
        xy = clip.joints_xy()
        camera = clip.camera
        rel = clip.performance.skeleton.joints - camera.position
        xyz = np.stack([rel @ camera.right, -(rel @ camera.up), rel @ camera.forward], axis=-1)
        xyz -= (xyz[:, 7:8] + xyz[:, 8:9]) / 2  # hips are joints 7 and 8
        names = list(JOINTS)
        tracks[name] = [{n: tuple(p) for n, p in zip(names, frame)} for frame in xy.tolist()]
        world[name] = [{n: tuple(p) for n, p in zip(names, frame)} for frame in xyz.tolist()]
        folders.append(write_frames(root / name, tracks[name], (160, 160)))
    return folders[0], folders[1], FakePose(tracks, world)
