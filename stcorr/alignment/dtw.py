"""Classic dynamic time warping over a cost matrix, and frame matching built on it (numpy).

Conventions: ``cost[i, j]`` is the cost of matching frame ``i`` of the source sequence (N frames)
with frame ``j`` of the target sequence (M frames). A warping path starts at ``(0, 0)``, ends at
``(N - 1, M - 1)`` and moves by one of ``(1, 0)``, ``(0, 1)``, ``(1, 1)`` per step; the DTW cost
is the plain (unweighted) sum of ``cost`` over the cells of the cheapest path.
"""

from __future__ import annotations

from typing import Callable, Literal

import numpy as np

# Moves into a cell, in tie-breaking order: diagonal first, then down (i - 1), then right (j - 1).
_MOVES = np.array([(1, 1), (1, 0), (0, 1)])


def _check_cost(cost: np.ndarray) -> np.ndarray:
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2 or cost.shape[0] == 0 or cost.shape[1] == 0:
        raise ValueError(f"cost must be a non-empty 2-D matrix, got shape {cost.shape}")
    if not np.all(np.isfinite(cost)):
        raise ValueError("cost holds NaN or infinite values")
    return cost


def accumulated_cost(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fill the DTW table one anti-diagonal at a time.

    Args:
        cost: (N, M) matching costs.
    Returns:
        ``acc`` (N, M): ``acc[i, j]`` the cheapest sum of costs of a path from (0, 0) to (i, j);
        ``move`` (N, M) int8: index into ``_MOVES`` of the step that entered (i, j) on that path
        (-1 at (0, 0)).
    """
    cost = _check_cost(cost)
    n, m = cost.shape
    acc = np.full((n + 1, m + 1), np.inf)  # padded by one row and column of +inf
    acc[0, 0] = 0.0
    move = np.full((n, m), -1, dtype=np.int8)
    for diagonal in range(n + m - 1):  # cells with i + j == diagonal
        i = np.arange(max(0, diagonal - m + 1), min(n, diagonal + 1))
        j = diagonal - i
        candidates = np.stack([acc[i, j], acc[i, j + 1], acc[i + 1, j]])  # from (i-1,j-1), (i-1,j), (i,j-1)
        best = np.argmin(candidates, axis=0)
        acc[i + 1, j + 1] = cost[i, j] + candidates[best, np.arange(len(i))]
        move[i, j] = best
    move[0, 0] = -1
    return acc[1:, 1:], move


def dtw(cost: np.ndarray) -> tuple[float, np.ndarray]:
    """Dynamic time warping over a cost matrix.

    Args:
        cost: (N, M) matching costs, finite.
    Returns:
        ``(total, path)``: ``total`` the sum of ``cost`` over the cheapest warping path; ``path``
        (K, 2) int64 rows ``(i, j)`` from ``(0, 0)`` to ``(N - 1, M - 1)``, max(N, M) <= K <= N + M - 1.
        Ties prefer the diagonal move, then the move that advances the source.
    """
    acc, move = accumulated_cost(cost)
    cell = np.array(acc.shape) - 1
    path = [cell.copy()]
    while move[cell[0], cell[1]] >= 0:
        cell = cell - _MOVES[move[cell[0], cell[1]]]
        path.append(cell.copy())
    return float(acc[-1, -1]), np.array(path[::-1], dtype=np.int64)


def euclidean_cost(a: np.ndarray, b: np.ndarray, squared: bool = False) -> np.ndarray:
    """(N, M) Euclidean distances between the rows of ``a`` (N, D) and ``b`` (M, D)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    sq = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2.0 * a @ b.T
    sq = np.maximum(sq, 0.0)
    return sq if squared else np.sqrt(sq)


def cosine_cost(a: np.ndarray, b: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """(N, M) cosine distances ``1 - cos(a_i, b_j)`` in [0, 2] between rows of ``a`` (N, D) and ``b`` (M, D)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), eps)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), eps)
    return 1.0 - a @ b.T


Metric = Literal["cosine", "euclidean", "sqeuclidean"]


def pairwise_cost(a: np.ndarray, b: np.ndarray, metric: Metric = "cosine") -> np.ndarray:
    """(N, M) costs between the rows of ``a`` and ``b`` under ``metric``."""
    if metric == "cosine":
        return cosine_cost(a, b)
    if metric == "euclidean":
        return euclidean_cost(a, b)
    if metric == "sqeuclidean":
        return euclidean_cost(a, b, squared=True)
    raise ValueError(f"unknown metric {metric!r}; expected cosine, euclidean or sqeuclidean")


def align_frames(path: np.ndarray, n_src: int, reduce: Literal["median", "mean", "first", "last"] = "median") -> np.ndarray:
    """For each source frame, the one target frame it is matched to along a warping path.

    Args:
        path: (K, 2) rows ``(i, j)`` of a warping path (every i in [0, n_src) must occur).
        n_src: number of source frames N.
        reduce: how to pick one j among the target frames matched to source frame i:
            ``median`` the lower median, ``mean`` the mean rounded half to even,
            ``first``/``last`` the smallest/largest.
    Returns:
        (N,) int64 target frame per source frame.
    """
    path = np.asarray(path, dtype=np.int64)
    i, j = path[:, 0], path[:, 1]
    missing = np.setdiff1d(np.arange(n_src), i)
    if missing.size:
        raise ValueError(f"the path leaves source frames unmatched, e.g. {missing[:5].tolist()}")
    order = np.lexsort((j, i))
    i, j = i[order], j[order]
    starts = np.searchsorted(i, np.arange(n_src), side="left")
    ends = np.searchsorted(i, np.arange(n_src), side="right")
    if reduce == "first":
        return j[starts]
    if reduce == "last":
        return j[ends - 1]
    if reduce == "median":
        return j[starts + (ends - starts - 1) // 2]
    if reduce == "mean":
        sums = np.add.reduceat(j, starts)
        return np.rint(sums / (ends - starts)).astype(np.int64)
    raise ValueError(f"unknown reduce {reduce!r}")


#: Cells of the largest full DTW table (cost, accumulated cost, moves: ~17 bytes a cell, so ~70 MB);
#: longer pairs of videos are aligned coarse to fine (``banded_dtw_align``).
MAX_DTW_CELLS = 4_000_000


def dtw_align(src_emb: np.ndarray, tgt_emb: np.ndarray, metric: Metric = "cosine",
              max_cells: int = MAX_DTW_CELLS) -> np.ndarray:
    """(N,) target frame matched by DTW to each source frame of ``src_emb`` (N, D) in ``tgt_emb`` (M, D):
    exact when N x M <= ``max_cells``, else coarse to fine in memory bounded by ``max_cells``."""
    return dtw_align_by(lambda a, b: pairwise_cost(a, b, metric), src_emb, tgt_emb, max_cells)


CostFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def dtw_align_by(cost: CostFn, src: np.ndarray, tgt: np.ndarray, max_cells: int = MAX_DTW_CELLS) -> np.ndarray:
    """``dtw_align`` under any ``cost(a (n, D), b (m, D)) -> (n, m)`` between rows of descriptors."""
    if len(src) * len(tgt) > max_cells:
        return banded_dtw_align(cost, src, tgt, max_cells)
    _, path = dtw(cost(src, tgt))
    return align_frames(path, len(src))


def block_means(emb: np.ndarray, stride: int) -> np.ndarray:
    """(ceil(N / stride), D): the mean of each run of ``stride`` consecutive rows of ``emb`` (N, D),
    NaN entries left out (NaN where a run holds no number)."""
    emb = np.asarray(emb, dtype=np.float64)
    starts = np.arange(0, len(emb), stride)
    known = ~np.isnan(emb)
    sums = np.add.reduceat(np.where(known, emb, 0.0), starts, axis=0)
    counts = np.add.reduceat(known.astype(np.float64), starts, axis=0)
    return np.divide(sums, counts, out=np.full_like(sums, np.nan), where=counts > 0)


def banded_dtw_align(cost: CostFn, src: np.ndarray, tgt: np.ndarray, max_cells: int = MAX_DTW_CELLS) -> np.ndarray:
    """DTW coarse to fine (as FastDTW, Salvador & Chan 2007): the exact DTW path of block means of
    ``stride`` frames, then DTW over the full-rate frames within that path's blocks widened by one
    block on each side. Memory: the coarse table (<= ``max_cells``) and the band (~3 x stride cells a row)."""
    n, m = len(src), len(tgt)
    stride = int(np.ceil(np.sqrt(n * m / max_cells)))
    _, coarse = dtw(cost(block_means(src, stride), block_means(tgt, stride)))
    lo, hi = np.full(n, m), np.full(n, -1)
    for ci, cj in coarse:
        rows = slice(ci * stride, min((ci + 1) * stride, n))
        lo[rows] = np.minimum(lo[rows], max(cj * stride - stride, 0))
        hi[rows] = np.maximum(hi[rows], min((cj + 2) * stride - 1, m - 1))
    return align_frames(_banded_path(cost, src, tgt, lo, hi), n)


def _banded_path(cost_fn: CostFn, src_emb: np.ndarray, tgt_emb: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The cheapest warping path through the cells (i, lo[i]..hi[i]), with the tie-breaking of ``dtw``."""
    previous, moves = np.full(0, np.inf), []
    for i in range(len(src_emb)):
        cost = cost_fn(src_emb[i:i + 1], tgt_emb[lo[i]:hi[i] + 1])[0]
        row, move = np.full(len(cost), np.inf), np.full(len(cost), -1, dtype=np.int8)
        for k, j in enumerate(range(lo[i], hi[i] + 1)):
            if i == 0 and j == 0:
                row[k] = cost[k]
                continue
            diagonal = previous[j - 1 - lo[i - 1]] if i > 0 and lo[i - 1] <= j - 1 <= hi[i - 1] else np.inf
            down = previous[j - lo[i - 1]] if i > 0 and lo[i - 1] <= j <= hi[i - 1] else np.inf
            right = row[k - 1] if k > 0 else np.inf
            best = int(np.argmin((diagonal, down, right)))
            row[k], move[k] = cost[k] + (diagonal, down, right)[best], best
        previous = row
        moves.append(move)
    i, j = len(src_emb) - 1, len(tgt_emb) - 1
    path = [(i, j)]
    while moves[i][j - lo[i]] >= 0:
        di, dj = _MOVES[moves[i][j - lo[i]]]
        i, j = i - di, j - dj
        path.append((i, j))
    return np.array(path[::-1], dtype=np.int64)


def nn_align(src_emb: np.ndarray, tgt_emb: np.ndarray, metric: Metric = "cosine") -> np.ndarray:
    """(N,) nearest target frame (lowest cost, first on ties) for each source frame; no temporal constraint."""
    return np.argmin(pairwise_cost(src_emb, tgt_emb, metric), axis=1).astype(np.int64)
