"""The 3D lifter of MediaPipe's world joints (stcorr.models.lifter): the body rebuilt from bone
directions and lengths is the body; the symmetric lift answers a mirrored clip with the mirrored
answer and keeps the clip's scale; compare's pose source lifts the world joints of its inner source."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stcorr.models import lifter as L
from stcorr.models.lifter import LifterSettings, WorldLifter, lift_world


def model(width: int = 32) -> WorldLifter:
    torch.manual_seed(0)
    return WorldLifter(LifterSettings(side=2, width=width, dropout=0.1)).eval()


def test_rebuilt_from_bone_directions_and_lengths_is_the_body_around_its_hips():
    joints = np.random.default_rng(0).normal(size=(5, 13, 3))
    bones = L.bone_vectors(joints)
    lengths = np.linalg.norm(bones, axis=-1)
    hips = (joints[:, L.LH] + joints[:, L.RH]) / 2
    np.testing.assert_allclose(L.rebuilt(bones / lengths[..., None], lengths), joints - hips[:, None], atol=1e-12)


@pytest.mark.parametrize("symmetric", [True, False])
def test_the_symmetric_lift_is_mirror_equivariant(symmetric):
    world = np.random.default_rng(1).normal(scale=0.3, size=(12, 13, 3))
    world[4] = np.nan  # nobody found in one frame
    plain = lift_world(model(), world, symmetric)
    mirrored = lift_world(model(), L.mirrored(world), symmetric)
    assert np.isnan(plain[4]).all() and np.isfinite(np.delete(plain, 4, axis=0)).all()
    close = np.allclose(mirrored, L.mirrored(plain), atol=1e-5, equal_nan=True)
    assert close == symmetric  # an untrained network is not equivariant by itself


def test_the_lift_keeps_the_clip_in_metres_with_its_median_bone_lengths():
    rng = np.random.default_rng(2)
    body = rng.normal(scale=0.3, size=(1, 13, 3))
    world = 1.8 * (body + rng.normal(scale=0.01, size=(20, 13, 3)))
    lifted = lift_world(model(), world)
    expected = np.median(np.linalg.norm(L.bone_vectors(world), axis=-1), axis=0)
    # each joint at its bone's length from its parent; the roots (hips, shoulders, head) from the old hip midpoint, 0
    parents = np.stack([np.zeros((20, 3)) if p is None else lifted[:, p] for p in L.PARENTS], 1)
    np.testing.assert_allclose(np.linalg.norm(lifted - parents, axis=-1), np.broadcast_to(expected, (20, 13)), rtol=1e-4)


def test_a_clip_with_nobody_found_lifts_to_nothing():
    assert np.isnan(lift_world(model(), np.full((6, 13, 3), np.nan))).all()


def test_the_lifted_pose_source_gives_its_inner_track_and_lifts_only_the_world_joints_on_demand():
    from stcorr.compare.world import LiftedPose
    from stcorr.pose.track import JointTrack

    world = np.random.default_rng(3).normal(scale=0.3, size=(8, 13, 3))

    class Inner:
        name = "inner"

        def __init__(self, world):
            self.world = world

        def track(self, video):
            return JointTrack(np.ones((8, 13, 2)), np.ones((8, 13)), world=self.world)

    pose = LiftedPose(Inner(world), model())
    assert pose.name == "inner+lifter"
    plain = pose.track(None)
    assert plain.world is world  # a comparison from one view reads the inner source as it is
    lifted = pose.lifted(plain)
    np.testing.assert_allclose(lifted.world, lift_world(model(), world))
    assert np.array_equal(lifted.xy, plain.xy) and np.array_equal(lifted.visibility, plain.visibility)
    no_world = LiftedPose(Inner(None), model())
    assert no_world.lifted(no_world.track(None)).world is None  # no world joints: as they came
