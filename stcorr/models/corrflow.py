"""CorrFlow (Lai & Xie, BMVC 2019): correspondence features learnt by copying colours between frames.

    model = CorrFlow(width=16, blocks=(1, 1, 1, 1))
    model.fit_colours(frames)                     # k-means of Lab colours (16 clusters) on training frames
    loss = corrflow_loss(model, clip, use_true)   # clip (F, 3, H, W) in [0, 1]

Parts: a ResNet-18-style encoder at stride 4 (``CorrFlowEncoder``), the colour-dropout bottleneck
on its input (``ColourDropout``, the identity at test time), restricted attention over a
(2R+1) x (2R+1) window of a reference frame (``restricted_attention``, ``F.unfold`` on the CPU, no
CUDA extension), Lab colours quantised into clusters (``rgb_to_lab``, ``fit_colour_centres``), a
per-pixel cross-entropy, and long-term training over several frames with scheduled sampling and a
forward-backward cycle (``corrflow_loss``).

Coordinates: feature cell (i, j) of a frame of H x W pixels covers pixels [4i, 4i + 4) x [4j, 4j + 4);
the frames given to the encoder must have H and W divisible by 4.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stcorr.models.backbones.resnet2d import BasicBlock, normalize_frames
from stcorr.models.random_walk import random_walk_cycle_loss

STRIDE = 4


# --- colour: Lab and its quantisation

def rgb_to_lab(rgb: Tensor) -> Tensor:
    """sRGB (..., 3, H, W) in [0, 1] -> CIE Lab (D65): L in [0, 100], a and b roughly in [-110, 110]."""
    linear = torch.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    matrix = torch.tensor([[0.412453, 0.357580, 0.180423],
                           [0.212671, 0.715160, 0.072169],
                           [0.019334, 0.119193, 0.950227]], dtype=rgb.dtype, device=rgb.device)
    white = torch.tensor([0.950456, 1.0, 1.088754], dtype=rgb.dtype, device=rgb.device)
    xyz = torch.einsum("ij,...jhw->...ihw", matrix, linear) / white.view(3, 1, 1)
    f = torch.where(xyz > 0.008856, xyz.clamp_min(1e-12) ** (1 / 3), 7.787 * xyz + 16 / 116)
    fx, fy, fz = f.unbind(-3)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim=-3)


def downsample_to_cells(frames: Tensor) -> Tensor:
    """(N, C, H, W) -> (N, C, H/4, W/4): the mean of each feature cell's pixels."""
    return F.avg_pool2d(frames, STRIDE)


def fit_colour_centres(frames: Tensor, clusters: int = 16, seed: int = 0, max_pixels: int = 50_000) -> Tensor:
    """k-means (scikit-learn) of the Lab colours of feature cells of ``frames`` (N, 3, H, W) in [0, 1].

    Returns the (clusters, 3) Lab centres, sorted by L then a then b so that the result does not
    depend on the order k-means found them in.
    """
    # scikit-learn takes seconds to import: loaded only where it is used
    from sklearn.cluster import KMeans

    lab = rgb_to_lab(downsample_to_cells(frames.double())).permute(0, 2, 3, 1).reshape(-1, 3).numpy()
    rng = np.random.default_rng(seed)
    if len(lab) > max_pixels:
        lab = lab[rng.choice(len(lab), max_pixels, replace=False)]
    clusters = min(clusters, len(np.unique(lab.round(3), axis=0)))
    centres = KMeans(clusters, n_init=3, random_state=seed).fit(lab).cluster_centers_
    centres = centres[np.lexsort(centres.T[::-1])]
    return torch.tensor(centres, dtype=torch.float32)


def quantise_colours(frames: Tensor, centres: Tensor) -> Tensor:
    """Frames (N, 3, H, W) in [0, 1] -> (N, H/4, W/4) long: the nearest Lab centre of each cell."""
    lab = rgb_to_lab(downsample_to_cells(frames.float()))
    distances = ((lab.unsqueeze(1) - centres.to(lab).view(1, -1, 3, 1, 1)) ** 2).sum(2)
    return distances.argmin(1)


# --- the colour bottleneck

class ColourDropout(nn.Module):
    """CorrFlow's input bottleneck, active in training mode only (the identity in eval mode).

    With probability ``drop_prob`` it zeroes 1 or 2 of the RGB channels (chosen at random, the
    same for the whole clip) and rescales the rest by 3 / kept; it also jitters brightness,
    contrast and saturation by factors in [1 - jitter, 1 + jitter]. Frames (F, 3, H, W) in [0, 1]
    are one clip: every frame gets the same draw. Draws come from ``generator`` when given.
    """

    def __init__(self, drop_prob: float = 0.5, jitter: float = 0.4):
        super().__init__()
        self.drop_prob, self.jitter = drop_prob, jitter

    def forward(self, frames: Tensor, generator: torch.Generator | None = None) -> Tensor:
        if not self.training:
            return frames

        def uniform() -> float:
            return float(torch.rand((), generator=generator))

        if self.jitter:
            brightness, contrast, saturation = (1 + self.jitter * (2 * uniform() - 1) for _ in range(3))
            grey = (frames * torch.tensor([0.299, 0.587, 0.114], dtype=frames.dtype).view(1, 3, 1, 1)).sum(1, keepdim=True)
            frames = grey + saturation * (frames - grey)
            frames = frames.mean(dim=(1, 2, 3), keepdim=True) + contrast * (frames - frames.mean(dim=(1, 2, 3), keepdim=True))
            frames = (brightness * frames).clamp(0, 1)
        if uniform() < self.drop_prob:
            dropped = 1 + int(uniform() * 2)
            channels = torch.randperm(3, generator=generator)[:dropped]
            keep = torch.ones(3, dtype=frames.dtype)
            keep[channels] = 0
            frames = frames * (keep * 3 / keep.sum()).view(1, 3, 1, 1)
        return frames


# --- the encoder

class CorrFlowEncoder(nn.Module):
    """ResNet-18-style encoder at stride 4: the stem (7x7 conv stride 2, max-pool stride 2), then
    four stages of BasicBlocks at stride 1 (widths w, 2w, 4w, 8w), then a 1x1 projection to ``dim``.

    (N, 3, H, W) frames in [0, 1] -> (N, dim, H/4, W/4) features, L2-normalised over channels.
    """

    def __init__(self, width: int = 64, blocks: Sequence[int] = (2, 2, 2, 2), dim: int = 64):
        super().__init__()
        widths = [width * 2 ** s for s in range(len(blocks))]
        self.stem = nn.Sequential(nn.Conv2d(3, width, 7, 2, 3, bias=False), nn.BatchNorm2d(width),
                                  nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        stages, in_channels = [], width
        for stage_width, count in zip(widths, blocks):
            stages += [BasicBlock(in_channels if b == 0 else stage_width, stage_width) for b in range(count)]
            in_channels = stage_width
        self.stages = nn.Sequential(*stages)
        self.project = nn.Conv2d(in_channels, dim, 1)

    def forward(self, frames: Tensor) -> Tensor:
        return F.normalize(self.project(self.stages(self.stem(normalize_frames(frames)))), dim=1)


class ColourCopier(nn.Module):
    """What CorrFlow trains: a frame encoder ((F, 3, H, W) in [0, 1] -> (F, dim, H/4, W/4) unit
    features), the colour bottleneck on its input, and the Lab colour centres (a buffer, saved in
    checkpoints). ``settings``: the model's config (JSON, with its ``kind``), what ``from_config`` takes."""

    def __init__(self, encoder: nn.Module, settings: dict):
        super().__init__()
        self.settings = settings
        self.encoder = encoder
        self.bottleneck = ColourDropout(settings["drop_prob"], settings["jitter"])
        self.register_buffer("colour_centres", torch.zeros(settings["clusters"], 3))

    @property
    def config(self) -> dict:
        return dict(self.settings)

    @classmethod
    def from_config(cls, config: dict) -> "ColourCopier":
        return cls(**{k: v for k, v in config.items() if k != "kind"})

    def fit_colours(self, frames: Tensor, seed: int = 0) -> None:
        centres = fit_colour_centres(frames, self.settings["clusters"], seed)
        self.colour_centres.zero_()
        self.colour_centres[: len(centres)] = centres
        if len(centres) < len(self.colour_centres):  # too few distinct colours: repeat the last centre
            self.colour_centres[len(centres):] = centres[-1]

    def colour_labels(self, frames: Tensor) -> Tensor:
        """(F, 3, H, W) in [0, 1] -> (F, H/4, W/4) cluster indices."""
        return quantise_colours(frames, self.colour_centres)

    def forward(self, frames: Tensor) -> Tensor:
        """(F, 3, H, W) in [0, 1] -> (F, dim, H/4, W/4) unit features (bottleneck in training mode only)."""
        return self.encoder(self.bottleneck(frames))


class CorrFlow(ColourCopier):
    """CorrFlow's own model: ``CorrFlowEncoder`` (a 2D ResNet at stride 4) as the encoder."""

    def __init__(self, width: int = 64, blocks: Sequence[int] = (2, 2, 2, 2), dim: int = 64,
                 clusters: int = 16, drop_prob: float = 0.5, jitter: float = 0.4):
        settings = {"kind": "corrflow", "width": int(width), "blocks": [int(b) for b in blocks], "dim": int(dim),
                    "clusters": int(clusters), "drop_prob": float(drop_prob), "jitter": float(jitter)}
        super().__init__(CorrFlowEncoder(width, blocks, dim), settings)


# --- restricted attention

def _windows(x: Tensor, radius: int, rows: slice) -> Tensor:
    """Windows of the cells of ``x`` (N, C, H, W) in rows ``rows``: (N, C, (2R+1)^2, L) with
    L = rows x W, window entry ``dy * (2R + 1) + dx`` holding cell (y + dy - R, x + dx - R) (0 outside)."""
    n, c, _, w = x.shape
    size = 2 * radius + 1
    slab = F.pad(x, (radius,) * 4)[:, :, rows.start: rows.stop + 2 * radius]
    return F.unfold(slab, size).view(n, c, size * size, -1)


def _inside(height: int, width: int, radius: int, rows: slice, like: Tensor) -> Tensor:
    """(W2, L) bool: which window entries of ``_windows`` are cells of the frame (not padding)."""
    ones = torch.ones(1, 1, height, width, dtype=like.dtype, device=like.device)
    return _windows(ones, radius, rows)[0, 0] > 0


def window_logits(query: Tensor, keys: Sequence[Tensor], radius: int, rows: slice | None = None) -> Tensor:
    """Dot products of each query cell with the (2R+1)^2 cells around it in every key frame.

    query (N, C, H, W), keys: M tensors (N, C, H, W) -> (N, M * (2R+1)^2, L) for the L cells of
    ``rows`` (all rows by default), entries outside the frame set to -inf (masked padding).
    """
    n, c, h, w = query.shape
    rows = rows or slice(0, h)
    q = query[:, :, rows].reshape(n, c, 1, -1)
    inside = _inside(h, w, radius, rows, query)
    logits = [(_windows(k, radius, rows) * q).sum(1).masked_fill(~inside, float("-inf")) for k in keys]
    return torch.cat(logits, 1)


def restricted_attention(query: Tensor, keys: Sequence[Tensor], values: Sequence[Tensor], radius: int,
                         temperature: float = 1.0, topk: int | None = None, block_rows: int | None = None) -> Tensor:
    """Each query cell attends to the (2R+1)^2 window around it in every memory frame.

    query (N, C, H, W); keys, values: M tensors (N, C, H, W) and (N, V, H, W) ->
    (N, V, H, W) = sum over window entries of softmax(logits / temperature) * value, where only
    cells inside the frame take part, and with ``topk`` only the k largest logits of each query
    cell (over all memory frames). ``block_rows`` computes that many query rows at a time (the
    same result in bounded memory: the windows of a block hold C x (2R+1)^2 x block_rows x W floats).
    """
    n, _, h, w = query.shape
    block_rows = block_rows or h
    out = []
    for start in range(0, h, block_rows):
        rows = slice(start, min(start + block_rows, h))
        logits = window_logits(query, keys, radius, rows) / temperature
        if topk is not None and topk < logits.shape[1]:
            kth = logits.topk(topk, dim=1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        weights = logits.softmax(1)
        windows = torch.cat([_windows(v, radius, rows) for v in values], 2)
        out.append((windows * weights.unsqueeze(1)).sum(2).view(n, -1, rows.stop - rows.start, w))
    return torch.cat(out, 2)


# --- the training objective

def corrflow_loss(model: ColourCopier, clip: Tensor, use_true: Sequence[bool], radius: int = 6,
                  temperature: float = 0.05, backward_weight: float = 0.1,
                  generator: torch.Generator | None = None, crw_weight: float = 0.0,
                  crw_temperature: float = 0.07, crw_edge_dropout: float = 0.0) -> Tensor:
    """CorrFlow's long-term loss on one clip (F, 3, H, W) in [0, 1], F >= 2.

    Forward: frame i's colour distribution (16 clusters per cell) is copied from frame i - 1 by
    restricted attention; the reference colours of frame i - 1 are its true quantised colours
    when ``use_true[i - 2]`` is true (always for i = 1), else the model's own prediction for frame
    i - 1 (scheduled sampling). Backward cycle: from the last frame's prediction, the colours are
    copied back frame by frame to frame 0 from the model's own predictions only. The loss is the
    mean per-cell cross-entropy of the forward predictions plus ``backward_weight`` times that of
    the backward ones, plus ``crw_weight`` times a contrastive random walk's palindrome loss on the
    same features (``random_walk_cycle_loss``; 0: off, CorrFlow alone). The colour bottleneck sees
    the clip when the model is in training mode.
    """
    frames = clip.shape[0]
    features = model.encoder(model.bottleneck(clip, generator))
    labels = model.colour_labels(clip)
    truth = F.one_hot(labels, len(model.colour_centres)).permute(0, 3, 1, 2).to(features.dtype)

    def copy(target: int, reference: int, reference_colours: Tensor) -> Tensor:
        return restricted_attention(features[target: target + 1], [features[reference: reference + 1]],
                                    [reference_colours], radius, temperature)

    def cross_entropy(predicted: Tensor, target: int) -> Tensor:
        return F.nll_loss(predicted.clamp_min(1e-8).log(), labels[target: target + 1])

    forward_losses, backward_losses = [], []
    predicted = truth[0:1]
    for i in range(1, frames):
        reference = truth[i - 1: i] if i == 1 or use_true[i - 2] else predicted
        predicted = copy(i, i - 1, reference)
        forward_losses.append(cross_entropy(predicted, i))
    for i in range(frames - 2, -1, -1):
        predicted = copy(i, i + 1, predicted)
        backward_losses.append(cross_entropy(predicted, i))
    loss = torch.stack(forward_losses).mean()
    if backward_weight and backward_losses:
        loss = loss + backward_weight * torch.stack(backward_losses).mean()
    if crw_weight:
        loss = loss + crw_weight * random_walk_cycle_loss(features, crw_temperature, crw_edge_dropout, generator)
    return loss


def true_reference_probability(progress: float, start: float = 0.9, end: float = 0.6) -> float:
    """Scheduled sampling: the chance of the true previous frame, annealed linearly over training."""
    return start + (end - start) * min(max(progress, 0.0), 1.0)
