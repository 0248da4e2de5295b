"""The body and the names every data set shares: the 13 Penn Action joints, the bones between
them, the objects, the actions and their key moments.

This module imports nothing of stcorr: data sets (``stcorr.data``) label with its names and the pose
package builds on them (the data layer of docs/architecture.md).
"""

from __future__ import annotations

JOINTS: tuple[str, ...] = (
    "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)
#: One body in one frame: joint name -> (x, y) native pixels (x right, y down, pixel centres at integers).
Joints = dict[str, tuple[float, float]]

#: The limb bones of one side, (joint nearer the torso, joint further out) without the side.
LIMB_BONES: tuple[tuple[str, str], ...] = (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle"))
#: Bones drawn between joints.
LIMBS: tuple[tuple[str, str], ...] = (
    ("head", "left_shoulder"), ("head", "right_shoulder"), ("left_shoulder", "right_shoulder"),
    ("left_hip", "right_hip"), ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"),
    *((f"{side}_{a}", f"{side}_{b}") for side in ("left", "right") for a, b in LIMB_BONES),
)

OBJECTS: tuple[str, ...] = ("ball", "bat", "club_head", "racket", "bar", "left_disc", "right_disc")

ACTIONS: tuple[str, ...] = (
    "baseball_pitch", "baseball_swing", "bench_press", "bowl", "clean_and_jerk", "golf_swing", "jump_rope",
    "jumping_jacks", "pullup", "pushup", "situp", "squat", "strum_guitar", "tennis_forehand", "tennis_serve",
)

# The paper's seven actions and their key moments, in order.
KEY_MOMENTS: dict[str, tuple[str, ...]] = {
    "baseball_pitch": ("knee fully up", "arm fully stretched out", "ball release"),
    "baseball_swing": ("bat swung back fully", "bat hits ball"),
    "bowl": ("ball swung fully back", "ball release"),
    "golf_swing": ("club swung fully back", "club hits ball"),
    "squat": ("hips at knees going down", "hips at floor", "hips at knees going up"),
    "tennis_forehand": ("racket swung fully back", "racket touches ball"),
    "tennis_serve": ("ball released from hand", "racket swung fully back", "ball touches racket"),
}

VIEWS: tuple[str, ...] = ("front", "back", "left", "right")

# Keypoint setups of docs/formats.md#pairs-and-setups: which joints they hold and whether objects come along.
SETUPS: dict[str, tuple[tuple[str, ...], bool]] = {
    "13+3": (JOINTS, True),
    "3+3": (("head", "left_wrist", "right_wrist"), True),
    "r10": (tuple(j for j in JOINTS if j not in ("head", "left_wrist", "right_wrist")), False),
}


def mirrored_name(name: str) -> str:
    """A keypoint's left/right counterpart ("left_wrist" <-> "right_wrist", "left_disc" <-> "right_disc");
    names without a side are their own."""
    for side, other in (("left_", "right_"), ("right_", "left_")):
        if name.startswith(side):
            return other + name[len(side):]
    return name


#: The index in JOINTS of each joint's mirror image.
MIRRORED_JOINTS: tuple[int, ...] = tuple(JOINTS.index(mirrored_name(j)) for j in JOINTS)


def limb_side(a: str, b: str) -> str:
    """'left' or 'right' for a bone of one side, 'centre' for one across the body."""
    sides = {name.split("_")[0] for name in (a, b) if "_" in name}
    return sides.pop() if len(sides) == 1 and (a != "head" and b != "head") else "centre"


def keypoint_type(name: str | None) -> str:
    """'hum' for a body joint, 'obj' for anything else (objects, unnamed points)."""
    return "hum" if name in JOINTS else "obj"


def setup_keeps(setup: str, name: str | None) -> bool:
    """Whether a keypoint of this name belongs to the setup (unnamed and unknown names count as objects)."""
    joints, with_objects = SETUPS[setup]
    return name in joints if name in JOINTS else with_objects
