"""AdderNet custom autograd rules checked against finite differences of surrogate functions.

The rules are not the true gradient of -sum|x-w| by design, so each is checked against a function whose true gradient
*is* the rule: dY/dW = X - W is the gradient of -1/2 sum (x-w)^2 w.r.t. w, and dY/dX = HardTanh(W - X) is the gradient
of -sum Huber_1(x - w) w.r.t. x (Huber with delta 1 has derivative clamp(d, -1, 1)).
"""

import math

import pytest
import torch
from nash.frontend.ops import adder as adder_layer
from nash.frontend.ops.adder import AdderConv2d, adder_conv2d


@pytest.fixture(autouse=True)
def _float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # finite differences need double precision
    yield
    torch.set_default_dtype(old)


def _huber(d):
    a = d.abs()
    return torch.where(a <= 1, 0.5 * d * d, a - 0.5)


def _surrogates(x, w, stride, padding, groups):
    """Loss functions of (x, w) whose exact gradients equal the AdderNet rules for L = sum(y * g)."""
    import torch.nn.functional as F

    n, c, _, _ = x.shape
    m, cg, k, _ = w.shape

    def cols_of(x_):
        cols = F.unfold(x_, k, padding=padding, stride=stride)
        L = cols.shape[-1]
        return cols.view(n, groups, cg * k * k, L).permute(1, 0, 3, 2).reshape(groups, n * L, cg * k * k)

    def apply(fn, x_, w_, g):
        cols = cols_of(x_)
        wg = w_.reshape(groups, m // groups, -1)
        d = cols.unsqueeze(2) - wg.unsqueeze(1)  # [G, P, M, K]
        return (fn(d).sum(-1) * g).sum()

    loss_w = lambda x_, w_, g: apply(lambda d: -0.5 * d * d, x_, w_, g)  # noqa: E731
    loss_x = lambda x_, w_, g: apply(lambda d: -_huber(d), x_, w_, g)  # noqa: E731
    return loss_w, loss_x


def _numeric_grad(f, t, eps=1e-6):
    g = torch.zeros_like(t)
    flat, gflat = t.view(-1), g.view(-1)
    for i in range(flat.numel()):
        old = flat[i].item()
        flat[i] = old + eps
        hi = f().item()
        flat[i] = old - eps
        lo = f().item()
        flat[i] = old
        gflat[i] = (hi - lo) / (2 * eps)
    return g


def _check_rules(stride, padding, groups, cin=4, cout=4, k=3, size=5):
    torch.manual_seed(stride * 10 + padding + groups)
    x = torch.randn(2, cin, size, size, requires_grad=True)
    w = torch.randn(cout, cin // groups, k, k, requires_grad=True)
    y = adder_conv2d(x, w, stride, padding, groups, eta=None)
    g = torch.randn_like(y)
    y.backward(g)
    # the forward pass itself is the definition: -sum |x - w| (checked against the broadcast form)
    loss_w, loss_x = _surrogates(x.detach(), w.detach(), stride, padding, groups)
    gw = g.view(2, groups, cout // groups, -1).permute(1, 0, 3, 2).reshape(groups, -1, cout // groups)
    xd, wd = x.detach().clone(), w.detach().clone()
    num_w = _numeric_grad(lambda: loss_w(xd, wd, gw), wd)
    num_x = _numeric_grad(lambda: loss_x(xd, wd, gw), xd)
    torch.testing.assert_close(w.grad, num_w, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(x.grad, num_x, rtol=1e-5, atol=1e-6)


def test_rules_standard():
    _check_rules(stride=1, padding=1, groups=1)


def test_rules_stride2_depthwise():
    _check_rules(stride=2, padding=1, groups=4)


def test_rules_kernel5_no_padding():
    _check_rules(stride=1, padding=0, groups=2, k=5, size=6)


@pytest.mark.parametrize("c,m,groups,k,stride", [(6, 8, 2, 3, 2), (6, 6, 6, 5, 1), (5, 5, 5, 3, 2)])
def test_forward_equals_broadcast_definition(c, m, groups, k, stride):
    import torch.nn.functional as F

    x = torch.randn(3, c, 7, 7)
    w = torch.randn(m, c // groups, k, k)
    y = adder_conv2d(x, w, stride=stride, padding=k // 2, groups=groups, eta=None)
    kk = (c // groups) * k * k
    cols = F.unfold(x, k, padding=k // 2, stride=stride).view(3, groups, kk, -1)  # [N, G, K, L]
    wg = w.view(groups, m // groups, kk)
    ref = -(cols.unsqueeze(2) - wg[None, :, :, :, None]).abs().sum(3)  # [N, G, Mg, L]
    torch.testing.assert_close(y, ref.reshape(y.shape))


@pytest.mark.parametrize("groups", [1, 3])
def test_adaptive_gradient_scaling(groups):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 5)
    w = torch.randn(3 if groups == 3 else 4, 3 // groups, 3, 3, requires_grad=True)
    w2 = w.detach().clone().requires_grad_(True)
    g = torch.randn(2, w.shape[0], 5, 5)
    adder_conv2d(x, w, 1, 1, groups, eta=None).backward(g)
    adder_conv2d(x, w2, 1, 1, groups, eta=0.2).backward(g)
    expected = 0.2 * math.sqrt(w.numel()) * w.grad / w.grad.norm()
    torch.testing.assert_close(w2.grad, expected)
    assert math.isclose(w2.grad.norm().item(), 0.2 * math.sqrt(w.numel()), rel_tol=1e-9)


def test_chunked_backward_equals_single_chunk(monkeypatch):
    x = torch.randn(3, 4, 6, 6, requires_grad=True)
    w = torch.randn(5, 4, 3, 3, requires_grad=True)
    g = torch.randn(3, 5, 6, 6)
    adder_conv2d(x, w, 1, 1, 1, None).backward(g)
    gx, gw = x.grad.clone(), w.grad.clone()
    x.grad = w.grad = None
    monkeypatch.setattr(adder_layer, "CHUNK_ELEMS", 7)  # forces one row of patches per chunk
    adder_conv2d(x, w, 1, 1, 1, None).backward(g)
    torch.testing.assert_close(x.grad, gx)
    torch.testing.assert_close(w.grad, gw)


def test_module_init_and_quantized_weight_grid():
    m = AdderConv2d(4, 6, 3, padding=1)
    assert m.weight.shape == (6, 4, 3, 3)
    s = torch.tensor(0.05)
    q = m.quantized_weight(s) / s
    assert (q - torch.round(q)).abs().max() < 1e-9  # on the int8 grid of the input scale
    assert q.min() >= -128 and q.max() <= 127
