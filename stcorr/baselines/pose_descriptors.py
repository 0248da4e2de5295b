"""Time alignment on pose descriptors (``stcorr.pose.descriptors``): the ``*-pose`` aligners.

``nn-pose`` / ``dtw-pose`` read MediaPipe's joints of each video (``stcorr.pose.cache.MediaPipePose``),
``nn-pose-oracle`` / ``dtw-pose-oracle`` the annotated ones; each frame of the source is matched
to the nearest target frame (``nn``) or along the DTW path (``dtw``). The descriptor settings were
chosen on the synthetic train split, never on real video (``benchmarks/pose_descriptor_settings.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Literal

import numpy as np

from stcorr.alignment.dtw import dtw_align_by, euclidean_cost
from stcorr.baselines.time_alignment import source_frames
from stcorr.data.datasets import Dataset
from stcorr.data.pairs import Pair
from stcorr.errors import StcorrError
from stcorr.pose.cache import MediaPipePose
from stcorr.pose.descriptors import (ANNOTATED_SETTINGS, LIFTED_SETTINGS, MEDIAPIPE_SETTINGS, DescriptorSettings, at_speed, descriptor_cost,
                                     pose_descriptors, speed_ratio)
from stcorr.pose.track import labelled_track

if TYPE_CHECKING:
    from stcorr.models.lifter import WorldLifter


def match_descriptors(a: np.ndarray, b: np.ndarray, rule: Literal["nn", "dtw"]) -> np.ndarray:
    """(N,) frame of ``b`` matched to each frame of ``a``: the nearest, or the DTW path's (lower
    median), once ``b``'s velocities are brought to ``a``'s speed (``at_source_speed``: a movement
    done slower in ``b`` moves less per frame). Nearest neighbours have no path of their own: they
    take the speed from the DTW path (its slope; the nearest matches' own slope is too noisy)."""
    return _match(a, at_source_speed(a, b), rule)


def _match(a: np.ndarray, b: np.ndarray, rule: Literal["nn", "dtw"]) -> np.ndarray:
    """``match_descriptors`` of descriptors already at one speed."""
    if rule == "nn":
        return np.argmin(descriptor_cost(a, b), axis=1).astype(np.int64)
    return _dtw_match(a, b)


def at_source_speed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``b`` (M, D) with its velocities brought to ``a``'s speed by the slope of their DTW path."""
    return at_speed(b, speed_ratio(_dtw_match(a, b)))


def _dtw_match(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    shared = np.isfinite(a).all(axis=0) & np.isfinite(b).all(axis=0)  # descriptor_cost's columns, fixed for every block
    if not shared.any():
        return dtw_align_by(descriptor_cost, a, b)
    # coarse to fine on long videos: memory stays bounded
    return dtw_align_by(euclidean_cost, a[:, shared], b[:, shared])


Describe = Callable[[Dataset, str], np.ndarray]


def oracle_describer(settings: DescriptorSettings = ANNOTATED_SETTINGS) -> Describe:
    """Descriptors of the annotated joints (Penn visibility as confidence)."""
    def describe(dataset: Dataset, name: str) -> np.ndarray:
        track = labelled_track(dataset.labels[name])
        return pose_descriptors(track.xy, track.visibility, settings)

    return describe


def detector_describer(pose: MediaPipePose, settings: DescriptorSettings = MEDIAPIPE_SETTINGS,
                       lifter: "WorldLifter | None" = None) -> Describe:
    """Descriptors of MediaPipe's joints (its visibility as confidence), with its world joints' angles;
    ``lifter``: those world joints lifted first (``stcorr.models.lifter.lift_world``)."""
    def describe(dataset: Dataset, name: str) -> np.ndarray:
        track = pose.track(dataset.video(name))
        world = track.world
        if lifter is not None and world is not None:
            from stcorr.models.lifter import lift_world  # torch: only with a lifter

            world = lift_world(lifter, world)
        return pose_descriptors(track.xy, track.visibility, settings, world=world)

    return describe


class PoseTimeAligner:
    """Time alignment on pose descriptors: ``align(dataset, pair) -> (K,)`` target frames."""

    def __init__(self, name: str, describe: Describe, rule: Literal["nn", "dtw"], needs_labels: bool = False):
        self.name, self.describe, self.rule, self.needs_labels = name, describe, rule, needs_labels
        self._descriptors: dict[tuple[str, str], np.ndarray] = {}
        self._last_pair: tuple[tuple | None, tuple[np.ndarray, np.ndarray] | None] = (None, None)

    def check(self, dataset: Dataset) -> None:
        if self.needs_labels and not dataset.labels:
            raise StcorrError(f"{self.name} needs per-frame joint annotations (a Penn Action layout data set)", dataset.root)

    def descriptors(self, dataset: Dataset, name: str) -> np.ndarray:
        key = (str(dataset.root), name)
        if key not in self._descriptors:
            self._descriptors[key] = self.describe(dataset, name)
        return self._descriptors[key]

    def pair_descriptors(self, dataset: Dataset, pair: Pair) -> tuple[np.ndarray, np.ndarray]:
        """The source's and the target's descriptors as the aligner compares them: the target's
        velocities at the source's speed (``at_source_speed``, for both rules)."""
        key = (str(dataset.root), pair.source, pair.target)
        if self._last_pair[0] != key:  # the last pair only: ``timed_alignment`` asks twice
            a, b = self.descriptors(dataset, pair.source), self.descriptors(dataset, pair.target)
            self._last_pair = (key, (a, at_source_speed(a, b)))
        return self._last_pair[1]

    def align(self, dataset: Dataset, pair: Pair) -> np.ndarray:
        self.check(dataset)
        times = source_frames(pair, dataset.video(pair.source))
        a, b = self.pair_descriptors(dataset, pair)
        return _match(a, b, self.rule)[times]


#: Aligner name -> (joints source, rule).
POSE_ALIGNERS: dict[str, tuple[str, str]] = {
    "nn-pose": ("mediapipe", "nn"), "dtw-pose": ("mediapipe", "dtw"),
    "nn-pose-oracle": ("labels", "nn"), "dtw-pose-oracle": ("labels", "dtw"),
}


def build_pose_aligner(name: str, mediapipe: Callable[[], MediaPipePose],
                       lifter: "WorldLifter | None" = None) -> PoseTimeAligner:
    """The aligner ``name`` of ``POSE_ALIGNERS``; ``mediapipe()`` gives MediaPipe's joints, ``lifter``
    (``baseline.world_lifter``) lifts their world joints before their 3D angles are compared."""
    source, rule = POSE_ALIGNERS[name]
    if source == "labels":
        return PoseTimeAligner(name, oracle_describer(), rule, needs_labels=True)  # type: ignore[arg-type]
    settings = MEDIAPIPE_SETTINGS if lifter is None else LIFTED_SETTINGS
    return PoseTimeAligner(name, detector_describer(mediapipe(), settings, lifter), rule)  # type: ignore[arg-type]
