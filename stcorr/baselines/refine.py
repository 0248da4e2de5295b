"""Any point, refined by learned local matching: after the body has carried a point into the target
frame (``stcorr.baselines.spatial.body_transfer``), the point is looked for in a small window
around that placement by matching learned frame features (a CorrFlow encoder, e.g. the shipped
``stcorr:corrflow-cpu``).

The window is warped by the body's local map, so that only what the body did not explain is left
to find: a square of side ``2h`` around the source point, and its image around the placement under
``L`` (the body's local linear map, ``stcorr.baselines.spatial.body_map``), are both resampled to
``size`` x ``size`` pixels. Their features (stride 4) are compared with the source feature at the
centre (cosine); the best cell and its neighbours (``PEAK_RADIUS``) give a soft arg-max (temperature
``temperature``), whose offset from the window's centre, carried back by ``L``, moves the
placement. The placement is kept where the best cosine stays below ``min_similarity``, or where
the best cell's feature, matched back into the source window, does not land within a cell of the
source point (forward-backward check).

``h`` is ``window`` times the source person's extent (the larger side of its joints' box), within
``WINDOW_PIXELS``. Coordinates: native pixels, pixel centres at integers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from stcorr.data.video import Video

PEAK_RADIUS = 2  # feature cells on each side of the best one that the soft arg-max weighs
WINDOW_PIXELS = (12.0, 96.0)  # the window's half side h, in source pixels, at least and at most


@dataclass
class Refined:
    xy: np.ndarray  # (2,) native target x, y
    similarity: float  # the best cosine in the window (-1 .. 1)
    moved: bool  # whether the placement moved (the match was trusted)


def sample_square(frame: torch.Tensor, centre: np.ndarray, half: float, turn: np.ndarray, size: int) -> torch.Tensor:
    """(1, 3, size, size): the square of half side ``half`` around ``centre`` of ``frame`` (1, 3, H, W),
    its axes turned by ``turn`` (2, 2) (columns: where the square's x and y axes point), zero outside."""
    height, width = frame.shape[-2:]
    steps = (torch.arange(size, dtype=torch.float64) + 0.5) / size * 2 - 1  # pixel centres of the square, in -1..1
    v, u = torch.meshgrid(steps, steps, indexing="ij")
    offsets = torch.stack([u, v], dim=-1) * half  # (size, size, 2) x, y in source-scale pixels
    points = torch.as_tensor(centre, dtype=torch.float64) + offsets @ torch.as_tensor(turn, dtype=torch.float64).T
    grid = torch.stack([(points[..., 0] + 0.5) / width * 2 - 1, (points[..., 1] + 0.5) / height * 2 - 1], dim=-1)
    return F.grid_sample(frame, grid[None].to(frame.dtype), mode="bilinear", padding_mode="zeros", align_corners=False)


class LocalRefiner:
    """Moves a body-carried placement onto the best local feature match (module docstring).

    ``encoder``: (N, 3, H, W) frames in [0, 1] -> (N, D, H/4, W/4) features (a CorrFlow model)."""

    def __init__(self, encoder: torch.nn.Module, size: int = 64, window: float = 0.25, temperature: float = 0.05,
                 min_similarity: float = 0.5):
        self.encoder = encoder.eval()
        self.size, self.window, self.temperature, self.min_similarity = int(size), float(window), float(temperature), float(min_similarity)
        self._frames: dict[tuple[str, int], torch.Tensor] = {}

    def frame(self, video: Video, t: int) -> torch.Tensor:
        """(1, 3, H, W) float in [0, 1] (the last few frames kept)."""
        key = (str(video.path), int(t))
        if key not in self._frames:
            if len(self._frames) > 8:
                self._frames.clear()
            self._frames[key] = torch.from_numpy(np.ascontiguousarray(video.frame(int(t)))).permute(2, 0, 1)[None].float() / 255
        return self._frames[key]

    def refine(self, source: torch.Tensor, xy: np.ndarray, target: torch.Tensor, placed: np.ndarray,
               linear: np.ndarray, person_size: float) -> Refined:
        """``xy`` (2,) of ``source`` (1, 3, H, W), carried by the body to ``placed`` (2,) of ``target`` with
        the local linear map ``linear`` (2, 2) -> the refined target point: matched in the window, then
        again in a window half as large around that match (finer cells)."""
        half = float(np.clip(self.window * person_size, *WINDOW_PIXELS))
        coarse = self.match(source, xy, target, placed, linear, half)
        if not coarse.moved:
            return coarse
        fine = self.match(source, xy, target, coarse.xy, linear, half / 2)
        return fine if fine.moved else coarse

    @torch.no_grad()
    def match(self, source: torch.Tensor, xy: np.ndarray, target: torch.Tensor, placed: np.ndarray,
              linear: np.ndarray, half: float) -> Refined:
        """One match in the window of half side ``half`` (source pixels) around ``placed``."""
        carry = np.asarray(linear, dtype=np.float64)
        patches = torch.cat([sample_square(source, np.asarray(xy, dtype=np.float64), half, np.eye(2), self.size),
                             sample_square(target, np.asarray(placed, dtype=np.float64), half, carry, self.size)])
        features = F.normalize(self.encoder(patches.float()), dim=1)  # (2, D, h, w)
        cells = features.shape[-1]
        centre = F.grid_sample(features[:1], torch.zeros(1, 1, 1, 2), mode="bilinear", align_corners=False)[0, :, 0, 0]
        similarity = torch.einsum("d,dhw->hw", F.normalize(centre, dim=0), features[1])  # (h, w)
        best = int(similarity.argmax())
        row, col = divmod(best, cells)
        peak = float(similarity[row, col])
        back = int(torch.einsum("d,dhw->hw", features[1, :, row, col], features[0]).argmax())
        back_row, back_col = divmod(back, cells)
        returns = max(abs(back_row - (cells - 1) / 2), abs(back_col - (cells - 1) / 2)) <= 1  # matched back to the point
        if peak < self.min_similarity or not returns:
            return Refined(np.asarray(placed, dtype=np.float64), peak, False)
        rows = slice(max(row - PEAK_RADIUS, 0), row + PEAK_RADIUS + 1)
        cols = slice(max(col - PEAK_RADIUS, 0), col + PEAK_RADIUS + 1)
        weights = torch.softmax(similarity[rows, cols].flatten() / self.temperature, 0).reshape(similarity[rows, cols].shape)
        r = torch.arange(rows.start, rows.start + weights.shape[0], dtype=torch.float64)
        c = torch.arange(cols.start, cols.start + weights.shape[1], dtype=torch.float64)
        found = np.array([float((weights.sum(0).double() * c).sum()), float((weights.sum(1).double() * r).sum())])
        offset = ((found + 0.5) / cells * 2 - 1) * half  # cell centre -> source-scale pixels from the window's centre
        return Refined(np.asarray(placed, dtype=np.float64) + carry @ offset, peak, True)
