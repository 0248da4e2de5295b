"""Time alignment of long videos: DTW over every frame of both, coarse to fine when the full table
would not fit in ``MAX_DTW_CELLS``."""

from __future__ import annotations

import numpy as np

from stcorr.alignment.dtw import banded_dtw_align, block_means, dtw_align, pairwise_cost


def warped(n: int, warp: float, noise: float, seed: int) -> np.ndarray:
    """(n, 3) embeddings of one motion played at phase (i / (n - 1)) ** warp."""
    rng = np.random.default_rng(seed)
    phase = np.linspace(0, 1, n) ** warp
    return np.stack([np.sin(6 * phase), np.cos(4 * phase), phase], 1) + noise * rng.normal(size=(n, 3))


def test_block_means_average_runs_of_rows():
    emb = np.arange(10, dtype=np.float64)[:, None]
    np.testing.assert_allclose(block_means(emb, 4)[:, 0], [1.5, 5.5, 8.5])
    emb[4:8] = np.nan
    np.testing.assert_allclose(block_means(emb, 4)[:, 0], [1.5, np.nan, 8.5])
    emb[8] = np.nan
    np.testing.assert_allclose(block_means(emb, 4)[:, 0], [1.5, np.nan, 9.0])


def test_coarse_to_fine_equals_the_full_table_on_a_clean_warp():
    a, b = warped(300, 1.0, 0.0, 0), warped(450, 1.4, 0.0, 1)
    exact = dtw_align(a, b, "euclidean")
    np.testing.assert_array_equal(dtw_align(a, b, "euclidean", max_cells=5_000), exact)


def test_coarse_to_fine_stays_near_the_true_warp_with_noise():
    n, m = 600, 900
    a, b = warped(n, 1.0, 0.05, 0), warped(m, 1.4, 0.05, 1)
    truth = np.round((np.arange(n) / (n - 1)) ** (1 / 1.4) * (m - 1))
    exact_error = np.abs(dtw_align(a, b, "euclidean") - truth).mean()
    banded = banded_dtw_align(lambda x, y: pairwise_cost(x, y, "euclidean"), a, b, max_cells=20_000)
    assert len(banded) == n and np.all(np.diff(banded) >= 0)
    assert np.abs(banded - truth).mean() <= exact_error + 1.0
