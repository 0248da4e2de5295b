"""Time alignment of frame sequences: DTW, soft-DTW, TCC and LRProp (the sequential baselines)."""

from stcorr.alignment.dtw import (
    align_frames,
    cosine_cost,
    dtw,
    dtw_align,
    euclidean_cost,
    nn_align,
    pairwise_cost,
)
from stcorr.alignment.lrprop import FrameAligner, LRPropLoss, LRPropWeights
from stcorr.alignment.soft_dtw import SoftDTWLoss, soft_alignment, soft_dtw, soft_dtw_sequences
from stcorr.alignment.tcc import TCCLoss, cycle_back_indices, tcc_loss

__all__ = [
    "FrameAligner",
    "LRPropLoss",
    "LRPropWeights",
    "SoftDTWLoss",
    "TCCLoss",
    "align_frames",
    "cosine_cost",
    "cycle_back_indices",
    "dtw",
    "dtw_align",
    "euclidean_cost",
    "nn_align",
    "pairwise_cost",
    "soft_alignment",
    "soft_dtw",
    "soft_dtw_sequences",
    "tcc_loss",
]
