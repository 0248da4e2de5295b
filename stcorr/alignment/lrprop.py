"""LRProp: a transformer that re-embeds per-frame features for temporal alignment, and its losses.

``FrameAligner`` maps a sequence of frame features (B, N, F) to alignment embeddings (B, N, E).
It is trained with three losses over pairs of sequences:

(a) ``dtw_propagation_loss``: pair-wise position propagation. The two sequences of a pair
    (videos of the same action) are DTW-matched on the current embeddings, without gradient;
    each frame i of A then gets a Gaussian prior over the frames of B centred on its
    DTW-matched frame, and pays ``KL(prior_i || q_i)`` where
    ``q_i = softmax_j(-||a_i - b_j|| / temperature)``.
(b) ``same_video_loss``: two temporal samplings of one video (different strides and offsets);
    the prior of frame i of the first sampling is centred where the second sampling reaches
    the same native time (linear interpolation between its frames), so the true
    correspondence is known.
(c) ``regularized_soft_dtw_loss``: the soft-DTW divergence of the two embedding sequences
    (squared Euclidean cost, divided by N + M) plus ``idm_regularizer`` on each sequence.
    The divergence alone is 0 when every embedding collapses to one point; the regulariser
    (a contrastive form of the inverse difference moment of Haresh et al., "Learning by
    Aligning Videos in Time", 2021) keeps temporally distant frames at least ``margin`` apart
    and pulls temporally adjacent frames together.

``LRPropLoss`` adds them with weights. Distances are Euclidean throughout; sigma is in frames
of the sequence the prior lives on.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import torch
from pydantic import Field
from torch import Tensor, nn

from stcorr.alignment.dtw import align_frames, dtw
from stcorr.alignment.soft_dtw import soft_dtw_sequences
from stcorr.settings import Section


class SinusoidalPositions(nn.Module):
    """Fixed sine/cosine encoding (Vaswani et al.) of real-valued positions: (B, N) -> (B, N, dim)."""

    def __init__(self, dim: int, max_period: float = 10000.0):
        super().__init__()
        if dim % 2:
            raise ValueError(f"the positional encoding needs an even width, got {dim}")
        frequencies = torch.exp(-math.log(max_period) * torch.arange(0, dim, 2) / dim)
        self.register_buffer("frequencies", frequencies, persistent=False)

    def forward(self, positions: Tensor) -> Tensor:
        angles = positions.unsqueeze(-1).to(self.frequencies.dtype) * self.frequencies
        return torch.cat([angles.sin(), angles.cos()], dim=-1)


class FrameAligner(nn.Module):
    """Linear in, positional encoding, a transformer encoder, linear out.

    ``forward(features, padding_mask=None, positions=None)``: ``features`` (B, N, in_dim) or
    (N, in_dim); ``padding_mask`` (B, N) bool, True at padded frames; ``positions`` (B, N) or (N,)
    frame positions (default 0..N-1). Returns (B, N, out_dim) (or (N, out_dim)).
    """

    def __init__(self, in_dim: int, out_dim: int = 128, d_model: int = 128, num_layers: int = 2,
                 num_heads: int = 4, ff_dim: int = 256, dropout: float = 0.1):
        super().__init__()
        self.input = nn.Linear(in_dim, d_model)
        self.positions = SinusoidalPositions(d_model)
        layer = nn.TransformerEncoderLayer(d_model, num_heads, ff_dim, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.output = nn.Linear(d_model, out_dim)

    def forward(self, features: Tensor, padding_mask: Tensor | None = None, positions: Tensor | None = None) -> Tensor:
        squeeze = features.dim() == 2
        if squeeze:
            features = features.unsqueeze(0)
        if positions is None:
            positions = torch.arange(features.shape[1], device=features.device)
        positions = positions.expand(features.shape[:2])
        hidden = self.input(features) + self.positions(positions)
        hidden = self.encoder(hidden, src_key_padding_mask=padding_mask)
        out = self.output(hidden)
        return out[0] if squeeze else out


def pairwise_distances(a: Tensor, b: Tensor, eps: float = 1e-12) -> Tensor:
    """(N, M) Euclidean distances between rows of ``a`` (N, D) and ``b`` (M, D); smooth at 0."""
    sq = (a.unsqueeze(1) - b.unsqueeze(0)).pow(2).sum(-1)
    return (sq + eps).sqrt()


def gaussian_prior(centers: Tensor, n_target: int, sigma: float) -> Tensor:
    """(N, M) rows ``p_i(j) ∝ exp(-(j - centers[i])^2 / (2 sigma^2))`` over j in [0, M), each summing to 1."""
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    frames = torch.arange(n_target, dtype=torch.float64, device=centers.device)
    logits = -(frames[None, :] - centers.to(torch.float64)[:, None]).pow(2) / (2.0 * sigma**2)
    return logits.softmax(dim=1)


def propagation_kl(emb_a: Tensor, emb_b: Tensor, centers: Tensor, sigma: float = 1.0,
                   temperature: float = 1.0) -> Tensor:
    """Mean over frames i of A of ``KL(gaussian_prior_i || softmax_j(-||a_i - b_j|| / temperature))``.

    Args:
        emb_a: (N, D); emb_b: (M, D); centers: (N,) real-valued frame of B each prior is centred on.
    Returns:
        Scalar (nats, averaged over the N frames of A).
    """
    log_q = (-pairwise_distances(emb_a, emb_b) / temperature).log_softmax(dim=1)
    prior = gaussian_prior(centers, emb_b.shape[0], sigma).to(log_q.dtype)
    kl = (prior * (prior.clamp_min(1e-30).log() - log_q)).sum(dim=1)
    return kl.mean()


def dtw_matched_frames(emb_a: Tensor, emb_b: Tensor) -> Tensor:
    """(N,) frame of B matched to each frame of A by DTW on Euclidean embedding distances (no gradient)."""
    with torch.no_grad():
        cost = pairwise_distances(emb_a, emb_b).double().cpu().numpy()
    _, path = dtw(cost)
    return torch.as_tensor(align_frames(path, emb_a.shape[0]), device=emb_a.device)


def dtw_propagation_loss(emb_a: Tensor, emb_b: Tensor, sigma: float = 1.0, temperature: float = 1.0,
                         symmetric: bool = True) -> Tensor:
    """Loss (a): KL to Gaussian priors centred on DTW matches; A -> B, averaged with B -> A if ``symmetric``."""
    loss = propagation_kl(emb_a, emb_b, dtw_matched_frames(emb_a, emb_b).double(), sigma, temperature)
    if symmetric:
        loss_back = propagation_kl(emb_b, emb_a, dtw_matched_frames(emb_b, emb_a).double(), sigma, temperature)
        loss = 0.5 * (loss + loss_back)
    return loss


def same_time_centers(times_a: np.ndarray | Tensor, times_b: np.ndarray | Tensor) -> tuple[Tensor, Tensor]:
    """Where in sampling B (fractional frame index) each native time of sampling A falls.

    ``times_*`` are increasing native frame times. Returns ``(centers, inside)``: ``centers``
    (N,) float64, the linear interpolation of ``times_a`` into the index of ``times_b``;
    ``inside`` (N,) bool, True where ``times_a`` lies within ``[times_b[0], times_b[-1]]``.
    """
    times_a = np.asarray(times_a, dtype=np.float64)
    times_b = np.asarray(times_b, dtype=np.float64)
    centers = np.interp(times_a, times_b, np.arange(len(times_b), dtype=np.float64))
    inside = (times_a >= times_b[0]) & (times_a <= times_b[-1])
    return torch.from_numpy(centers), torch.from_numpy(inside)


def same_video_loss(emb_a: Tensor, times_a: np.ndarray | Tensor, emb_b: Tensor, times_b: np.ndarray | Tensor,
                    sigma: float = 1.0, temperature: float = 1.0, symmetric: bool = True) -> Tensor:
    """Loss (b): ``propagation_kl`` with priors centred on the same native time, over the frames of
    one sampling whose time the other sampling covers; both directions averaged if ``symmetric``."""
    def one_way(x: Tensor, tx, y: Tensor, ty) -> Tensor:
        centers, inside = same_time_centers(tx, ty)
        inside = inside.to(x.device)
        if not bool(inside.any()):
            raise ValueError("the two samplings of the video do not overlap in time")
        return propagation_kl(x[inside], y, centers.to(x.device)[inside], sigma, temperature)

    loss = one_way(emb_a, times_a, emb_b, times_b)
    if symmetric:
        loss = 0.5 * (loss + one_way(emb_b, times_b, emb_a, times_a))
    return loss


def two_samplings(n_frames: int, n_samples: int, rng: np.random.Generator,
                  strides: tuple[int, ...] = (1, 2, 3)) -> tuple[np.ndarray, np.ndarray]:
    """Two increasing index samplings of one video with different strides and random offsets.

    Each holds ``n_samples`` native frame indices in [0, n_frames); strides that do not fit are
    dropped (stride 1 always fits when ``n_samples <= n_frames``). The offsets are drawn so that
    the two samplings overlap in time.
    """
    if n_samples > n_frames:
        raise ValueError(f"cannot sample {n_samples} frames from {n_frames}")
    fitting = [s for s in strides if (n_samples - 1) * s < n_frames] or [1]
    stride_a, stride_b = rng.choice(fitting, size=2, replace=len(fitting) < 2)
    span_a, span_b = (n_samples - 1) * stride_a, (n_samples - 1) * stride_b
    start_a = int(rng.integers(0, n_frames - span_a))
    low = max(0, start_a - span_b)
    high = min(n_frames - span_b - 1, start_a + span_a)
    start_b = int(rng.integers(low, high + 1))
    return start_a + stride_a * np.arange(n_samples), start_b + stride_b * np.arange(n_samples)


def idm_regularizer(emb: Tensor, window: int = 2, margin: float = 1.0) -> Tensor:
    """Contrastive inverse-difference-moment regulariser of one sequence ``emb`` (N, D).

    For frame pairs i != j with distance ``d_ij``: pairs with ``|i - j| > window`` pay
    ``max(0, margin - d_ij)^2``; pairs with ``|i - j| <= window`` pay ``d_ij^2 / ((i - j)^2 + 1)``.
    Returns the mean over far pairs plus the mean over near pairs (a group with no pair adds 0).
    """
    n = emb.shape[0]
    gaps = (torch.arange(n, device=emb.device)[:, None] - torch.arange(n, device=emb.device)[None, :]).abs()
    distances = pairwise_distances(emb, emb)
    far, near = gaps > window, (gaps > 0) & (gaps <= window)
    loss = emb.new_zeros(())
    if far.any():
        loss = loss + (margin - distances[far]).clamp_min(0).pow(2).mean()
    if near.any():
        loss = loss + (distances[near].pow(2) / (gaps[near].to(emb.dtype).pow(2) + 1)).mean()
    return loss


def regularized_soft_dtw_loss(emb_a: Tensor, emb_b: Tensor, gamma: float = 0.1, reg_weight: float = 1.0,
                              window: int = 2, margin: float = 1.0) -> Tensor:
    """Loss (c): ``sdtw_div(a, b) / (N + M) + reg_weight * (idm(a) + idm(b)) / 2``.

    ``sdtw_div`` is the soft-DTW divergence with squared Euclidean cost and smoothing ``gamma``.
    """
    divergence = soft_dtw_sequences(emb_a, emb_b, gamma=gamma, normalize=True)
    divergence = divergence / (emb_a.shape[0] + emb_b.shape[0])
    regulariser = 0.5 * (idm_regularizer(emb_a, window, margin) + idm_regularizer(emb_b, window, margin))
    return divergence + reg_weight * regulariser


class LRPropWeights(Section):
    """Weights of the three LRProp losses in the total (``baseline.lrprop.weights``)."""

    cpu_yaml_key: ClassVar[str] = "baseline.lrprop.weights"
    propagation: float = Field(ge=0)
    same_video: float = Field(ge=0)
    soft_dtw: float = Field(ge=0)


class LRPropLoss(nn.Module):
    """Weighted sum of the LRProp losses.

    ``forward(emb_a, emb_b, view_1=None, view_2=None)``: ``emb_a`` (N, D), ``emb_b`` (M, D) two
    videos of the same action; ``view_1``, ``view_2``: optional ``(embeddings, native_times)`` of two
    samplings of one video. Returns ``(total, parts)``, ``parts`` the unweighted value of each
    loss used, as floats.
    """

    def __init__(self, sigma: float, temperature: float, gamma: float, weights: LRPropWeights,
                 idm_window: int = 2, idm_margin: float = 1.0, idm_weight: float = 1.0):
        super().__init__()
        self.sigma, self.temperature, self.gamma = sigma, temperature, gamma
        self.idm_window, self.idm_margin, self.idm_weight = idm_window, idm_margin, idm_weight
        self.weights = weights

    def forward(self, emb_a: Tensor, emb_b: Tensor, view_1: tuple[Tensor, np.ndarray] | None = None,
                view_2: tuple[Tensor, np.ndarray] | None = None) -> tuple[Tensor, dict[str, float]]:
        parts: dict[str, Tensor] = {}
        if self.weights.propagation:
            parts["propagation"] = dtw_propagation_loss(emb_a, emb_b, self.sigma, self.temperature)
        if self.weights.soft_dtw:
            parts["soft_dtw"] = regularized_soft_dtw_loss(emb_a, emb_b, self.gamma, self.idm_weight,
                                                          self.idm_window, self.idm_margin)
        if self.weights.same_video and view_1 is not None and view_2 is not None:
            parts["same_video"] = same_video_loss(view_1[0], view_1[1], view_2[0], view_2[1],
                                                  self.sigma, self.temperature)
        if not parts:
            raise ValueError("every LRProp loss has weight 0 or lacks its inputs")
        total = sum(getattr(self.weights, name) * value for name, value in parts.items())
        return total, {name: float(value.detach()) for name, value in parts.items()}
