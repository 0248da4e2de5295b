"""Tests of the ResNet-18-style frame encoder and its torchvision-named weight loading."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from stcorr.errors import StcorrError
from stcorr.models.backbones.resnet2d import ResNet2d, load_resnet2d_weights

# torchvision.models.resnet18().state_dict(), written down: (stage, in, out, stride of block 0)
TORCHVISION_STAGES = [(1, 64, 64, 1), (2, 64, 128, 2), (3, 128, 256, 2), (4, 256, 512, 2)]
TORCHVISION_RESNET18_PARAMETERS = 11_689_512  # sum of numel over resnet18().parameters()


def batch_norm(prefix: str, channels: int, tracked: bool = True) -> dict[str, tuple[int, ...]]:
    shapes = {f"{prefix}.{name}": (channels,) for name in ("weight", "bias", "running_mean", "running_var")}
    if tracked:
        shapes[f"{prefix}.num_batches_tracked"] = ()
    return shapes


def torchvision_resnet18_shapes(tracked: bool = True) -> dict[str, tuple[int, ...]]:
    shapes = {"conv1.weight": (64, 3, 7, 7), **batch_norm("bn1", 64, tracked)}
    for stage, c_in, c_out, stride in TORCHVISION_STAGES:
        for block in (0, 1):
            p = f"layer{stage}.{block}"
            block_in = c_in if block == 0 else c_out
            shapes[f"{p}.conv1.weight"] = (c_out, block_in, 3, 3)
            shapes.update(batch_norm(f"{p}.bn1", c_out, tracked))
            shapes[f"{p}.conv2.weight"] = (c_out, c_out, 3, 3)
            shapes.update(batch_norm(f"{p}.bn2", c_out, tracked))
            if block == 0 and stride != 1:
                shapes[f"{p}.downsample.0.weight"] = (c_out, c_in, 1, 1)
                shapes.update(batch_norm(f"{p}.downsample.1", c_out, tracked))
    shapes["fc.weight"], shapes["fc.bias"] = (1000, 512), (1000,)
    return shapes


def random_state(shapes: dict[str, tuple[int, ...]], seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape in shapes.items():
        if name.endswith("num_batches_tracked"):
            state[name] = torch.tensor(7, dtype=torch.long)
        elif name.endswith("running_var"):
            state[name] = torch.rand(shape, generator=generator) + 0.5
        else:
            state[name] = torch.randn(shape, generator=generator) * 0.05
    return state


def test_the_written_down_table_is_resnet18():
    params = sum(torch.Size(s).numel() for n, s in torchvision_resnet18_shapes().items()
                 if not n.endswith(("running_mean", "running_var", "num_batches_tracked")))
    assert params == TORCHVISION_RESNET18_PARAMETERS


def test_names_and_shapes_match_torchvision():
    model = ResNet2d(num_classes=1000)
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert ours == torchvision_resnet18_shapes()


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_strict_loading_drops_fc_and_keeps_every_value(tmp_path, suffix):
    state = random_state(torchvision_resnet18_shapes())
    path = tmp_path / f"resnet18{suffix}"
    torch.save(state, path) if suffix == ".pth" else save_file(state, str(path))
    model = ResNet2d(projection_dim=32)
    projection_before = model.projection.weight.clone()
    load_resnet2d_weights(model, path)
    loaded = model.state_dict()
    for name, value in state.items():
        if not name.startswith("fc."):
            torch.testing.assert_close(loaded[name], value, msg=name)
    torch.testing.assert_close(model.projection.weight, projection_before)
    frames = torch.randn(2, 3, 32, 32)
    assert model.eval().frame_embeddings(frames).shape == (2, 32)


def test_old_files_without_batch_counters_and_with_module_prefix_load(tmp_path):
    state = random_state(torchvision_resnet18_shapes(tracked=False))
    path = tmp_path / "old.pth"
    torch.save({"module." + k: v for k, v in state.items()}, path)
    model = load_resnet2d_weights(ResNet2d(), path)
    torch.testing.assert_close(model.layer3[0].downsample[0].weight, state["layer3.0.downsample.0.weight"])


def test_truncated_model_ignores_later_stages(tmp_path):
    path = tmp_path / "full.pth"
    torch.save(random_state(torchvision_resnet18_shapes()), path)
    model = load_resnet2d_weights(ResNet2d(last_layer=3), path)
    assert not hasattr(model, "layer4") and model.embedding_dim == 256
    assert model.eval().frame_embeddings(torch.randn(2, 3, 32, 32)).shape == (2, 256)


def test_mismatches_name_the_file(tmp_path):
    full = random_state(torchvision_resnet18_shapes())
    path = tmp_path / "weights.pth"
    torch.save(full, path)
    with pytest.raises(StcorrError, match="weights.pth.*shape mismatches"):
        load_resnet2d_weights(ResNet2d(width_multiplier=0.5), path)
    missing = dict(full)
    del missing["layer2.1.bn2.running_var"]
    torch.save(missing, path)
    with pytest.raises(StcorrError, match="weights.pth.*missing 1 entries.*layer2.1.bn2.running_var"):
        load_resnet2d_weights(ResNet2d(), path)
    torch.save({**full, "layer5.0.conv1.weight": torch.zeros(1)}, path)
    with pytest.raises(StcorrError, match="unexpected"):
        load_resnet2d_weights(ResNet2d(), path)
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(StcorrError, match="junk.pth.*cannot read"):
        load_resnet2d_weights(ResNet2d(), tmp_path / "junk.pth")
    with pytest.raises(StcorrError, match="nowhere.pth"):
        load_resnet2d_weights(ResNet2d(), tmp_path / "nowhere.pth")


def test_frame_embeddings_pool_the_last_stage_and_chunk():
    torch.manual_seed(0)
    model = ResNet2d(width_multiplier=0.25).eval()
    frames = torch.randn(5, 3, 48, 64)
    with torch.no_grad():
        embeddings = model.frame_embeddings(frames)
        features = model.features(frames)
        assert features.shape == (5, 128, 2, 2)
        torch.testing.assert_close(embeddings, features.mean(dim=(2, 3)))
        torch.testing.assert_close(model.frame_embeddings(frames, batch_size=2), embeddings)
    assert model(frames).shape == (5, 128)


def test_gradients_reach_the_stem():
    model = ResNet2d(width_multiplier=0.25, projection_dim=8)
    model.frame_embeddings(torch.randn(2, 3, 32, 32)).pow(2).sum().backward()
    assert model.conv1.weight.grad.abs().sum() > 0
