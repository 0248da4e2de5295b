"""The sequential baselines of the paper's Table 3: align the two videos in time, then match in space.

    time_alignment.py   nn, dtw (and -st), tcc, lrprop, gt-time: the target frame of each source frame
    pose.py             MediaPipe Pose as the 13 Penn joints (optional extra)
    spatial.py          pose-oracle, pose, cats2d: the target (x, y) in an aligned frame pair
    methods.py          ALIGNER+MATCHER methods for ``stcorr eval --method``
    training.py         ``stcorr train --config tcc|lrprop|cats2d``
    checkpoints.py      their checkpoints

Their models (per-frame features, the TCC and LRProp embedders, 2D CATs) live in ``stcorr.models``
(``frame_features``, ``embedders``, ``cats2d``), loadable without this package.
"""

from __future__ import annotations


def register(methods: dict) -> None:
    """Adds the sequential methods (``dtw+pose-oracle``, ...) to the ``stcorr eval`` registry."""
    # the methods import their models (torch): loaded when the eval registry is filled
    from stcorr.baselines.methods import register as register_methods

    register_methods(methods)


__all__ = ["register"]
