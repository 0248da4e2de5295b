"""The cycle-consistency paper's evaluations on a Penn Action-layout data set; prints JSON.

    python benchmarks/cycle_evaluation.py --data ROOT [--split val] [--checkpoint NAME=RUN/checkpoint ...]

For each embedding (``untrained``: the cycle config's encoder drawn from seed 0; each NAME given;
``frame-features``: the sequential baselines' per-frame 2D ResNet features, one vector per frame),
over the split's videos, each cut into ``cycle.chunks`` chunks (middle frame of each):

- temporal alignment error: for every ordered pair of videos of one action, the frames of the
  second matched to frames 0, 2, 4, 6 of the first (4 of 8) along the DTW path of Eq. 6; the error is
  the mean absolute difference of the limb angles (knees, elbows, hips: the angle at the joint
  between its two limbs; neck: at the shoulders' midpoint, between the head and the hips' midpoint)
  over the angles whose joints are visible in both frames, in degrees. ``nn``: each frame's best
  frame by Eq. 6 (no temporal order); ``linear`` matches chunk m with chunk m (no features). With 8
  frames a side and costs 1 - T of similar size everywhere, the DTW path is mostly the diagonal;
- retrieval precision: each video with another of its action queries the others of the split
  (Eq. 7); P@1 and P@5 are the shares of the first 1 and 5 that show the query's action;
- keypoint track correspondence accuracy (Eq. 5, cycle embeddings only): the ground-truth joint
  tracks of both videos at the chunk frames; the share of the first video's tracks matched to the
  same joint of the second (chance 1/13);
- spatial alignment accuracy (cycle embeddings only): ``spatial_accuracy`` below.

Patches: label-free grid patches (``cycle.grid``) for alignment and retrieval; joint patches for
track correspondence.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time

import numpy as np
import torch
import torch.nn.functional as F

from stcorr.models.cycle_use import (CycleFeatures, VideoPatches, chunk_times, embed_video, frame_similarity,
                                        temporal_alignment, track_correspondence, video_similarity)
from stcorr.config import load_config
from stcorr.data.datasets import open_dataset
from stcorr.data.tracks import boxes_at, joint_tracks
from stcorr.models.frame_features import shared_frame_features

ANGLES = {  # name: (end, vertex, end) joint indices (Penn Action order), or None for the neck
    "left_elbow": (1, 3, 5), "right_elbow": (2, 4, 6), "left_knee": (7, 9, 11), "right_knee": (8, 10, 12),
    "left_hip": (1, 7, 9), "right_hip": (2, 8, 10), "neck": None,
}
QUERY_FRAMES = [0, 2, 4, 6]


def limb_angles(labels, t: int) -> dict[str, float]:
    """Angles (degrees) at the joints of ANGLES whose three points are visible at frame t."""
    xy = np.column_stack([labels.x[t], labels.y[t]])
    seen = labels.visible[t]
    out = {}
    for name, triple in ANGLES.items():
        if triple is None:
            if not seen[[0, 1, 2, 7, 8]].all():
                continue
            a, v, b = xy[0], xy[[1, 2]].mean(0), xy[[7, 8]].mean(0)
        else:
            if not seen[list(triple)].all():
                continue
            a, v, b = xy[list(triple)]
        u, w = a - v, b - v
        cos = np.dot(u, w) / max(np.linalg.norm(u) * np.linalg.norm(w), 1e-9)
        out[name] = float(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    return out


def angle_error(la, ta: int, lb, tb: int) -> float | None:
    a, b = limb_angles(la, ta), limb_angles(lb, tb)
    common = sorted(set(a) & set(b))
    return float(np.mean([abs(a[k] - b[k]) for k in common])) if common else None


def frame_feature_patches(features, video, times) -> VideoPatches:
    emb = F.normalize(torch.from_numpy(features(video)[times]).float(), dim=-1)[None]
    return VideoPatches(times, emb, torch.ones(1, len(times), dtype=torch.bool), np.zeros((1, len(times), 4)))


def evaluate(name: str, patches: dict, dataset, names: list[str], labels: dict, times: dict) -> dict:
    errors: dict[str, list[float]] = {"dtw": [], "nn": [], "linear": []}
    by_action: dict[str, list[str]] = {}
    for n in names:
        by_action.setdefault(labels[n].action, []).append(n)
    for group in by_action.values():
        for a, b in itertools.permutations(group, 2):
            similarity = frame_similarity(patches[a], patches[b])
            matched = {"dtw": temporal_alignment(similarity), "nn": similarity.argmax(1), "linear": np.arange(len(similarity))}
            for m, (k, match) in itertools.product(QUERY_FRAMES, matched.items()):
                error = angle_error(labels[a], times[a][m], labels[b], times[b][match[m]])
                if error is not None:  # some angle seen in both frames
                    errors[k].append(error)
    p1, p5 = [], []
    for q in (n for n in names if len(by_action[labels[n].action]) > 1):
        ranked = sorted((n for n in names if n != q), key=lambda n: -video_similarity(patches[q], patches[n]))
        same = [labels[n].action == labels[q].action for n in ranked]
        p1.append(np.mean(same[:1]))
        p5.append(np.mean(same[:5]))
    return {"embedding": name, **{f"alignment_error_deg_{k}": float(np.mean(e)) for k, e in errors.items()},
            "n_aligned_frames": {k: len(e) for k, e in errors.items()}, "retrieval_P@1": float(np.mean(p1)), "retrieval_P@5": float(np.mean(p5)),
            "n_queries": len(p1)}


def track_accuracy(features: CycleFeatures, dataset, names, labels, times) -> float:
    joint_patches = {}
    for n in names:
        tracks = joint_tracks(labels[n], features.settings["patch_scale"], features.settings["min_track_length"])
        boxes, valid = boxes_at(tracks, times[n])
        joint_patches[n] = ([t.name for t in tracks], embed_video(features.model, dataset.video(n), times[n], boxes, valid))
    hits = []
    for a, b in itertools.permutations(names, 2):
        if labels[a].action != labels[b].action:
            continue
        (na, pa), (nb, pb) = joint_patches[a], joint_patches[b]
        best, _ = track_correspondence(pa, pb)
        hits += [j >= 0 and nb[j] == na[i] for i, j in enumerate(best) if pa.valid[i].any()]
    return float(np.mean(hits))


def spatial_accuracy(features: CycleFeatures, dataset, names, labels, alpha: float = 0.2, lattice: int = 16) -> dict:
    """Keypoints matched through patches in ground-truth aligned frames (the key moments of both
    videos): each visible joint's patch in the first video against a lattice x lattice lattice of
    boxes of the same side (scaled by the frames' widths) in the second; the match is the best box's
    centre. PCK@alpha (of the longer side of the box around the second video's joints), and the
    same for ``same-place`` (the joint's position scaled to the second frame, no features)."""
    from stcorr.models.cycle_use import nearest_patches
    from stcorr.data.tracks import centred_boxes, grid_boxes, person_sizes

    hits, same_place = [], []
    for a, b in itertools.permutations(names, 2):
        la, lb = labels[a], labels[b]
        if la.action != lb.action or not la.key_moments or not lb.key_moments:
            continue
        va, vb = dataset.video(a), dataset.video(b)
        scale = vb.size[0] / va.size[0], vb.size[1] / va.size[1]
        sides_a, sides_b = person_sizes(la), person_sizes(lb)
        for ta, tb in zip(la.key_moments, lb.key_moments):
            joints = np.flatnonzero(la.visible[ta] & lb.visible[tb])
            if not len(joints) or sides_b[tb] <= 0:
                continue
            xy_a = np.column_stack([la.x[ta, joints], la.y[ta, joints]])
            side = features.settings["patch_scale"] * sides_a[ta]
            query = embed_video(features.model, va, np.array([ta]), centred_boxes(xy_a, np.full(len(joints), side))[:, None])
            cells = grid_boxes(*vb.size, cells=lattice, scale=1.0)
            centres = (cells[:, :2] + cells[:, 2:]) / 2
            boxes = centred_boxes(centres - 0.5, np.full(len(cells), side * scale[0]))[:, None]
            target = embed_video(features.model, vb, np.array([tb]), boxes)
            j, _, _ = nearest_patches(query.emb[:, 0], target)
            truth = np.column_stack([lb.x[tb, joints], lb.y[tb, joints]])
            radius = alpha * sides_b[tb]
            hits += list(np.linalg.norm(centres[j] - 0.5 - truth, axis=1) <= radius)
            same_place += list(np.linalg.norm(xy_a * scale - truth, axis=1) <= radius)
    return {f"spatial_PCK@{alpha}": float(np.mean(hits)), f"same_place_PCK@{alpha}": float(np.mean(same_place)),
            "n_keypoints": len(hits)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", default="val")
    parser.add_argument("--checkpoint", action="append", default=[], help="NAME=RUN/checkpoint")
    args = parser.parse_args()
    dataset = open_dataset(args.data)
    labels = dataset.labels
    cfg = load_config("cycle")
    chunks = int(cfg["cycle"]["chunks"])
    names = [n for n in dataset.videos(args.split) if labels[n].num_frames >= chunks]
    times = {n: chunk_times(min(labels[n].num_frames, dataset.video(n).num_frames), chunks) for n in names}
    rows = []
    embeddings = [("untrained", None)] + [tuple(c.split("=", 1)) for c in args.checkpoint]
    for label, path in embeddings:
        began = time.perf_counter()
        features = CycleFeatures.load(path, cfg)
        patches = {n: features.patches(dataset.video(n), times[n]) for n in names}
        row = evaluate(label, patches, dataset, names, labels, times)
        row["track_accuracy"] = track_accuracy(features, dataset, names, labels, times)
        row.update(spatial_accuracy(features, dataset, names, labels))
        row["seconds"] = round(time.perf_counter() - began, 1)
        rows.append(row)
    frames = shared_frame_features("resnet2d", cfg, cfg["baseline"], "cpu")
    patches = {n: frame_feature_patches(frames, dataset.video(n), times[n]) for n in names}
    rows.append(evaluate("frame-features", patches, dataset, names, labels, times))
    print(json.dumps({"data": args.data, "split": args.split, "videos": len(names), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
