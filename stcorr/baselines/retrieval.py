"""Video retrieval on what transfers to real video: body-pose sequences aligned in time, optionally
joined by the learned cycle embedding, with a calibrated score.

    ranking = rank_videos(query, candidates, [PoseDistance(cache), CycleDistance(features)])

Each *feature* gives a distance between the query and every candidate video (lower: more alike):

- ``pose``: MediaPipe's joints of every frame as the frame descriptors of
  ``stcorr.baselines.pose_descriptors`` (invariant to position, size, mirroring, swapped sides;
  velocities per frame, brought to one speed along a first DTW path), aligned by DTW; the distance is the mean descriptor cost
  along the DTW path. Velocities weigh less than for frame alignment (``RETRIEVAL_VELOCITY_WEIGHT``):
  two performances of one action differ more in speed than in the postures they pass through. A
  time-reversed copy still pays for its reversed velocities and for the monotonic path, so it ranks
  below the clip itself. A video where nobody is ever found is infinitely far.
- ``cycle``: 1 - the cycle embedding's video similarity (the paper's Eq. 7, ``cycle_use``).

Distances of different features have different scales, so each is standardised over the candidates
(z-scores: minus their mean, over their standard deviation) and the weighted z-scores are summed.
**Calibration.** The summed distance ``d`` of every candidate becomes a probability
``softmax(-d / tau)`` with ``tau`` the standard deviation of ``d`` over the candidates (their own
spread: no constant tuned to one data set), and a **margin** ``(d_runner_up - d) / tau``: for the
best candidate the gap to the second best, for every other the (negative) gap to the best. A copy
of the query stands out by many spreads; a ranking that carries no information gives near-equal
probabilities and margins near 0.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable, Protocol

import numpy as np

from stcorr.alignment.dtw import align_frames, dtw
from stcorr.pose.descriptors import (ANNOTATED_SETTINGS, MEDIAPIPE_SETTINGS, DescriptorSettings, at_speed, pose_descriptors,
                                     speed_ratio)
from stcorr.data.video import Video
from stcorr.errors import StcorrError
from stcorr.pose.cache import MediaPipePose
from stcorr.progress import progress_bar

if TYPE_CHECKING:
    from stcorr.models.lifter import WorldLifter

#: Longest descriptor sequence given to DTW (longer videos are resampled uniformly in time): the
#: DTW table is MAX_FRAMES^2 cells.
MAX_FRAMES = 256
#: Weight of the cycle embedding's z-score beside pose's (weight 1) in ``pose+cycle``.
CYCLE_WEIGHT = 0.5
FEATURES = ("pose", "cycle", "pose+cycle")
#: Chosen on the synthetic train split with the annotated joints (42 queries, P@1 of
#: ``benchmarks/retrieval.py --features pose-oracle --velocity-weight W``, chance 0.122). Velocities
#: per frame brought to one speed (``dtw_distance``): 0 and 0.05 0.738, 0.1 0.714, 0.2 0.714; per
#: unit of video time, before: 0 and 0.05 0.738, 0.1 0.714, 0.2 0.619, 0.5 (the frame aligners'
#: weight then) 0.452, 1.0 0.452. 0.05 keeps the direction of time (0 ranks a time-reversed copy
#: nearly as near as the clip). MediaPipe's jittery joints keep the aligners' smoothing (sigma 2).
RETRIEVAL_VELOCITY_WEIGHT = 0.05
#: MediaPipe's 3D angles (``world_angle_weight``, on for the time aligners) ranked no better on the train
#: splits (P@1 0.905 -> 0.905 synthetic, 0.40 -> 0.40 realism 1, at 1.5; docs/retrieval.md): off here.
MEDIAPIPE_RETRIEVAL = replace(MEDIAPIPE_SETTINGS, velocity_weight=RETRIEVAL_VELOCITY_WEIGHT, world_angle_weight=0.0)
ANNOTATED_RETRIEVAL = replace(ANNOTATED_SETTINGS, velocity_weight=RETRIEVAL_VELOCITY_WEIGHT)
#: With the world joints lifted by the 3D lifter (``baseline.world_lifter``): their bone directions
#: (``stcorr.pose.descriptors``, 8) weighted 3, chosen on the train splits (P@1 with weight 0 / 0.75 / 1.5 / 3 /
#: 4.5 / 6: synthetic 0.905 / 0.952 / 0.952 / 0.952 / 0.952 / 0.976, realism 1 0.286 / 0.286 / 0.333 / 0.429 /
#: 0.381 / 0.381); the lifted angles stay off (no gain where not chosen); docs/retrieval.md.
LIFTED_RETRIEVAL = replace(MEDIAPIPE_RETRIEVAL, world_bone_weight=3.0)


class VideoDistance(Protocol):
    """One feature of the ranking: ``name`` and ``distance(query, candidate) -> float`` (>= 0, inf
    when the feature sees nothing to compare)."""

    name: str

    def distance(self, query: Video, candidate: Video) -> float: ...


def resample(sequence: np.ndarray, max_frames: int = MAX_FRAMES) -> np.ndarray:
    """(min(T, max_frames), D) rows of ``sequence`` (T, D) at uniform times (nearest frames)."""
    if len(sequence) <= max_frames:
        return sequence
    return sequence[np.round(np.linspace(0, len(sequence) - 1, max_frames)).astype(np.int64)]


def dtw_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean Euclidean descriptor cost along the DTW path of descriptors ``a`` (N, D) and ``b`` (M, D),
    over the columns finite in both, scaled by sqrt(D / shared columns) so pairs that share fewer
    columns are not nearer for it; inf when no column is shared."""
    shared = np.isfinite(a).all(axis=0) & np.isfinite(b).all(axis=0)
    if not shared.any():
        return float("inf")
    ra, rb = resample(a), resample(b)
    _, path = dtw(_cost(ra[:, shared], rb[:, shared]))
    # the path's slope in frames of the videos before resampling: b's frames per frame of a
    ratio = speed_ratio(align_frames(path, len(ra)) * _frames_per_row(b, rb) / _frames_per_row(a, ra))
    rb = resample(at_speed(b, ratio))
    total, path = dtw(_cost(ra[:, shared], rb[:, shared]))
    return total / len(path) * float(np.sqrt(len(shared) / shared.sum()))


def _frames_per_row(full: np.ndarray, rows: np.ndarray) -> float:
    return (len(full) - 1) / max(len(rows) - 1, 1)


def _cost(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum((a**2).sum(1)[:, None] + (b**2).sum(1)[None] - 2.0 * a @ b.T, 0.0))


class PoseDistance:
    """``pose``: DTW over pose descriptors of each video's joints: ``joints(video)`` -> xy (T, 13, 2)
    pixels and confidence (T, 13), and world joints (T, 13, 3) or None (MediaPipe's: ``mediapipe_joints``;
    annotated joints work alike, without world joints)."""

    name = "pose"

    def __init__(self, joints: Callable[[Video], tuple[np.ndarray, np.ndarray]],
                 settings: DescriptorSettings = MEDIAPIPE_RETRIEVAL):
        self.joints, self.settings = joints, settings
        self._descriptors: dict[str, np.ndarray] = {}

    def descriptors(self, video: Video) -> np.ndarray:
        """(T, 70) descriptors of ``video`` (all NaN where nobody is ever found)."""
        key = str(video.path)
        if key not in self._descriptors:
            with warnings.catch_warnings():  # a video where nobody is found: numpy warns on its empty means
                warnings.simplefilter("ignore", RuntimeWarning)
                xy, confidence, *world = self.joints(video)
                self._descriptors[key] = pose_descriptors(xy, confidence, self.settings, world=world[0] if world else None)
        return self._descriptors[key]

    def distance(self, query: Video, candidate: Video) -> float:
        return dtw_distance(self.descriptors(query), self.descriptors(candidate))


def mediapipe_joints(pose: MediaPipePose, lifter: "WorldLifter | None" = None) -> Callable[[Video], tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    """The 13 Penn joints (T, 13, 2), visibilities (T, 13) and world joints (T, 13, 3) of MediaPipe's track of a
    video; ``lifter`` (a ``WorldLifter``): the world joints lifted by it (``stcorr.models.lifter.lift_world``)."""
    def joints(video: Video) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        track = pose.track(video)
        world = track.world
        if lifter is not None and world is not None:
            from stcorr.models.lifter import lift_world  # torch: only with a lifter

            world = lift_world(lifter, world)
        return track.xy, track.visibility, world

    return joints


def mediapipe_distance(pose: MediaPipePose, lifter_checkpoint: str | None) -> PoseDistance:
    """``pose`` retrieval on MediaPipe's joints; with ``lifter_checkpoint`` (``baseline.world_lifter``) their world
    joints lifted and their bone directions compared too (``LIFTED_RETRIEVAL``)."""
    if not lifter_checkpoint:
        return PoseDistance(mediapipe_joints(pose))
    from stcorr.models.checkpoint import load_model  # torch: only with a lifter

    return PoseDistance(mediapipe_joints(pose, load_model(lifter_checkpoint, "lifter")), LIFTED_RETRIEVAL)


class CycleDistance:
    """``cycle``: 1 - Eq. 7's video similarity of the cycle embedding (``CycleFeatures``)."""

    name = "cycle"

    def __init__(self, features):
        self.features = features

    def distance(self, query: Video, candidate: Video) -> float:
        # torch models load only for the cycle feature; pose retrieval runs without them
        from stcorr.models.cycle_use import video_similarity

        return 1.0 - video_similarity(self.features.patches(query), self.features.patches(candidate))


@dataclass
class Ranked:
    """One candidate of a ranking: its summed standardised ``distance``, ``probability`` and
    ``margin`` (module docstring), and each feature's raw distance in ``parts``."""

    name: str
    distance: float
    probability: float
    margin: float
    parts: dict[str, float] = field(default_factory=dict)


def standardised(values: np.ndarray) -> np.ndarray:
    """(N,) z-scores of the finite ``values`` (N,) over themselves (0 when they do not vary); inf stays inf."""
    finite = np.isfinite(values)
    out = np.full(len(values), np.inf)
    if finite.any():
        spread = values[finite].std()
        out[finite] = (values[finite] - values[finite].mean()) / (spread if spread > 0 else 1.0)
    return out


def calibrate(distances: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Probabilities (N,) ``softmax(-d / tau)`` and margins (N,) of distances ``d`` (N,) (inf: never
    matched, probability 0), and ``tau``: the standard deviation of the finite distances (1 when
    fewer than two differ)."""
    finite = np.isfinite(distances)
    if not finite.any():
        return np.zeros(len(distances)), np.full(len(distances), -np.inf), 1.0
    spread = float(distances[finite].std())
    tau = spread if spread > 0 else 1.0
    logits = np.where(finite, -(distances - distances[finite].min()) / tau, -np.inf)
    probability = np.exp(logits) / np.exp(logits).sum()
    order = np.argsort(distances, kind="stable")
    best = distances[order[0]]
    runner_up = distances[order[1]] if len(distances) > 1 else np.inf
    margins = (best - distances) / tau
    margins[order[0]] = (runner_up - best) / tau if np.isfinite(runner_up) else np.inf
    return probability, margins, tau


def rank_videos(query: Video, candidates: dict[str, Video], features: list[VideoDistance],
                weights: dict[str, float] | None = None, progress: bool = False) -> list[Ranked]:
    """The candidates from most to least like ``query``: each feature's distances standardised over
    the candidates, summed with ``weights`` (by feature name; default ``CYCLE_WEIGHT`` for cycle, 1 for
    any other), and calibrated (``calibrate``). ``progress``: a bar over the candidates on stderr."""
    if query.num_frames < 1:
        raise StcorrError("the query video has no frames", query.path)
    if not candidates or not features:
        raise StcorrError("retrieval needs at least one candidate video and one feature")
    names = sorted(candidates)
    raw = {}
    with progress_bar("retrieve", len(names) * len(features), progress) as bar:
        for f in features:
            distances = []
            for n in names:
                distances.append(f.distance(query, candidates[n]))
                bar.advance()
            raw[f.name] = np.array(distances)
    weights = weights or {"cycle": CYCLE_WEIGHT}
    if len(raw) == 1:  # one feature: its own distances (the same softmax as its z-scores; easier to read)
        total = next(iter(raw.values()))
    else:
        total = sum(weights.get(name, 1.0) * standardised(values) for name, values in raw.items())
    probability, margin, _ = calibrate(np.asarray(total, dtype=np.float64))
    ranked = [Ranked(n, float(total[k]), float(probability[k]), float(margin[k]),
                     {name: float(values[k]) for name, values in raw.items()}) for k, n in enumerate(names)]
    return sorted(ranked, key=lambda r: (r.distance, r.name))


def _number(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def ranking_rows(ranking: list[Ranked], actions: dict[str, str]) -> list[dict]:
    """RETRIEVAL.json's results: video, score (the probability), margin, distance, each feature's
    distance, and the action where ``actions`` names one; an infinite distance or margin (nobody found,
    a single candidate) is null (stcorr's JSON is strict)."""
    return [{"video": r.name, "score": r.probability, "margin": _number(r.margin), "distance": _number(r.distance),
             "distances": {k: _number(v) for k, v in r.parts.items()},
             **({"action": actions[r.name]} if r.name in actions else {})} for r in ranking]


def precision_at_1(rankings: dict[str, list[Ranked]], actions: dict[str, str]) -> tuple[float, float, int]:
    """(P@1, its chance level, queries) over the queries of ``rankings`` that have a same-action
    partner among their candidates: P@1 the share whose first candidate is of the query's action;
    chance the mean over those queries of (same-action candidates / candidates)."""
    hits, chance = [], []
    for query, ranking in rankings.items():
        same = [r.name for r in ranking if actions.get(r.name) == actions.get(query)]
        if not same or actions.get(query) is None:
            continue
        hits.append(actions.get(ranking[0].name) == actions[query])
        chance.append(len(same) / len(ranking))
    if not hits:
        return float("nan"), float("nan"), 0
    return float(np.mean(hits)), float(np.mean(chance)), len(hits)
