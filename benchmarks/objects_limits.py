"""What limits the objects of ``dtw-pose+pose``: time, MediaPipe's body, or the placement rule.

For every correspondence of a data set's pairs (synthetic: objects are club heads, balls, bats, ...),
the target frame comes from ``dtw-pose`` (MediaPipe's joints, the default pass ``baseline.pose``)
and the point is placed at that frame, and at the true one, from:

- ``mediapipe``: MediaPipe's joints of both frames, as the ``pose`` matcher places them (a body
  joint: the same joint; any other point: ``body_transfer``) — ``dtw-pose+pose`` itself;
- ``annotated``: the annotated joints of both frames, the same rules (what a perfect detector gives);
- each extra rule of ``RULES`` (a candidate, fed MediaPipe's joints only).

Also, per point: how many of MediaPipe's joints are seen (``min_visibility``) in both frames, and
how far they lie from the annotated ones (median, in keypoint boxes, ``body_error``). Prints JSON: T@5 (within ``--k`` frames and alpha x the
keypoint box) per source of joints, frame and keypoint type, overall and per action, and the
shares that say what limits the objects (right time; a body seen in both frames; placed right with
the annotated joints at the aligner's frame). ``--rows FILE`` writes one JSON line per point.

    PYTHONPATH=$PWD python benchmarks/objects_limits.py --data DATA [--split val] [--max-pairs N --seed S]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stcorr.baselines.methods import shared_mediapipe  # noqa: E402
from stcorr.baselines.pose_descriptors import build_pose_aligner  # noqa: E402
from stcorr.baselines.spatial import (BODY_SOFTENING, body_map, body_neighbours, body_transfer, carry_by,  # noqa: E402
                                      fit_similarity, keep_relative_position, most_similar_pose, nearest_shared_joint,
                                      person_extent, person_nearest_points)
from stcorr.config import default_config  # noqa: E402
from stcorr.data.datasets import open_dataset  # noqa: E402
from stcorr.pose.skeleton import keypoint_type, mirrored_name  # noqa: E402


def centroid_anchored(xy: np.ndarray, source_joints: dict, target_joints: dict, neighbours: int = 8):
    """``body_map``'s linear map, anchored at the weighted centroid of the neighbours instead of the nearest joint."""
    carried = body_map(xy, source_joints, target_joints, neighbours)
    if carried is None:
        return None
    used = body_neighbours(xy, source_joints, target_joints, neighbours)
    src, tgt = (np.array([joints[n] for n in used], dtype=np.float64) for joints in (source_joints, target_joints))
    w = 1.0 / (np.linalg.norm(src - xy, axis=1) + BODY_SOFTENING * person_extent(source_joints))
    w = w / w.sum()
    return carry_by(xy, (w @ src, w @ tgt, carried[2]))


def similarity_anchored(xy: np.ndarray, source_joints: dict, target_joints: dict, neighbours: int = 8):
    """The similarity (mirroring allowed by fitting the mirrored source too) of the nearest ``neighbours``."""
    used = body_neighbours(xy, source_joints, target_joints, neighbours)
    if not used:
        return None
    src, tgt = (np.array([joints[n] for n in used], dtype=np.float64) for joints in (source_joints, target_joints))
    if len(used) < 2:
        return carry_by(xy, (src[0], tgt[0], np.eye(2)))
    best = None
    for flip in (np.eye(2), np.diag([-1.0, 1.0])):
        scale, rotation = fit_similarity(src @ flip.T, tgt)
        linear = scale * rotation @ flip
        residual = np.linalg.norm((src - src.mean(0)) @ linear.T - (tgt - tgt.mean(0)))
        best = min(best or (np.inf, None), (residual, linear), key=lambda pair: pair[0])
    return carry_by(xy, (src[0], tgt[0], best[1]))


#: Rules for a point that is no joint (candidates beside ``body_transfer``), fed either source of joints.
RULES = {
    "body": body_transfer,
    "body-13": lambda xy, a, b: body_transfer(xy, a, b, 13),
    "body-centroid": centroid_anchored,
    "body-centroid-13": lambda xy, a, b: centroid_anchored(xy, a, b, 13),
    "similarity-8": similarity_anchored,
    "similarity-13": lambda xy, a, b: similarity_anchored(xy, a, b, 13),
}


def place(xy: np.ndarray, kind: str, source_joints: dict, target_joints: dict, sizes, rule: str = "body") -> np.ndarray:
    """The ``pose`` matcher's rules on given joints: a joint goes to the same joint, any other point by
    the body (``RULES[rule]``)."""
    if kind == "hum":
        joint = nearest_shared_joint(xy, source_joints, target_joints)
        found = None if joint is None else target_joints[joint]
    else:
        found = RULES[rule](xy, source_joints, target_joints)
    return np.asarray(found, dtype=np.float64) if found is not None else keep_relative_position(xy, *sizes)


def body_error(found: dict, annotated: dict) -> float | None:
    """Median distance of MediaPipe's joints to the annotated ones (those in both), under the side
    naming that fits better (a body found mirrored carries points as well); None when none in both."""
    def median(swap: bool) -> float | None:
        pairs = [(found[mirrored_name(j) if swap else j], xy) for j, xy in annotated.items()
                 if (mirrored_name(j) if swap else j) in found]
        return float(np.median([np.hypot(*(np.subtract(a, b))) for a, b in pairs])) if pairs else None

    errors = [e for e in (median(False), median(True)) if e is not None]
    return min(errors) if errors else None


def one_pose(poses: list[dict], points: np.ndarray) -> dict:
    return person_nearest_points(poses, points) if poses else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", default="val")
    parser.add_argument("--setup", default="13+3")
    parser.add_argument("--max-pairs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--alpha", type=float, default=0.1)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--rows", default=None, help="write one JSON line per point here")
    args = parser.parse_args()
    dataset = open_dataset(args.data)
    pose = default_config()["baseline"]["pose"]
    mediapipe = shared_mediapipe(pose)
    aligner = build_pose_aligner("dtw-pose", lambda: mediapipe)
    pairs = dataset.pairs(args.split, args.setup).sample(args.max_pairs, args.seed)  # the pairs ``stcorr eval`` scores
    rows = [row for pair in pairs for row in pair_rows(dataset, pair, mediapipe, aligner)]
    if args.rows:
        Path(args.rows).write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(json.dumps(summary(rows, args.alpha, args.k), indent=1))


def pair_rows(dataset, pair, mediapipe, aligner) -> list[dict]:
    """One row per correspondence of ``pair``: its time error at ``aligner``'s frame, how much of
    MediaPipe's body is seen and how far it is from the annotated one, and the distance (in keypoint
    boxes) of each placement (source of joints x frame x rule) to the truth."""
    source, target = dataset.labels[pair.source], dataset.labels[pair.target]
    src_video, tgt_video = dataset.video(pair.source), dataset.video(pair.target)
    sizes = ((source.width, source.height), (target.width, target.height))
    aligned = np.asarray(aligner.align(dataset, pair)).astype(int)
    rows = []
    for name, src, tgt, ref, t in zip(pair.names, pair.src, pair.tgt, pair.ref_size, aligned):
        kind = "hum" if keypoint_type(name) == "hum" else "obj"
        s, truth, xy = int(src[0]), int(tgt[0]), src[1:]
        mp_source = one_pose(mediapipe.poses(src_video, s), xy[None])
        row = {"pair": f"{pair.source}>{pair.target}", "action": pair.action, "name": name, "type": kind,
               "dt": int(t) - truth, "seen_source": len(mp_source),
               "body_source": relative(body_error(mp_source, source.joints_at(s)), ref)}
        for frame_name, frame in (("aligned", int(t)), ("true", truth)):
            found = mediapipe.poses(tgt_video, frame)
            mp_target = most_similar_pose(mp_source, found) if found and mp_source else {}  # as the pose matcher picks
            row[f"seen_{frame_name}"] = len(set(mp_source) & set(mp_target))
            row[f"body_{frame_name}"] = relative(body_error(mp_target, target.joints_at(frame)), ref)
            for joints, (a, b) in (("mediapipe", (mp_source, mp_target)),
                                   ("annotated", (source.joints_at(s), target.joints_at(frame)))):
                for rule in RULES if kind == "obj" else ("body",):
                    suffix = "" if rule == "body" else f" {rule}"
                    placed = place(xy, kind, a, b, sizes, rule)
                    row[f"{joints}@{frame_name}{suffix}"] = float(np.linalg.norm(placed - tgt[1:]) / ref)  # unrounded
        rows.append(row)
    return rows


def relative(distance: float | None, ref: float) -> float | None:
    return None if distance is None else float(distance / ref)


def body_right(row: dict, frame: str, alpha: float) -> bool:
    return row.get(f"body_{frame}") is not None and row[f"body_{frame}"] <= 2 * alpha


def summary(rows: list[dict], alpha: float, k: int) -> dict:
    """T@k per source of joints and frame (the true frame: PCK), by type and action; what limits objects."""
    def rate(selected: list[dict], key: str, timed: bool) -> float:
        hits = [r[key] <= alpha and (not timed or abs(r["dt"]) <= k) for r in selected]
        return round(100 * float(np.mean(hits)), 1) if hits else None

    out: dict = {"n": {}, "T@k": defaultdict(dict), "limits": {}}
    for kind in ("hum", "obj"):
        kept = [r for r in rows if r["type"] == kind]
        out["n"][kind] = len(kept)
        by_action = defaultdict(list)
        for r in kept:
            by_action[r["action"]].append(r)
        keys = [key for key in kept[0] if "@" in key] if kept else []
        for key in keys:
            timed = "@aligned" in key
            out["T@k"][f"{kind} {key}"] = {"all": rate(kept, key, timed),
                                            **{a: rate(v, key, timed) for a, v in sorted(by_action.items())}}
        out["limits"][kind] = {
            "right time": round(100 * float(np.mean([abs(r["dt"]) <= k for r in kept])), 1) if kept else None,
            "body seen in source (>= 3 joints)": round(100 * float(np.mean([r["seen_source"] >= 3 for r in kept])), 1) if kept else None,
            "body seen in both at aligned (>= 3 shared)": round(100 * float(np.mean([r["seen_aligned"] >= 3 for r in kept])), 1) if kept else None,
            "MediaPipe's body right in source and aligned target (median joint error <= 2 alpha)": round(100 * float(np.mean(
                [body_right(r, "source", alpha) and body_right(r, "aligned", alpha) for r in kept])), 1) if kept else None,
            "right time and MediaPipe's body right in both": round(100 * float(np.mean(
                [abs(r["dt"]) <= k and body_right(r, "source", alpha) and body_right(r, "aligned", alpha) for r in kept])), 1) if kept else None,
            "of those, placed right by MediaPipe's joints": round(100 * float(np.mean(
                [r["mediapipe@aligned"] <= alpha for r in kept if abs(r["dt"]) <= k and body_right(r, "source", alpha)
                 and body_right(r, "aligned", alpha)] or [np.nan])), 1),
            "right time and placed right by annotated joints": rate(kept, "annotated@aligned", True),
            "of those, placed right by MediaPipe's": round(100 * float(np.mean(
                [r["mediapipe@aligned"] <= alpha for r in kept if abs(r["dt"]) <= k and r["annotated@aligned"] <= alpha]
                or [np.nan])), 1),
        }
    return out


if __name__ == "__main__":
    main()
