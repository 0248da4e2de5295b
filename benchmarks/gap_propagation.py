"""Joints MediaPipe does not see, carried from the frames where it does by label propagation, against
the straight line between seen frames (the pose filter's ``max_gap``), per clip.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/gap_propagation.py DATA [--features stcorr:corrflow-cpu|pixels] [--clips A,B] [--split S]

DATA is a Penn Action layout data set with per-frame labels (e.g. ../shared/real-dev). Each clip's
track is the default pose pass (``baseline.pose``) read through the pose cache, once as it is
(gaps up to ``max_gap`` frames filled by a line) and once with ``max_gap`` 0 (the joints MediaPipe
gave). The joints it did not give are then carried by ``stcorr.baselines.carry.JointCarrier``:
one pass forward and one backward through each stretch of frames where some joint is unseen,
every joint's map propagated from frame to frame by the CorrFlow features
(``stcorr.models.propagation``) and put back at MediaPipe's joint wherever MediaPipe sees it; an
unseen joint takes the two passes' points weighted by how recently each saw it (one pass alone at
the clip's ends). Variants, scored as ``pose_pck.py`` scores (PCK@0.1 / @0.2 over
every labelled visible joint, unseen = wrong, each clip under the left/right labelling nearer the
plain pass):

- ``line``: the default track (lines over gaps up to ``max_gap``);
- ``carried``: every joint MediaPipe did not give, carried (no lines);
- ``line+carried``: lines over short gaps, the rest (longer gaps, the clip's ends) carried;
- ``carried<=max_gap``: runs of at most ``max_gap`` unseen frames carried (the lines' reach, and
  the clip's ends), longer ones left unseen: what ``baseline.carry_checkpoint`` does.

Prints one JSON line per variant, and the CPU seconds of the carrying (``carried``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from pose_pck import clip_counts, fractions  # noqa: E402

from stcorr.config import default_config  # noqa: E402
from stcorr.data.datasets import open_dataset  # noqa: E402
from stcorr.evaluation.tracking import tracking_features  # noqa: E402
from stcorr.baselines.carry import JointCarrier  # noqa: E402
from stcorr.models.propagation import PropagationSettings  # noqa: E402
from stcorr.pose.cache import mediapipe_cache  # noqa: E402
from stcorr.pose.mediapipe import penn_track  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--features", default="stcorr:corrflow-cpu", help="a CorrFlow checkpoint, stcorr:NAME, or pixels")
    parser.add_argument("--clips", default=None)
    parser.add_argument("--split", default="all", help="train, val or all (the clips with labels)")
    args = parser.parse_args()
    dataset = open_dataset(args.data)
    names = args.clips.split(",") if args.clips else [n for n in dataset.videos(args.split) if n in dataset.labels]
    cfg = default_config()
    pose = cfg["baseline"]["pose"]
    raw_pose = {**pose, "filter": {**pose["filter"], "max_gap": 0}}
    features = tracking_features(None, "pixels", cfg) if args.features == "pixels" else tracking_features(args.features, None, cfg)
    settings = PropagationSettings.checked(cfg["corrflow"]["propagation"])
    min_vis = pose["min_visibility"]
    totals: dict[str, dict] = {"line": {}, "carried": {}, "line+carried": {}, "carried<=max_gap": {}}
    per_clip: dict[str, dict] = {v: {} for v in totals}
    conventions: dict[str, bool] = {}
    cpu = 0.0
    carry = JointCarrier(features, settings, min_vis)
    carry_short = JointCarrier(features, settings, min_vis, max_gap=pose["filter"]["max_gap"])
    for name in names:
        video = dataset.video(name)
        line = penn_track(mediapipe_cache(pose).track(video))
        raw = penn_track(mediapipe_cache(raw_pose).track(video))
        began = time.process_time()
        carried = carry(video, raw)
        cpu += time.process_time() - began
        both = carry(video, line)
        short = carry_short(video, raw)
        labels = dataset.labels[name]
        for variant, track in {"line": line, "carried": carried, "line+carried": both,
                               "carried<=max_gap": short}.items():
            counts = clip_counts(labels, track.xy, track.visibility, min_vis, conventions.get(name))
            conventions.setdefault(name, bool(counts["mirrored"]))
            per_clip[variant][f"{name} {labels.action}"] = fractions(counts)["PCK@0.1"]
            totals[variant] = {key: totals[variant].get(key, 0) + value for key, value in counts.items()}
    for variant, counts in totals.items():
        print(json.dumps({"variant": variant, "features": args.features, "all": fractions(counts), "per_clip": per_clip[variant]}))
    print(json.dumps({"carry_cpu_s": round(cpu, 1)}))


if __name__ == "__main__":
    main()
