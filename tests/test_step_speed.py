"""What makes the training step faster must leave its numbers alone: the example thread
(``train.prefetch``), the training frame cache, pose maps without subnormal tails, the fused
CPU optimiser."""

from __future__ import annotations

import numpy as np
import torch

import stcorr.data.video as video_module
from stcorr.config import load_config
from stcorr.data.datasets import open_dataset
from stcorr.pose.maps import draw_pose_maps
from stcorr.data.video import FrameCache, reserve_frame_cache
from stcorr.training.engine import build_optimizer, prefetches, train

TINY = {"data.clip_len": 8, "data.size": 32, "model.grid": [4, 4, 4], "model.width": 8, "train.max_steps": 4,
        "train.checkpoint_every": 100, "train.val_every": 0, "train.log_every": 1}


def test_prefetching_trains_exactly_as_drawing_in_the_step(golf, tmp_path):
    runs = {}
    for prefetch in (False, True):
        torch.manual_seed(123)  # train seeds torch itself: this must not matter
        cfg = load_config("cpu", {**TINY, "train.prefetch": prefetch})
        runs[prefetch] = train(cfg, open_dataset(golf), tmp_path / str(prefetch), progress=False).losses
    assert len(runs[True]) == 4 and runs[True] == runs[False]


def test_the_example_thread_runs_only_where_a_core_is_left_for_it(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert prefetches("auto", cpu) is False  # two threads fill two cores
    assert prefetches("auto", cuda) is True
    assert prefetches(True, cpu) is True and prefetches(False, cuda) is False
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert prefetches("auto", cpu) is True  # one thread, two cores
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert prefetches("auto", cpu) is False  # two one-thread processes fill them
    assert load_config("cpu")["train"]["prefetch"] == "auto"


def test_training_cache_grows_to_the_training_frames(golf, monkeypatch):
    monkeypatch.delenv("STCORR_FRAME_CACHE_MB", raising=False)
    monkeypatch.setattr(video_module, "FRAME_CACHE", FrameCache(1000))
    videos = [open_dataset(golf).video(f"{i:04d}") for i in (1, 2)]
    needed = sum(v.num_frames * v.size[0] * v.size[1] * 3 for v in videos)
    assert reserve_frame_cache(videos) == needed == video_module.FRAME_CACHE.max_bytes
    monkeypatch.setattr(video_module, "TRAINING_CACHE_CAP_MB", needed / 2 / 2**20)
    monkeypatch.setattr(video_module, "FRAME_CACHE", FrameCache(10))
    assert reserve_frame_cache(videos) == needed // 2  # capped
    monkeypatch.setenv("STCORR_FRAME_CACHE_MB", "0")
    monkeypatch.setattr(video_module, "FRAME_CACHE", FrameCache(0))
    assert reserve_frame_cache(videos) == 0  # the user's setting stands


def test_pose_maps_hold_no_subnormal_numbers():
    xy = np.array([[[5.0, 6.0]] * 13], dtype=np.float64)
    seen = np.ones((1, 13), bool)
    maps = draw_pose_maps(xy, seen, (64, 64), sigma=1.5).numpy()
    tiny = np.finfo(np.float32).tiny
    assert not ((maps > 0) & (maps < tiny)).any()
    assert maps[0, 0, 6, 5] == 1.0 and 0 < maps[0, 0, 6, 20] < 1e-20  # the bump and a far, still normal, tail
    gx, gy = np.exp(np.float32(-14.0**2 / 4.5)), np.exp(np.float32(-15.0**2 / 4.5))
    assert 0 < gx * gy < tiny  # pixel (19, 21): a subnormal product of two normal tails ...
    assert maps[0, 0, 21, 19] == 0.0  # ... drawn as 0



def test_cpu_optimiser_is_fused_and_updates_as_the_per_tensor_loop():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv3d(3, 8, 3), torch.nn.Conv3d(8, 4, 1))
    backbone = list(model[0].parameters())
    start = [p.detach().clone() for p in model.parameters()]
    grads = [torch.randn(p.shape) for p in model.parameters()]
    cfg = {"lr": 1e-3, "backbone_lr": 2e-3, "weight_decay": 0.01}
    fused = build_optimizer(model, backbone, cfg)
    assert fused.defaults["fused"] is True
    loop = torch.optim.AdamW([{"params": list(model[1].parameters()), "lr": 1e-3},
                              {"params": backbone, "lr": 2e-3}], weight_decay=0.01)
    results = []
    for optimiser in (fused, loop):
        with torch.no_grad():
            for p, s in zip(model.parameters(), start):
                p.copy_(s)
        for _ in range(3):
            for p, g in zip(model.parameters(), grads):
                p.grad = g.clone()
            optimiser.step()
        results.append([p.detach().clone() for p in model.parameters()])
    moved = max((a - s).abs().max() for a, s in zip(results[0], start))
    assert moved > 1e-3  # three steps of lr 1e-3 and 2e-3
    assert max((a - b).abs().max() for a, b in zip(*results)) < 1e-6
