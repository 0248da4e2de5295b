"""C2D vs CPNet vs a small R3D at equal steps on the forward/reversed action task (``stcorr train
--config cpnet``): val accuracy (chance 1 / classes) and the CPU seconds of each training run.

    OMP_NUM_THREADS=1 python benchmarks/cp_classify.py --data DATA --runs RUNS [--steps 300] [--seeds 0,1]
        [--networks c2d,cpnet,r3d] [--set cpnet.size=64 ...] [--cp-init-scale 1.0] [--mediapipe N]

DATA: a Penn Action-layout set (e.g. ``stcorr synth DATA --videos-per-action 6 --seed 0``). Each
(network, seed) trains in RUNS/NETWORK-sSEED with the packaged ``cpnet`` config and ``--set``
overrides; a run folder that already holds a finished checkpoint is scored, not retrained. Prints
one JSON object: per run the steps, CPU seconds of training (process time, validation passes
included), the val figures of its last step and its val_log.csv curve, the same figures on the train
videos' evaluation clips (``train_*``: learned or memorised?) and, for cpnet, each CP module's output
scale (the mean |weight| of its last BatchNorm, 0 at the start: the branch shut).

Pose input (``--set cpnet.input=rgb+pose``) draws its maps from the data set's annotated joints: on
synthetic data an oracle input. ``--mediapipe N`` also scores the first N val videos of each action
with MediaPipe's joints instead (the plain pass through the pose cache, computed once per video),
beside the annotated joints on the same videos (``mediapipe`` in the run's entry).

``--cp-init-scale S`` (cpnet only) is ``--set cpnet.cp_init_scale=S``: the CP modules' output BatchNorm
scale starts at S instead of 0 (the residual branch open from the start); its runs are RUNS/cpnet-openS-sSEED.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import torch


MEDIAPIPE_PLAIN = {"min_visibility": 0.5, "model_complexity": 1, "cache": None}  # no test-time augmentation


def mediapipe_scores(model: torch.nn.Module, dataset, per_action: int) -> dict:
    """Direction / action / accuracy on the first ``per_action`` val videos of each action, from
    MediaPipe's joints and from the annotated ones."""
    from stcorr.models.action_clips import evaluate_classifier

    names = [name for group in dataset.videos_by_action("val").values() for name in group[:per_action]]
    figures = ("accuracy", "action_accuracy", "direction_accuracy", "n_clips")
    labelled = evaluate_classifier(model, dataset, "val", videos=names)
    found = evaluate_classifier(model, dataset, "val", videos=names, mediapipe=MEDIAPIPE_PLAIN)
    return {"labels": {k: labelled[k] for k in figures}, "mediapipe": {k: found[k] for k in figures}}


def run_one(data: Path, run: Path, network: str, seed: int, steps: int, sets: dict,
            cp_init_scale: float | None = None, mediapipe: int = 0) -> dict:
    from stcorr.config import load_config
    from stcorr.data.datasets import open_dataset
    from stcorr.models.action_clips import evaluate_classifier
    from stcorr.models.checkpoint import load_checkpoint, read_checkpoint_info
    from stcorr.training.engine import train

    scale = {} if cp_init_scale is None else {"cpnet.cp_init_scale": cp_init_scale}
    cfg = load_config("cpnet", {**sets, **scale, "cpnet.network": network, "seed": seed, "train.max_steps": steps,
                                "train.val_every": max(steps // 3, 1)})
    finished = (run / "checkpoint").exists() and read_checkpoint_info(run / "checkpoint")[1]["step"] == steps
    began = time.process_time()
    if not finished:
        train(cfg, open_dataset(data), run, resume=(run / "checkpoint").exists(), progress=False)
    cpu = time.process_time() - began
    model, _ = load_checkpoint(run / "checkpoint", "cpnet")
    dataset = open_dataset(data)
    results = evaluate_classifier(model, dataset, "val")
    train_results = evaluate_classifier(model, dataset, "train")
    with open(run / "val_log.csv") as f:
        curve = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    cp = getattr(model.net, "cp", {})
    return {"network": network, "seed": seed, "steps": steps, "cpu_seconds": round(cpu, 1) if not finished else None,
            "parameters": sum(p.numel() for p in model.parameters()), "input": model.config["input"],
            **{k: results[k] for k in ("accuracy", "action_accuracy", "direction_accuracy", "chance", "n_clips")},
            **{f"train_{k}": train_results[k] for k in ("accuracy", "action_accuracy", "direction_accuracy")},
            "cp_output_scale": {name: round(float(m.project_norm.weight.detach().abs().mean()), 4) for name, m in cp.items()},
            "per_action_direction_accuracy": {a: r["direction_accuracy"] for a, r in results["per_action"].items()},
            **({"mediapipe": mediapipe_scores(model, dataset, mediapipe)} if mediapipe else {}),
            "val_curve": curve}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--networks", default="c2d,cpnet,r3d")
    parser.add_argument("--set", action="append", default=[], dest="sets", help="config override KEY=VALUE")
    parser.add_argument("--cp-init-scale", type=float, default=None, help="cpnet: CP output scales start here, not 0")
    parser.add_argument("--mediapipe", type=int, default=0, metavar="N",
                        help="pose input: also score N val videos per action with MediaPipe's joints")
    args = parser.parse_args()
    from stcorr.config import parse_overrides

    sets = parse_overrides(args.sets)
    scale = args.cp_init_scale
    results = [run_one(args.data, args.runs / (f"{network}-s{seed}" if scale is None else f"{network}-open{scale:g}-s{seed}"),
                       network, int(seed), args.steps, sets, scale, args.mediapipe)
               for seed in args.seeds.split(",") for network in args.networks.split(",")]
    print(json.dumps({"data": str(args.data), "threads": torch.get_num_threads(), "overrides": args.sets,
                      "cp_init_scale": scale,
                      "runs": results}, indent=1))


if __name__ == "__main__":
    main()
