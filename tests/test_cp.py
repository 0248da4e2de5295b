"""The CP module: chunked k-NN against brute force, no same-frame proposals, identity at init."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from stcorr.errors import StcorrError
from stcorr.models.cp import CPModule, knn_other_frames, proposal_pairs


def brute_force_knn(feats: torch.Tensor, frames: int, k: int) -> torch.Tensor:
    distances = torch.cdist(feats, feats) ** 2
    frame_of = torch.arange(feats.shape[1]) // (feats.shape[1] // frames)
    distances[:, frame_of[:, None] == frame_of[None, :]] = float("inf")
    return distances.topk(k, dim=-1, largest=False).indices


@pytest.mark.parametrize("chunk_elements", [1, 700, 1 << 22])
def test_chunked_knn_equals_brute_force(chunk_elements):
    torch.manual_seed(0)
    frames, per_frame, k = 4, 30, 5
    feats = torch.randn(2, frames * per_frame, 6)
    chunked = knn_other_frames(feats, frames, k, chunk_elements=chunk_elements)
    expected = brute_force_knn(feats, frames, k)
    assert chunked.shape == (2, frames * per_frame, k)
    assert torch.equal(chunked.sort(-1).values, expected.sort(-1).values)


def test_knn_never_proposes_the_same_frame():
    torch.manual_seed(1)
    frames, per_frame = 3, 16
    feats = torch.randn(1, frames * per_frame, 4)
    feats[:, 1::2] = feats[:, 0::2]  # same-frame twins at distance 0 must still be skipped
    neighbours = knn_other_frames(feats, frames, k=per_frame * (frames - 1), chunk_elements=50)
    query_frame = torch.arange(frames * per_frame)[None, :, None] // per_frame
    assert not (neighbours // per_frame == query_frame).any()


def test_knn_refuses_k_beyond_other_frames():
    with pytest.raises(StcorrError):
        knn_other_frames(torch.randn(1, 8, 3), frames=2, k=5)


def test_pairs_hold_both_ends_and_normalised_offsets():
    grid = (2, 2, 3)
    feats = torch.randn(1, 12, 4, requires_grad=True)
    neighbours = torch.full((1, 12, 1), 11)  # every query's neighbour is the last position (t=1, h=1, w=2)
    pairs = proposal_pairs(feats, neighbours, grid)
    assert torch.equal(pairs[0, 0, 0, :4], feats[0, 0])
    assert torch.equal(pairs[0, 0, 0, 4:8], feats[0, 11])
    assert torch.allclose(pairs[0, 0, 0, 8:], torch.tensor([1 / 2, 1 / 2, 2 / 3]))
    pairs[0, 0, 0, :8].sum().backward()
    touched = feats.grad.abs().sum(-1)[0].nonzero().flatten().tolist()
    assert touched == [0, 11]


def test_oriented_pairs_add_the_forward_difference_which_reversal_flips():
    grid = (2, 1, 2)
    feats = torch.randn(1, 4, 3)
    other = torch.tensor([[[3], [2], [1], [0]]])  # queries 0, 1 (t=0) look at t=1; 2, 3 (t=1) at t=0
    pairs = proposal_pairs(feats, other, grid, oriented=True)
    assert pairs.shape == (1, 4, 1, 3 * 3 + 5)
    assert torch.equal(pairs[..., :9], proposal_pairs(feats, other, grid))  # the paper's part first
    forward_change = pairs[0, :, 0, 9:12]
    assert torch.allclose(forward_change[0], feats[0, 3] - feats[0, 0])  # dt > 0: later - earlier
    assert torch.allclose(forward_change[2], feats[0, 2] - feats[0, 1])  # dt < 0: still later - earlier
    assert torch.allclose(pairs[0, :, 0, 12:], torch.tensor([[0, 0.5], [0, -0.5], [0, -0.5], [0, 0.5]]))  # (dh, dw)
    # the same frames played backwards: every forward difference changes sign
    backwards = proposal_pairs(feats[:, [2, 3, 0, 1]], other, grid, oriented=True)
    assert torch.allclose(backwards[0, [2, 3, 0, 1], 0, 9:], -pairs[0, :, 0, 9:])


def test_module_starts_at_its_init_scale():
    torch.manual_seed(4)
    x = torch.randn(2, 8, 3, 4, 4)
    opened = CPModule(8, k=3, mlp=(16,), oriented=True, init_scale=1.0)
    assert torch.equal(opened.project_norm.weight, torch.ones(8))
    assert not torch.allclose(opened(x), x)
    assert torch.equal(CPModule(8, k=3, mlp=(16,), oriented=True)(x), x)


@pytest.mark.parametrize("options", [{}, {"bottleneck": 4, "spatial_stride": 2}])
def test_module_is_identity_at_init_and_learns(options):
    torch.manual_seed(2)
    module = CPModule(8, k=3, mlp=(16,), **options)
    x = torch.randn(2, 8, 3, 6, 5)
    for mode in (True, False):
        module.train(mode)
        assert torch.equal(module(x), x)
    module.train()
    y = module(x)
    y.sum().backward()
    assert module.project_norm.weight.grad.abs().sum() > 0
    with torch.no_grad():
        module.project_norm.weight.fill_(1.0)
    assert not torch.allclose(module(x), x)


def test_gradient_reaches_the_input_through_both_ends():
    torch.manual_seed(3)
    module = CPModule(4, k=2, mlp=(8,))
    with torch.no_grad():
        module.project_norm.weight.fill_(1.0)
    x = torch.randn(1, 4, 2, 3, 3, requires_grad=True)
    (module(x) - x).pow(2).sum().backward()
    assert x.grad.abs().sum() > 0


def test_toy_motion_is_solved_with_cp_and_not_without():
    """The paper's toy: C2D and a two-layer 3D CNN stay near chance (0.25), CP solves it (fixed seeds)."""
    spec = importlib.util.spec_from_file_location("cp_toy", Path(__file__).resolve().parents[1] / "benchmarks" / "cp_toy.py")
    cp_toy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cp_toy)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # fixed seeds give fixed results only at a fixed thread count (sums change order)
    try:
        results = cp_toy.run(seed=0, networks=("c2d", "c3d", "cp"))["networks"]
        accuracy = {name: result["accuracy"] for name, result in results.items()}
    finally:
        torch.set_num_threads(threads)
    assert accuracy["c2d"] < 0.4 and accuracy["c3d"] < 0.4, accuracy
    assert accuracy["cp"] > 0.9, accuracy


def test_cpnet_starts_as_its_c2d_and_only_cp_sees_time_order():
    from stcorr.models.cpnet import CPNet, c2d

    torch.manual_seed(6)
    small = {"width_multiplier": 0.125, "blocks_per_stage": (1, 2, 2, 1)}
    plain = c2d(5, **small).eval()
    with_cp = CPNet(5, placements=("res3.1", "res4.0"), k=3, **small).eval()
    with_cp.load_state_dict(plain.state_dict(), strict=False)
    clips = torch.randn(2, 3, 4, 48, 48)
    assert with_cp(clips).shape == (2, 5)
    assert torch.allclose(with_cp(clips), plain(clips), atol=1e-5)
    reversed_clips = clips.flip(2)
    assert torch.allclose(plain(reversed_clips), plain(clips), atol=1e-5)
    for module in with_cp.cp.values():
        torch.nn.init.ones_(module.project_norm.weight)
    assert not torch.allclose(with_cp(reversed_clips), with_cp(clips), atol=1e-4)


def test_cpnet_refuses_a_placement_that_is_not_a_block():
    from stcorr.models.cpnet import CPNet

    with pytest.raises(StcorrError):
        CPNet(3, blocks_per_stage=(1, 1, 1, 1), placements=("res3.1",))
