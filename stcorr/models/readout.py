"""Readout: from a refined cost volume to space-time flow and keypoints; the keypoint loss.

Coordinate conventions (the whole model package follows them):

- A clip is (B, 3, T, H, W). A point of a clip is (t, x, y): t in frames [0, T), x, y in
  pixels, pixel centres at integers (pixel i spans [i - 0.5, i + 0.5]).
- A feature grid (T', H', W') covers the clip with the ``align_corners=False`` convention: grid
  cell i along an axis of clip length S and grid length S' has its centre at clip coordinate
  ``(i + 0.5) * S / S' - 0.5`` (same for t, y and x). Cells are flattened row-major in
  (t, y, x): n = (t*H' + y)*W' + x.
- A cost volume is (B, N_src, N_tgt), higher = better match.
- Flow is (B, N_src, 3) holding (dt, dy, dx) in clip units (frames, pixels): the matched target
  position minus the source cell's centre. Dense flow maps are (B, 3, T, H, W), channels
  (dt, dy, dx). Note the order differs from points, which are (t, x, y).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional, Sequence

import torch
import torch.nn.functional as F
from pydantic import Field

from stcorr.errors import StcorrError
from stcorr.settings import Section

READOUT_KINDS = ("soft_argmax", "hard_argmax")


class ReadoutSettings(Section):
    """A config's ``readout`` sub-section (``model``, ``baseline.cats2d``): see ``Readout``."""

    kind: Literal["soft_argmax", "hard_argmax"]
    temperature: float = Field(gt=0)
    kernel_sigma: Optional[float] = Field(gt=0)


def cell_indices(grid: Sequence[int], device: torch.device | None = None) -> torch.Tensor:
    """(N, 3) integer grid positions (t, y, x) of the cells, row-major."""
    axes = [torch.arange(g, device=device, dtype=torch.float32) for g in grid]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, 3)


def cell_centres(grid: Sequence[int], clip_size: Sequence[int], device: torch.device | None = None) -> torch.Tensor:
    """(N, 3) clip coordinates (t, y, x) of the cell centres: (i + 0.5) * S / S' - 0.5."""
    scale = torch.tensor([s / g for s, g in zip(clip_size, grid)], device=device)
    return (cell_indices(grid, device) + 0.5) * scale - 0.5


@dataclass
class FlowField:
    """Flow on the feature grid. ``flow`` (B, N_src, 3) = (dt, dy, dx); ``scores`` (B, N_src)."""

    flow: torch.Tensor
    scores: torch.Tensor
    grid: tuple[int, int, int]
    clip_size: tuple[int, int, int]

    def as_map(self) -> torch.Tensor:
        """(B, 3, T', H', W') on the feature grid."""
        return self.flow.transpose(1, 2).reshape(self.flow.shape[0], 3, *self.grid)

    def dense(self) -> torch.Tensor:
        """(B, 3, T, H, W) at clip resolution, trilinear (align_corners=False)."""
        return F.interpolate(self.as_map(), size=self.clip_size, mode="trilinear", align_corners=False)

    def at_points(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Source points (B, K, 3) as (t, x, y) -> target points (B, K, 3) as (t, x, y), scores (B, K).

        Flow and score are read trilinearly at each point; targets are clamped to the clip.
        """
        maps = torch.cat([self.as_map(), self.scores.reshape(-1, 1, *self.grid)], dim=1)
        values = sample_at_points(maps, points, self.clip_size)
        dt, dy, dx, score = values.unbind(-1)
        targets = points + torch.stack([dt, dx, dy], dim=-1)
        return clamp_to_clip(targets, self.clip_size), score


def clamp_to_clip(points: torch.Tensor, clip_size: Sequence[int]) -> torch.Tensor:
    """Clip points (B, K, 3) (t, x, y) clamped to the clip's pixel edges [-0.5, size - 0.5]."""
    t_size, h_size, w_size = clip_size
    upper = points.new_tensor([t_size, w_size, h_size]) - 0.5
    return torch.maximum(torch.minimum(points, upper), points.new_tensor(-0.5))


def sample_at_points(maps: torch.Tensor, points: torch.Tensor, clip_size: Sequence[int]) -> torch.Tensor:
    """Trilinear read of grid maps (B, C, T', H', W') at clip points (B, K, 3) (t, x, y) -> (B, K, C).

    Points outside the outermost cell centres take the border value.
    """
    t_size, h_size, w_size = clip_size
    extent = points.new_tensor([t_size, w_size, h_size])
    normalised = (points + 0.5) * 2.0 / extent - 1.0  # align_corners=False
    t, x, y = normalised.unbind(-1)
    grid = torch.stack([x, y, t], dim=-1)[:, :, None, None, :]  # grid_sample wants (x, y, z)
    sampled = F.grid_sample(maps, grid.to(maps.dtype), mode="bilinear", padding_mode="border", align_corners=False)
    return sampled[..., 0, 0].transpose(1, 2)


def soft_argmax(volume: torch.Tensor, grid: Sequence[int], clip_size: Sequence[int], temperature: float,
                kernel_sigma: float | None = None) -> FlowField:
    """Expected target position under softmax(volume / temperature) over target cells.

    With ``kernel_sigma`` (in grid cells), the softmax is multiplied by a Gaussian around each
    row's arg-max cell first (kernel soft-argmax, SFNet), which suppresses distant second modes.
    Scores are the highest probability of each row.
    """
    logits = volume / temperature
    if kernel_sigma is not None:
        logits = logits - _squared_cell_distance_to_peak(volume, grid) / (2.0 * kernel_sigma**2)
    probability = logits.softmax(dim=-1)
    centres = cell_centres(grid, clip_size, volume.device).to(volume.dtype)
    flow = probability @ centres - centres
    return FlowField(flow, probability.amax(dim=-1), tuple(grid), tuple(clip_size))


def hard_argmax(volume: torch.Tensor, grid: Sequence[int], clip_size: Sequence[int],
                temperature: float) -> FlowField:
    """Centre of the best target cell; scores as in ``soft_argmax`` (peak softmax probability)."""
    centres = cell_centres(grid, clip_size, volume.device).to(volume.dtype)
    flow = centres[volume.argmax(dim=-1)] - centres
    scores = (volume / temperature).softmax(dim=-1).amax(dim=-1)
    return FlowField(flow, scores, tuple(grid), tuple(clip_size))


def _squared_cell_distance_to_peak(volume: torch.Tensor, grid: Sequence[int]) -> torch.Tensor:
    cells = cell_indices(grid, volume.device).to(volume.dtype)
    peaks = cells[volume.argmax(dim=-1)]  # (B, N_src, 3)
    return sum((cells[:, axis] - peaks[..., axis, None]) ** 2 for axis in range(3))


@dataclass
class Readout:
    """How a volume becomes flow: ``kind`` soft_argmax or hard_argmax, softmax ``temperature``,
    optional Gaussian ``kernel_sigma`` (grid cells) for the soft arg-max."""

    kind: str = "soft_argmax"
    temperature: float = 0.05
    kernel_sigma: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in READOUT_KINDS:
            raise StcorrError(f"readout kind must be one of {', '.join(READOUT_KINDS)}, got {self.kind!r}")
        if not self.temperature > 0:
            raise StcorrError(f"readout temperature must be positive, got {self.temperature}")
        if self.kernel_sigma is not None and not self.kernel_sigma > 0:
            raise StcorrError(f"readout kernel_sigma must be positive or null, got {self.kernel_sigma}")

    def __call__(self, volume: torch.Tensor, grid: Sequence[int], clip_size: Sequence[int],
                 differentiable: bool = False) -> FlowField:
        """``differentiable`` forces the soft arg-max (training uses it whatever ``kind`` says)."""
        if self.kind == "hard_argmax" and not differentiable:
            return hard_argmax(volume, grid, clip_size, self.temperature)
        return soft_argmax(volume, grid, clip_size, self.temperature, self.kernel_sigma)


def keypoint_loss(predicted: torch.Tensor, target: torch.Tensor, valid: torch.Tensor,
                  clip_size: Sequence[int], weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean L2 distance at the valid keypoints, with each axis divided by the clip's extent.

    ``predicted``, ``target``: (B, K, 3) clip points (t, x, y); ``valid``: (B, K) bool. The error
    is (dt / T, dx / W, dy / H), so that a full-clip miss costs the same in time as in space; the
    loss is the mean over valid points of its Euclidean norm (0 when no point is valid), weighted
    by ``weights`` (B, K) when given. Invalid points contribute nothing, whatever their target
    holds (NaN included).
    """
    valid = valid.to(torch.bool)
    t_size, h_size, w_size = clip_size
    extent = predicted.new_tensor([t_size, w_size, h_size])
    safe_target = torch.where(valid[..., None], target.to(predicted.dtype), predicted.detach())
    error = (predicted - safe_target) / extent
    distance = torch.sqrt((error**2).sum(dim=-1) + 1e-12)
    return weighted_mean(distance, valid, weights)


def weighted_mean(values: torch.Tensor, valid: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """Mean of ``values`` (B, K) over the valid entries, weighted by ``weights`` (B, K) if given; 0 if none."""
    w = valid.to(values.dtype)
    if weights is not None:
        w = w * weights.to(values.dtype)
    return (values * w).sum() / w.sum().clamp(min=1 if weights is None else 1e-6)


def target_cells(points: torch.Tensor, grid: Sequence[int], clip_size: Sequence[int]) -> torch.Tensor:
    """Index (into the flattened T'H'W' grid) of the cell holding each clip point (B, K, 3) (t, x, y)."""
    t_size, h_size, w_size = clip_size
    gt, gh, gw = grid
    extent = points.new_tensor([t_size, w_size, h_size])
    cells = points.new_tensor([gt, gw, gh])
    index = torch.floor((points + 0.5) / extent * cells).long()
    index = torch.minimum(torch.clamp(index, min=0), cells.long() - 1)
    t, x, y = index.unbind(-1)
    return (t * gh + y) * gw + x


def cell_cross_entropy(volume: torch.Tensor, grid: Sequence[int], clip_size: Sequence[int], src_points: torch.Tensor,
                       tgt_points: torch.Tensor, valid: torch.Tensor, temperature: float,
                       weights: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy of the target cell, an optional aid to the L2 keypoint loss.

    The refined volume (B, N_src, N_tgt) is read trilinearly at each source point (B, K, 3) to give
    logits over the target cells (divided by ``temperature``); the label is the cell holding the
    true target point. Mean over the valid points (B, K) bool (weighted by ``weights`` (B, K) when
    given); 0 when none is valid. Unlike the L2
    loss of a soft arg-max, it does not reward predicting the average place when unsure.
    """
    valid = valid.to(torch.bool)
    batch, _, n_tgt = volume.shape
    maps = volume.transpose(1, 2).reshape(batch, n_tgt, *grid)
    logits = sample_at_points(maps, src_points, clip_size) / temperature
    labels = target_cells(torch.where(valid[..., None], tgt_points.to(src_points.dtype), src_points), grid, clip_size)
    losses = F.cross_entropy(logits.reshape(-1, n_tgt), labels.reshape(-1), reduction="none").reshape(valid.shape)
    return weighted_mean(losses, valid, weights)
