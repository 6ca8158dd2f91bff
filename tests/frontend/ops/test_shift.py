"""DeepShift layer: power-of-two weights, exponent range, and straight-through gradients checked numerically."""

import pytest
import torch
import torch.nn.functional as F
from nash.frontend.ops.shift import ShiftConv2d, pow2_round


@pytest.mark.parametrize("mode", ["ps", "q"])
def test_weights_are_signed_powers_of_two_in_range(mode):
    torch.manual_seed(1)
    m = ShiftConv2d(6, 5, 3, padding=1, mode=mode, exp_max=5)
    if mode == "q":
        with torch.no_grad():
            m.weight.mul_(20)  # values above 1 and far below 2**-5 are clamped into the range
            m.weight[0, 0, 0, 0] = 0.0
    w = m.shift_weight().detach()
    sign, e = m.sign_exponent()
    assert set(sign.unique().tolist()) <= {-1.0, 0.0, 1.0}
    assert e.min() >= 0 and e.max() <= 5 and torch.equal(e, e.round())
    torch.testing.assert_close(w, sign * torch.pow(2.0, -e), rtol=0, atol=0)


def test_q_mode_rounding_hand_examples():
    w = torch.tensor([0.3, -0.7, 0.0, 5.0, 1e-6, 0.125])
    sign, e = pow2_round(w, exp_max=4)
    # log2(.3) = -1.74 -> -2; log2(.7) = -0.51 -> -1 (ties up: -0.5 would give 0); 5 clamps to 2**0; 1e-6 to 2**-4
    assert sign.tolist() == [1, -1, 0, 1, 1, 1]  # an exact zero keeps sign 0 (weight 0)
    assert [e[i].item() for i in (0, 1, 3, 4, 5)] == [2, 1, 0, 4, 3]


def test_ps_straight_through_gradients_match_finite_differences():
    """dL/dP = dL/dw * w * ln2 and dL/dS = dL/dw * 2**P at the rounded point (STE on the rounding)."""
    torch.manual_seed(0)
    m = ShiftConv2d(3, 4, 3, padding=1, mode="ps", exp_max=6).double()
    with torch.no_grad():  # put P and S exactly on their rounded values so the smooth surrogate is evaluated there
        m.P.copy_(m.P.round().clamp(-6, 0))
        m.S.copy_(torch.tensor([-1.0, 1.0]).repeat(m.S.numel() // 2 + 1)[: m.S.numel()].view_as(m.S))
    x = torch.randn(2, 3, 5, 5, dtype=torch.float64)
    g = torch.randn(2, 4, 5, 5, dtype=torch.float64)
    (m(x) * g).sum().backward()

    def loss(p, s):
        return (F.conv2d(x, s * torch.pow(2.0, p), None, 1, 1) * g).sum()

    p0, s0 = m.P.detach().clone(), m.S.detach().clone()
    num_p, num_s = torch.zeros_like(p0), torch.zeros_like(s0)
    eps = 1e-6
    for t, out in ((p0, num_p), (s0, num_s)):
        flat, oflat = t.view(-1), out.view(-1)
        for i in range(flat.numel()):
            old = flat[i].item()
            flat[i] = old + eps
            hi = loss(p0, s0).item()
            flat[i] = old - eps
            lo = loss(p0, s0).item()
            flat[i] = old
            oflat[i] = (hi - lo) / (2 * eps)
    torch.testing.assert_close(m.P.grad, num_p, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(m.S.grad, num_s, rtol=1e-5, atol=1e-7)


def test_q_mode_straight_through_and_input_gradient():
    torch.manual_seed(0)
    m = ShiftConv2d(3, 4, 3, stride=2, padding=1, mode="q").double()
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64, requires_grad=True)
    g = torch.randn(2, 4, 3, 3, dtype=torch.float64)
    (m(x) * g).sum().backward()
    wq = m.shift_weight().detach()
    # STE: the weight gradient is the gradient w.r.t. the rounded weight; the layer is linear in x.
    x2 = x.detach().clone().requires_grad_(True)
    w2 = wq.clone().requires_grad_(True)
    (F.conv2d(x2, w2, None, 2, 1) * g).sum().backward()
    torch.testing.assert_close(m.weight.grad, w2.grad)
    torch.testing.assert_close(x.grad, x2.grad)
