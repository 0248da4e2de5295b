"""The time aligners over the cycle-consistent pose embedding (``stcorr.models.cycle_pose``,
trained by ``stcorr train --config cycle-pose``): each video's MediaPipe joints
(``stcorr.pose.cache.MediaPipePose``) become pose descriptors (MediaPipe's settings), the embedding
maps them to unit vectors, and DTW aligns the frames.

- ``cycle-pose``: DTW over the embedding alone (cosine cost);
- ``dtw-pose-cycle``: DTW over ``dtw-pose``'s cost (its descriptors, the target's velocities at the
  source's speed) plus ``CYCLE_WEIGHT`` x the embedding's cosine cost, each divided by its median
  over the pair's frames, so that neither scale decides.

The embedding read pose only, never pixels, so it sees real video as it saw the synthetic set.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from stcorr.alignment.dtw import cosine_cost, dtw_align_by
from stcorr.baselines.pose_descriptors import PoseTimeAligner
from stcorr.data.datasets import Dataset
from stcorr.data.pairs import Pair, source_frames
from stcorr.data.video import Video
from stcorr.errors import StcorrError
from stcorr.models.cycle_pose import PoseCycleEmbedding, embed_descriptors
from stcorr.pose.cache import MediaPipePose
from stcorr.pose.descriptors import MEDIAPIPE_SETTINGS, descriptor_cost, pose_descriptors
from stcorr.pose.track import JointTrack, labelled_track

#: The embedding's share of ``dtw-pose-cycle``'s cost: of {0.5, 1.0} on the synthetic val split
#: (time-only T@5, MediaPipe's joints: 82.7 % and 81.3 %, dtw-pose alone 79.8 %; docs/results/cycle.md).
CYCLE_WEIGHT = 0.5
CYCLE_POSE_ALIGNERS = ("cycle-pose", "dtw-pose-cycle")
SCALE_FRAMES = 200  # frames of each video (evenly spread) whose costs set a cost's median scale
Cost = Callable[[np.ndarray, np.ndarray], np.ndarray]


def pose_cycle_embed(model: PoseCycleEmbedding, mediapipe: Callable[[], MediaPipePose]) -> Callable[[Video], np.ndarray]:
    """Video -> (T, dim) embeddings of its MediaPipe joints (cached per video)."""
    cache: dict[str, np.ndarray] = {}

    def embed(video: Video) -> np.ndarray:
        key = str(video.path)
        if key not in cache:
            cache[key] = embed_track(model, mediapipe().track(video))
        return cache[key]

    return embed


def labelled_embed(model: PoseCycleEmbedding, dataset: Dataset) -> Callable[[Video], np.ndarray]:
    """Video -> (T, dim) embeddings of its annotated joints in ``dataset`` (by the video's name), no MediaPipe."""
    def embed(video: Video) -> np.ndarray:
        return embed_track(model, labelled_track(dataset.labels[video.name]))

    return embed


def embed_track(model: PoseCycleEmbedding, track: JointTrack) -> np.ndarray:
    """(T, dim) embeddings of a track's pose descriptors (MediaPipe's settings, as in training)."""
    return embed_descriptors(model, pose_descriptors(track.xy, track.visibility, MEDIAPIPE_SETTINGS))


def median_scale(cost: Cost, a: np.ndarray, b: np.ndarray) -> float:
    """The median of ``cost`` over up to ``SCALE_FRAMES`` evenly spread rows of each side (1 if it is 0)."""
    rows = [x[np.unique(np.linspace(0, len(x) - 1, min(len(x), SCALE_FRAMES)).round().astype(np.int64))] for x in (a, b)]
    scale = float(np.median(cost(*rows)))
    return scale if scale > 0 else 1.0


class CyclePoseTimeAligner:
    """DTW over the pose cycle embedding, alone (``pose`` None) or added to ``pose``'s (dtw-pose's)
    descriptor cost with ``weight``: ``align(dataset, pair) -> (K,)`` target frames, and
    ``frame_costs`` (the cost it ran on) for the time confidence of ``stcorr predict``."""

    def __init__(self, name: str, embed: Callable[[Video], np.ndarray], pose: PoseTimeAligner | None = None,
                 weight: float = CYCLE_WEIGHT):
        self.name, self.embed, self.pose, self.weight = name, embed, pose, weight
        self._last: tuple[tuple | None, tuple | None] = (None, None)

    def rows_and_cost(self, dataset: Dataset, pair: Pair) -> tuple[np.ndarray, np.ndarray, Cost, np.ndarray]:
        """Rows of every source and target frame, the cost between rows, and the matched target
        frame of every source frame (cached for the last pair: ``timed_alignment`` asks twice)."""
        key = (str(dataset.root), pair.source, pair.target)
        if self._last[0] != key:
            source, target = dataset.video(pair.source), dataset.video(pair.target)
            for video in (source, target):
                if video.num_frames < 2:
                    raise StcorrError(f"video too short for {self.name} time alignment: {video.num_frames} frame(s), "
                                      "needs at least 2", video.path)
            a, b = self.embed(source), self.embed(target)
            cost: Cost = cosine_cost
            if self.pose is not None:
                a, b, cost = self._with_descriptors(dataset, pair, a, b)
            self._last = (key, (a, b, cost, dtw_align_by(cost, a, b)))
        return self._last[1]  # type: ignore[return-value]

    def _with_descriptors(self, dataset: Dataset, pair: Pair, a: np.ndarray, b: np.ndarray) -> tuple:
        """Rows [embedding | descriptor columns finite in both] and their summed cost."""
        da, db = self.pose.pair_descriptors(dataset, pair)  # type: ignore[union-attr]
        shared = np.isfinite(da).all(axis=0) & np.isfinite(db).all(axis=0)
        da, db = da[:, shared], db[:, shared]
        d = a.shape[1]
        pose_scale = median_scale(descriptor_cost, da, db) if shared.any() else 1.0
        cycle_scale = median_scale(cosine_cost, a, b) / self.weight

        def cost(x: np.ndarray, y: np.ndarray) -> np.ndarray:
            return descriptor_cost(x[:, d:], y[:, d:]) / pose_scale + cosine_cost(x[:, :d], y[:, :d]) / cycle_scale

        return np.concatenate([a, da], axis=1), np.concatenate([b, db], axis=1), cost

    def align(self, dataset: Dataset, pair: Pair) -> np.ndarray:
        matched = self.rows_and_cost(dataset, pair)[3]
        return matched[source_frames(pair, dataset.video(pair.source))]

    def frame_costs(self, dataset: Dataset, pair: Pair) -> np.ndarray:
        """(K, M) cost of each correspondence's source frame against every target frame."""
        a, b, cost, _ = self.rows_and_cost(dataset, pair)
        return cost(a[source_frames(pair, dataset.video(pair.source))], b)


def cycle_pose_aligner(name: str, model: PoseCycleEmbedding, mediapipe: Callable[[], MediaPipePose],
                       pose: PoseTimeAligner | None = None) -> CyclePoseTimeAligner:
    """``cycle-pose`` (``pose`` None) or ``dtw-pose-cycle`` (``pose``: the ``dtw-pose`` aligner)."""
    return CyclePoseTimeAligner(name, pose_cycle_embed(model, mediapipe), pose)


class CyclePoseDistance:
    """A retrieval feature (``stcorr.baselines.retrieval.VideoDistance``) ``cycle-pose``: 1 - the mean
    cosine of the pose cycle embeddings along their DTW path (the paper's Eq. 7 with one patch, the
    body, per frame); ``embed`` as ``pose_cycle_embed`` gives it."""

    name = "cycle-pose"

    def __init__(self, embed: Callable[[Video], np.ndarray]):
        self.embed = embed

    def distance(self, query: Video, candidate: Video) -> float:
        a, b = self.embed(query), self.embed(candidate)
        matched = dtw_align_by(cosine_cost, a, b)
        return float(np.mean(1.0 - np.sum(a * b[matched], axis=1)))
