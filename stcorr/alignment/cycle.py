"""Cross-video cycle consistency (Purushwalkam, Ye, Gupta & Gupta, ECCV 2020), as tensor functions.

Notation: a video V holds patch tracks; V_m^i is the patch of track i in frame m (superscript:
track, subscript: frame). A cycle starts at V_m^i, moves along its track to V_n^i (temporal search
inside V), jumps to W_q^j in the other video, moves along that track to W_p^j and jumps back to a
patch V_m^k of the start frame. Its score is

    x(n, p, q, j) = s(f(V_n^i), f(W_q^j)) + s(f(W_p^j), f(V_m^k))          s: cosine

and the cycle consistency of (V_m^i, V_m^k) is the soft maximum over every cycle c = (n, p, q, j):

    kappa(V_m^i, V_m^k) = Gamma(x) = sum_c x_c softmax(x / temperature)_c

(``temperature`` 1 is the paper's formula). Training pushes kappa of the start patch with the end
patches that overlap it (IoU >= 0.5) above kappa with the others by a margin (``margin_loss``).

``kappa`` computes every (i, k, m) at once without listing the cycles: x separates into a part over
(n, q) and a part over p for each j, so Gamma is a softmax over j of per-j partition functions (see
``soft_max_of_sums``). With ``temporal_search=False`` (the ablation that assumes the two videos'
frames aligned: frame m of V with frame m of W) the cycle is V_m^i -> W_m^j -> V_m^k, over j only.

Shapes: embeddings of V are (I, T, D) (track, frame, unit vector), with a validity mask (I, T)
(the track has a patch in that frame); W likewise (J, T, D); end patches of V (K, T, D).
"""

from __future__ import annotations

import torch
from torch import Tensor

NEG = -1e4  # the logit of a cycle through a missing patch (exp() underflows to 0)


def soft_max(x: Tensor, temperature: float = 1.0, dim: int = -1, valid: Tensor | None = None) -> Tensor:
    """Gamma(x) = sum_c x_c softmax(x / temperature)_c along ``dim`` (over ``valid`` entries only)."""
    logits = x / temperature
    if valid is not None:
        logits = logits.masked_fill(~valid, NEG)
        x = x.masked_fill(~valid, 0.0)
    return (x * torch.softmax(logits, dim=dim)).sum(dim)


def _part(x: Tensor, valid: Tensor, temperature: float) -> tuple[Tensor, Tensor]:
    """log sum exp(x / t) and the softmax-weighted mean of x over the last dimension (masked)."""
    logits = (x / temperature).masked_fill(~valid, NEG)
    return torch.logsumexp(logits, -1), (x.masked_fill(~valid, 0.0) * torch.softmax(logits, -1)).sum(-1)


def soft_max_of_sums(a: Tensor, a_valid: Tensor, b: Tensor, b_valid: Tensor, temperature: float = 1.0) -> Tensor:
    """Gamma over every c = (j, u, v) of x_c = a[..., j, u] + b[..., j, v], without forming x.

    ``a`` (..., J, U), ``b`` (..., J, V) broadcast against each other in their leading dimensions;
    the masks have their shapes. With Z_j = sum_u e^(a/t) * sum_v e^(b/t) and E the softmax-weighted
    means of a and b within j: Gamma = sum_j softmax_j(log Z_j) (E^a_j + E^b_j). Returns (...,).
    """
    log_za, mean_a = _part(a, a_valid, temperature)
    log_zb, mean_b = _part(b, b_valid, temperature)
    log_z = log_za + log_zb  # (..., J)
    j_valid = a_valid.any(-1) & b_valid.any(-1)
    weights = torch.softmax(log_z.masked_fill(~j_valid, NEG), -1)
    return (weights * (mean_a + mean_b).masked_fill(~j_valid, 0.0)).sum(-1)


def kappa(v: Tensor, v_valid: Tensor, w: Tensor, w_valid: Tensor, ends: Tensor | None = None,
          ends_valid: Tensor | None = None, temperature: float = 1.0, temporal_search: bool = True) -> Tensor:
    """Cycle consistency kappa(V_m^i, V_m^k) of every start track i, end patch k and frame m.

    Args:
        v: (I, T, D) unit embeddings of V's tracks in its T frames; ``v_valid`` (I, T) bool.
        w: (J, T2, D) the other video's tracks; ``w_valid`` (J, T2) bool.
        ends: (K, T, D) end patches of V in each frame (default: ``v`` itself); ``ends_valid`` (K, T).
        temporal_search: False assumes frame m of V aligned with frame m of W (T2 == T): the
            cycles V_m^i -> W_m^j -> V_m^k, over j only.

    Returns:
        (I, K, T); entries whose start or end patch is missing are meaningless (mask them).
    """
    if ends is None:
        ends, ends_valid = v, v_valid
    forward = torch.einsum("ind,jqd->ijnq", v, w)            # s(V_n^i, W_q^j)
    back = torch.einsum("jpd,kmd->kmjp", w, ends)            # s(W_p^j, V_m^k)
    f_valid = v_valid[:, None, :, None] & w_valid[None, :, None, :]
    b_valid = w_valid[None, None, :, :] & ends_valid[:, :, None, None]
    i, j, t = v.shape[0], w.shape[0], v.shape[1]
    if temporal_search:
        a = forward.reshape(i, 1, 1, j, -1)                  # (I, 1, 1, J, T*T2): over (n, q)
        a_valid = f_valid.reshape(i, 1, 1, j, -1)
        b, b_valid = back[None], b_valid[None]               # (1, K, T, J, T2): over p
        return soft_max_of_sums(a, a_valid, b, b_valid, temperature)
    if w.shape[1] != t:
        raise ValueError(f"without temporal search both videos need the same frames, got {t} and {w.shape[1]}")
    frames = torch.arange(t, device=v.device)
    a = forward[:, :, frames, frames].permute(0, 2, 1)[:, None, :, :, None]      # (I, 1, T, J, 1): s(V_m^i, W_m^j)
    a_valid = f_valid[:, :, frames, frames].permute(0, 2, 1)[:, None, :, :, None]
    b = back[:, frames, :, frames].permute(1, 0, 2)[None, ..., None]            # (1, K, T, J, 1): s(W_m^j, V_m^k)
    b_valid = b_valid[:, frames, :, frames].permute(1, 0, 2)[None, ..., None]
    return soft_max_of_sums(a, a_valid, b, b_valid, temperature)


def box_iou(boxes_a: Tensor, boxes_b: Tensor) -> Tensor:
    """IoU of boxes (..., A, 4) with boxes (..., B, 4), (x1, y1, x2, y2) -> (..., A, B)."""
    a, b = boxes_a[..., :, None, :], boxes_b[..., None, :, :]
    width = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0])).clamp(min=0)
    height = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1])).clamp(min=0)
    inter = width * height
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / (area_a + area_b - inter).clamp(min=1e-9)


def margin_loss(kappas: Tensor, start_boxes: Tensor, start_valid: Tensor, end_boxes: Tensor, end_valid: Tensor,
                margin: float = 0.5, iou_threshold: float = 0.5) -> Tensor:
    """Mean of max(0, -kappa(i, k+) + kappa(i, k-) + margin) over every start patch (i, m), every end
    patch k+ of frame m with IoU >= ``iou_threshold`` with it and every k- with IoU below.

    Args:
        kappas: (I, K, T) from ``kappa``.
        start_boxes: (I, T, 4), start_valid (I, T); end_boxes (K, T, 4), end_valid (K, T).

    Returns:
        a scalar (0 when no start patch has both a positive and a negative).
    """
    iou = box_iou(start_boxes.permute(1, 0, 2), end_boxes.permute(1, 0, 2)).permute(1, 2, 0)  # (I, K, T)
    both = start_valid[:, None, :] & end_valid[None, :, :]
    positive, negative = both & (iou >= iou_threshold), both & (iou < iou_threshold)
    hinge = (kappas[:, None] - kappas[:, :, None] + margin).clamp(min=0)  # [i, k+, k-, m]
    pairs = positive[:, :, None] & negative[:, None, :]
    count = pairs.sum()
    if count == 0:
        return kappas.sum() * 0.0
    return (hinge * pairs).sum() / count
