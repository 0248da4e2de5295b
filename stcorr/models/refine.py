"""The fine stage of coarse-to-fine matching: local space-time correlation around each coarse match.

Points are clip coordinates (t, x, y) and feature maps cover the clip with the ``align_corners=
False`` convention, as everywhere in ``stcorr.models`` (see ``stcorr.models.readout``).

For each source point p and its current match q in the target clip, one iteration of
``LocalRefiner``:

1. reads the query feature of each fine layer at p in the source maps (trilinear), projects it
   (a per-layer linear map, identity at the start; the target maps get the same projection) and
   L2-normalises it;
2. lays a window of (2 r_t + 1) x (2 r + 1) x (2 r + 1) positions around q, at offsets
   (i * step_t frames, j * step pixels in x, l * step pixels in y);
3. correlates: one cosine-similarity map per layer over the window (B*K, M, 2r_t+1, 2r+1, 2r+1),
   read from the query's correlation with the box of target cells the window's reads touch;
4. a small 3D conv over the window (layers as channels, last conv zero at the start) adds to the
   mean correlation; a softmax (``temperature``) over the window gives the expected offset, the
   correction (dt, dx, dy), and its peak probability, the confidence;
5. q <- q + correction, clamped to the clip.

``iterations`` rounds, each window centred on the last estimate with its position detached
(the correction, not the window placement, is differentiated), like RAFT's and TAPIR's updates.
The fine layers are read at their own resolution (the backbone's early, high-resolution blocks:
in R3D, layer 1 is at the clip's frame rate and half its pixels), not at the coarse grid's.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from stcorr.errors import StcorrError
from stcorr.models.readout import clamp_to_clip, sample_at_points


@dataclass
class RefineStep:
    """One iteration: ``points`` (B, K, 3) clip (t, x, y) in the target; ``confidence`` (B, K) in [0, 1]."""

    points: torch.Tensor
    confidence: torch.Tensor


class LocalRefiner(nn.Module):
    """Local correlation windows on fine features -> a (dt, dx, dy) correction and a confidence.

    ``channels``: channels of each fine layer, in the order the maps are passed.
    """

    def __init__(self, channels: Sequence[int], *, layers: list[int] | None = None, iterations: int = 2,
                 radius_t: int = 2, radius_xy: int = 3, step_t: float = 1.0, step_xy: float = 2.0,
                 hidden: int = 8, temperature: float = 0.05):
        super().__init__()
        if not 1 <= iterations <= 8 or radius_t < 0 or radius_xy < 1 or step_t <= 0 or step_xy <= 0 or temperature <= 0:
            raise StcorrError("refine_args: iterations 1..8, radius_t >= 0, radius_xy >= 1, positive steps and temperature")
        self.layers = layers  # kept for the config; the Matcher resolves and reads them
        self.iterations, self.temperature = int(iterations), float(temperature)
        self.window = (2 * radius_t + 1, 2 * radius_xy + 1, 2 * radius_xy + 1)
        self.register_buffer("offsets", window_offsets(radius_t, radius_xy, step_t, step_xy), persistent=False)
        self.projections = nn.ModuleList(nn.Linear(c, c, bias=False) for c in channels)
        for projection in self.projections:
            nn.init.eye_(projection.weight)
        m = len(channels)
        self.head = nn.Sequential(
            nn.Conv3d(m, hidden, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv3d(hidden, hidden, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv3d(hidden, 1, 3, padding=1),
        )
        with torch.no_grad():
            self.head[-1].weight.zero_()
            self.head[-1].bias.zero_()

    def forward(self, src_maps: Sequence[torch.Tensor], tgt_maps: Sequence[torch.Tensor], src_points: torch.Tensor,
                start: torch.Tensor, clip_size: Sequence[int]) -> list[RefineStep]:
        """``src_maps``, ``tgt_maps``: per fine layer (B, C_m, T_m, H_m, W_m); ``src_points``,
        ``start`` (the coarse matches): (B, K, 3) clip (t, x, y). Returns one ``RefineStep`` per iteration."""
        features = [self._features(m, s, t, src_points, clip_size) for m, (s, t) in enumerate(zip(src_maps, tgt_maps))]
        points, steps = start, []
        for _ in range(self.iterations):
            correction, confidence = self._correction(features, points.detach(), clip_size)
            points = clamp_to_clip(points.detach() + correction, clip_size)
            steps.append(RefineStep(points, confidence))
        return steps

    def _features(self, layer: int, src_map: torch.Tensor, tgt_map: torch.Tensor, src_points: torch.Tensor,
                  clip_size) -> tuple[torch.Tensor, torch.Tensor]:
        """The projected, L2-normalised target map (B, T_m, H_m, W_m, C) and query features (B*K, C)."""
        weight = self.projections[layer].weight
        tgt = F.normalize(torch.einsum("dc,bcthw->bthwd", weight, tgt_map), dim=-1)
        query = F.normalize(sample_at_points(src_map, src_points, clip_size) @ weight.T, dim=-1)  # (B, K, C)
        return tgt, query.flatten(0, 1)

    def _correction(self, features, centres: torch.Tensor, clip_size) -> tuple[torch.Tensor, torch.Tensor]:
        batch, k, _ = centres.shape
        positions = (centres[:, :, None, :] + self.offsets.to(centres.dtype)).reshape(batch * k, -1, 3)
        windows = torch.stack([window_correlation(tgt, query, positions, self.offsets, clip_size)
                               for tgt, query in features], dim=-1)  # (B*K, P, M)
        volume = windows.transpose(1, 2).reshape(batch * k, len(features), *self.window)
        logits = windows.mean(dim=-1) + self.head(volume).reshape(batch * k, -1)
        probability = (logits / self.temperature).softmax(dim=-1)
        correction = probability @ self.offsets.to(probability.dtype)
        return correction.reshape(batch, k, 3), probability.amax(dim=-1).reshape(batch, k)


def window_correlation(tgt: torch.Tensor, query: torch.Tensor, positions: torch.Tensor, offsets: torch.Tensor,
                       clip_size: Sequence[int]) -> torch.Tensor:
    """Cosine similarity of each query with the target map read trilinearly (border values beyond
    the outermost cells) at its window's positions: (B*K, P).

    ``tgt`` (B, T_m, H_m, W_m, C) normalised target features, ``query`` (B*K, C), ``positions``
    (B*K, P, 3) clip (t, x, y), not differentiated, laid out as ``offsets`` (P, 3) around a centre.
    Trilinear reads are linear, so this equals reading the query's correlation map with the whole
    target at the positions; only the box of cells the window's reads touch is correlated.
    """
    batch, *size, channels = tgt.shape
    k = query.shape[0] // batch
    # map coordinates (t, x, y) of the positions (align_corners=False), clamped as border padding does
    scale = positions.new_tensor([size[0] / clip_size[0], size[2] / clip_size[2], size[1] / clip_size[1]])
    top = positions.new_tensor([size[0], size[2], size[1]]) - 1
    coords = torch.minimum(((positions + 0.5) * scale - 0.5).clamp(min=0), top)
    span = (offsets.amax(dim=0) - offsets.amin(dim=0)).to(scale) * scale
    box = torch.minimum(torch.ceil(span) + 2, top + 1).long()  # cells the reads of a window touch, per axis
    first = torch.minimum(coords.amin(dim=1).floor().long(), top.long() + 1 - box)  # (B*K, 3)
    axes = [first[:, axis, None] + torch.arange(int(box[axis]), device=first.device) for axis in range(3)]  # t, x, y
    example = torch.arange(batch, device=first.device).repeat_interleave(k)[:, None, None, None]
    cells = ((example * size[0] + axes[0][:, :, None, None]) * size[1] + axes[2][:, None, :, None]) * size[2] \
        + axes[1][:, None, None, :]  # (B*K, box_t, box_y, box_x) flat indices into the map
    crop = tgt.reshape(-1, channels).index_select(0, cells.flatten()).reshape(batch * k, -1, channels)
    corr = torch.bmm(crop, query[:, :, None]).reshape(batch * k, 1, *cells.shape[1:])
    local = (coords - first[:, None]) * 2 / (box - 1).clamp(min=1) - 1  # align_corners=True within the box
    grid = local[:, :, [1, 2, 0]][:, :, None, None, :]  # grid_sample wants (x, y, t)
    sampled = F.grid_sample(corr, grid.to(corr.dtype), mode="bilinear", padding_mode="border", align_corners=True)
    return sampled.reshape(batch * k, -1)


def window_offsets(radius_t: int, radius_xy: int, step_t: float, step_xy: float) -> torch.Tensor:
    """(P, 3) offsets (dt, dx, dy) of a window's positions, row-major over (t, y, x)."""
    dt = torch.arange(-radius_t, radius_t + 1, dtype=torch.float32) * step_t
    dxy = torch.arange(-radius_xy, radius_xy + 1, dtype=torch.float32) * step_xy
    t, y, x = torch.meshgrid(dt, dxy, dxy, indexing="ij")
    return torch.stack([t, x, y], dim=-1).reshape(-1, 3)


REFINERS: dict[str, type[nn.Module]] = {
    "local": LocalRefiner,
}


def refine_options(name: str | None, args: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The refiner's keyword options with ``args`` over the defaults ({}, whatever ``args``, when
    ``name`` is None: the options of a stage that is off are not used)."""
    if name is None:
        return {}
    if name not in REFINERS:
        raise StcorrError(f"unknown refine {name!r}; known: null, {', '.join(REFINERS)}")
    parameters = inspect.signature(REFINERS[name]).parameters
    defaults = {key: p.default for key, p in parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    unknown = [key for key in args or {} if key not in defaults]
    if unknown:
        raise StcorrError(f"unknown refine_args key {unknown[0]!r} for {name} (known: {', '.join(defaults)})")
    return {**defaults, **(args or {})}


def default_fine_layers(blocks: Sequence[int]) -> list[int]:
    """The last block of the backbone's first and second stages (paper numbering)."""
    return [int(blocks[0]), int(blocks[0] + blocks[1])]
