"""Benchmark pairs (docs/formats.md#pairs-and-setups): which (source, target) videos are compared and
on which keypoints.

A ``Pair`` holds its correspondences in native coordinates: ``src[i] = (t, x, y)`` in the source
video means ``tgt[i] = (t, x, y)`` in the target. ``ref_size[i]`` is max(w, h) of the tightest
box around all keypoints of the target at frame ``tgt[i, 0]``, the metric's scale
(docs/formats.md#metric).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np

from stcorr.pose.skeleton import keypoint_type
from stcorr.data.video import Video
from stcorr.errors import StcorrError


@dataclass(frozen=True, eq=False)
class Pair:
    source: str
    target: str
    action: str
    split: str
    names: tuple[str | None, ...]
    moments: tuple[int, ...]  # key-moment index of each correspondence (-1 when unknown)
    src: np.ndarray  # (K, 3) float64 (t, x, y) native, source video
    tgt: np.ndarray  # (K, 3) float64 (t, x, y) native, target video
    ref_size: np.ndarray  # (K,) float64

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(keypoint_type(n) for n in self.names)

    def __len__(self) -> int:
        return len(self.names)


class PairList(Sequence[Pair]):
    """A stable, lazily built list of pairs: ``keys`` fixes the order, ``make`` builds one pair."""

    def __init__(self, keys: Sequence, make: Callable[[object], Pair]):
        self._keys = list(keys)
        self._make = make

    def __len__(self) -> int:
        return len(self._keys)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return PairList(self._keys[index], self._make)
        return self._make(self._keys[index])

    def __iter__(self) -> Iterator[Pair]:
        return (self._make(k) for k in self._keys)

    def sample(self, max_pairs: int | None, seed: int = 0) -> "PairList":
        """At most ``max_pairs`` pairs drawn with ``seed``, kept in the list's own order.

        The same (max_pairs, seed) picks the same pairs in ``stcorr pairs``, ``eval`` and ``score``.
        """
        if max_pairs is None or max_pairs >= len(self):
            return self
        chosen = np.sort(np.random.default_rng(seed).choice(len(self), size=max_pairs, replace=False))
        return PairList([self._keys[i] for i in chosen], self._make)

    def by_action(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for pair in self:
            counts[pair.action] = counts.get(pair.action, 0) + 1
        return counts


def source_frames(pair: Pair, source: Video) -> np.ndarray:
    """The pair's source frames (K,) as int64, checked against the source video's length."""
    times = np.asarray(pair.src[:, 0])
    if len(times) == 0:
        raise StcorrError(f"pair {pair.source} -> {pair.target} has no keypoints")
    if not np.all(np.isfinite(times)) or times.min() < 0 or times.max() >= source.num_frames:
        raise StcorrError(f"keypoint frames {times.min():g}..{times.max():g} are not all frames of the "
                          f"{source.num_frames}-frame video", source.path)
    return times.astype(np.int64)


def pair_to_record(pair: Pair) -> dict:
    """A pair as a pairs.json record (docs/formats.md#pairs-layout), with the action added."""
    return {
        "source": pair.source,
        "target": pair.target,
        "split": pair.split,
        "action": pair.action,
        "correspondences": [
            {"name": n, "source": _point(s), "target": _point(t)} for n, s, t in zip(pair.names, pair.src, pair.tgt)
        ],
    }


def _point(p: np.ndarray) -> list:
    return [int(p[0]), float(p[1]), float(p[2])]


def box_size(points: np.ndarray) -> float:
    """max(w, h) of the tightest box around (N, 2) points; 0 for fewer than one point."""
    if len(points) == 0:
        return 0.0
    extent = points.max(axis=0) - points.min(axis=0)
    return float(extent.max())
