"""The time aligner ``cycle-pose``: DTW over the cycle-consistent pose embedding
(``stcorr.models.cycle_pose``, trained by ``stcorr train --config cycle-pose``) of each video's
MediaPipe joints (``stcorr.pose.cache.MediaPipePose``) made into pose descriptors with MediaPipe's
settings, frames compared by cosine. The embedding read pose only, never pixels, so it sees real
video as it saw the synthetic set."""

from __future__ import annotations

from typing import Callable

import numpy as np

from stcorr.baselines.time_alignment import EmbeddingTimeAligner
from stcorr.data.video import Video
from stcorr.models.cycle_pose import PoseCycleEmbedding, embed_descriptors
from stcorr.pose.cache import MediaPipePose
from stcorr.pose.descriptors import MEDIAPIPE_SETTINGS, pose_descriptors


def pose_cycle_embed(model: PoseCycleEmbedding, mediapipe: Callable[[], MediaPipePose]) -> Callable[[Video], np.ndarray]:
    """Video -> (T, dim) embeddings of its MediaPipe joints (cached per video)."""
    cache: dict[str, np.ndarray] = {}

    def embed(video: Video) -> np.ndarray:
        key = str(video.path)
        if key not in cache:
            track = mediapipe().track(video)
            cache[key] = embed_descriptors(model, pose_descriptors(track.xy, track.visibility, MEDIAPIPE_SETTINGS))
        return cache[key]

    return embed


def cycle_pose_aligner(model: PoseCycleEmbedding, mediapipe: Callable[[], MediaPipePose]) -> EmbeddingTimeAligner:
    """The aligner ``cycle-pose``: DTW (cosine) over ``pose_cycle_embed``."""
    return EmbeddingTimeAligner("cycle-pose", pose_cycle_embed(model, mediapipe), "dtw", "cosine")
