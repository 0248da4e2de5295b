"""Time and memory of the Matcher per aggregator, at a CPU-sized and at the paper's size.

    python benchmarks/models.py [--sizes cpu,paper] [--aggregators st-match,ants,st-cats] [--repeats N]
                                [--paper-backward frozen|finetune|none] [--refine null,local]

Prints one JSON object. Each (size, aggregator) runs in its own child process so that its peak
resident memory (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) is its own; ``*_peak_rss_mb``
are that peak after the forward runs and after the forward+backward runs (the peak only grows),
``baseline_rss_mb`` the resident memory once the model and inputs exist, so the difference is
what the passes themselves took. Times are the minimum over ``--repeats`` runs after one
warm-up run. Forward runs under ``torch.no_grad()`` in eval mode; forward+backward is
``Matcher.loss`` on 16 valid keypoints and its ``backward()`` in train mode. ``--refine`` adds
rows with the fine stage of coarse-to-fine matching (``model.refine``), whose cost is then part
of both times (forward: the coarse flow plus the fine stage at the 16 keypoints).

At the paper size, forward+backward through a finetuned R(2+1)D-34 on two 64x128x128 clips
needs about 10 GB and minutes per step on this machine; by default (``--paper-backward frozen``)
the paper-size backward pass runs with the backbone frozen (gradients into the aggregator only),
as the JSON states.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stcorr.models import AGGREGATORS, build_matcher  # noqa: E402

SIZES = {
    "cpu": {"config": {"backbone": "r3d18", "width": 16, "blocks": [1, 1, 1, 1], "layers": None, "grid": [8, 8, 8]},
            "clip": [16, 64, 64], "batch": 2},
    "paper": {"config": {"backbone": "r2plus1d34", "width": 64, "blocks": None, "layers": None, "grid": [8, 8, 8]},
              "clip": [64, 128, 128], "batch": 1},
}


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(step, repeats: int) -> float:
    step()  # warm-up: oneDNN picks its kernels on the first call
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(size: str, aggregator: str, repeats: int, paper_backward: str, refine: str | None = None) -> dict:
    spec = SIZES[size]
    finetune = size != "paper" or paper_backward == "finetune"
    cfg = {**spec["config"], "aggregator": aggregator, "finetune_backbone": finetune, "refine": refine}
    torch.manual_seed(0)
    matcher = build_matcher(cfg)
    batch, clip = spec["batch"], spec["clip"]
    source, target = torch.randn(batch, 3, *clip), torch.randn(batch, 3, *clip)
    generator = torch.Generator().manual_seed(0)
    extent = torch.tensor([clip[0], clip[2], clip[1]], dtype=torch.float32)
    src_points = torch.rand(batch, 16, 3, generator=generator) * (extent - 1)
    tgt_points = torch.rand(batch, 16, 3, generator=generator) * (extent - 1)
    valid = torch.ones(batch, 16, dtype=torch.bool)
    result = {
        "size": size, "aggregator": aggregator, "refine": refine, "batch": batch, "clip_t_h_w": clip,
        "config": matcher.config,
        "parameters": sum(p.numel() for p in matcher.parameters()),
        "aggregator_parameters": sum(p.numel() for p in matcher.aggregator.parameters()),
        "baseline_rss_mb": round(rss_mb(), 1),
    }

    def forward():
        with torch.no_grad():
            matcher.match_points(source, target, src_points)

    matcher.eval()
    result["forward_s"] = round(timed(forward, repeats), 4)
    result["forward_peak_rss_mb"] = round(peak_rss_mb(), 1)

    trainable = any(p.requires_grad for p in matcher.parameters())
    if size == "paper" and paper_backward == "none" or not trainable:
        result["forward_backward_s"] = None
        result["backward_note"] = "not measured: " + ("nothing to train" if not trainable else "--paper-backward none")
        return result

    def forward_backward():
        matcher.zero_grad(set_to_none=True)
        matcher.loss(source, target, src_points, tgt_points, valid).backward()

    matcher.train()
    result["forward_backward_s"] = round(timed(forward_backward, repeats), 4)
    result["forward_backward_peak_rss_mb"] = round(peak_rss_mb(), 1)
    result["backward_note"] = "backbone finetuned" if finetune else "backbone frozen: gradients into the aggregator only"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="cpu,paper")
    parser.add_argument("--aggregators", default=",".join(AGGREGATORS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--paper-backward", choices=["frozen", "finetune", "none"], default="frozen")
    parser.add_argument("--refine", default="null", help="fine stages to measure, comma-separated: null, local")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # "size:aggregator:refine", run in a child process
    args = parser.parse_args()

    if args.one:
        size, aggregator, refine = args.one.split(":")
        print(json.dumps(measure(size, aggregator, args.repeats, args.paper_backward, None if refine == "null" else refine)))
        return

    results = []
    for size in args.sizes.split(","):
        for aggregator in args.aggregators.split(","):
            for refine in args.refine.split(","):
                command = [sys.executable, __file__, "--one", f"{size}:{aggregator}:{refine}", "--repeats",
                           str(args.repeats), "--paper-backward", args.paper_backward]
                child = subprocess.run(command, capture_output=True, text=True)
                if child.returncode == 0:
                    results.append(json.loads(child.stdout.strip().splitlines()[-1]))
                else:
                    tail = child.stderr.strip().splitlines()[-1:] or [f"exit {child.returncode}"]
                    results.append({"size": size, "aggregator": aggregator, "refine": refine, "error": tail[0]})
    print(json.dumps({
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                    "platform": platform.platform()},
        "repeats": args.repeats,
        "timing": "seconds, min over repeats after one warm-up",
        "memory": "ru_maxrss of a child process per row (MB); baseline_rss_mb = VmRSS with model and inputs built",
        "results": results,
    }, indent=1))


if __name__ == "__main__":
    main()
