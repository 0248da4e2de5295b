"""The cheaper arithmetic of the training step computes what the plain arithmetic did.

ANTs' first conv over the source features with target-folded kernels equals the conv over the
correlation map; the fine stage's window read from a box of target cells equals the read of the
query's correlation with the whole target map. Float64, so only rounding separates them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from stcorr.models.aggregators.ants import ANTs
from stcorr.models.readout import sample_at_points
from stcorr.models.refine import window_correlation, window_offsets


def _unit(*shape: int) -> torch.Tensor:
    return F.normalize(torch.randn(*shape, dtype=torch.float64), dim=1).requires_grad_()


def test_ants_without_the_correlation_map_equals_the_conv_over_it():
    torch.manual_seed(0)
    channels, grid = [4, 8], (4, 4, 4)
    ants = ANTs(2, channels, grid, hidden=6).double()
    assert ants.factorised and not ants.needs_volume
    with torch.no_grad():
        ants.head.weight.normal_(0, 0.1)
    for batch in (1, 2):
        src = [_unit(batch, c, *grid) for c in channels]
        tgt = [_unit(batch, c, *grid) for c in channels]
        corr = torch.stack([torch.bmm(s.flatten(2).transpose(1, 2), t.flatten(2)) for s, t in zip(src, tgt)], 1)
        results = []
        for factorised in (False, True):
            ants.factorised = factorised
            out = ants(None if factorised else corr, src, tgt)
            weights = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)
            results.append((out, torch.autograd.grad((out * weights).sum(), [*src, *tgt, *ants.parameters()])))
        (plain, plain_grads), (factored, factored_grads) = results
        torch.testing.assert_close(factored, plain, rtol=1e-10, atol=1e-12)
        for a, b in zip(plain_grads, factored_grads):
            torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-12)


def test_a_window_read_from_its_box_equals_the_read_of_the_whole_correlation_map():
    torch.manual_seed(1)
    clip_size, batch, k = (16, 32, 24), 2, 5  # (T, H, W); the map below has its own scale per axis
    tgt = F.normalize(torch.randn(batch, 16, 16, 12, 8, dtype=torch.float64), dim=-1).requires_grad_()  # (B, T, H, W, C)
    query = F.normalize(torch.randn(batch * k, 8, dtype=torch.float64), dim=-1).requires_grad_()
    offsets = window_offsets(2, 3, 1.0, 2.0).double()
    extent = torch.tensor(clip_size, dtype=torch.float64)[[0, 2, 1]]
    centres = (torch.rand(batch * k, 3, dtype=torch.float64) * 1.3 - 0.15) * extent - 0.5  # some beyond the clip
    positions = centres[:, None, :] + offsets
    boxed = window_correlation(tgt, query, positions, offsets, clip_size)
    whole_map = torch.einsum("kc,kthwc->kthw", query, tgt.repeat_interleave(k, dim=0))[:, None]
    whole = sample_at_points(whole_map, positions, clip_size)[..., 0]
    torch.testing.assert_close(boxed, whole, rtol=1e-10, atol=1e-12)
    weights = torch.randn_like(whole)
    for a, b in zip(torch.autograd.grad((boxed * weights).sum(), [tgt, query]),
                    torch.autograd.grad((whole * weights).sum(), [tgt, query])):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
