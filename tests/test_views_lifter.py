"""benchmarks/compare_views_lifter.py: the body rebuilt from bone directions and lengths is the body;
the symmetric lifting answers a mirrored clip with the mirrored answer."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import compare_views_lifter as lifter  # noqa: E402


def test_rebuilt_from_bone_directions_and_lengths_is_the_body_around_its_hips():
    joints = np.random.default_rng(0).normal(size=(5, 13, 3))
    bones = lifter.bone_vectors(joints)
    lengths = np.linalg.norm(bones, axis=-1)
    hips = (joints[:, lifter.LH] + joints[:, lifter.RH]) / 2
    np.testing.assert_allclose(lifter.rebuilt(bones / lengths[..., None], lengths), joints - hips[:, None], atol=1e-12)


@pytest.mark.parametrize("symmetric", [True, False])
def test_the_symmetric_lifting_is_mirror_equivariant(monkeypatch, symmetric):
    torch.manual_seed(0)
    model = lifter.Lifter(width=32)
    world = np.random.default_rng(1).normal(scale=0.3, size=(12, 13, 3))
    world[4] = np.nan  # nobody found in one frame
    monkeypatch.setattr(lifter, "SYMMETRIC", [symmetric])
    plain, mirrored = lifter.lifted(model, world), lifter.lifted(model, lifter.mirrored(world))
    assert np.isnan(plain[4]).all() and np.isfinite(np.delete(plain, 4, axis=0)).all()
    close = np.allclose(mirrored, lifter.mirrored(plain), atol=1e-5, equal_nan=True)
    assert close == symmetric  # an untrained network is not equivariant by itself
