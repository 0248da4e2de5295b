"""Pictures of space-time correspondences (the `predict --viz` output and the report's pair figures)."""

from stcorr.viz.correspondence import draw_correspondences, save_visualisation, verdict_at

__all__ = ["draw_correspondences", "save_visualisation", "verdict_at"]
