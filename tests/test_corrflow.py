"""CorrFlow's parts: restricted attention, the colour bottleneck, Lab quantisation, the loss."""

from __future__ import annotations

import pytest
import torch

from stcorr.models.corrflow import (ColourDropout, CorrFlow, corrflow_loss, quantise_colours, restricted_attention,
                                    rgb_to_lab, true_reference_probability)


def full_masked_attention(query, keys, values, radius, temperature, topk=None):
    """Attention over every cell of every memory frame, masked to the (2R+1)^2 window: the reference."""
    n, c, h, w = query.shape
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    ys, xs = ys.flatten(), xs.flatten()
    near = ((ys[:, None] - ys[None]).abs() <= radius) & ((xs[:, None] - xs[None]).abs() <= radius)  # (L, L)
    q = query.flatten(2).transpose(1, 2)  # (N, L, C)
    logits = torch.cat([(q @ k.flatten(2)).masked_fill(~near, float("-inf")) for k in keys], 2) / temperature
    if topk is not None:
        kth = logits.topk(topk, dim=2).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    v = torch.cat([v.flatten(2) for v in values], 2)  # (N, V, M*L)
    return (logits.softmax(2) @ v.transpose(1, 2)).transpose(1, 2).reshape(n, -1, h, w)


@pytest.mark.parametrize("radius,memory,topk,block_rows", [(1, 1, None, None), (2, 2, None, 3), (3, 3, 5, 2), (6, 1, None, None)])
def test_restricted_attention_equals_full_attention_masked_to_the_window(radius, memory, topk, block_rows):
    g = torch.Generator().manual_seed(radius)
    query = torch.randn(2, 5, 7, 9, generator=g, dtype=torch.float64)
    keys = [torch.randn(2, 5, 7, 9, generator=g, dtype=torch.float64) for _ in range(memory)]
    values = [torch.randn(2, 4, 7, 9, generator=g, dtype=torch.float64) for _ in range(memory)]
    got = restricted_attention(query, keys, values, radius, temperature=0.5, topk=topk, block_rows=block_rows)
    want = full_masked_attention(query, keys, values, radius, 0.5, topk)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_restricted_attention_never_reads_padding():
    query = torch.ones(1, 2, 4, 4)
    keys = [torch.zeros(1, 2, 4, 4)]  # all logits 0: uniform weights over the cells inside the window
    values = [torch.ones(1, 1, 4, 4)]
    out = restricted_attention(query, keys, values, radius=2)
    torch.testing.assert_close(out, torch.ones(1, 1, 4, 4))  # zero padding taking part would pull corners below 1


def test_colour_bottleneck_is_the_identity_at_test_time():
    frames = torch.rand(3, 3, 16, 16)
    bottleneck = ColourDropout(drop_prob=1.0, jitter=0.5).eval()
    assert torch.equal(bottleneck(frames), frames)
    model = CorrFlow(width=4, blocks=(1,), dim=8).eval()
    assert torch.equal(model(frames), model.encoder(frames))


def test_colour_bottleneck_in_training_drops_channels_and_rescales():
    frames = torch.full((2, 3, 4, 4), 0.2)
    out = ColourDropout(drop_prob=1.0, jitter=0.0).train()(frames, torch.Generator().manual_seed(0))
    zeroed = (out == 0).all(dim=(0, 2, 3))
    assert 1 <= int(zeroed.sum()) <= 2
    kept = out[:, ~zeroed]
    torch.testing.assert_close(kept, torch.full_like(kept, 0.2 * 3 / int((~zeroed).sum())))


def test_lab_of_known_colours():
    rgb = torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]).view(3, 3, 1, 1)
    lab = rgb_to_lab(rgb).view(3, 3)
    torch.testing.assert_close(lab[0], torch.tensor([100.0, 0.0, 0.0]), atol=0.05, rtol=0)
    torch.testing.assert_close(lab[1], torch.zeros(3), atol=0.05, rtol=0)
    torch.testing.assert_close(lab[2], torch.tensor([53.24, 80.09, 67.20]), atol=0.3, rtol=0)  # sRGB red


def test_colour_clusters_separate_distinct_colours():
    frames = torch.zeros(2, 3, 16, 16)
    frames[:, 0, :, :8] = 1.0  # red left half
    frames[:, 2, :, 8:] = 1.0  # blue right half
    model = CorrFlow(width=4, blocks=(1,), dim=8, clusters=2)
    model.fit_colours(frames)
    labels = model.colour_labels(frames)
    assert labels.shape == (2, 4, 4)
    assert (labels[:, :, :2] == labels[0, 0, 0]).all() and (labels[:, :, 2:] == labels[0, 0, 3]).all()
    assert labels[0, 0, 0] != labels[0, 0, 3]
    assert torch.equal(quantise_colours(frames, model.colour_centres), labels)


def test_loss_falls_when_training_on_one_clip():
    torch.manual_seed(0)
    clip = torch.rand(4, 3, 32, 32)
    clip = torch.nn.functional.avg_pool2d(clip, 5, 1, 2)  # smooth texture
    clip = torch.stack([torch.roll(clip[0], (t, 2 * t), (1, 2)) for t in range(4)])
    model = CorrFlow(width=8, blocks=(1, 1), dim=16, clusters=8, drop_prob=0.0, jitter=0.0)
    model.fit_colours(clip)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for step in range(15):
        loss = corrflow_loss(model, clip, use_true=[True, False], radius=3, generator=torch.Generator().manual_seed(step))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.8 * losses[0]


def test_scheduled_sampling_anneals_from_0_9_to_0_6():
    assert true_reference_probability(0.0) == pytest.approx(0.9)
    assert true_reference_probability(0.5) == pytest.approx(0.75)
    assert true_reference_probability(2.0) == pytest.approx(0.6)


def test_random_walk_returns_home_on_distinct_cells_and_is_at_chance_on_constant_features():
    from stcorr.models.random_walk import random_walk_cycle_loss

    cells = torch.nn.functional.normalize(torch.eye(16)[:, :16].reshape(16, 4, 4), dim=0)  # 16 orthogonal cells
    still = cells.expand(3, 16, 4, 4)
    assert float(random_walk_cycle_loss(still, temperature=0.05)) < 1e-3
    shuffled = torch.stack([cells, cells[:, :, torch.tensor([1, 2, 3, 0])], cells])  # cells move: still a cycle home
    assert float(random_walk_cycle_loss(shuffled, temperature=0.05)) < 1e-3
    constant = torch.ones(3, 2, 4, 4) / 2 ** 0.5
    assert float(random_walk_cycle_loss(constant)) == pytest.approx(torch.log(torch.tensor(16.0)).item(), rel=1e-5)


def test_crw_weight_adds_the_random_walk_loss_and_zero_leaves_corrflow_alone():
    from stcorr.models.random_walk import random_walk_cycle_loss

    torch.manual_seed(0)
    clip = torch.rand(3, 3, 16, 16)
    model = CorrFlow(width=4, blocks=(1,), dim=8, clusters=4).eval()
    model.fit_colours(clip)
    plain = corrflow_loss(model, clip, [True], radius=2)
    assert torch.equal(corrflow_loss(model, clip, [True], radius=2, crw_weight=0.0), plain)
    walk = random_walk_cycle_loss(model(clip), 0.1)
    with_walk = corrflow_loss(model, clip, [True], radius=2, crw_weight=0.5, crw_temperature=0.1)
    torch.testing.assert_close(with_walk, plain + 0.5 * walk)
    with_walk.backward()
    assert model.encoder.project.weight.grad.abs().sum() > 0


def test_random_walk_edge_dropout_follows_the_generator():
    from stcorr.models.random_walk import random_walk_cycle_loss

    features = torch.nn.functional.normalize(torch.randn(3, 4, 4, 4, generator=torch.Generator().manual_seed(2)), dim=1)
    draws = [random_walk_cycle_loss(features, 0.1, 0.3, torch.Generator().manual_seed(s)) for s in (5, 5, 6)]
    assert torch.equal(draws[0], draws[1])
    assert not torch.equal(draws[0], draws[2])
    assert not torch.equal(draws[0], random_walk_cycle_loss(features, 0.1))
