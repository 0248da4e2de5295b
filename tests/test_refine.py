"""The fine stage of coarse-to-fine matching (stcorr/models/refine.py) and its place in the Matcher."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from stcorr.errors import StcorrError
from stcorr.models import build_matcher
from stcorr.models.loss import matcher_loss
from stcorr.models.refine import LocalRefiner, refine_options, window_offsets

SMALL = {"width": 8, "blocks": [1, 1, 1, 1], "grid": [4, 4, 4], "aggregator_args": {"hidden": 8}}
T, S = 4, 32  # clips of the fit: T frames of S x S pixels


def translated(clip: torch.Tensor, dx: float, dy: float) -> torch.Tensor:
    """The clip (1, C, T, H, W) with its content moved by (dx, dy) pixels (bicubic, reflected borders)."""
    _, _, t, h, w = clip.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    grid = torch.stack([(xs - dx + 0.5) * 2 / w - 1, (ys - dy + 0.5) * 2 / h - 1], dim=-1)[None].expand(t, -1, -1, -1)
    frames = F.grid_sample(clip[0].transpose(0, 1), grid, mode="bicubic", padding_mode="reflection", align_corners=False)
    return frames.transpose(0, 1)[None]


def shifted_pair(generator: torch.Generator, features: torch.nn.Module):
    """Fixed features of a smooth random clip and of its translation by a random sub-cell shift
    (up to 3 px each way), 16 query points, their true matches and coarse guesses up to 3 px off."""
    clip = F.interpolate(torch.randn(1, 3, T, S // 4, S // 4, generator=generator), size=(T, S, S),
                         mode="trilinear", align_corners=False)
    shift = (torch.rand(2, generator=generator) - 0.5) * 6
    points = torch.cat([torch.randint(0, T, (1, 16, 1), generator=generator).float(),
                        8 + torch.rand(1, 16, 2, generator=generator) * 16], dim=-1)
    truth = points + torch.cat([torch.zeros(1), shift])
    coarse = truth + torch.cat([torch.zeros(1, 16, 1), (torch.rand(1, 16, 2, generator=generator) - 0.5) * 6], dim=-1)
    with torch.no_grad():
        return F.relu(features(clip)), F.relu(features(translated(clip, *shift))), points, truth, coarse


def test_fine_stage_recovers_a_sub_cell_shift_of_a_translated_clip():
    """After a short fit on random translations, the fine stage moves coarse guesses (up to 3 px
    off, about half a coarse cell of 8 px) onto an unseen clip's true shift within 0.5 px."""
    torch.manual_seed(0)
    features = torch.nn.Conv3d(3, 16, (1, 5, 5), padding=(0, 2, 2)).requires_grad_(False)  # fixed, not learned
    refiner = LocalRefiner([16], iterations=2, radius_t=1, radius_xy=3, step_xy=1.0)
    optimizer = torch.optim.Adam(refiner.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(1)
    for _ in range(150):
        src, tgt, points, truth, coarse = shifted_pair(generator, features)
        steps = refiner([src], [tgt], points, coarse, (T, S, S))
        loss = sum((step.points - truth).norm(dim=-1).mean() for step in steps)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    generator = torch.Generator().manual_seed(99)  # unseen clips and shifts
    errors, before = [], []
    with torch.no_grad():
        for _ in range(4):
            src, tgt, points, truth, coarse = shifted_pair(generator, features)
            errors.append((refiner([src], [tgt], points, coarse, (T, S, S))[-1].points - truth)[..., 1:].norm(dim=-1))
            before.append((coarse - truth)[..., 1:].norm(dim=-1))
    errors, before = torch.cat(errors, 1), torch.cat(before, 1)
    assert before.median() > 2.0
    assert errors.median() < 0.5, f"median error {errors.median():.2f} px"
    assert errors.mean() < 0.6


def test_window_offsets_are_t_x_y_and_centred():
    offsets = window_offsets(1, 2, 0.5, 3.0)
    assert offsets.shape == (3 * 5 * 5, 3)
    assert torch.equal(offsets.mean(0), torch.zeros(3))
    assert torch.equal(offsets[1], torch.tensor([-0.5, -3.0, -6.0]))  # x varies fastest, then y, then t


def test_refine_off_is_the_one_stage_matcher_exactly():
    torch.manual_seed(3)
    old = build_matcher(SMALL)
    torch.manual_seed(3)
    off = build_matcher({**SMALL, "refine": None, "refine_args": {"iterations": 3}})
    assert off.refiner is None and off.config["refine"] is None and off.config["refine_args"] == {}
    assert old.state_dict().keys() == off.state_dict().keys()
    src, tgt = torch.randn(1, 3, 8, 32, 32), torch.randn(1, 3, 8, 32, 32)
    points = torch.tensor([[[2.0, 5.0, 7.0], [6.0, 20.0, 11.0]]])
    old.eval(), off.eval()
    with torch.no_grad():
        assert torch.equal(old.match(src, tgt, points)[0], off.match(src, tgt, points)[0])


def test_refine_on_round_trips_its_config_and_trains_end_to_end():
    matcher = build_matcher({**SMALL, "refine": "local", "refine_args": {"iterations": 3}})
    config = matcher.config
    assert config["refine"] == "local" and config["refine_args"]["iterations"] == 3
    assert config["refine_args"]["layers"] == [1, 2]  # last block of stages 1 and 2
    assert build_matcher(config).state_dict().keys() == matcher.state_dict().keys()
    src, tgt = torch.randn(1, 3, 8, 32, 32), torch.randn(1, 3, 8, 32, 32)
    points = torch.tensor([[[2.0, 5.0, 7.0], [6.0, 20.0, 11.0]]])
    batch = {"src": src, "tgt": tgt, "src_points": points, "tgt_points": points + 1.5,
             "valid": torch.tensor([[True, True]])}
    matches = matcher.match_points(src, tgt, points)
    assert len(matches.refined) == 3 and matches.points.shape == (1, 2, 3)
    matcher_loss(matcher, batch, ce_weight=1.0).backward()
    assert matcher.refiner.head[-1].weight.grad.abs().sum() > 0
    assert matcher.backbone.layer1[0].conv1[0].weight.grad.abs().sum() > 0
    without = matcher_loss(matcher, batch, ce_weight=1.0, refine_weight=0.0)
    assert float(without.detach()) < float(matcher_loss(matcher, batch, ce_weight=1.0).detach())


@pytest.mark.parametrize("name, args, word", [
    ("fine", {}, "unknown refine"),
    ("local", {"iteration": 2}, "iteration"),
])
def test_bad_refine_config_names_the_problem(name, args, word):
    with pytest.raises(StcorrError, match=word):
        refine_options(name, args)
    with pytest.raises(StcorrError, match=word):
        build_matcher({**SMALL, "refine": name, "refine_args": args})
