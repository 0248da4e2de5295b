"""Metrics: T@k-PCK for correspondences (pck), alignment metrics for frame embeddings (alignment)."""
