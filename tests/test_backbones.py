"""Backbones: torchvision's parameter layout, weight files, hyperpixel layer numbering."""

from __future__ import annotations

import math

import pytest
import torch
from safetensors.torch import save_file

from stcorr.errors import StcorrError
from stcorr.models.backbones import BACKBONES, build_backbone, frames_to_clip, load_backbone_weights, normalize_clip
from stcorr.models.backbones.video_resnet import paper_layers

# ---------------------------------------------------------------------------------------------
# torchvision's layout, written down from torchvision/models/video/resnet.py (not from our code):
# stem = Sequential(conv, BN, ReLU) for R3D (3x7x7 conv) or Sequential(conv 1x7x7 -> 45, BN,
# ReLU, conv 3x1x1 -> 64, BN, ReLU) for R(2+1)D; BasicBlock: conv1 = [conv, BN, ReLU],
# conv2 = [conv, BN], downsample = [1x1x1 conv, BN] in the first block of a stage whose stride or
# width changes; an R(2+1)D conv = [1x3x3 conv -> mid, BN, ReLU, 3x1x1 conv], with
# mid = (in*out*27) // (in*9 + 3*out) computed once per block from (inplanes, planes) for both
# convs. The IG65M R(2+1)D-34 recomputes conv2's mid from (planes, planes).
# ---------------------------------------------------------------------------------------------


def torchvision_shapes(kind: str, blocks=(2, 2, 2, 2), width=64, stem_mid=45, caffe2=False,
                       num_classes=400) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}

    def conv(name, out, inp, kernel):
        shapes[f"{name}.weight"] = (out, inp, *kernel)

    def bn(name, channels):
        for field in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{name}.{field}"] = (channels,)
        shapes[f"{name}.num_batches_tracked"] = ()

    def block_conv(name, inp, out, mid):
        if kind == "r3d":
            conv(name, out, inp, (3, 3, 3))
        else:
            conv(f"{name}.0", mid, inp, (1, 3, 3))
            bn(f"{name}.1", mid)
            conv(f"{name}.3", out, mid, (3, 1, 1))

    if kind == "r3d":
        conv("stem.0", width, 3, (3, 7, 7))
        bn("stem.1", width)
    else:
        conv("stem.0", stem_mid, 3, (1, 7, 7))
        bn("stem.1", stem_mid)
        conv("stem.3", width, stem_mid, (3, 1, 1))
        bn("stem.4", width)
    inplanes = width
    for stage, count in enumerate(blocks):
        planes = width * 2**stage
        for index in range(count):
            prefix = f"layer{stage + 1}.{index}"
            inp = inplanes if index == 0 else planes
            mid = (inp * planes * 27) // (inp * 9 + 3 * planes)
            mid2 = (planes * planes * 27) // (planes * 9 + 3 * planes) if caffe2 else mid
            block_conv(f"{prefix}.conv1.0", inp, planes, mid)
            bn(f"{prefix}.conv1.1", planes)
            block_conv(f"{prefix}.conv2.0", planes, planes, mid2)
            bn(f"{prefix}.conv2.1", planes)
            if index == 0 and (stage > 0 or inp != planes):
                conv(f"{prefix}.downsample.0", planes, inp, (1, 1, 1))
                bn(f"{prefix}.downsample.1", planes)
        inplanes = planes
    shapes["fc.weight"] = (num_classes, 8 * width)
    shapes["fc.bias"] = (num_classes,)
    return shapes


def random_state(shapes: dict[str, tuple[int, ...]], seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in shapes.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(7)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=generator) + 0.5
        else:
            state[key] = torch.randn(shape, generator=generator) * 0.05
    return state


def learnable_count(shapes):
    return sum(math.prod(s) for k, s in shapes.items() if not k.split(".")[-1].startswith(("running", "num_")))


def test_table_matches_torchvision_published_parameter_counts():
    # torchvision's weight metadata: r3d_18 33,371,472 and r2plus1d_18 31,505,325 parameters.
    assert learnable_count(torchvision_shapes("r3d")) == 33_371_472
    assert learnable_count(torchvision_shapes("r2plus1d")) == 31_505_325


@pytest.mark.parametrize("name,kind", [("r3d18", "r3d"), ("r2plus1d18", "r2plus1d")])
def test_torchvision_state_dict_loads_strictly(name, kind):
    state = random_state(torchvision_shapes(kind))
    model = build_backbone(name)
    model.load_state_dict(state, strict=True)
    loaded = model.state_dict()
    assert all(torch.equal(loaded[key], value) for key, value in state.items())


def test_r2plus1d34_layout_matches_ig65m_checkpoints():
    with torch.device("meta"):
        model = build_backbone("r2plus1d34")
    ours = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    assert ours == torchvision_shapes("r2plus1d", blocks=(3, 4, 6, 3), caffe2=True)
    assert ours["layer2.0.conv2.0.0.weight"] == (288, 128, 1, 3, 3)
    assert ours["layer4.0.conv2.0.0.weight"] == (1152, 512, 1, 3, 3)
    assert all(m.eps == 1e-3 for m in model.modules() if isinstance(m, torch.nn.BatchNorm3d))


def small_r2plus1d34_state(num_classes=359, seed=1):
    shapes = torchvision_shapes("r2plus1d", blocks=(3, 4, 6, 3), width=8, stem_mid=6, caffe2=True,
                                num_classes=num_classes)
    return random_state(shapes, seed)


def test_r2plus1d34_loader_pth_with_module_prefix_and_other_classifier(tmp_path):
    state = small_r2plus1d34_state()
    path = tmp_path / "r2plus1d_34_ig65m.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    model = build_backbone("r2plus1d34", width=8)
    fc_before = model.fc.weight.clone()
    load_backbone_weights(model, path)
    assert torch.equal(model.layer3[5].conv2[0][3].weight, state["layer3.5.conv2.0.3.weight"])
    assert torch.equal(model.stem[4].running_var, state["stem.4.running_var"])
    assert torch.equal(model.fc.weight, fc_before)  # the 359-class classifier is dropped


def test_r2plus1d34_loader_safetensors(tmp_path):
    state = small_r2plus1d34_state(num_classes=400, seed=2)
    path = tmp_path / "r2plus1d_34.safetensors"
    save_file(state, str(path))
    model = build_backbone("r2plus1d34", width=8)
    load_backbone_weights(model, path)
    assert torch.equal(model.layer2[0].downsample[0].weight, state["layer2.0.downsample.0.weight"])
    assert torch.equal(model.fc.weight, state["fc.weight"])  # same shape: kept


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_corrupt_file_raises_naming_the_file(tmp_path, suffix):
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(b"\x80\x02this is not a checkpoint" * 10)
    with pytest.raises(StcorrError, match="broken"):
        load_backbone_weights(build_backbone("r3d18", width=8, blocks=[1, 1, 1, 1]), path)


def test_missing_file_raises(tmp_path):
    with pytest.raises(StcorrError, match="nowhere.pth"):
        load_backbone_weights(build_backbone("r3d18", width=8), tmp_path / "nowhere.pth")


def test_wrong_architecture_names_file_and_key(tmp_path):
    path = tmp_path / "r3d_18.pth"
    torch.save(random_state(torchvision_shapes("r3d", width=8)), path)
    with pytest.raises(StcorrError, match=r"r3d_18\.pth.*(missing|unexpected) key '[\w.]+'"):
        load_backbone_weights(build_backbone("r2plus1d18", width=8), path)


def test_wrong_shape_is_reported(tmp_path):
    path = tmp_path / "wide.pth"
    torch.save(random_state(torchvision_shapes("r3d", width=16)), path)
    with pytest.raises(StcorrError, match="wide.pth.*shape"):
        load_backbone_weights(build_backbone("r3d18", width=8), path)


def test_unknown_backbone_lists_names():
    with pytest.raises(StcorrError, match="r3d18.*r2plus1d18.*r2plus1d34"):
        build_backbone("resnet50")


@pytest.mark.parametrize(
    "name,count,groups",
    [("r3d18", 9, [2, 2, 2, 2]), ("r2plus1d18", 9, [2, 2, 2, 2]), ("r2plus1d34", 17, [3, 4, 6, 3])],
)
def test_layer_numbering_counts_and_shapes(name, count, groups):
    model = build_backbone(name, width=4).eval()
    assert model.num_layers == count
    clip = torch.randn(2, 3, 8, 32, 32)
    with torch.no_grad():
        feats = model.layer_features(clip, list(range(count)))
    assert tuple(feats[0].shape) == (2, 4, 8, 16, 16)  # stem: spatial stride 2
    first = 1
    for stage, blocks in enumerate(groups):
        expected = (2, 4 * 2**stage, 8 // 2**stage, 16 // 2**stage, 16 // 2**stage)
        for layer in range(first, first + blocks):
            assert tuple(feats[layer].shape) == expected, (layer, stage)
            assert model.layer_channels(layer) == expected[1]
        first += blocks


def test_layer_features_match_full_forward_and_stop_early():
    model = build_backbone("r3d18", width=4).eval()
    clip = torch.randn(1, 3, 8, 32, 32)
    calls = []
    model.layer4[0].register_forward_hook(lambda *_: calls.append("layer4"))
    with torch.no_grad():
        block3 = model.layer_features(clip, [3])[0]
        assert calls == []  # layer 3 = first block of layer2: layer4 never ran
        both = model.layer_features(clip, [8, 3])
        manual = model.layer2[0](model.layer1(model.stem(clip)))
    assert calls == ["layer4"]
    assert torch.allclose(both[1], block3) and torch.allclose(block3, manual)
    with pytest.raises(StcorrError, match="0..8"):
        model.layer_features(clip, [9])


def test_registry_and_width_options():
    assert set(BACKBONES) == {"r3d18", "r2plus1d18", "r2plus1d34"}
    small = build_backbone("r3d18", width=16, blocks=[1, 1, 1, 1])
    assert small.num_layers == 5
    assert sum(p.numel() for p in small.parameters()) < 1_000_000
    assert all(1 <= layer < small.num_layers for layer in small.default_layers)


def test_normalize_clip_uint8_and_float_agree():
    frames = torch.randint(0, 256, (1, 3, 2, 4, 4), dtype=torch.uint8)
    a = normalize_clip(frames)
    b = normalize_clip(frames.float() / 255)
    assert torch.allclose(a, b)
    assert a.dtype == torch.float32
    assert torch.allclose(normalize_clip(torch.full((3, 1, 1, 1), 0.43216))[0], torch.zeros(1), atol=1e-6)
    frames = torch.randint(0, 256, (5, 6, 7, 3), dtype=torch.uint8)  # (T, H, W, 3) as Video.frames gives
    clip = frames_to_clip(frames.numpy())
    assert clip.shape == (3, 5, 6, 7)
    assert torch.allclose(clip[1, 2, 3, 4], (frames[2, 3, 4, 1] / 255 - 0.394666) / 0.22145)


@pytest.mark.parametrize("name,blocks,expected", [
    ("r2plus1d34", None, [5, 7, 9, 11, 12, 13, 14, 16]),  # the paper configs' list
    ("r3d18", None, [3, 4, 5, 6, 7, 8]),
    ("r2plus1d18", None, [3, 4, 5, 6, 7, 8]),
    ("r3d18", [1, 1, 1, 1], [2, 3, 4]),
    ("r2plus1d34", [1, 2, 3, 4], [2, 3, 4, 5, 6, 8, 10]),
])
def test_default_layers_are_the_papers_rule_for_the_depth_built(name, blocks, expected):
    with torch.device("meta"):
        model = build_backbone(name, width=4, blocks=blocks)
    assert model.default_layers == expected == paper_layers(model.blocks)
    assert max(model.default_layers) == model.num_layers - 1  # always reaches the last block


def test_paper_config_with_another_backbone_takes_that_backbones_layers():
    """Table 7's `stcorr train --config paper-13+3 --backbone r3d18`: the config names no layers."""
    from stcorr.config import load_config
    from stcorr.models.matcher import build_matcher

    for config in ("paper-13+3", "paper-3+3", "pouring"):
        model_cfg = load_config(config)["model"]
        assert model_cfg["layers"] is None
        small = {**model_cfg, "backbone": "r3d18", "width": 4, "weights": None}
        assert build_matcher(small).features.layers == [3, 4, 5, 6, 7, 8]
        with torch.device("meta"):
            paper = build_matcher({**model_cfg, "weights": None}, load_weights=False)
        assert paper.features.layers == [5, 7, 9, 11, 12, 13, 14, 16]
    explicit = build_matcher({"backbone": "r3d18", "width": 4, "blocks": None, "layers": [1, 8]})
    assert explicit.features.layers == [1, 8]


@pytest.mark.parametrize("file_kind,file_blocks,model_name,hint", [
    ("r3d", (2, 2, 2, 2), "r3d18", "the file holds r3d18 of width 16, blocks [2, 2, 2, 2]: ask for it with "
                                   "--set model.width=16 --set model.blocks=null"),
    ("r2plus1d", (3, 4, 6, 3), "r3d18", "the file holds r2plus1d34 of width 16, blocks [3, 4, 6, 3]: ask for it with "
                                        "--backbone r2plus1d34 --set model.width=16 --set model.blocks=null"),
    ("r3d", (1, 2, 1, 1), "r3d18", "ask for it with --set model.width=16 --set model.blocks=[1,2,1,1]"),
])
def test_weights_for_another_size_say_which_size_and_how_to_ask(tmp_path, file_kind, file_blocks, model_name, hint):
    """The CPU config's reduced backbone (width 8, one block a group) given a bigger model's file."""
    path = tmp_path / "weights.pth"
    caffe2 = file_blocks == (3, 4, 6, 3)
    torch.save(random_state(torchvision_shapes(file_kind, blocks=file_blocks, width=16, stem_mid=11, caffe2=caffe2)), path)
    with pytest.raises(StcorrError) as error:
        load_backbone_weights(build_backbone(model_name, width=8, blocks=[1, 1, 1, 1]), path)
    message = str(error.value)
    assert hint in message and "\n" not in message and "weights.pth" in message
