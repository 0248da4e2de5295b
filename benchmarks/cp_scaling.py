"""Scaling of correspondence proposals: the CP module chunked vs dense, the matcher per aggregator.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/cp_scaling.py [--parts cp,matcher]
        [--grids 8x8x8,16x16x16,32x16x16] [--aggregators st-match,ants,st-cats,sparse]
        [--timeout 300] [--repeats 2] [--dense-max-gb 2]

Prints one JSON object; measures, asserts nothing. Every row runs in its own child process (its
peak resident memory is its own) under ``--timeout`` seconds; a row that runs out of time or
memory says so instead of a figure.

- ``cp`` rows: a ``CPModule`` (64 channels, k = 8, MLP 64-64, batch 2) on a (B, 64, T, H, W) map
  of the grid's size, with the k-NN in chunks of at most 2^22 distances, one frame's rows at a
  time ("chunked"), or as one (B, N, N) distance matrix ("dense", the alternative whose memory
  grows with N^2). Forward under
  ``no_grad``, then forward+backward of the output's sum.
- ``matcher`` rows: ``benchmarks/models.py``'s measurement (R3D-18 width 16, one block per stage,
  batch 2; forward of 16 points, and ``Matcher.loss`` + backward) with the hyperpixel grid set to
  each grid and clips of 16x64x64 frames (T = the grid's T when larger). ANTs and st-CATs grow
  with N^2 parameters or activations: at 16^3 they need 8-14 GB here, so keep them out of a run on
  a shared machine (``--aggregators``).

``*_peak_rss_mb``: the child's ru_maxrss after the forward runs and after the forward+backward
runs; ``baseline_rss_mb``: its resident memory once model and inputs exist.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import models as matcher_benchmark  # noqa: E402  (benchmarks/models.py)

from stcorr.models import cp as cp_module  # noqa: E402
from stcorr.models.cp import CPModule  # noqa: E402

CP_CHANNELS, CP_BATCH, CP_K = 64, 2, 8


def parse_grid(text: str) -> list[int]:
    return [int(part) for part in text.split("x")]


def dense_knn_other_frames(feats: torch.Tensor, frames: int, k: int, chunk_elements: int = 0) -> torch.Tensor:
    """The dense alternative to ``knn_other_frames``: all (B, N, N) squared distances at once."""
    with torch.no_grad():
        distances = torch.cdist(feats, feats).square_()
        frame_of = torch.arange(feats.shape[1]) // (feats.shape[1] // frames)
        distances.masked_fill_(frame_of[:, None] == frame_of[None, :], float("inf"))
        return distances.topk(k, dim=-1, largest=False).indices


def measure_cp(grid: list[int], method: str, repeats: int) -> dict:
    """One CP module on a (B, C, *grid) map: forward and forward+backward seconds and peak memory."""
    torch.manual_seed(0)
    if method == "dense":
        cp_module.knn_other_frames = dense_knn_other_frames
    module = CPModule(CP_CHANNELS, k=CP_K, mlp=(64, 64))
    with torch.no_grad():
        module.project_norm.weight.fill_(1.0)
    x = torch.randn(CP_BATCH, CP_CHANNELS, *grid)
    result = {"part": "cp", "grid": grid, "method": method, "positions": math.prod(grid), "batch": CP_BATCH,
              "channels": CP_CHANNELS, "k": CP_K, "baseline_rss_mb": round(matcher_benchmark.rss_mb(), 1)}

    def forward():
        with torch.no_grad():
            module(x)

    def forward_backward():
        module.zero_grad(set_to_none=True)
        x_grad = x.clone().requires_grad_(True)
        module(x_grad).sum().backward()

    module.eval()
    result["forward_s"] = round(matcher_benchmark.timed(forward, repeats), 4)
    result["forward_peak_rss_mb"] = round(matcher_benchmark.peak_rss_mb(), 1)
    module.train()
    result["forward_backward_s"] = round(matcher_benchmark.timed(forward_backward, repeats), 4)
    result["forward_backward_peak_rss_mb"] = round(matcher_benchmark.peak_rss_mb(), 1)
    return result


def measure_matcher(grid: list[int], aggregator: str, repeats: int) -> dict:
    """``benchmarks/models.py``'s row for ``aggregator`` with the CPU size's grid set to ``grid``."""
    base = matcher_benchmark.SIZES["cpu"]
    name = "x".join(map(str, grid))
    clip = [max(base["clip"][0], grid[0]), *base["clip"][1:]]
    matcher_benchmark.SIZES[name] = {**base, "config": {**base["config"], "grid": grid}, "clip": clip}
    row = matcher_benchmark.measure(name, aggregator, repeats, "finetune")
    row["aggregator_args"] = row.pop("config")["aggregator_args"]
    return {"part": "matcher", **row}


def run_child(args: list[str], timeout: float) -> dict:
    command = [sys.executable, __file__, "--one", *args]
    try:
        child = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"over the {timeout:g} s limit"}
    if child.returncode != 0:
        tail = child.stderr.strip().splitlines()[-1:] or [f"exit {child.returncode} (killed: out of memory?)"]
        return {"error": tail[0]}
    return json.loads(child.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="cp,matcher")
    parser.add_argument("--grids", default="8x8x8,16x16x16,32x16x16")
    parser.add_argument("--aggregators", default="st-match,sparse")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--dense-max-gb", type=float, default=2.0,
                        help="skip the dense CP row when its N x N matrices would exceed this")
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)  # part grid method, in a child process
    args = parser.parse_args()

    if args.one:
        part, grid, method = args.one
        measure = measure_cp if part == "cp" else measure_matcher
        print(json.dumps(measure(parse_grid(grid), method, args.repeats)))
        return

    rows = []
    for part in args.parts.split(","):
        methods = ["chunked", "dense"] if part == "cp" else args.aggregators.split(",")
        for grid in args.grids.split(","):
            for method in methods:
                dense_gb = CP_BATCH * math.prod(parse_grid(grid)) ** 2 * 4 / 2**30
                if method == "dense" and dense_gb > args.dense_max_gb:
                    row = {"error": f"skipped: its N x N matrices take {dense_gb:.1f} GB (--dense-max-gb)"}
                else:
                    row = run_child([part, grid, method, "--repeats", str(args.repeats)], args.timeout)
                rows.append({"part": part, "grid": parse_grid(grid), "method": method, **row})
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print(json.dumps({
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                    "platform": platform.platform()},
        "repeats": args.repeats, "timeout_s": args.timeout,
        "timing": "seconds, min over repeats after one warm-up",
        "memory": "ru_maxrss of a child process per row (MB); baseline_rss_mb = VmRSS with model and inputs built",
        "rows": rows,
    }, indent=1))


if __name__ == "__main__":
    main()
