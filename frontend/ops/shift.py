"""DeepShift layer: weights are sign * 2**-e with sign in {-1, 0, +1} and e in [0, E] (E = ``exp_max``).

Two parameterisations from DeepShift (Elhoushi et al., 2021):
- ``ps``: learn the exponent P (init U[-E, 0]) and sign S (init U(-1, 1)); forward rounds both with a straight-through
  estimator (round_half_up, P clamped to [-E, 0], S clamped to [-1, 1], so the sign can be 0).
- ``q``: keep a real weight w and use sign(w) * 2**round(log2|w|) with the exponent clamped to [-E, 0], STE on w.

The integer form is exact: x * sign * 2**-e = sign * (x << (E - e)) * 2**-E; the 2**-E goes into the output scale.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from nash.frontend.core.op_registry import SHIFT_MODES
from nash.frontend.core.quant_params import DEFAULT_SHIFT_EXP_MAX
from nash.frontend.ops.fake_quant import round_half_up, ste_round
from torch import nn


def pow2_round(w: torch.Tensor, exp_max: int) -> tuple[torch.Tensor, torch.Tensor]:
    """DeepShift-Q rounding of a real weight: (sign, e) with w ~= sign * 2**-e, e in [0, exp_max]."""
    sign = torch.sign(w)
    e = -round_half_up(torch.log2(w.abs().clamp(min=2.0 ** (-exp_max - 2))))
    return sign, torch.clamp(e, 0, exp_max)


class ShiftConv2d(nn.Module):
    """Shift layer (standard, depthwise via ``groups``, pointwise with k=1). Followed by BatchNorm in blocks."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, padding: int = 0, groups: int = 1,
                 mode: str = "ps", exp_max: int = DEFAULT_SHIFT_EXP_MAX):
        super().__init__()
        if mode not in SHIFT_MODES:
            raise ValueError(f"shift mode must be one of {SHIFT_MODES}, got {mode!r}")
        if in_ch % groups or out_ch % groups:
            raise ValueError(f"channels ({in_ch}, {out_ch}) must be divisible by groups={groups}")
        self.stride, self.padding, self.groups = stride, padding, groups
        self.mode, self.exp_max = mode, exp_max
        shape = (out_ch, in_ch // groups, kernel, kernel)
        if mode == "ps":
            # Kaiming-like magnitude: centre the exponent draw on log2 of 1/sqrt(fan_in).
            self.P = nn.Parameter(torch.empty(shape).uniform_(-exp_max, 0.0))
            self.S = nn.Parameter(torch.empty(shape).uniform_(-1.0, 1.0))
        else:
            fan_in = shape[1] * kernel * kernel
            self.weight = nn.Parameter(torch.randn(shape) * math.sqrt(2.0 / fan_in))

    def sign_exponent(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Rounded (sign, e) as float tensors (no gradient)."""
        with torch.no_grad():
            if self.mode == "ps":
                return round_half_up(self.S.clamp(-1, 1)), -round_half_up(self.P.clamp(-self.exp_max, 0))
            return pow2_round(self.weight, self.exp_max)

    def shift_weight(self) -> torch.Tensor:
        """The power-of-two weight used in the forward pass, with straight-through gradients."""
        if self.mode == "ps":
            p = ste_round(self.P.clamp(-self.exp_max, 0))
            s = ste_round(self.S.clamp(-1, 1))
            return s * torch.pow(2.0, p)
        sign, e = pow2_round(self.weight, self.exp_max)
        wq = sign * torch.pow(2.0, -e)
        return self.weight + (wq - self.weight).detach()

    def forward(self, x: torch.Tensor, in_scale: torch.Tensor | None = None) -> torch.Tensor:
        # Shift weights are already exact powers of two: quantized and float modes share the forward.
        return F.conv2d(x, self.shift_weight(), None, self.stride, self.padding, 1, self.groups)
