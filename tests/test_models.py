"""Models: correlation, aggregators, readout, loss and the Matcher."""

from __future__ import annotations


import pytest
import torch

from stcorr.errors import StcorrError
from stcorr.models import AGGREGATORS, build_matcher
from stcorr.models.correlation import correlation_volumes
from stcorr.models.readout import cell_centres, hard_argmax, keypoint_loss, soft_argmax

SMALL = {"width": 16, "blocks": [1, 1, 1, 1], "grid": [8, 8, 8]}


def texture_clip(seed: int, shape=(1, 3, 16, 64, 64)) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def random_points(seed: int, count: int, clip_size=(16, 64, 64), batch: int = 1) -> torch.Tensor:
    """(batch, count, 3) integer-valued (t, x, y) inside the clip."""
    generator = torch.Generator().manual_seed(seed)
    t_size, h_size, w_size = clip_size
    columns = [torch.randint(0, size, (batch, count), generator=generator) for size in (t_size, w_size, h_size)]
    return torch.stack(columns, dim=-1).float()


# --- correlation -------------------------------------------------------------------------------

def test_correlation_matches_explicit_dot_products():
    generator = torch.Generator().manual_seed(0)
    src = [torch.randn(2, 5, 2, 3, 4, generator=generator), torch.randn(2, 7, 2, 3, 4, generator=generator)]
    tgt = [torch.randn(2, 5, 2, 3, 4, generator=generator), torch.randn(2, 7, 2, 3, 4, generator=generator)]
    corr = correlation_volumes(src, tgt)
    assert corr.shape == (2, 2, 24, 24)
    # cell n = (t*H + y)*W + x
    s_cell, t_cell = (1, 2, 3), (0, 1, 2)
    n_src, n_tgt = (1 * 3 + 2) * 4 + 3, (0 * 3 + 1) * 4 + 2
    expected = (src[1][1, :, s_cell[0], s_cell[1], s_cell[2]] * tgt[1][1, :, t_cell[0], t_cell[1], t_cell[2]]).sum()
    assert torch.allclose(corr[1, 1, n_src, n_tgt], expected)


# --- readout -----------------------------------------------------------------------------------

GRID, CLIP = (4, 6, 8), (16, 48, 64)  # unequal axes catch mix-ups of t, y and x


def delta_volume(targets: torch.Tensor, peak: float = 1.0) -> torch.Tensor:
    """A (1, N, N) volume whose row i peaks at target cell targets[i]."""
    cells = targets.numel()
    volume = torch.zeros(1, cells, cells)
    volume[0, torch.arange(cells), targets] = peak
    return volume


def test_cell_centres_follow_align_corners_false():
    centres = cell_centres(GRID, CLIP)
    assert centres.shape == (4 * 6 * 8, 3)
    # cell (t=1, y=2, x=3): ((i + 0.5) * S / S' - 0.5) per axis, in (t, y, x) order
    index = (1 * 6 + 2) * 8 + 3
    assert torch.allclose(centres[index], torch.tensor([1.5 * 4 - 0.5, 2.5 * 8 - 0.5, 3.5 * 8 - 0.5]))


@pytest.mark.parametrize("readout", ["soft", "hard"])
def test_readout_round_trip_of_a_delta_volume(readout):
    cells = 4 * 6 * 8
    targets = torch.randperm(cells, generator=torch.Generator().manual_seed(3))
    volume = delta_volume(targets)
    if readout == "soft":
        field = soft_argmax(volume, GRID, CLIP, temperature=0.01)
    else:
        field = hard_argmax(volume, GRID, CLIP, temperature=0.05)
    centres = cell_centres(GRID, CLIP)
    assert torch.allclose(field.flow[0], centres[targets] - centres, atol=1e-3)
    # a source point at the centre of cell i goes to the centre of cell targets[i], as (t, x, y)
    chosen = torch.tensor([0, 17, 100, cells - 1])
    src_points = centres[chosen][:, [0, 2, 1]][None]
    tgt_points, scores = field.at_points(src_points)
    assert torch.allclose(tgt_points[0], centres[targets[chosen]][:, [0, 2, 1]], atol=1e-3)
    assert scores.shape == (1, 4)
    assert field.dense().shape == (1, 3, *CLIP)


def test_readout_interpolates_flow_between_cells():
    t, y, x = torch.meshgrid(torch.arange(4), torch.arange(6), torch.arange(8), indexing="ij")
    targets = ((t + 1).clamp(max=3) * 6 + (y + 1).clamp(max=5)) * 8 + x  # one cell later, one cell down
    field = hard_argmax(delta_volume(targets.flatten()), GRID, CLIP, temperature=0.05)
    point = torch.tensor([[[3.5, 30.0, 13.0]]])  # (t, x, y) between cell centres on every axis
    found, _ = field.at_points(point)
    assert torch.allclose(found, torch.tensor([[[3.5 + 4.0, 30.0, 13.0 + 8.0]]]), atol=1e-4)


def test_kernel_soft_argmax_ignores_a_distant_second_mode():
    cells = 4 * 6 * 8
    volume = torch.zeros(1, cells, cells)
    volume[0, :, 0] = 1.0    # strongest at cell (0, 0, 0)
    volume[0, :, -1] = 0.95  # a rival at the far corner
    plain = soft_argmax(volume, GRID, CLIP, temperature=0.05)
    kernel = soft_argmax(volume, GRID, CLIP, temperature=0.05, kernel_sigma=1.0)
    centres = cell_centres(GRID, CLIP)
    plain_target = plain.flow[0, 0] + centres[0]
    kernel_target = kernel.flow[0, 0] + centres[0]
    assert (plain_target - centres[0]).norm() > 10  # pulled towards the rival
    assert (kernel_target - centres[0]).norm() < 1.0


# --- loss --------------------------------------------------------------------------------------

def test_loss_ignores_masked_points_and_weighs_axes_by_clip_extent():
    clip = (16, 48, 64)
    predicted = torch.tensor([[[3.0, 10.0, 20.0], [5.0, 30.0, 40.0], [1.0, 1.0, 1.0]]], requires_grad=True)
    target = torch.tensor([[[4.0, 12.0, 20.0], [9.0, 30.0, 40.0], [7.0, 7.0, 7.0]]])
    valid = torch.tensor([[True, True, False]])
    base = keypoint_loss(predicted, target, valid, clip)
    changed = target.clone()
    changed[0, 2] = torch.tensor([float("nan"), 1e6, -3.0])
    assert torch.equal(keypoint_loss(predicted, changed, valid, clip), base)
    base.backward()
    assert torch.all(predicted.grad[0, 2] == 0)
    moved = target.clone()
    moved[0, 0, 1] += 5
    assert keypoint_loss(predicted, moved, valid, clip) != base
    # a miss by the whole extent costs 1 on every axis: T frames in t, W pixels in x, H pixels in y
    zero = torch.zeros(1, 1, 3)
    for miss in ([16.0, 0, 0], [0, 64.0, 0], [0, 0, 48.0]):
        loss = keypoint_loss(zero, torch.tensor([[miss]]), torch.ones(1, 1, dtype=torch.bool), clip)
        assert loss.item() == pytest.approx(1.0, abs=1e-5)
    assert keypoint_loss(zero, zero + 3, torch.zeros(1, 1, dtype=torch.bool), clip).item() == 0.0


# --- the matcher -------------------------------------------------------------------------------

@pytest.mark.parametrize("backbone", ["r3d18", "r2plus1d18", "r2plus1d34"])
def test_st_match_maps_a_clip_onto_itself(backbone):
    torch.manual_seed(0)
    blocks = None if backbone == "r2plus1d34" else [1, 1, 1, 1]
    matcher = build_matcher({
        "backbone": backbone, "width": 8 if backbone == "r2plus1d34" else 16, "blocks": blocks, "grid": [8, 8, 8],
        "aggregator": "st-match", "readout": {"kind": "hard_argmax"},
    }).eval()
    clip = texture_clip(0)
    points = random_points(1, 30)
    with torch.no_grad():
        found, scores = matcher.match(clip, clip, points)
    cell = torch.tensor([16 / 8, 64 / 8, 64 / 8])  # flow resolution in (t, x, y)
    assert torch.all((found - points).abs() <= cell / 2)
    assert scores.shape == (1, 30) and torch.all(scores > 0)


def test_st_match_soft_argmax_identity_with_a_sharp_temperature():
    matcher = build_matcher({**SMALL, "aggregator": "st-match", "readout": {"temperature": 0.002}}).eval()
    clip = texture_clip(2)
    points = random_points(3, 30)
    with torch.no_grad():
        found, _ = matcher.match(clip, clip, points)
    assert torch.all((found - points).abs() <= torch.tensor([1.0, 4.0, 4.0]))


@pytest.mark.parametrize("backbone", ["r3d18", "r2plus1d18"])
def test_st_match_finds_a_time_shift(backbone):
    shift = 4
    torch.manual_seed(0)
    # layers 1-3 (16, 8 and 4 frames deep at this size); layer 4 keeps 2 frames, too coarse to tell shifts
    matcher = build_matcher({
        **SMALL, "backbone": backbone, "layers": [1, 2, 3], "aggregator": "st-match",
        "readout": {"kind": "hard_argmax"},
    }).eval()
    source = texture_clip(4)
    target = torch.roll(source, shifts=shift, dims=2)  # target frame t + 4 = source frame t
    with torch.no_grad():
        flow = matcher(source, target).flow.as_map()[0]  # (3, 8, 8, 8) as (dt, dy, dx)
    interior = flow[:, 1:5]  # source cells whose frames are inside the target, away from the clip ends
    assert interior[0].median().item() == pytest.approx(shift, abs=1.0)
    assert interior[1:].abs().median().item() <= 4.0  # half a cell in space


def small_matcher(aggregator: str, finetune: bool):
    args = {"ants": {"hidden": 8}, "st-cats": {"embed_dim": 32, "heads": 2, "feature_proj": 8}}.get(aggregator, {})
    cfg = {**SMALL, "grid": [4, 4, 4], "aggregator": aggregator, "aggregator_args": args,
           "finetune_backbone": finetune}
    return build_matcher(cfg)


@pytest.mark.parametrize("aggregator", list(AGGREGATORS))
@pytest.mark.parametrize("finetune", [True, False])
def test_gradients_reach_aggregator_and_backbone_only_when_finetuning(aggregator, finetune):
    torch.manual_seed(0)
    matcher = small_matcher(aggregator, finetune).train()
    source = texture_clip(5, (2, 3, 8, 32, 32))
    target = texture_clip(6, (2, 3, 8, 32, 32))
    points = random_points(7, 5, (8, 32, 32), batch=2)
    valid = torch.ones(2, 5, dtype=torch.bool)
    loss = matcher.loss(source, target, points, points.flip(1), valid)
    if not any(p.requires_grad for p in matcher.parameters()):  # frozen st-MATCH: nothing to train
        assert aggregator == "st-match" and not finetune and not loss.requires_grad
        return
    loss.backward()
    aggregator_grads = [p.grad for p in matcher.aggregator.parameters()]
    assert all(g is not None and g.abs().sum() > 0 for g in aggregator_grads)
    backbone_grads = [p.grad for p in matcher.backbone.parameters()]
    if finetune:
        assert sum(g.abs().sum() for g in backbone_grads if g is not None) > 0
        assert matcher.backbone.training
    else:
        assert all(g is None for g in backbone_grads)
        assert not matcher.backbone.training  # frozen BatchNorm statistics


def test_untrained_ants_starts_near_st_match():
    torch.manual_seed(0)
    clip_a, clip_b = texture_clip(8, (1, 3, 8, 32, 32)), texture_clip(9, (1, 3, 8, 32, 32))
    reference = small_matcher("st-match", True).eval()
    ants = small_matcher("ants", True)
    ants.features.load_state_dict(reference.features.state_dict())
    ants.eval()
    with torch.no_grad():
        plain = reference.cost_volume(clip_a, clip_b)
        refined = ants.cost_volume(clip_a, clip_b)
    assert (refined - plain).abs().mean() < 0.1 * plain.std()
    assert not torch.equal(refined, plain)


def test_forward_shapes_and_dense_flow():
    matcher = small_matcher("ants", True).eval()
    clip = texture_clip(10, (2, 3, 8, 32, 32))
    with torch.no_grad():
        out = matcher(clip, clip, upsample=True)
    assert out.volume.shape == (2, 64, 64)
    assert out.flow.flow.shape == (2, 64, 3)
    assert out.dense_flow.shape == (2, 3, 8, 32, 32)


def test_config_resolves_defaults_and_round_trips():
    matcher = build_matcher({**SMALL, "aggregator": "st-cats", "layers": None})
    cfg = matcher.config
    assert cfg["layers"] == matcher.backbone.default_layers
    assert cfg["aggregator_args"]["depth"] >= 1
    assert build_matcher(cfg).config == cfg
    assert sum(p.numel() for p in build_matcher(cfg).parameters()) == sum(p.numel() for p in matcher.parameters())


@pytest.mark.parametrize("cfg,word", [
    ({"backbon": "r3d18"}, "backbon"),
    ({"readout": {"temprature": 0.1}}, "temprature"),
    ({"aggregator": "ants", "aggregator_args": {"hiden": 4}}, "hiden"),
    ({"aggregator": "nope"}, "nope"),
    ({"backbone": "vgg"}, "vgg"),
    ({"grid": [8, 8]}, "grid"),
    ({**SMALL, "layers": [99]}, "99"),
])
def test_bad_config_raises_naming_the_key(cfg, word):
    with pytest.raises(StcorrError, match=word):
        build_matcher(cfg)


@pytest.mark.slow
def test_ants_forward_at_paper_size_runs_on_cpu():
    """The paper's size runs on a CPU (its time is a benchmark's business: benchmarks/models.py)."""
    torch.manual_seed(0)
    matcher = build_matcher({"backbone": "r2plus1d34", "width": 64, "blocks": None, "layers": None, "grid": [8, 8, 8], "aggregator": "ants"}).eval()
    clip = torch.randn(1, 3, 64, 128, 128)
    with torch.no_grad():
        found, scores = matcher.match(clip, clip, torch.tensor([[[32.0, 64.0, 64.0]]]))
    assert found.shape == (1, 1, 3) and torch.isfinite(found).all()


def test_build_matcher_loads_backbone_weights(tmp_path):
    from stcorr.models import build_backbone

    torch.manual_seed(11)
    donor = build_backbone("r3d18", width=8, blocks=[1, 1, 1, 1])
    path = tmp_path / "donor.pth"
    torch.save({"model": donor.state_dict()}, path)
    matcher = build_matcher({"width": 8, "blocks": [1, 1, 1, 1], "aggregator": "st-match", "weights": str(path)})
    assert torch.equal(matcher.backbone.layer2[0].conv1[0].weight, donor.layer2[0].conv1[0].weight)
    assert matcher.config["weights"] == str(path)
    fresh = build_matcher(matcher.config, load_weights=False)
    assert not torch.equal(fresh.backbone.layer2[0].conv1[0].weight, donor.layer2[0].conv1[0].weight)


def test_cell_cross_entropy_rewards_the_true_cell_and_ignores_masked_points():
    from stcorr.models.readout import cell_centres, cell_cross_entropy, target_cells

    grid, clip = (2, 2, 2), (4, 8, 8)
    centres = cell_centres(grid, clip)[:, [0, 2, 1]]  # (N, 3) clip (t, x, y) of each cell
    assert torch.equal(target_cells(centres[None], grid, clip)[0], torch.arange(8))
    src = centres[None, :3]
    tgt = centres[None, [5, 6, 7]]
    right = torch.zeros(1, 8, 8)
    right[0, torch.arange(3), torch.tensor([5, 6, 7])] = 1.0
    wrong = torch.zeros(1, 8, 8)
    wrong[0, torch.arange(3), torch.tensor([0, 1, 2])] = 1.0
    valid = torch.ones(1, 3, dtype=torch.bool)
    assert cell_cross_entropy(right, grid, clip, src, tgt, valid, 0.1) < cell_cross_entropy(wrong, grid, clip, src, tgt, valid, 0.1)
    valid[0, 2] = False
    moved = tgt.clone()
    moved[0, 2] = torch.tensor([float("nan")] * 3)
    assert cell_cross_entropy(right, grid, clip, src, moved, valid, 0.1) == cell_cross_entropy(right, grid, clip, src, tgt, valid, 0.1)
