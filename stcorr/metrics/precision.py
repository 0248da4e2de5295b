"""Spatial precision of the points a method gets right in time, as pure functions over arrays.

T@k-PCK (``stcorr.metrics.pck``) mixes two failures: the wrong moment and the wrong place. This
separates the second. Conventions as in ``stcorr.metrics.pck``: every point is ``(t, x, y)`` in the
TARGET video's native coordinates; the PCK radius of a point is ``alpha * ref_size`` (``ref_size``
= max(w, h) of the box around all keypoints of the target at the true frame). For each k, the
points "within k frames" are those with a finite prediction and ``|t_pred - t_true| <= k``; for
them:

- ``distance``: the distribution of ||(x, y)_pred - (x, y)_true|| / radius: ``median``, ``q1``, ``q3``
  (0.25 and 0.75 quantiles), and ``inside``, the fraction with distance <= 1 (in the radius);
- ``per_keypoint``: the median distance (in radii) and the count, per keypoint name;
- ``spread``: how spread out a frame's predicted points are against the truth. Points are grouped
  (``groups``: one label per true target frame of a pair, e.g. "pair/moment"); in each group with
  at least two points within k frames, spread = RMS distance of the points to their centroid,
  predicted over true; reported: the median ratio over groups (1 = same spread; < 1 = points
  pulled together, towards a mean; > 1 = scattered) and the number of groups;
- ``nearest_part``: which true keypoint of the same group lies nearest to each prediction: the
  point's own (``itself``), its left/right mirror (``mirror``, "left_wrist" for "right_wrist") or
  ``another`` one, as fractions of the points within k frames. A prediction far from its truth
  but on another part says the features confuse parts; one on no part says they are vague.

``fraction`` is the share of all points that are within k frames. Figures are NaN (JSON null
after ``finite_or_none``) where no point qualifies.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from stcorr.pose.skeleton import mirrored_name
from stcorr.metrics.pck import DEFAULT_KS


def spatial_precision(pred: np.ndarray, true: np.ndarray, ref_size: np.ndarray, names: Sequence[str | None],
                      groups: Sequence[str], ks: Sequence[int] = DEFAULT_KS, alpha: float = 0.1) -> dict:
    """{"k": {"fraction", "n_points", "distance": {...}, "per_keypoint": {...}, "spread": {...}}} per k in ``ks``.

    ``pred``, ``true``: (N, 3) native target (t, x, y); ``ref_size``: (N,); ``names``, ``groups``: (N,) labels.
    """
    pred = np.asarray(pred, dtype=np.float64).reshape(-1, 3)
    true = np.asarray(true, dtype=np.float64).reshape(-1, 3)
    radius = alpha * np.asarray(ref_size, dtype=np.float64).reshape(-1)
    names = np.array([str(n) for n in names], dtype=object)
    groups = np.asarray(groups, dtype=object)
    with np.errstate(divide="ignore", invalid="ignore"):  # a point of zero radius has no finite distance
        distance = np.hypot(pred[:, 1] - true[:, 1], pred[:, 2] - true[:, 2]) / radius
    dt = np.abs(pred[:, 0] - true[:, 0])
    predicted = np.isfinite(distance) & np.isfinite(dt)
    out = {}
    for k in ks:
        timely = predicted & (np.where(predicted, dt, np.inf) <= k)
        d = distance[timely]
        out[str(k)] = {
            "fraction": float(timely.mean()) if len(timely) else float("nan"),
            "n_points": int(timely.sum()),
            "distance": _distribution(d),
            "per_keypoint": {
                str(name): {"median": _median(d[names[timely] == name]), "n_points": int((names[timely] == name).sum())}
                for name in sorted(set(names[timely].tolist()))
            },
            "spread": spread_ratio(pred[timely, 1:], true[timely, 1:], groups[timely]),
            "nearest_part": nearest_part(pred, true, names, groups, timely),
        }
    return out


def spread_ratio(pred_xy: np.ndarray, true_xy: np.ndarray, groups: Sequence[str]) -> dict:
    """Median over groups (>= 2 points) of RMS distance to the centroid, predicted / true; see module docstring."""
    groups = np.asarray(groups, dtype=object)
    ratios = []
    for g in set(groups.tolist()):
        members = groups == g
        if members.sum() < 2:
            continue
        true_spread = _rms_to_centroid(true_xy[members])
        if true_spread > 0:
            ratios.append(_rms_to_centroid(pred_xy[members]) / true_spread)
    return {"median": _median(np.array(ratios)), "n_groups": len(ratios)}


def nearest_part(pred: np.ndarray, true: np.ndarray, names: np.ndarray, groups: np.ndarray,
                 chosen: np.ndarray) -> dict:
    """Fractions of the ``chosen`` (N,) bool predictions whose nearest true point of their group is
    the point itself, its mirror or another; see the module docstring. Arrays as in ``spatial_precision``."""
    counts = {"itself": 0, "mirror": 0, "another": 0}
    for i in np.flatnonzero(chosen):
        members = np.flatnonzero((groups == groups[i]) & np.isfinite(true[:, 1:]).all(axis=1))
        nearest = members[np.argmin(np.hypot(*(true[members, 1:] - pred[i, 1:]).T))]
        kind = "itself" if nearest == i else "mirror" if names[nearest] == mirrored_name(names[i]) else "another"
        counts[kind] += 1
    total = sum(counts.values())
    return {**{k: v / total if total else float("nan") for k, v in counts.items()}, "n_points": total}


def _rms_to_centroid(xy: np.ndarray) -> float:
    return float(np.sqrt(((xy - xy.mean(axis=0)) ** 2).sum(axis=1).mean()))


def _distribution(values: np.ndarray) -> dict:
    if len(values) == 0:
        return {"median": float("nan"), "q1": float("nan"), "q3": float("nan"), "inside": float("nan")}
    q1, median, q3 = np.quantile(values, [0.25, 0.5, 0.75])
    return {"median": float(median), "q1": float(q1), "q3": float(q3), "inside": float(np.mean(values <= 1.0))}


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if len(values) else float("nan")


def finite_or_none(obj):
    """The same nested dict/list with NaN and infinities as None (stcorr's JSON is strict)."""
    if isinstance(obj, dict):
        return {k: finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [finite_or_none(v) for v in obj]
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj
