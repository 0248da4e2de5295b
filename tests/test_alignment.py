"""Tests of stcorr.alignment: DTW, soft-DTW (against tslearn and brute force), TCC, LRProp."""

from __future__ import annotations


import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from stcorr.alignment.dtw import align_frames, cosine_cost, dtw, dtw_align, euclidean_cost, nn_align
from stcorr.alignment.lrprop import (
    FrameAligner,
    LRPropLoss,
    LRPropWeights,
    dtw_matched_frames,
    gaussian_prior,
    idm_regularizer,
    propagation_kl,
    same_time_centers,
    two_samplings,
)
from stcorr.alignment.soft_dtw import soft_alignment, soft_dtw, soft_dtw_sequences
from stcorr.alignment.tcc import cycle_back_indices, cycle_back_logits, tcc_loss


# ---------------------------------------------------------------- brute force over warping paths

def all_warping_paths(n: int, m: int):
    """Every monotone path from (0, 0) to (n-1, m-1) with steps (1,0), (0,1), (1,1)."""
    def extend(path):
        i, j = path[-1]
        if (i, j) == (n - 1, m - 1):
            yield path
            return
        for di, dj in ((1, 1), (1, 0), (0, 1)):
            if i + di < n and j + dj < m:
                yield from extend(path + [(i + di, j + dj)])
    yield from extend([(0, 0)])


def smooth_trajectory(times: np.ndarray, dim: int = 8, seed: int = 0) -> np.ndarray:
    """(len(times), dim) embeddings of a smooth, non-repeating curve at real times in [0, 1]."""
    rng = np.random.default_rng(seed)
    basis = np.stack([times, np.sin(np.pi * times), np.cos(np.pi * times), times**2], axis=1)
    return basis @ rng.normal(size=(4, dim))


# ---------------------------------------------------------------- DTW

def test_dtw_matches_exhaustive_search():
    rng = np.random.default_rng(1)
    for n, m in [(1, 1), (1, 4), (3, 3), (4, 5), (5, 3)]:
        cost = rng.random((n, m))
        paths = list(all_warping_paths(n, m))
        totals = [sum(cost[i, j] for i, j in p) for p in paths]
        best = int(np.argmin(totals))
        total, path = dtw(cost)
        assert total == pytest.approx(totals[best])
        assert [tuple(map(int, row)) for row in path] == paths[best]


def test_dtw_recovers_a_time_warp():
    a = smooth_trajectory(np.linspace(0, 1, 12))
    # a slowed-down copy: every frame of a appears, some repeated, so the warp is the only zero-cost path
    warp = np.array([0, 0, 1, 2, 2, 2, 3, 4, 5, 6, 6, 7, 8, 9, 9, 10, 11, 11])
    np.testing.assert_array_equal(dtw_align(a[warp], a, metric="euclidean"), warp)
    total, path = dtw(euclidean_cost(a[warp], a))
    assert total == pytest.approx(0.0, abs=1e-6) and len(path) == len(warp)


def test_costs_match_scipy():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(5, 4)), rng.normal(size=(7, 4))
    np.testing.assert_allclose(euclidean_cost(a, b), cdist(a, b), atol=1e-9)
    np.testing.assert_allclose(euclidean_cost(a, b, squared=True), cdist(a, b, "sqeuclidean"), atol=1e-9)
    np.testing.assert_allclose(cosine_cost(a, b), cdist(a, b, "cosine"), atol=1e-9)


def test_align_frames_reductions():
    path = np.array([(0, 0), (0, 1), (0, 2), (1, 3), (2, 3), (3, 4), (3, 5)])
    np.testing.assert_array_equal(align_frames(path, 4), [1, 3, 3, 4])
    np.testing.assert_array_equal(align_frames(path, 4, "first"), [0, 3, 3, 4])
    np.testing.assert_array_equal(align_frames(path, 4, "last"), [2, 3, 3, 5])
    np.testing.assert_array_equal(align_frames(path, 4, "mean"), [1, 3, 3, 4])  # 4.5 rounds to even
    with pytest.raises(ValueError):
        align_frames(path, 5)


def test_nn_align_picks_nearest_frame():
    tgt = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    src = np.array([[9.0, 1.0], [1.0, 9.0], [0.5, 0.5], [9.0, 1.0]])
    np.testing.assert_array_equal(nn_align(src, tgt, metric="euclidean"), [1, 2, 0, 1])


# ---------------------------------------------------------------- soft-DTW

def gibbs_reference(cost: np.ndarray, gamma: float) -> tuple[float, np.ndarray]:
    """Soft-DTW value and expected alignment by enumerating every warping path."""
    paths = list(all_warping_paths(*cost.shape))
    masks = np.zeros((len(paths),) + cost.shape)
    for k, path in enumerate(paths):
        for i, j in path:
            masks[k, i, j] = 1
    scores = -(masks * cost).sum(axis=(1, 2)) / gamma
    log_z = np.logaddexp.reduce(scores)
    weights = np.exp(scores - log_z)
    return -gamma * log_z, np.tensordot(weights, masks, axes=1)


@pytest.mark.parametrize("gamma", [0.05, 1.0])
def test_soft_dtw_matches_path_enumeration(gamma):
    cost = np.random.default_rng(3).random((4, 5))
    value, expected = gibbs_reference(cost, gamma)
    cost_t = torch.tensor(cost)
    assert soft_dtw(cost_t, gamma).item() == pytest.approx(value, abs=1e-10)
    np.testing.assert_allclose(soft_alignment(cost_t, gamma).numpy(), expected, atol=1e-10)


def test_soft_dtw_tends_to_dtw_and_is_batched():
    cost = np.random.default_rng(4).random((3, 9, 6))
    batched = soft_dtw(torch.tensor(cost), gamma=1e-3)
    for b in range(3):
        assert batched[b].item() == pytest.approx(dtw(cost[b])[0], abs=0.02)
        assert soft_dtw(torch.tensor(cost[b]), 1e-3).item() == pytest.approx(batched[b].item(), abs=1e-12)


def test_soft_dtw_small_gamma_float32_gradients_are_finite():
    cost = torch.rand(2, 30, 25, requires_grad=True)
    soft_dtw(cost, gamma=0.01).sum().backward()
    assert torch.isfinite(cost.grad).all()
    # each alignment matrix starts and ends on the corner cells
    assert cost.grad[:, 0, 0].tolist() == pytest.approx([1.0, 1.0], abs=1e-4)
    assert cost.grad[:, -1, -1].tolist() == pytest.approx([1.0, 1.0], abs=1e-4)


@pytest.fixture(scope="module")
def tslearn_soft_dtw():
    metrics = pytest.importorskip("tslearn.metrics")
    return metrics.SoftDTWLossPyTorch


@pytest.mark.parametrize("gamma", [0.1, 1.0])
@pytest.mark.parametrize("normalize", [False, True])
def test_soft_dtw_values_and_gradients_match_tslearn(tslearn_soft_dtw, gamma, normalize):
    generator = torch.Generator().manual_seed(5)
    x = torch.randn(3, 7, 2, dtype=torch.float64, generator=generator)
    y = torch.randn(3, 10, 2, dtype=torch.float64, generator=generator)
    ours_x, theirs_x = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    ours = soft_dtw_sequences(ours_x, y, gamma=gamma, normalize=normalize)
    theirs = tslearn_soft_dtw(gamma=gamma, normalize=normalize)(theirs_x, y)
    # tslearn's torch loss passes its table through float32 (torch.Tensor(...)), hence 1e-5
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
    weights = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    (ours * weights).sum().backward()
    (theirs * weights).sum().backward()
    torch.testing.assert_close(ours_x.grad, theirs_x.grad, atol=1e-5, rtol=1e-5)


def test_soft_dtw_gradients_match_finite_differences():
    x = torch.randn(2, 5, 2, dtype=torch.float64, requires_grad=True)
    y = torch.randn(2, 4, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: soft_dtw_sequences(a, b, gamma=0.3, normalize=True), (x, y))


def test_soft_dtw_divergence_is_zero_on_itself_and_positive_otherwise():
    x = torch.randn(6, 3, dtype=torch.float64)
    assert soft_dtw_sequences(x, x, gamma=0.5, normalize=True).item() == pytest.approx(0.0, abs=1e-10)
    assert soft_dtw_sequences(x, x + 1.0, gamma=0.5, normalize=True).item() > 0.1


# ---------------------------------------------------------------- TCC

@pytest.fixture
def trajectory():
    return torch.tensor(smooth_trajectory(np.linspace(0, 1, 16), dim=8), dtype=torch.float32)


@pytest.mark.parametrize("similarity", ["l2", "cosine"])
def test_cycle_back_of_identical_sequences_lands_on_start(trajectory, similarity):
    # frames must stand apart at the temperature's scale, or the soft neighbour of an end frame drifts inwards
    temperature = 0.01 if similarity == "l2" else 0.001
    indices = cycle_back_indices(trajectory, trajectory.clone(), similarity, temperature)
    torch.testing.assert_close(indices, torch.arange(16))


@pytest.mark.parametrize("loss_type", ["classification", "regression_mse", "regression_mse_var", "regression_huber"])
def test_tcc_aligned_copies_beat_shuffled_features(trajectory, loss_type):
    generator = torch.Generator().manual_seed(6)
    # shuffling the entries across frames and channels destroys every correspondence
    shuffled = trajectory.flatten()[torch.randperm(trajectory.numel(), generator=generator)].view_as(trajectory)
    aligned = tcc_loss([trajectory, trajectory.clone()], loss_type=loss_type)
    broken = tcc_loss([trajectory, shuffled], loss_type=loss_type)
    assert aligned < broken


def test_tcc_classification_ignores_frame_order_but_regression_does_not(trajectory):
    # A cycle u_i -> V -> U only needs the set of frames of V, and classification scores the
    # return by frame identity: a permuted identical copy is as consistent as the copy itself.
    # Regression scores the return by time, so a permuted copy (whose neighbours in embedding
    # space lie far apart in its own time) costs more.
    permuted = trajectory[torch.randperm(16, generator=torch.Generator().manual_seed(7))]
    for loss_type in ("classification", "regression_mse"):
        same = tcc_loss([trajectory, trajectory.clone()], loss_type=loss_type)
        scrambled = tcc_loss([trajectory, permuted], loss_type=loss_type)
        if loss_type == "classification":
            assert same.item() == pytest.approx(scrambled.item(), rel=1e-4, abs=1e-6)
        else:
            assert scrambled > 1.5 * same


def test_tcc_padded_batch_equals_list_and_gradients_flow():
    generator = torch.Generator().manual_seed(8)
    sequences = [torch.randn(n, 4, generator=generator, requires_grad=True) for n in (5, 7, 6)]
    padded = torch.zeros(3, 7, 4)
    for b, seq in enumerate(sequences):
        padded[b, : len(seq)] = seq.detach()
    from_list = tcc_loss(sequences)
    from_padded = tcc_loss(padded, lengths=[5, 7, 6])
    assert from_list.item() == pytest.approx(from_padded.item(), rel=1e-5)
    from_list.backward()
    for seq in sequences:
        assert torch.isfinite(seq.grad).all() and seq.grad.abs().sum() > 0


def test_tcc_mse_var_follows_its_formula():
    generator = torch.Generator().manual_seed(9)
    u, v = torch.randn(4, 3, generator=generator, dtype=torch.float64), torch.randn(5, 3, generator=generator, dtype=torch.float64)
    temperature, lam = 0.5, 0.01

    def one_way(a, b):
        n, d = len(a), a.shape[1]
        losses = []
        for i in range(n):
            alpha = torch.softmax(torch.stack([-(a[i] - b[j]).pow(2).sum() / d / temperature for j in range(len(b))]), 0)
            soft = sum(alpha[j] * b[j] for j in range(len(b)))
            beta = torch.softmax(torch.stack([-(soft - a[k]).pow(2).sum() / d / temperature for k in range(n)]), 0)
            times = torch.arange(n, dtype=torch.float64) / n
            mu = (beta * times).sum()
            var = (beta * (times - mu) ** 2).sum()
            losses.append((mu - times[i]) ** 2 / var + lam * torch.log(var))
        return losses

    expected = torch.stack(one_way(u, v) + one_way(v, u)).mean()
    got = tcc_loss([u, v], temperature=temperature, variance_lambda=lam)
    assert got.item() == pytest.approx(expected.item(), rel=1e-10)
    assert cycle_back_logits(u, v, "l2", temperature).shape == (4, 4)


# ---------------------------------------------------------------- LRProp

def test_gaussian_priors_sum_to_one_and_peak_at_centre():
    prior = gaussian_prior(torch.tensor([0.0, 3.0, 6.4, 9.0]), 10, sigma=1.5)
    torch.testing.assert_close(prior.sum(1), torch.ones(4, dtype=prior.dtype))
    assert prior.argmax(1).tolist() == [0, 3, 6, 9]
    assert prior[1, 2].item() == pytest.approx(prior[1, 4].item())


def test_same_time_centres_interpolate_native_times():
    centers, inside = same_time_centers(np.array([0, 3, 6, 9, 12]), np.array([2, 4, 6, 8, 10]))
    np.testing.assert_allclose(centers.numpy(), [0.0, 0.5, 2.0, 3.5, 4.0])
    assert inside.tolist() == [False, True, True, True, False]


def test_two_samplings_differ_in_stride_and_overlap():
    rng = np.random.default_rng(10)
    for _ in range(50):
        a, b = two_samplings(60, 12, rng)
        assert a.min() >= 0 and b.min() >= 0 and a.max() < 60 and b.max() < 60
        assert np.diff(a)[0] != np.diff(b)[0]
        assert a[0] <= b[-1] and b[0] <= a[-1]


def test_idm_regulariser_punishes_collapse():
    collapsed = torch.zeros(8, 4)
    spread = torch.arange(8, dtype=torch.float32)[:, None] * torch.tensor([[1.0, 0, 0, 0]])
    assert idm_regularizer(collapsed, window=1, margin=1.0).item() == pytest.approx(1.0, abs=1e-5)
    # far pairs are >= 2 apart, so only the pull term remains: every adjacent pair, distance 1, gap 1
    assert idm_regularizer(spread, window=1, margin=1.0).item() == pytest.approx(0.5)


def test_propagation_kl_is_smallest_at_the_true_centre():
    emb = torch.tensor(smooth_trajectory(np.linspace(0, 1, 12)), dtype=torch.float64)
    right = propagation_kl(emb, emb, torch.arange(12.0), sigma=1.0, temperature=0.2)
    wrong = propagation_kl(emb, emb, torch.arange(12.0).flip(0), sigma=1.0, temperature=0.2)
    assert 0 <= right < wrong
    np.testing.assert_array_equal(dtw_matched_frames(emb, emb).numpy(), np.arange(12))


def test_frame_aligner_shapes_and_padding():
    torch.manual_seed(11)
    model = FrameAligner(in_dim=6, out_dim=5, d_model=16, num_layers=1, num_heads=2, ff_dim=32, dropout=0.0).eval()
    x = torch.randn(2, 9, 6)
    assert model(x).shape == (2, 9, 5) and model(x[0]).shape == (9, 5)
    mask = torch.zeros(2, 9, dtype=torch.bool)
    mask[1, 6:] = True
    padded = model(x, padding_mask=mask)[1, :6]
    torch.testing.assert_close(padded, model(x[1, :6]), atol=1e-5, rtol=1e-5)


def test_lrprop_loss_decreases_on_time_warped_copies():
    torch.manual_seed(12)
    times_a = np.linspace(0, 1, 20)
    times_b = np.linspace(0, 1, 26) ** 1.6
    feats_a = torch.tensor(smooth_trajectory(times_a, dim=12), dtype=torch.float32)
    feats_b = torch.tensor(smooth_trajectory(times_b, dim=12), dtype=torch.float32)
    native = np.arange(40)
    view_1, view_2 = native[0:40:2], native[5:35:1]
    feats_video = torch.tensor(smooth_trajectory(native / 39.0, dim=12), dtype=torch.float32)
    model = FrameAligner(in_dim=12, out_dim=16, d_model=32, num_layers=1, num_heads=2, ff_dim=64, dropout=0.0)
    criterion = LRPropLoss(sigma=1.0, temperature=0.5, gamma=0.1, weights=LRPropWeights(propagation=1.0, same_video=1.0, soft_dtw=0.1))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

    def step() -> float:
        total, parts = criterion(model(feats_a), model(feats_b),
                                 (model(feats_video[view_1]), view_1), (model(feats_video[view_2]), view_2))
        assert set(parts) == {"propagation", "soft_dtw", "same_video"}
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        return total.item()

    first = step()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
    losses = [step() for _ in range(12)]
    assert np.mean(losses[-3:]) < 0.6 * first
