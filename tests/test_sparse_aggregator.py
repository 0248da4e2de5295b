"""The sparse aggregator: chunked top-k proposals, its read-out against the dense one, the Matcher
path without a dense volume, gradients through checkpointed chunks."""

from __future__ import annotations

import pytest
import torch

from stcorr.errors import StcorrError
from stcorr.models import build_matcher
from stcorr.models import matcher as matcher_module
from stcorr.models.aggregators import build_aggregator
from stcorr.models.aggregators.sparse import (SparseVolume, flat_features, gather_cells, proposal_correlations,
                                               top_k_mean_correlation)
from stcorr.models.correlation import correlation_volumes
from stcorr.models.readout import Readout

GRID = (2, 3, 4)


def hyperpixels(seed: int, channels=(5, 7)) -> list[torch.Tensor]:
    torch.manual_seed(seed)
    return [torch.nn.functional.normalize(torch.randn(2, c, *GRID), dim=1) for c in channels]


@pytest.mark.parametrize("chunk_elements", [1, 50, 1 << 22])
def test_chunked_top_k_equals_top_k_of_the_dense_mean(chunk_elements):
    src, tgt = hyperpixels(0), hyperpixels(1)
    found = top_k_mean_correlation(flat_features(src), flat_features(tgt), 5, chunk_elements)
    expected = correlation_volumes(src, tgt).mean(dim=1).topk(5, dim=-1).indices
    assert torch.equal(found.sort(-1).values, expected.sort(-1).values)


@pytest.mark.parametrize("readout", [Readout(), Readout(temperature=0.2, kernel_sigma=1.5),
                                     Readout(kind="hard_argmax")])
def test_read_out_over_all_proposals_equals_the_dense_read_out(readout):
    """With k = every cell and the MLP's head at zero, the sparse scores are st-MATCH's volume."""
    src, tgt = hyperpixels(2), hyperpixels(3)
    aggregator = build_aggregator("sparse", 2, [5, 7], GRID, {"k": 24, "chunk_elements": 40})
    torch.nn.init.zeros_(aggregator.mlp[-1].weight)
    with torch.no_grad():
        sparse = aggregator(None, src, tgt)
    dense = correlation_volumes(src, tgt).mean(dim=1)
    assert torch.allclose(sparse.dense(fill=-1e4), dense, atol=1e-6)
    expected = readout(dense, GRID, (4, 12, 16))
    flow = sparse.read_out(readout, GRID, (4, 12, 16))
    assert torch.allclose(flow.flow, expected.flow, atol=1e-4)
    assert torch.allclose(flow.scores, expected.scores, atol=1e-5)


def test_dense_fill_keeps_only_the_proposals():
    volume = SparseVolume(torch.tensor([[[2.0, 1.0]]]), torch.tensor([[[3, 0]]]), 5)
    assert volume.dense(fill=-9.0).tolist() == [[[1.0, -9.0, -9.0, 2.0, -9.0]]]


def test_k_beyond_the_grid_is_refused():
    with pytest.raises(StcorrError):
        build_aggregator("sparse", 2, [5, 7], GRID, {"k": 25})


def test_matcher_trains_without_a_dense_volume(monkeypatch):
    def refuse(*args):
        raise AssertionError("the sparse path built a dense correlation volume")

    monkeypatch.setattr(matcher_module, "correlation_volumes", refuse)
    torch.manual_seed(4)
    matcher = build_matcher({"backbone": "r3d18", "width": 8, "blocks": [1, 1, 1, 1], "grid": [4, 4, 4],
                             "aggregator": "sparse", "aggregator_args": {"k": 6, "hidden": 8, "chunk_elements": 100},
                             "channels_last": False})
    clips = torch.randn(2, 2, 3, 8, 32, 32)
    points = torch.tensor([[[1.0, 5.0, 6.0], [6.0, 20.0, 10.0]]]).repeat(2, 1, 1)
    loss = matcher.loss(clips[0], clips[1], points, points + 1.0, torch.ones(2, 2, dtype=torch.bool))
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in matcher.aggregator.parameters())
    assert matcher.backbone.stem[0].weight.grad.abs().sum() > 0
    with torch.no_grad():
        targets, scores = matcher.match(clips[0], clips[1], points)
    assert targets.shape == (2, 2, 3) and scores.shape == (2, 2)
    assert isinstance(matcher.cost_volume(clips[0], clips[1]), SparseVolume)


def test_dense_fill_defaults_to_the_worst_proposal_of_the_row():
    volume = SparseVolume(torch.tensor([[[2.0, 1.0], [0.5, 3.0]]]), torch.tensor([[[2, 0], [1, 2]]]), 3)
    assert volume.dense().tolist() == [[[1.0, 1.0, 2.0], [0.5, 0.5, 3.0]]]


def test_matcher_loss_with_the_cell_cross_entropy_runs_on_a_sparse_volume():
    from stcorr.models.loss import matcher_loss

    torch.manual_seed(5)
    matcher = build_matcher({"backbone": "r3d18", "width": 8, "blocks": [1, 1, 1, 1], "grid": [4, 4, 4],
                             "aggregator": "sparse", "aggregator_args": {"k": 6, "hidden": 8}, "channels_last": False})
    clips = torch.randn(2, 1, 3, 8, 32, 32)
    points = torch.tensor([[[1.0, 5.0, 6.0], [6.0, 20.0, 10.0]]])
    batch = {"src": clips[0], "tgt": clips[1], "src_points": points, "tgt_points": points + 1.0,
             "valid": torch.ones(1, 2, dtype=torch.bool)}
    loss = matcher_loss(matcher, batch, ce_weight=1.0)
    assert torch.isfinite(loss) and loss < 50
    loss.backward()
    assert matcher.aggregator.mlp[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("chunk_elements", [7, 1 << 22])
def test_proposal_correlations_and_their_gradients_equal_gathering_the_features(chunk_elements):
    """Values: each proposal's per-layer dot product; gradients: those of the gathered-feature
    formula, in both features (float64 gradcheck), for chunks of one row or all rows."""
    src = [f.double().requires_grad_() for f in flat_features(hyperpixels(6))]
    tgt = [f.double().requires_grad_() for f in flat_features(hyperpixels(7))]
    values, targets = proposal_correlations(src, tgt, 4, chunk_elements)
    assert torch.equal(targets.sort(-1).values,
                       top_k_mean_correlation(src, tgt, 4).sort(-1).values)
    expected = torch.stack([(s[:, :, None, :] * gather_cells(t, targets)).sum(-1) for s, t in zip(src, tgt)], -1)
    assert torch.allclose(values, expected)
    weights = torch.randn_like(values)
    (values * weights).sum().backward()
    found = [f.grad.clone() for f in src + tgt]
    for f in src + tgt:
        f.grad = None
    (expected * weights).sum().backward()
    for mine, reference in zip(found, [f.grad for f in src + tgt]):
        assert torch.allclose(mine, reference)
    assert torch.autograd.gradcheck(lambda a, b: proposal_correlations([a], [b], 3, chunk_elements)[0],
                                    (src[0].detach().requires_grad_(), tgt[0].detach().requires_grad_()))


def test_mean_only_proposals_score_like_the_per_layer_ones_before_training():
    """per_layer=False feeds the MLP the layers' mean correlation alone: same proposals, same
    values as the mean of the per-layer ones, and with the MLP's head at zero the same scores."""
    src, tgt = flat_features(hyperpixels(8)), flat_features(hyperpixels(9))
    layered, targets = proposal_correlations(src, tgt, 5)
    mean, mean_targets = proposal_correlations(src, tgt, 5, per_layer=False)
    assert mean.shape == (2, 24, 5, 1) and torch.equal(mean_targets, targets)
    assert torch.allclose(mean[..., 0], layered.mean(-1), atol=1e-6)
    volumes = []
    for per_layer in (True, False):
        aggregator = build_aggregator("sparse", 2, [5, 7], GRID, {"k": 5, "per_layer": per_layer})
        torch.nn.init.zeros_(aggregator.mlp[-1].weight)
        volumes.append(aggregator(None, hyperpixels(8), hyperpixels(9)).scores)
    assert aggregator.mlp[0].in_features == 1 + 2 * 16 + 3
    assert torch.allclose(volumes[0], volumes[1], atol=1e-6)
