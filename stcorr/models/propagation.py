"""Label propagation: keypoints or object masks of one frame followed through a video by recursive
restricted attention.

    features = EncoderFeatures(model)             # or PixelFeatures() (raw Lab, the no-learning reference)
    settings = PropagationSettings.checked(cfg["corrflow"]["propagation"])   # or .defaults(radius=4)
    tracks = propagate_keypoints(video, t, xy, features, settings)
    for t, labels in propagate_masks(video, t0, mask_labels, features, settings): ...

Each keypoint becomes a Gaussian map (``sigma`` cells) on the query frame's feature grid (stride
4 of the working frames). Every later frame copies its maps from a memory of the query frame
(with its true maps; its attention weights multiplied by ``first_weight``), the last ``memory``
frames and up to ``long_memory`` older frames, one every ``long_every`` frames (MAST's long-term
memory; all with their propagated maps): each of its cells
takes the ``topk`` most similar cells within ``radius`` cells in the memory frames and averages
their maps with softmax weights (similarity = -squared feature distance / temperature). A map is
read back by a soft-argmax in a small window around its peak. A mask becomes one map per label
(background included: the fraction of each cell the label covers), read back by upsampling the
maps to native size and taking the largest at each pixel. Frames are read, encoded and dropped
a few at a time: memory stays bounded whatever the video's length.

Coordinates: native pixels (x right, y down). Cell (i, j) of the grid covers working-frame pixels
[4i, 4i + 4) x [4j, 4j + 4); its centre is native x = (j + 0.5) * W / w - 0.5 for a video W pixels
wide and a grid w cells wide (likewise y).
"""

from __future__ import annotations

import math
from collections import deque
from functools import lru_cache
from typing import ClassVar, Iterator, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import ConfigDict, Field
from torch import Tensor

from stcorr.data.frames import read_frames
from stcorr.data.video import Video
from stcorr.errors import StcorrError
from stcorr.models.corrflow import STRIDE, ColourCopier, CorrFlow, rgb_to_lab
from stcorr.settings import Section


class PropagationSettings(Section):
    """``corrflow.propagation``: what each key does is said in cpu.yaml."""

    cpu_yaml_key: ClassVar[str] = "corrflow.propagation"
    model_config = ConfigDict(frozen=True)
    radius: int = Field(ge=1)
    topk: int = Field(ge=1)
    memory: int = Field(ge=0)
    long_memory: int = Field(ge=0)
    long_every: int = Field(ge=1)
    first_weight: float = Field(gt=0)
    temperature: float = Field(gt=0)
    sigma: float = Field(gt=0)
    max_side: int = Field(ge=16)
    readout_radius: int = Field(ge=0)
    batch_frames: int = Field(ge=1)
    memory_budget_mb: int = Field(ge=1)


class FrameFeatures(Protocol):
    name: str

    def __call__(self, frames: Tensor) -> Tensor:
        """(N, 3, H, W) in [0, 1], H and W multiples of 4 -> (N, C, H/4, W/4)."""


class PixelFeatures:
    """Raw Lab pixels: each cell's 4x4 pixels' Lab values (48 numbers) divided by 30, the
    no-learning reference (the scale suits the default temperature)."""

    name = "pixels"

    def __call__(self, frames: Tensor) -> Tensor:
        return F.pixel_unshuffle(rgb_to_lab(frames), STRIDE) / 30.0


class EncoderFeatures:
    """A CorrFlow encoder's unit features (eval mode: full colour, no dropout). A space-time encoder
    (``corrflow-st``) sees each batch of ``batch_frames`` consecutive frames as one clip."""

    def __init__(self, model: ColourCopier, name: str = "corrflow", device: torch.device | None = None):
        self.device = device or torch.device("cpu")
        self.model, self.name = model.eval().to(self.device), name

    @torch.no_grad()
    def __call__(self, frames: Tensor) -> Tensor:
        return self.model.encoder(frames.to(self.device)).float().cpu()


# --- keypoints as maps on the feature grid

def working_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """(width, height) the frames are resized to: longer side <= max_side, both multiples of 4."""
    scale = min(1.0, max_side / max(width, height))
    return (max(STRIDE, int(round(width * scale / STRIDE)) * STRIDE),
            max(STRIDE, int(round(height * scale / STRIDE)) * STRIDE))


def native_to_cells(xy: np.ndarray, native: tuple[int, int], grid: tuple[int, int]) -> np.ndarray:
    """(K, 2) native x, y -> cell coordinates (x, y) on a grid (w, h) for a native (W, H) frame."""
    scale = np.array([native[0] / grid[0], native[1] / grid[1]])
    return (np.asarray(xy, dtype=np.float64) + 0.5) / scale - 0.5


def cells_to_native(xy: np.ndarray, native: tuple[int, int], grid: tuple[int, int]) -> np.ndarray:
    scale = np.array([native[0] / grid[0], native[1] / grid[1]])
    return (np.asarray(xy, dtype=np.float64) + 0.5) * scale - 0.5


def gaussian_maps(cells_xy: np.ndarray, grid: tuple[int, int], sigma: float) -> Tensor:
    """(K, 2) cell coordinates -> (1, K, h, w) maps exp(-d^2 / 2 sigma^2)."""
    w, h = grid
    xs, ys = torch.arange(w, dtype=torch.float32), torch.arange(h, dtype=torch.float32)
    centres = torch.as_tensor(cells_xy, dtype=torch.float32)
    dx2 = (xs.view(1, 1, w) - centres[:, 0].view(-1, 1, 1)) ** 2
    dy2 = (ys.view(1, h, 1) - centres[:, 1].view(-1, 1, 1)) ** 2
    return torch.exp(-(dx2 + dy2) / (2 * sigma ** 2)).unsqueeze(0)


def read_out(maps: Tensor, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """(1, K, h, w) maps -> ((K, 2) cell x, y by soft-argmax within ``radius`` cells of each peak, (K,) peak value)."""
    _, k, h, w = maps.shape
    flat = maps[0].reshape(k, -1)
    peak_value, peak = flat.max(1)
    py, px = peak // w, peak % w
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    near = ((ys.unsqueeze(0) - py.view(-1, 1, 1)).abs() <= radius) & ((xs.unsqueeze(0) - px.view(-1, 1, 1)).abs() <= radius)
    weights = (maps[0].clamp_min(0) * near).reshape(k, -1)
    weights = weights / weights.sum(1, keepdim=True).clamp_min(1e-12)
    x = (weights * xs.reshape(1, -1)).sum(1)
    y = (weights * ys.reshape(1, -1)).sum(1)
    return torch.stack([x, y], 1).double().numpy(), peak_value.double().numpy()


# --- propagation

def _as_key(features: Tensor) -> Tensor:
    """Features (1, C, h, w) -> keys [2f, -|f|^2] whose dot product with a query [q, 1] is -|q - f|^2 + |q|^2."""
    return torch.cat([2 * features, -(features ** 2).sum(1, keepdim=True)], 1)


def _as_query(features: Tensor) -> Tensor:
    return torch.cat([features, torch.ones_like(features[:, :1])], 1)


def _block_rows(height: int, width: int, memory: int, radius: int, budget_mb: int) -> int:
    """Query rows per block: about ``radius`` (so the key band is ~3x the block, not the whole frame),
    fewer when a block's logits (rows x W by memory x (rows + 2R) x W) would pass the budget."""
    floats = budget_mb * 2 ** 20 // 4
    rows = 1
    while rows < min(height, max(4, radius)) and (rows + 1) * width * memory * (rows + 1 + 2 * radius) * width <= floats:
        rows += 1
    return rows


@lru_cache(maxsize=256)
def _window_bias(height: int, width: int, radius: int, start: int, stop: int) -> Tensor:
    """(rows x W, band) 0 where a key cell of the band lies in the query cell's window, else -inf."""
    cell_y = torch.arange(height).repeat_interleave(width)
    cell_x = torch.arange(width).repeat(height)
    rows = slice(start * width, stop * width)
    band = slice(max(0, start - radius) * width, min(height, stop + radius) * width)
    near = (((cell_y[rows, None] - cell_y[None, band]).abs() <= radius)
            & ((cell_x[rows, None] - cell_x[None, band]).abs() <= radius))
    return torch.zeros(near.shape).masked_fill_(~near, float("-inf"))


def topk_window_attention(query: Tensor, keys: list[Tensor], values: list[Tensor], radius: int, temperature: float,
                          topk: int, block_rows: int | None = None, first_weight: float = 1.0) -> Tensor:
    """``restricted_attention`` with ``topk``, for one frame, computed the fast way for propagation.

    query (1, C, h, w); keys, values: M tensors (1, C, h, w) and (1, V, h, w) -> (1, V, h, w). Each
    block of query rows is multiplied (BLAS) with the band of key rows within ``radius``, plus a
    cached 0/-inf window mask; the ``topk`` largest logits are kept and their values gathered.
    Same result as ``restricted_attention(..., topk=topk)`` (without ties), less work.
    ``first_weight`` multiplies the attention weights of the first memory frame's cells before
    the top-k and the normalisation (log(first_weight) added to their logits; 1: no change).
    """
    _, c, h, w = query.shape
    block_rows = block_rows or h
    queries = (query[0].reshape(c, h * w) / temperature).T.contiguous()  # (h * w, C)
    key_cells = [k[0].reshape(c, h * w) for k in keys]
    value_cells = torch.cat([v[0].reshape(v.shape[1], h * w) for v in values], 1)  # (V, M * h * w)
    out = torch.empty(value_cells.shape[0], h * w, dtype=value_cells.dtype)
    for start in range(0, h, block_rows):
        stop = min(start + block_rows, h)
        band = slice(max(0, start - radius) * w, min(h, stop + radius) * w)
        rows = slice(start * w, stop * w)
        bias = _window_bias(h, w, radius, start, stop).to(queries.dtype)
        q = queries[rows]
        logits = torch.cat([torch.addmm(bias, q, k[:, band].to(q.dtype)) for k in key_cells], 1)
        if first_weight != 1.0:
            logits[:, :band.stop - band.start] += math.log(first_weight)
        top, index = logits.topk(min(topk, logits.shape[1]), dim=1)
        band_size = band.stop - band.start
        flat = (index // band_size) * (h * w) + band.start + index % band_size
        out[:, rows] = (value_cells[:, flat] * top.softmax(1).to(value_cells.dtype).unsqueeze(0)).sum(2)
    return out.view(1, -1, h, w)


def encoded_frames(video: Video, order: list[int], features: FrameFeatures, size: tuple[int, int],
                   batch: int) -> Iterator[Tensor]:
    """Features (1, C, h, w) of ``video``'s frames in ``order``, read and encoded ``batch`` at a time."""
    for start in range(0, len(order), batch):
        chunk = order[start: start + batch]
        encoded = features(read_frames(video, chunk, size))
        yield from encoded.split(1)


def propagate_maps(encoded: Iterator[Tensor], first_maps: Tensor, settings: PropagationSettings) -> Iterator[Tensor]:
    """Maps (1, K, h, w) of every frame of ``encoded`` after the first (whose maps are ``first_maps``)."""
    first = next(encoded)
    first_entry = memory_entry(first, first_maps)
    recent: deque[tuple[Tensor, Tensor]] = deque(maxlen=settings.memory)
    older: deque[tuple[Tensor, Tensor]] = deque(maxlen=settings.long_memory)
    _, _, h, w = first.shape
    rows = block_rows_for((w, h), 1 + settings.memory + settings.long_memory, settings)
    for index, feature in enumerate(encoded, 1):
        maps = propagation_step(feature, [first_entry] + list(older) + list(recent), settings, rows, settings.first_weight)
        entry = memory_entry(feature, maps)
        if settings.memory and len(recent) == settings.memory:
            _keep_long_term(older, recent[0], index - settings.memory, settings)
        elif not settings.memory:
            _keep_long_term(older, entry, index, settings)
        if settings.memory:
            recent.append(entry)
        yield maps


def memory_entry(features: Tensor, maps: Tensor) -> tuple[Tensor, Tensor]:
    """A frame as propagation remembers it: (its features as keys, its maps (1, K, h, w))."""
    return _as_key(features), maps


def block_rows_for(grid: tuple[int, int], memory_frames: int, settings: PropagationSettings) -> int:
    """Query rows attended at a time on a ``grid`` (w, h) with ``memory_frames`` in memory (``memory_budget_mb``)."""
    return _block_rows(grid[1], grid[0], memory_frames, settings.radius, settings.memory_budget_mb)


def propagation_step(features: Tensor, memory: list[tuple[Tensor, Tensor]], settings: PropagationSettings,
                     block_rows: int | None = None, first_weight: float = 1.0) -> Tensor:
    """The maps (1, K, h, w) of the frame whose features are ``features`` (1, C, h, w), copied from
    the ``memory`` entries (``memory_entry``); ``first_weight`` weighs the first entry's cells."""
    return topk_window_attention(_as_query(features), [k for k, _ in memory], [v for _, v in memory],
                                 settings.radius, settings.temperature, settings.topk, block_rows, first_weight)


def _keep_long_term(older: deque, entry: tuple[Tensor, Tensor], index: int, settings: PropagationSettings) -> None:
    """Frame ``index`` (1: the first after the query frame), leaving the recent memory, joins the
    long-term memory when it falls on ``long_every``; the oldest long-term frame drops out."""
    if settings.long_memory and index % settings.long_every == 0:
        older.append(entry)


def grid_of(video: Video, settings: PropagationSettings) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """(native (W, H), working (W, H), grid (w, h)) of ``video`` under ``settings``."""
    native = video.size
    size = working_size(native[0], native[1], settings.max_side)
    return native, size, (size[0] // STRIDE, size[1] // STRIDE)


def _check_query_frame(video: Video, query_t: int) -> None:
    if not 0 <= query_t < video.num_frames:
        raise StcorrError(f"query frame {query_t} is outside the video's {video.num_frames} frames", video.path)


@torch.no_grad()
def propagated_maps(video: Video, query_t: int, first_maps: Tensor, features: FrameFeatures,
                    settings: PropagationSettings, backward: bool = False) -> Iterator[tuple[int, Tensor]]:
    """(t, maps (1, K, h, w)) for every frame after ``query_t`` (whose maps are ``first_maps`` on the
    grid of ``grid_of``), in order, then with ``backward`` every frame before it, nearest first.
    Frames are read and encoded ``settings.batch_frames`` at a time (bounded memory)."""
    _, size, _ = grid_of(video, settings)
    orders = [list(range(query_t, video.num_frames))] + ([list(range(query_t, -1, -1))] if backward else [])
    for order in orders:
        encoded = encoded_frames(video, order, features, size, settings.batch_frames)
        yield from zip(order[1:], propagate_maps(encoded, first_maps, settings))


def propagate_keypoints(video: Video, query_t: int, points_xy: np.ndarray, features: FrameFeatures,
                        settings: PropagationSettings, backward: bool = False) -> dict[int, np.ndarray]:
    """Follows keypoints given at frame ``query_t`` (``points_xy`` (K, 2) native x, y) through ``video``.

    Returns {t: (K, 3) rows of native x, y and score} for every frame from ``query_t`` to the last
    (and, with ``backward``, from ``query_t`` back to the first), the query frame holding the
    given points with score 1. The score is the propagated map's peak (1 for a map that kept its
    whole mass; lower as it spreads). Runs without gradients.
    """
    _check_query_frame(video, query_t)
    native, _, grid = grid_of(video, settings)
    points_xy = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
    first_maps = gaussian_maps(native_to_cells(points_xy, native, grid), grid, settings.sigma)
    tracks = {query_t: np.column_stack([points_xy, np.ones(len(points_xy))])}
    for t, maps in propagated_maps(video, query_t, first_maps, features, settings, backward):
        cells, score = read_out(maps, settings.readout_radius)
        tracks[t] = np.column_stack([cells_to_native(cells, native, grid), score])
    return dict(sorted(tracks.items()))


# --- masks: one map per label (background included), read back by argmax at native size

def label_maps(labels: np.ndarray, values: np.ndarray, grid: tuple[int, int]) -> Tensor:
    """(H, W) label image, (L,) label values -> (1, L, h, w): the fraction of each cell's pixels holding each value."""
    one_hot = torch.from_numpy(labels[None] == values[:, None, None]).float().unsqueeze(0)
    return F.interpolate(one_hot, size=(grid[1], grid[0]), mode="area")


def maps_to_labels(maps: Tensor, values: np.ndarray, native: tuple[int, int]) -> np.ndarray:
    """(1, L, h, w) maps -> (H, W) uint8 labels: at each native pixel the value whose (bilinearly
    upsampled) map is largest."""
    upsampled = F.interpolate(maps, size=(native[1], native[0]), mode="bilinear", align_corners=False)
    return values[upsampled[0].argmax(0).numpy()].astype(np.uint8)


def propagate_masks(video: Video, query_t: int, labels: np.ndarray, features: FrameFeatures,
                    settings: PropagationSettings,
                    backward: bool = False) -> Iterator[tuple[int, np.ndarray]]:
    """Follows the objects of a label image (``labels`` (H, W) of the video's native size: 0 the
    background, other values objects, DAVIS style) given at frame ``query_t`` through ``video``.

    Yields (t, (H, W) uint8 labels): the given mask at ``query_t``, then every later frame, then
    with ``backward`` every earlier frame, nearest first. Each label (the background too) is a map
    of the fraction of each feature cell it covers; maps propagate as keypoint maps do; each native
    pixel takes the label whose upsampled map is largest. A generator: frames stream, memory stays
    bounded whatever the video's length.
    """
    _check_query_frame(video, query_t)
    native, _, grid = grid_of(video, settings)
    labels = np.asarray(labels, dtype=np.uint8)
    if (labels.shape[1], labels.shape[0]) != native:
        raise StcorrError(f"the mask is {labels.shape[1]}x{labels.shape[0]}, the video's frames are "
                          f"{native[0]}x{native[1]}", video.path)
    values = np.union1d([0], np.unique(labels)).astype(np.uint8)
    yield query_t, labels
    for t, maps in propagated_maps(video, query_t, label_maps(labels, values, grid), features, settings, backward):
        yield t, maps_to_labels(maps, values, native)


def untrained_encoder(settings: dict, seed: int = 0) -> CorrFlow:
    """A CorrFlow encoder with its initial random weights: the second no-learning reference."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return CorrFlow(**{k: settings[k] for k in ("width", "blocks", "dim", "clusters")}).eval()
