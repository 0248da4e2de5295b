"""What limits a one-stage joint model on a data set's val pairs, as T@k's two halves. Prints JSON.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/joint_model_limits.py DATA [--config demo]
        [--max-pairs 60] [--seed 0] [--predictions RESULTS.predictions.json]

- ``grid_floor``: a perfect coarse model that picks the true cell of the (T, H, W) grid and reads
  its centre (hard arg-max). Space: distance of each true point to its cell's centre in PCK@0.1
  radii (median, share inside). Time: share of points within 1 / 3 / 5 native frames of their time
  cell's centre, with the target clip spanning the whole video as evaluation samples it (one clip;
  videos long enough for ``data.max_target_stride`` windows are scored as if one clip). Their
  product bounds T@k of a hard read-out; a soft arg-max or a fine stage can pass it.
- ``own_motion`` (with ``--predictions``, Penn Action-layout labels of every frame): for the human
  joints predicted within 5 frames, how far the true joint itself moves between the true frame and
  the predicted one, in radii: the part of a spatial miss that the time error explains.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from stcorr.config import load_config
from stcorr.data.clips import temporal_stride, window_start
from stcorr.data.datasets import open_dataset
from stcorr.data.penn import JOINTS, read_label_file

ALPHA = 0.1


def grid_floor(dataset, pairs, clip_len: int, grid: list[int]) -> dict:
    space, time = [], []
    for pair in pairs:
        video = dataset.video(pair.target)
        width, height = video.size
        n = video.num_frames
        stride = temporal_stride(n - 1, clip_len)
        start = window_start(0, n - 1, n, clip_len, stride)
        ok = np.isfinite(pair.tgt).all(axis=1)
        t, x, y = pair.tgt[ok].T
        radius = ALPHA * np.asarray(pair.ref_size, float)[ok]
        cx, cy = _cell_centre(x, width, grid[2]), _cell_centre(y, height, grid[1])
        space.append(np.hypot(x - cx, y - cy) / radius)
        clip_t = (t - start) / stride
        time.append(np.abs(start + stride * _cell_centre(clip_t, clip_len, grid[0]) - t))
    space, time = np.concatenate(space), np.concatenate(time)
    return {"space": {"median_radii": float(np.median(space)), "inside": float(np.mean(space <= 1))},
            "time": {f"within_{k}": float(np.mean(time <= k)) for k in (1, 3, 5)}, "n_points": int(len(space))}


def _cell_centre(coordinate: np.ndarray, extent: float, cells: int) -> np.ndarray:
    """Centre of the cell holding each coordinate (pixel centres at integers, align_corners=False)."""
    index = np.clip(np.floor((coordinate + 0.5) * cells / extent), 0, cells - 1)
    return (index + 0.5) * extent / cells - 0.5


def own_motion(root: Path, predictions: list[dict]) -> dict:
    labels: dict = {}
    moved = []
    for pair in predictions:
        video = labels.setdefault(pair["target"], read_label_file(root / "labels" / f"{pair['target']}.mat"))
        for point in pair["keypoints"]:
            if point["name"] not in JOINTS or point["target"] is None or abs(point["target"][0] - point["truth"][0]) > 5:
                continue
            j, (t_true, x_true, y_true) = JOINTS.index(point["name"]), point["truth"]
            t_pred = int(np.clip(round(point["target"][0]), 0, video.num_frames - 1))
            seen = video.visible[t_true]
            xs, ys = video.x[t_true][seen], video.y[t_true][seen]
            radius = ALPHA * max(np.ptp(xs), np.ptp(ys))
            moved.append(np.hypot(video.x[t_pred, j] - x_true, video.y[t_pred, j] - y_true) / radius)
    moved = np.array(moved)
    return {"median_radii": float(np.median(moved)), "inside": float(np.mean(moved <= 1)), "n_points": int(len(moved))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--config", default="demo")
    parser.add_argument("--max-pairs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--predictions", type=Path)
    args = parser.parse_args()
    cfg = load_config(args.config)
    dataset = open_dataset(args.data)
    pairs = dataset.pairs("val", cfg["data"]["setup"], cfg["data"]["min_visible"]).sample(args.max_pairs, args.seed)
    out = {"data": str(args.data), "config": args.config, "pairs": len(pairs), "grid": cfg["model"]["grid"],
           "grid_floor": grid_floor(dataset, pairs, cfg["data"]["clip_len"], cfg["model"]["grid"])}
    if args.predictions:
        out["own_motion"] = own_motion(args.data, json.loads(args.predictions.read_text()))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
