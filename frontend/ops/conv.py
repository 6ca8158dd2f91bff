"""Multiplication conv layer with per-output-channel symmetric int8 weight fake-quantization."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from nash.frontend.core.op_registry import CONV
from nash.frontend.ops.fake_quant import fake_quant
from torch import nn

_W = CONV.fields[0]  # int8 weight, symmetric range [-127, 127]


def per_channel_weight_scale(w: torch.Tensor) -> torch.Tensor:
    """s_w[m] = max|w[m]| / 127 (1 for an all-zero channel), shape [M]."""
    amax = w.detach().abs().reshape(w.shape[0], -1).max(dim=1).values
    return torch.where(amax > 0, amax / _W.hi, torch.ones_like(amax))


class QuantConv2d(nn.Conv2d):
    """nn.Conv2d without bias (BatchNorm follows); ``in_scale`` given means fake-quantized weights."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, padding: int = 0, groups: int = 1):
        super().__init__(in_ch, out_ch, kernel, stride, padding, groups=groups, bias=False)

    def forward(self, x: torch.Tensor, in_scale: torch.Tensor | None = None) -> torch.Tensor:
        w = self.weight
        if in_scale is not None:
            s = per_channel_weight_scale(w).view(-1, 1, 1, 1)
            w = fake_quant(w, s, _W.lo, _W.hi)
        return F.conv2d(x, w, None, self.stride, self.padding, 1, self.groups)
