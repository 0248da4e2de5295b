"""Time alignment, the first stage of a sequential baseline: for each source keypoint's frame
(native t of the source video), the matched frame of the target video (native t').

Aligners, each usable alone through ``align(dataset, pair) -> (K,) int64`` (one target frame per
correspondence of the pair, in order) or, for the embedding ones, ``match_frames``:

- ``gt-time``: the true target frame (the upper bound of the paper's Table 3);
- ``nn``, ``dtw``: per-frame features of the 2D ResNet frame encoder; each source frame takes its
  nearest target frame (``nn``) or its frame on the DTW path over the two whole sequences
  (``dtw``; the lower median where the path holds several);
- ``nn-st``, ``dtw-st``: the same with the space-time backbone pooled per frame;
- ``tcc``, ``lrprop``: DTW over TCC- or LRProp-trained embeddings; ``tcc-nn``, ``lrprop-nn``:
  the nearest neighbour in those embeddings (TCC's own rule).

``alignment_margin`` turns the cost of each matched frame against the cheapest frame away from it
into a confidence in [0, 1] (``stcorr predict``'s score).
"""

from __future__ import annotations

from typing import Callable, Literal

import numpy as np

from stcorr.alignment.dtw import Metric, dtw_align, nn_align, pairwise_cost
from stcorr.data.datasets import Dataset
from stcorr.data.pairs import Pair, source_frames
from stcorr.data.video import Video
from stcorr.errors import StcorrError

Rule = Literal["nn", "dtw"]
Embed = Callable[[Video], np.ndarray]


def match_frames(src_emb: np.ndarray, tgt_emb: np.ndarray, rule: Rule = "dtw", metric: Metric = "cosine") -> np.ndarray:
    """(N,) target frame matched to each source frame, from embeddings (N, D) and (M, D)."""
    if rule == "nn":
        return nn_align(src_emb, tgt_emb, metric)
    if rule == "dtw":
        return dtw_align(src_emb, tgt_emb, metric)
    raise ValueError(f"unknown alignment rule {rule!r}; expected nn or dtw")


#: The stretch of source frames around a keypoint's frame whose alignment the margin weighs, and the
#: shift beyond which the target counts as another moment: this fraction of each video's length
#: on either side, at least ``MARGIN_MIN_FRAMES``.
MARGIN_WINDOW = 0.05
MARGIN_MIN_FRAMES = 2
SHIFT_CHUNK = 4096  # shifts weighed at once


def margin_frames(length: int) -> int:
    """Frames on either side that ``alignment_margin`` looks at in a video of ``length`` frames."""
    return max(MARGIN_MIN_FRAMES, int(round(MARGIN_WINDOW * length)))


def alignment_margin(costs: np.ndarray, matched: np.ndarray, window: int) -> float:
    """How clearly a stretch of aligned frames beats the same stretch shifted in time, in [0, 1].

    ``costs`` (L, M): the cost of L source frames of a stretch against every target frame (what
    the aligner minimised); ``matched`` (L,): the target frame the aligner gave each. With ``c``
    the mean cost along the matched frames and ``a`` the lowest mean cost along them shifted by
    more than ``window`` frames (clipped to the video), the margin is ``a / (a + c)``: near 1 when
    only the matched moment matches, 0.5 when another moment of the target matches as well (a
    repeated or still movement), below when another matches better (DTW kept the order of the
    whole over this stretch); 1 when no shift is that long, 0.5 when both costs are 0."""
    costs = np.asarray(costs, dtype=np.float64)
    matched = np.asarray(matched, dtype=np.int64)
    m = costs.shape[1]
    shifts = np.arange(-(m - 1), m)
    shifts = shifts[np.abs(shifts) > window]
    if not len(shifts):
        return 1.0
    rows = np.arange(len(matched))
    chosen = costs[rows, matched].mean()
    alternative = np.inf
    for start in range(0, len(shifts), SHIFT_CHUNK):  # memory bounded on long targets
        shifted = np.clip(matched[None, :] + shifts[start:start + SHIFT_CHUNK, None], 0, m - 1)  # (S, L)
        alternative = min(alternative, float(costs[rows[None, :], shifted].mean(axis=1).min()))
    total = alternative + chosen
    return float(alternative / total) if total > 0 else 0.5


class GroundTruthTime:
    """The true target frame of every correspondence."""

    name = "gt-time"

    def align(self, dataset: Dataset, pair: Pair) -> np.ndarray:
        return np.asarray(pair.tgt[:, 0]).astype(np.int64)


class EmbeddingTimeAligner:
    """Embeds every frame of both videos with ``embed`` and matches frames by ``rule``."""

    def __init__(self, name: str, embed: Embed, rule: Rule = "dtw", metric: Metric = "cosine", min_frames: int = 2):
        self.name, self.embed, self.rule, self.metric, self.min_frames = name, embed, rule, metric, min_frames
        self._matches: dict[tuple[str, str], np.ndarray] = {}

    def align(self, dataset: Dataset, pair: Pair) -> np.ndarray:
        source, target = dataset.video(pair.source), dataset.video(pair.target)
        times = source_frames(pair, source)
        return self.matches(source, target)[times]

    def frame_costs(self, dataset: Dataset, pair: Pair) -> np.ndarray:
        """(K, M) cost of each correspondence's source frame against every target frame (the rule's metric)."""
        source, target = dataset.video(pair.source), dataset.video(pair.target)
        return pairwise_cost(self.embed(source)[source_frames(pair, source)], self.embed(target), self.metric)

    def matches(self, source: Video, target: Video) -> np.ndarray:
        """(N_source,) target frame of every source frame (cached per video pair)."""
        key = (str(source.path), str(target.path))
        if key not in self._matches:
            for video in (source, target):
                if video.num_frames < self.min_frames:
                    raise StcorrError(f"video too short for {self.name} time alignment: {video.num_frames} frame(s), "
                                      f"needs at least {self.min_frames}", video.path)
            self._matches[key] = match_frames(self.embed(source), self.embed(target), self.rule, self.metric)
        return self._matches[key]
