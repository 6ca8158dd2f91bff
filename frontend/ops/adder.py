"""AdderNet layer: y = -sum |x - w| with the AdderNet gradient rules, fast and memory-bounded on CPU.

Forward uses ``torch.cdist(p=1)`` on unfolded patches (no [P, M, K] broadcast). Backward follows AdderNet (Chen et
al., CVPR 2020): dY/dW = X - W (full precision), dY/dX = HardTanh(W - X), and adaptive gradient scaling of the weight
gradient g <- eta * sqrt(numel(W)) * g / ||g||_2. The weight gradient reduces to two matmuls; only the input gradient
needs the broadcast, which is processed in chunks of bounded size. Depthwise layers (one filter per channel) skip the
unfold: k*k passes over the padded input, each touching one [N, C, OH, OW] slice.
"""

from __future__ import annotations

import math
import os

import torch
import torch.nn.functional as F
from nash.frontend.core.op_registry import ADDER
from nash.frontend.ops.fake_quant import fake_quant
from torch import nn

_W = ADDER.fields[0]  # int8 weight in the input's scale, full range [-128, 127]

# Elements of the [G, P, M, K] broadcast materialised at once in the input-gradient pass (a memory knob: several
# float tensors of this many elements exist at once; small chunks stay in cache and measured fastest too).
CHUNK_ELEMS = int(os.environ.get("NASH_ADDER_CHUNK_ELEMS", 1 << 17))


class AdderFunction(torch.autograd.Function):
    """Grouped adder core on patch matrices: cols [G, P, K], weight [G, M, K] -> [G, P, M]."""

    @staticmethod
    def forward(ctx, cols: torch.Tensor, weight: torch.Tensor, eta: float | None):
        ctx.save_for_backward(cols, weight)
        ctx.eta = eta
        return -torch.cdist(cols, weight, p=1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        cols, weight = ctx.saved_tensors
        grad_cols = grad_w = None
        if ctx.needs_input_grad[1]:
            # sum_p g[p,m] * (x[p,k] - w[m,k]) = (g^T x)[m,k] - w[m,k] * sum_p g[p,m]
            grad_w = torch.bmm(grad.transpose(1, 2), cols) - weight * grad.sum(dim=1).unsqueeze(-1)
            grad_w = _scale_weight_grad(grad_w, ctx.eta)
        if ctx.needs_input_grad[0]:
            g_, p_, k_ = cols.shape
            m_ = weight.shape[1]
            step = max(1, CHUNK_ELEMS // max(1, g_ * m_ * k_))
            grad_cols = torch.empty_like(cols)
            for p0 in range(0, p_, step):
                x = cols[:, p0:p0 + step]  # [G, p, K]
                t = torch.clamp(weight.unsqueeze(1) - x.unsqueeze(2), -1.0, 1.0)  # [G, p, M, K]
                # [G, p, 1, M] @ [G, p, M, K]: a batched matmul, no [G, p, M, K] product tensor
                grad_cols[:, p0:p0 + step] = torch.matmul(grad[:, p0:p0 + step].unsqueeze(2), t).squeeze(2)
        return grad_cols, grad_w, None


def _scale_weight_grad(grad_w: torch.Tensor, eta: float | None) -> torch.Tensor:
    """AdderNet adaptive gradient scaling: eta * sqrt(numel) * g / ||g||_2."""
    if eta is None:
        return grad_w
    return grad_w * (eta * math.sqrt(grad_w.numel()) / grad_w.norm(p=2).clamp(min=1e-12))


class DepthwiseAdderFunction(torch.autograd.Function):
    """Depthwise adder on the padded input: x [N, C, Hp, Wp], weight [C, 1, k, k] -> [N, C, OH, OW]."""

    @staticmethod
    def _window(xp: torch.Tensor, i: int, j: int, stride: int, oh: int, ow: int) -> torch.Tensor:
        return xp[:, :, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride]

    @staticmethod
    def forward(ctx, xp: torch.Tensor, weight: torch.Tensor, stride: int, oh: int, ow: int, eta: float | None):
        ctx.save_for_backward(xp, weight)
        ctx.stride, ctx.oh, ctx.ow, ctx.eta = stride, oh, ow, eta
        k = weight.shape[-1]
        out = xp.new_zeros(xp.shape[0], xp.shape[1], oh, ow)
        for i in range(k):
            for j in range(k):
                win = DepthwiseAdderFunction._window(xp, i, j, stride, oh, ow)
                out -= (win - weight[:, 0, i, j].view(1, -1, 1, 1)).abs()
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        xp, weight = ctx.saved_tensors
        s, oh, ow = ctx.stride, ctx.oh, ctx.ow
        k = weight.shape[-1]
        grad_x = torch.zeros_like(xp) if ctx.needs_input_grad[0] else None
        grad_w = torch.zeros_like(weight) if ctx.needs_input_grad[1] else None
        for i in range(k):
            for j in range(k):
                d = DepthwiseAdderFunction._window(xp, i, j, s, oh, ow) - weight[:, 0, i, j].view(1, -1, 1, 1)
                if grad_w is not None:  # dY/dW = X - W
                    grad_w[:, 0, i, j] = (d * grad).sum(dim=(0, 2, 3))
                if grad_x is not None:  # dY/dX = HardTanh(W - X)
                    DepthwiseAdderFunction._window(grad_x, i, j, s, oh, ow).add_(torch.clamp(-d, -1.0, 1.0) * grad)
        if grad_w is not None:
            grad_w = _scale_weight_grad(grad_w, ctx.eta)
        return grad_x, grad_w, None, None, None, None


def adder_conv2d(x: torch.Tensor, weight: torch.Tensor, stride: int, padding: int, groups: int,
                 eta: float | None = 0.2) -> torch.Tensor:
    """-sum |x - w| over each window; zero padding contributes -|w|. Shapes as F.conv2d."""
    n, c, h, w_ = x.shape
    m, cg, k, _ = weight.shape
    oh = (h + 2 * padding - k) // stride + 1
    ow = (w_ + 2 * padding - k) // stride + 1
    if groups == c == m:
        return DepthwiseAdderFunction.apply(F.pad(x, (padding,) * 4), weight, stride, oh, ow, eta)
    cols = F.unfold(x, k, padding=padding, stride=stride)  # [N, C*k*k, L], window order (c, i, j)
    kk = cg * k * k
    cols = cols.view(n, groups, kk, oh * ow).permute(1, 0, 3, 2).reshape(groups, n * oh * ow, kk)
    wg = weight.reshape(groups, m // groups, kk)
    out = AdderFunction.apply(cols, wg, eta)  # [G, N*L, M/G]
    return out.view(groups, n, oh, ow, m // groups).permute(1, 0, 4, 2, 3).reshape(n, m, oh, ow)


class AdderConv2d(nn.Module):
    """Adder layer (standard, depthwise via ``groups``, pointwise with k=1). Always follow it with BatchNorm."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, padding: int = 0, groups: int = 1,
                 eta: float | None = 0.2):
        super().__init__()
        if in_ch % groups or out_ch % groups:
            raise ValueError(f"channels ({in_ch}, {out_ch}) must be divisible by groups={groups}")
        self.stride, self.padding, self.groups, self.eta = stride, padding, groups, eta
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch // groups, kernel, kernel))

    def quantized_weight(self, in_scale: torch.Tensor) -> torch.Tensor:
        """int8 weight in the scale of the layer's input (fake-quantized, STE)."""
        return fake_quant(self.weight, in_scale, _W.lo, _W.hi)

    def forward(self, x: torch.Tensor, in_scale: torch.Tensor | None = None) -> torch.Tensor:
        w = self.weight if in_scale is None else self.quantized_weight(in_scale)
        return adder_conv2d(x, w, self.stride, self.padding, self.groups, self.eta)
