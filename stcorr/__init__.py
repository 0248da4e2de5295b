"""stcorr: space-time semantic correspondence across videos.

Coordinates everywhere a user reads or writes them: ``(t, x, y)`` with ``t`` the 0-based frame
index at the video's native frame rate and ``x, y`` native pixels (x right, y down).
"""

__version__ = "0.1.0"

__all__ = ["Predictor", "load_model"]


def __getattr__(name: str):
    """``stcorr.Predictor`` and ``stcorr.load_model``, imported on first use (``import stcorr`` stays light)."""
    if name == "Predictor":
        # loaded on first use: `import stcorr` stays light (no torch)
        from stcorr.evaluation.predict import Predictor

        return Predictor
    if name == "load_model":
        from stcorr.models.checkpoint import load_model

        return load_model
    raise AttributeError(f"module 'stcorr' has no attribute {name!r}")
