"""Region similarity J of the DAVIS benchmark: the intersection over union of an object's
predicted and true pixels, per object and frame; a frame where the object is absent from both
counts as 1 (DAVIS's convention). J of a video is its mean over objects and scored frames.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def region_similarity(predicted: np.ndarray, truth: np.ndarray, objects: Sequence[int]) -> np.ndarray:
    """(H, W) label images -> (len(objects),) J of each object value in this frame."""
    scores = []
    for value in objects:
        p, t = predicted == value, truth == value
        union = np.logical_or(p, t).sum()
        scores.append(1.0 if union == 0 else np.logical_and(p, t).sum() / union)
    return np.asarray(scores, dtype=np.float64)
