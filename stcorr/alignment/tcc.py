"""Temporal cycle-consistency losses (Dwibedi et al., "Temporal Cycle-Consistency Learning", 2019).

A cycle starts at frame i of a sequence U (N frames), goes to the soft nearest neighbour of u_i
in another sequence V (M frames),

    alpha_j = softmax_j(sim(u_i, v_j)),      v~ = sum_j alpha_j v_j,

and comes back to U with logits ``sim(v~, u_k)`` over k. The cycle is consistent when it
returns to k = i. Similarities are divided by ``temperature``:

    "l2":     sim(a, b) = -||a - b||^2 / D / temperature   (D the embedding size)
    "cosine": sim(a, b) = cos(a, b) / temperature

Every ordered pair (U, V) of distinct sequences of the batch and every frame of U starts one
cycle (no frame sampling); losses are averaged over all cycles, so each pair weighs in
proportion to the length of its U.
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

Similarity = Literal["l2", "cosine"]
LossType = Literal["classification", "regression_mse", "regression_mse_var", "regression_huber"]


def similarity_logits(a: Tensor, b: Tensor, similarity: Similarity = "l2", temperature: float = 0.1) -> Tensor:
    """(N, M) logits ``sim(a_i, b_j)`` (see the module docstring) for ``a`` (N, D), ``b`` (M, D)."""
    if similarity == "l2":
        return -torch.cdist(a, b).pow(2) / a.shape[-1] / temperature
    if similarity == "cosine":
        return F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T / temperature
    raise ValueError(f"unknown similarity {similarity!r}; expected l2 or cosine")


def cycle_back_logits(u: Tensor, v: Tensor, similarity: Similarity = "l2", temperature: float = 0.1) -> Tensor:
    """Logits (N, N): row i scores each frame k of ``u`` (N, D) as the end of the cycle u_i -> V -> U."""
    alpha = similarity_logits(u, v, similarity, temperature).softmax(dim=1)
    soft_neighbours = alpha @ v
    return similarity_logits(soft_neighbours, u, similarity, temperature)


def cycle_back_indices(u: Tensor, v: Tensor, similarity: Similarity = "l2", temperature: float = 0.1) -> Tensor:
    """(N,) frame of ``u`` where each soft cycle u_i -> V -> U ends (argmax of the cycle-back logits)."""
    return cycle_back_logits(u, v, similarity, temperature).argmax(dim=1)


def _cycle_loss(logits: Tensor, loss_type: LossType, variance_lambda: float,
                normalize_indices: bool, huber_delta: float, label_smoothing: float) -> Tensor:
    """(N,) loss of each cycle of one (U, V) pair, given its (N, N) cycle-back logits."""
    n = logits.shape[0]
    if loss_type == "classification":
        target = torch.arange(n, device=logits.device)
        return F.cross_entropy(logits, target, reduction="none", label_smoothing=label_smoothing)
    times = torch.arange(n, dtype=logits.dtype, device=logits.device)
    if normalize_indices:
        times = times / n
    beta = logits.softmax(dim=1)
    mean = beta @ times
    if loss_type == "regression_mse":
        return (mean - times).pow(2)
    if loss_type == "regression_huber":
        return F.huber_loss(mean, times, reduction="none", delta=huber_delta)
    if loss_type == "regression_mse_var":
        variance = (beta * (times[None, :] - mean[:, None]).pow(2)).sum(dim=1)
        log_variance = variance.clamp_min(torch.finfo(logits.dtype).tiny).log()
        return torch.exp(-log_variance) * (mean - times).pow(2) + variance_lambda * log_variance
    raise ValueError(f"unknown TCC loss type {loss_type!r}")


def _as_sequences(embeddings: Sequence[Tensor] | Tensor, lengths: Sequence[int] | Tensor | None) -> list[Tensor]:
    if isinstance(embeddings, Tensor):
        if embeddings.dim() != 3:
            raise ValueError(f"padded embeddings must be (B, N, D), got {tuple(embeddings.shape)}")
        if lengths is None:
            return list(embeddings.unbind(0))
        return [seq[: int(n)] for seq, n in zip(embeddings.unbind(0), lengths)]
    return list(embeddings)


def tcc_loss(
    embeddings: Sequence[Tensor] | Tensor,
    lengths: Sequence[int] | Tensor | None = None,
    *,
    loss_type: LossType = "regression_mse_var",
    similarity: Similarity = "l2",
    temperature: float = 0.1,
    variance_lambda: float = 0.001,
    normalize_indices: bool = True,
    huber_delta: float = 0.1,
    label_smoothing: float = 0.0,
) -> Tensor:
    """Temporal cycle-consistency loss of a batch of embedding sequences.

    Args:
        embeddings: a list of B (N_b, D) tensors, or a padded (B, N, D) tensor with ``lengths``
            (B,) giving the valid frames of each row (all N if None). B >= 2.
        loss_type: what penalises a cycle u_i -> V -> U with cycle-back distribution
            ``beta = softmax(logits)`` over the N frames k of U, frame times ``t_k = k``
            (``k / N`` with ``normalize_indices``), ``mu = sum_k beta_k t_k`` and
            ``sigma^2 = sum_k beta_k (t_k - mu)^2``:

            - ``classification``: cross-entropy of ``logits`` with target class i
              (optionally label-smoothed);
            - ``regression_mse``: ``(mu - t_i)^2``;
            - ``regression_huber``: Huber(mu - t_i) with ``huber_delta``;
            - ``regression_mse_var``: ``(mu - t_i)^2 / sigma^2 + variance_lambda * log(sigma^2)``:
              a confident (peaked) cycle that misses pays more, and the log term stops the
              variance from growing without bound.
        similarity, temperature: see the module docstring.
    Returns:
        Scalar: the mean of the per-cycle losses over every frame of every ordered pair (U, V),
        U != V.
    """
    sequences = _as_sequences(embeddings, lengths)
    if len(sequences) < 2:
        raise ValueError("the TCC loss needs at least two sequences")
    per_cycle = []
    for a, u in enumerate(sequences):
        for b, v in enumerate(sequences):
            if a == b:
                continue
            logits = cycle_back_logits(u, v, similarity, temperature)
            per_cycle.append(_cycle_loss(logits, loss_type, variance_lambda, normalize_indices,
                                         huber_delta, label_smoothing))
    return torch.cat(per_cycle).mean()


class TCCLoss(torch.nn.Module):
    """``tcc_loss`` with its options fixed at construction; ``forward(embeddings, lengths=None)``."""

    def __init__(self, **options):
        super().__init__()
        self.options = options

    def forward(self, embeddings: Sequence[Tensor] | Tensor, lengths: Sequence[int] | Tensor | None = None) -> Tensor:
        return tcc_loss(embeddings, lengths, **self.options)
