"""`stcorr compare` of one synthetic performance filmed from two sides: every difference it lists is false. Prints one JSON line.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/compare_two_views.py --work /tmp/twoview [--seeds 0] [--lifters stcorr:lifter,none]

Each action of ``--actions`` (seed by seed) is rendered from the front and from the left (256 x 256,
``stcorr.data.synthetic``; frames kept in ``--work``), and the left view is compared with the front view
by ``stcorr.compare.analyse`` with the action's rules and MediaPipe's pass (compare's own), once per
``--lifters`` entry (``none``: MediaPipe's own world joints). Per comparison: the views read, whether
the angles are 3D, the median and largest absolute angle difference at the key moments, and the
differences the summary lists (the same performance: each one is false).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from stcorr.compare import analyse
from stcorr.compare.pipeline import default_pose
from stcorr.data.synthetic.clip import make_clip, render_frames

VIEWS = ("front", "left")


def rendered(work: Path, action: str, seed: int, view: str) -> Path:
    folder = work / f"{action}-{seed}-{view}"
    if not folder.is_dir():
        folder.mkdir(parents=True)
        for t, (image, _, _) in enumerate(render_frames(make_clip(action, seed, (256, 256), view=view))):
            image.save(folder / f"{t + 1:06d}.jpg", quality=95)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--actions", default="squat,golf_swing,tennis_serve,baseball_pitch")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--lifters", default="stcorr:lifter,none")
    args = parser.parse_args()
    out: dict = {}
    for lifter in args.lifters.split(","):
        pose = default_pose(lifter=None if lifter == "none" else lifter)
        rows, listed, diffs = {}, 0, []
        for action in args.actions.split(","):
            for seed in (int(s) for s in args.seeds.split(",")):
                front, left = (rendered(args.work, action, seed, view) for view in VIEWS)
                record = analyse(front, left, action=action, pose=pose).record
                values = [abs(a["difference_deg"]) for m in record["key_moments"] for a in m["angles"]]
                lines = [line for line in record["summary"] if line.startswith("at ")]
                listed += len(lines)
                diffs += values
                rows[f"{action}-{seed}"] = {
                    "view_difference_deg": record["view_difference_deg"], "angles_from": record["angles_from"],
                    "key_moments": len(record["key_moments"]),
                    "median_difference_deg": round(float(np.median(values)), 1) if values else None,
                    "max_difference_deg": round(float(max(values)), 1) if values else None, "listed": lines}
        out[lifter] = {"differences_listed": listed,
                       "median_difference_deg": round(float(np.median(diffs)), 1) if diffs else None, "pairs": rows}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
