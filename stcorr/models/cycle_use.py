"""What the cycle-consistent patch embedding gives (Purushwalkam et al., ECCV 2020, Sec. 3.4):
patch, track, frame and video correspondences between two videos.

    patches = embed_video(model, video, times, boxes)                # VideoPatches
    j, q, score = nearest_patches(query_emb, other)                  # patch correspondence
    best, scores = track_correspondence(a, b)                        # Eq. 5
    sim = frame_similarity(a, b); matched = temporal_alignment(sim)  # Eq. 6 and a DTW path
    score = video_similarity(a, b)                                   # Eq. 7 (retrieval)
    features = CycleFeatures.load(checkpoint, cfg)             # retrieval: stcorr.baselines.retrieval
    CycleTimeAligner(features).align(dataset, pair)                  # the baselines' aligner `cycle`

A video's patches are a set of tracks (I) seen at T frames: embeddings (I, T, D), a mask (I, T),
boxes (I, T, 4) in continuous native pixels (``stcorr.data.tracks``). Where no tracks are given,
``grid_patches`` puts the same lattice of boxes on every frame (label free). s is the cosine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from stcorr.alignment.cycle import soft_max_of_sums
from stcorr.alignment.dtw import align_frames, dtw
from stcorr.data.datasets import Dataset
from stcorr.data.pairs import Pair, source_frames
from stcorr.data.tracks import grid_boxes
from stcorr.data.video import Video
from stcorr.models.checkpoint import load_checkpoint
from stcorr.data.frames import read_frames
from stcorr.models.patch_embedding import PatchEmbedding, PatchEmbeddingSettings

READ_FRAMES = 16  # frames read and encoded at once
SIMILARITY_BLOCK = 32  # frames of A compared with B at once (bounds memory on long videos)


def chunk_times(n: int, chunks: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """One frame in each of ``chunks`` equal chunks of an ``n``-frame video (n >= chunks): drawn
    uniformly within the chunk with ``rng``, the chunk's middle frame without."""
    edges = np.floor(np.linspace(0, n, chunks + 1)).astype(np.int64)  # chunk c: frames edges[c] .. edges[c+1] - 1
    if rng is None:
        return (edges[:-1] + edges[1:] - 1) // 2
    return edges[:-1] + np.floor(rng.random(chunks) * np.diff(edges)).astype(np.int64)


@dataclass
class VideoPatches:
    """Tracks of one video at some of its frames: ``times`` (T,), ``emb`` (I, T, D), ``valid`` (I, T),
    ``boxes`` (I, T, 4) native continuous pixels."""

    times: np.ndarray
    emb: torch.Tensor
    valid: torch.Tensor
    boxes: np.ndarray


def grid_patches(video: Video, times: np.ndarray, cells: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``cells x cells`` lattice of ``stcorr.data.tracks.grid_boxes`` on every frame of ``times``:
    boxes (cells^2, T, 4) and an all-true mask (cells^2, T)."""
    boxes = grid_boxes(*video.size, cells=cells)
    return np.repeat(boxes[:, None], len(times), axis=1), np.ones((len(boxes), len(times)), dtype=bool)


@torch.no_grad()
def embed_video(model: PatchEmbedding, video: Video, times: np.ndarray, boxes: np.ndarray,
                valid: np.ndarray | None = None, device: torch.device | str = "cpu") -> VideoPatches:
    """Embeds boxes (I, T, 4) (native continuous pixels) at frames ``times`` (T,) of ``video``."""
    model.eval()
    times = np.asarray(times, dtype=np.int64)
    valid = np.ones(boxes.shape[:2], dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    width, height = video.size
    size = model.size
    scaled = torch.from_numpy(boxes * np.array([size / width, size / height] * 2)).float().to(device)
    chunks = []
    for start in range(0, len(times), READ_FRAMES):
        part = slice(start, start + READ_FRAMES)
        maps = model.feature_maps(read_frames(video, times[part], size).to(device))
        box = scaled[:, part]
        index = torch.arange(box.shape[1], device=device)[None].expand(box.shape[0], -1)
        chunks.append(model.embed(maps, index.reshape(-1), box.reshape(-1, 4)).reshape(box.shape[0], box.shape[1], -1))
    emb = torch.cat(chunks, dim=1) if chunks else torch.zeros((len(boxes), 0, model.settings.dim), device=device)
    return VideoPatches(times, emb, torch.from_numpy(valid).to(device), np.asarray(boxes, dtype=np.float64))


def nearest_patches(query: torch.Tensor, other: VideoPatches) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Patch correspondence: for each query embedding (P, D), the most similar patch in any frame of
    ``other``: its track j (P,), frame position q (P,) (an index into ``other.times``) and cosine (P,)."""
    sim = torch.einsum("pd,jqd->pjq", query, other.emb).masked_fill(~other.valid[None], -2.0)
    best = sim.flatten(1).argmax(1)
    j, q = np.unravel_index(best.cpu().numpy(), sim.shape[1:])
    return j, q, sim.flatten(1).max(1).values.cpu().numpy()


def track_correspondence(a: VideoPatches, b: VideoPatches, temperature: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Eq. 5: for each track i of ``a``, the track j of ``b`` with the best cycle back to i.

    score(i, j) = Gamma over the cycles A_m^i -> A_n^i -> B_q^j -> B_p^j -> A_m^i (any n, q, p, m)
    of s(A_n^i, B_q^j) + s(B_p^j, A_m^i), the soft maximum of ``stcorr.alignment.cycle``.
    Returns the best j (I,) (-1 for a track with no patch) and the scores (I, J).
    """
    forward = torch.einsum("ind,jqd->ijnq", a.emb, b.emb).flatten(2)  # (I, J, T*T2)
    mask = (a.valid[:, None, :, None] & b.valid[None, :, None, :]).flatten(2)
    # one j per call: a (I, J, 1, T*T2) over (n, q); the way back (p, m) runs over the same cosines
    scores = soft_max_of_sums(forward[:, :, None], mask[:, :, None], forward[:, :, None], mask[:, :, None], temperature)
    usable = mask.any(-1)
    scores = scores.masked_fill(~usable, float("-inf"))
    best = scores.argmax(1).cpu().numpy()
    best[~usable.any(1).cpu().numpy()] = -1
    return best, scores.cpu().numpy()


def frame_similarity(a: VideoPatches, b: VideoPatches) -> np.ndarray:
    """Eq. 6: T(A_m, B_p) = sum_i max_j s(f(A_m^i), f(B_p^j)) over the patches i of frame m of ``a``
    and j of frame p of ``b``, divided by the number of patches of A_m: (T_a, T_b)."""
    blocks = []
    for m in range(0, a.emb.shape[1], SIMILARITY_BLOCK):
        emb, valid = a.emb[:, m:m + SIMILARITY_BLOCK], a.valid[:, m:m + SIMILARITY_BLOCK]
        sim = torch.einsum("imd,jpd->mpij", emb, b.emb).masked_fill(~b.valid.T[None, :, None, :], -2.0)
        best = sim.max(-1).values.masked_fill(~valid.T[:, None, :], 0.0)  # (block, T_b, I)
        blocks.append(best.sum(-1) / valid.sum(0).clamp(min=1)[:, None])
    return torch.cat(blocks).cpu().numpy() if blocks else np.zeros((0, b.emb.shape[1]))


def temporal_alignment(similarity: np.ndarray) -> np.ndarray:
    """The frame of B matched to each frame of A (T_a,) along the DTW path over cost 1 - T."""
    _, path = dtw(1.0 - similarity)
    return align_frames(path, similarity.shape[0])


def video_similarity(a: VideoPatches, b: VideoPatches) -> float:
    """Eq. 7: how alike two videos are: ``frame_similarity`` averaged over the frames of A, each
    with its frame of B on the temporal alignment (the DTW path)."""
    similarity = frame_similarity(a, b)
    matched = temporal_alignment(similarity)
    return float(similarity[np.arange(len(matched)), matched].mean())


class CycleFeatures:
    """A patch embedding with the settings its uses need (``cycle.chunks``, ``cycle.grid``), and the
    label-free grid patches of every video it has embedded (cached by path and frames)."""

    def __init__(self, model: PatchEmbedding, settings: dict, device: torch.device | str = "cpu",
                 checkpoint: str | None = None):
        self.model, self.settings, self.device, self.checkpoint = model.to(device).eval(), settings, device, checkpoint
        self._cache: dict[tuple, VideoPatches] = {}

    @classmethod
    def load(cls, checkpoint: str | Path | None, cfg: dict, device: torch.device | str = "cpu") -> "CycleFeatures":
        """The trained embedding of a ``stcorr train --config cycle`` checkpoint (a folder, or
        ``stcorr:NAME`` of a shipped model), or without one the untrained embedding ``cfg`` describes
        (drawn from ``cfg["seed"]``)."""
        if checkpoint is None:
            torch.manual_seed(cfg["seed"])
            return cls(PatchEmbedding(PatchEmbeddingSettings.checked(cfg["cycle"])), cfg["cycle"], device)
        model, info = load_checkpoint(checkpoint, "cycle")
        return cls(model, info["config"]["cycle"], device, str(checkpoint))  # type: ignore[arg-type]

    def patches(self, video: Video, times: np.ndarray | None = None) -> VideoPatches:
        """Grid patches of ``video`` at ``times`` (default: the middle frame of each of ``chunks`` chunks,
        or every frame of a shorter video)."""
        if times is None:
            n, chunks = video.num_frames, int(self.settings["chunks"])
            times = chunk_times(n, chunks) if n >= chunks else np.arange(n)
        times = np.asarray(times, dtype=np.int64)
        key = (str(video.path), times.tobytes())
        if key not in self._cache:
            boxes, valid = grid_patches(video, times, int(self.settings["grid"]))
            self._cache[key] = embed_video(self.model, video, times, boxes, valid, self.device)
        return self._cache[key]


class CycleTimeAligner:
    """The time aligner ``cycle`` of the sequential baselines: every frame of both videos as grid
    patches, frame similarity (Eq. 6), and the DTW path over it."""

    name = "cycle"

    def __init__(self, features: CycleFeatures):
        self.features = features
        self._matches: dict[tuple[str, str], np.ndarray] = {}

    def matches(self, source: Video, target: Video) -> np.ndarray:
        """(N_source,) target frame of every source frame (cached per video pair)."""
        key = (str(source.path), str(target.path))
        if key not in self._matches:
            a = self.features.patches(source, np.arange(source.num_frames))
            b = self.features.patches(target, np.arange(target.num_frames))
            self._matches[key] = temporal_alignment(frame_similarity(a, b))
        return self._matches[key]

    def align(self, dataset: Dataset, pair: Pair) -> np.ndarray:
        source, target = dataset.video(pair.source), dataset.video(pair.target)
        return self.matches(source, target)[source_frames(pair, source)]
