"""Frame-embedding alignment metrics (as used by TCC and its successors), pure functions over arrays.

Frames are the rows of embedding arrays (N, D). Phases follow the project's convention
(docs/formats.md#penn-action-layout): key moment i (0-based) is the first frame of phase i + 1, and
phase 0 is the frames before the first key moment. Distances for nearest neighbours are Euclidean
unless a ``metric`` says otherwise.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from stcorr.alignment.dtw import Metric, dtw_align, nn_align, pairwise_cost


def _subset(rng: np.random.Generator, fraction: float, n_frames: int, video_ids: np.ndarray | None) -> np.ndarray:
    """Indices of the training frames kept for one fraction: whole videos if ``video_ids`` is given."""
    if video_ids is None:
        count = max(1, int(round(fraction * n_frames)))
        return np.sort(rng.choice(n_frames, size=count, replace=False))
    videos = np.unique(video_ids)
    chosen = rng.choice(videos, size=max(1, int(round(fraction * len(videos)))), replace=False)
    return np.flatnonzero(np.isin(video_ids, chosen))


def phase_classification_accuracy(
    train_emb: np.ndarray,
    train_phases: np.ndarray,
    val_emb: np.ndarray,
    val_phases: np.ndarray,
    fractions: Sequence[float] = (0.1, 0.5, 1.0),
    seed: int = 0,
    train_video_ids: np.ndarray | None = None,
    C: float = 1.0,
) -> dict[float, float]:
    """Fine-grained phase classification with a linear SVM on frozen frame embeddings.

    For each fraction f, a linear SVM (sklearn ``LinearSVC`` on standardised features) is
    trained on a random subset of the training frames, f of them (at least one), or, with
    ``train_video_ids``, on all frames of f of the training videos (at least one); the subsets
    are drawn from one ``numpy.random.default_rng(seed)`` in the order of ``fractions``. A
    subset holding one phase only predicts that phase.

    Args:
        train_emb: (N, D); train_phases: (N,) int; val_emb: (M, D); val_phases: (M,) int.
    Returns:
        ``{f: accuracy}``: the fraction of validation frames whose phase is predicted exactly.
    """
    # scikit-learn takes seconds to import: loaded only where it is used
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    train_emb, val_emb = np.asarray(train_emb, dtype=np.float64), np.asarray(val_emb, dtype=np.float64)
    train_phases, val_phases = np.asarray(train_phases), np.asarray(val_phases)
    video_ids = None if train_video_ids is None else np.asarray(train_video_ids)
    rng = np.random.default_rng(seed)
    accuracies = {}
    for fraction in fractions:
        if not 0 < fraction <= 1:
            raise ValueError(f"fractions must be in (0, 1], got {fraction}")
        keep = _subset(rng, fraction, len(train_emb), video_ids)
        labels = train_phases[keep]
        if np.unique(labels).size == 1:
            predicted = np.full(len(val_phases), labels[0])
        else:
            classifier = make_pipeline(StandardScaler(), LinearSVC(C=C, max_iter=20000))
            predicted = classifier.fit(train_emb[keep], labels).predict(val_emb)
        accuracies[fraction] = float(np.mean(predicted == val_phases))
    return accuracies


def phase_progression(train_emb: np.ndarray, train_progress: np.ndarray,
                      val_emb: np.ndarray, val_progress: np.ndarray) -> float:
    """R² on validation frames of a least-squares linear regression from embedding to progress.

    The progress targets are the caller's: (N,) values such as ``progress_from_key_moments``
    (within the phase, or across the video), or (N, K) several targets (TCC regresses one per key
    event), whose R² values are averaged with equal weight. R² is 1 for a perfect fit and can be
    negative.
    """
    # scikit-learn takes seconds to import: loaded only where it is used
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import r2_score

    regressor = LinearRegression().fit(np.asarray(train_emb, dtype=np.float64), np.asarray(train_progress))
    return float(r2_score(np.asarray(val_progress), regressor.predict(np.asarray(val_emb, dtype=np.float64))))


def kendalls_tau(emb_a: np.ndarray, emb_b: np.ndarray, metric: Metric = "euclidean") -> float:
    """Kendall's tau of the nearest-neighbour index sequence, a measure of temporal order.

    For each frame i of ``emb_a`` (N, D), its nearest frame ``nn_i`` in ``emb_b`` (M, D); the
    result is Kendall's tau-b between ``(0, 1, ..., N-1)`` and ``(nn_0, ..., nn_{N-1})``: 1 when
    the neighbours advance in order, -1 when they run backwards, NaN when all neighbours coincide.
    """
    # scipy.stats takes seconds to import: loaded only for this metric
    from scipy.stats import kendalltau

    neighbours = nn_align(emb_a, emb_b, metric)
    return float(kendalltau(np.arange(len(neighbours)), neighbours).statistic)


def mean_kendalls_tau(embeddings: Sequence[np.ndarray], metric: Metric = "euclidean") -> float:
    """Mean of ``kendalls_tau(a, b)`` over all ordered pairs of distinct sequences (NaNs left out)."""
    taus = [kendalls_tau(a, b, metric) for i, a in enumerate(embeddings)
            for j, b in enumerate(embeddings) if i != j]
    return float(np.nanmean(taus)) if taus else float("nan")


def _ranked_relevance(distances: np.ndarray, own: np.ndarray, query_phases: np.ndarray,
                      phases: np.ndarray, k: int) -> np.ndarray:
    """(Q, k) 1.0 where the r-th nearest frame of another video has the query's phase, else 0.0
    (also 0.0 past the last frame of other videos)."""
    ranked = np.argsort(np.where(own, np.inf, distances), axis=1, kind="stable")[:, :k]
    exists = np.arange(ranked.shape[1])[None, :] < (~own).sum(axis=1, keepdims=True)
    return ((phases[ranked] == query_phases[:, None]) & exists).astype(np.float64)


def average_precision_at_k(emb: np.ndarray, phases: np.ndarray, video_ids: np.ndarray,
                           ks: Sequence[int] = (5, 10, 15), metric: Metric = "euclidean",
                           chunk: int = 1024) -> dict[int, float]:
    """Mean average precision at K of retrieving same-phase frames from other videos.

    Every frame is a query; the database is the frames of the other videos, ranked by distance
    (ties by frame index). With ``rel_r`` = 1 when the r-th retrieved frame has the query's
    phase and ``P@r`` the fraction of relevant frames among the first r,

        AP@K(query) = sum_{r<=K} P@r * rel_r / sum_{r<=K} rel_r      (0 when no rel_r is 1),

    with K cut to the number of database frames when fewer. The result is the mean over queries.

    Args:
        emb: (F, D) frames of all videos; phases: (F,) int; video_ids: (F,) any labels.
    Returns:
        ``{K: mAP@K}``.
    """
    emb, phases, video_ids = np.asarray(emb), np.asarray(phases), np.asarray(video_ids)
    if np.unique(video_ids).size < 2:
        raise ValueError("retrieval from other videos needs at least two videos")
    sums = {k: 0.0 for k in ks}
    for start in range(0, len(emb), chunk):
        query = slice(start, start + chunk)
        distances = pairwise_cost(emb[query], emb, metric)
        own = video_ids[query][:, None] == video_ids[None, :]
        relevant = _ranked_relevance(distances, own, phases[query], phases, max(ks))
        for k in ks:
            hits = relevant[:, :k]
            precision = np.cumsum(hits, axis=1) / np.arange(1, hits.shape[1] + 1)
            n_hits = hits.sum(axis=1)
            ap = np.divide((precision * hits).sum(axis=1), n_hits, out=np.zeros(len(hits)), where=n_hits > 0)
            sums[k] += ap.sum()
    return {k: sums[k] / len(emb) for k in ks}


def dtw_accuracy(emb_a: np.ndarray, phases_a: np.ndarray, emb_b: np.ndarray, phases_b: np.ndarray,
                 metric: Metric = "cosine") -> float:
    """Fraction of frames of video A whose DTW-aligned frame in video B has the same phase.

    Frames are DTW-aligned on ``metric`` costs between ``emb_a`` (N, D) and ``emb_b`` (M, D);
    a frame of A matched to several frames of B takes their lower median (``align_frames``).
    """
    matched = dtw_align(emb_a, emb_b, metric)
    return float(np.mean(np.asarray(phases_b)[matched] == np.asarray(phases_a)))
