"""The cycle-consistency library: Gamma and kappa against brute-force loops over cycles, and the
margin loss."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from stcorr.alignment.cycle import box_iou, kappa, margin_loss, soft_max


def gamma(values: list[float], temperature: float) -> float:
    x = torch.tensor(values, dtype=torch.float64)
    return float((x * torch.softmax(x / temperature, 0)).sum())


def brute_kappa(v, v_valid, w, w_valid, temperature, temporal_search):
    """kappa[i, k, m] by listing every cycle V_m^i -> V_n^i -> W_q^j -> W_p^j -> V_m^k."""
    s = lambda a, b: float(a @ b)  # noqa: E731 (cosine of unit vectors)
    i_n, t_n = v_valid.shape
    j_n, t2 = w_valid.shape
    out = torch.zeros(i_n, i_n, t_n, dtype=torch.float64)
    for i, k, m in itertools.product(range(i_n), range(i_n), range(t_n)):
        cycles = []
        for n, p, q, j in itertools.product(range(t_n), range(t2), range(t2), range(j_n)):
            if not temporal_search and not n == p == q == m:
                continue
            if v_valid[i, n] and w_valid[j, q] and w_valid[j, p]:
                cycles.append(s(v[i, n], w[j, q]) + s(w[j, p], v[k, m]))
        out[i, k, m] = gamma(cycles, temperature) if cycles else float("nan")
    return out


@pytest.mark.parametrize("temporal_search", [True, False])
@pytest.mark.parametrize("temperature", [1.0, 0.2])
def test_kappa_equals_the_soft_maximum_over_all_cycles(temporal_search, temperature):
    torch.manual_seed(1)
    v = F.normalize(torch.randn(3, 4, 5, dtype=torch.float64), dim=-1)
    w = F.normalize(torch.randn(2, 4, 5, dtype=torch.float64), dim=-1)
    v_valid = torch.ones(3, 4, dtype=torch.bool)
    w_valid = torch.ones(2, 4, dtype=torch.bool)
    v_valid[1, 2] = False  # a track missing in one frame
    w_valid[0, 0] = False
    fast = kappa(v, v_valid, w, w_valid, temperature=temperature, temporal_search=temporal_search)
    slow = brute_kappa(v, v_valid, w, w_valid, temperature, temporal_search)
    assert fast.shape == (3, 3, 4)
    ends_present = v_valid[None, :, :].expand(3, 3, 4)  # end patch k must exist in frame m
    known = ~torch.isnan(slow) & ends_present
    torch.testing.assert_close(fast[known], slow[known])


def test_soft_max_is_the_weighted_mean_and_tends_to_the_max():
    x = torch.tensor([0.1, 0.9, 0.3])
    assert float(soft_max(x, 1.0)) == pytest.approx(gamma([0.1, 0.9, 0.3], 1.0))
    assert float(soft_max(x, 1e-3)) == pytest.approx(0.9, abs=1e-4)
    masked = soft_max(x, 1e-3, valid=torch.tensor([True, False, True]))
    assert float(masked) == pytest.approx(0.3, abs=1e-4)


def test_margin_loss_is_zero_when_positives_beat_negatives_by_the_margin():
    boxes = torch.tensor([[0.0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]])  # 0 and 1 overlap (IoU 0.68)
    start = boxes[:, None].expand(3, 2, 4)
    valid = torch.ones(3, 2, dtype=torch.bool)
    assert float(box_iou(boxes[:1], boxes[1:2])) >= 0.5
    kappas = torch.zeros(3, 3, 2)
    for i in range(3):
        for k in range(3):
            overlap = box_iou(boxes[i:i + 1], boxes[k:k + 1])[0, 0] >= 0.5
            kappas[i, k] = 1.0 if overlap else 0.4
    assert float(margin_loss(kappas, start, valid, start, valid, margin=0.5)) == 0.0
    assert float(margin_loss(kappas, start, valid, start, valid, margin=0.7)) == pytest.approx(0.1, abs=1e-6)
    kappas[0, 2, 0] = 1.2  # a negative above a positive: the hinge counts it
    assert float(margin_loss(kappas, start, valid, start, valid, margin=0.5)) > 0.0
