"""Torch fake-quantization primitives that follow the integer rules of :mod:`nash.frontend.core.quant_params`.

Training uses the straight-through estimators below; the exact evaluation path uses :func:`requantize_exact`, the torch
twin of ``quant_params.requantize`` (tests hold the two equal bit for bit).
"""

from __future__ import annotations

import torch
from nash.frontend.core.quant_params import ACT_MAX, ACT_RANGE_MIN, clamp_range
from torch import nn


def round_half_up(x: torch.Tensor) -> torch.Tensor:
    """floor(x + 0.5) evaluated exactly: the project's rounding rule (``quant_params.round_half_up``'s torch twin;
    floor(x) plus one when the exact fraction x - floor(x) is at least one half, so 0.49999999999999994 gives 0)."""
    f = torch.floor(x)
    return torch.where(x - f >= 0.5, f + 1.0, f)


def ste_round(x: torch.Tensor) -> torch.Tensor:
    """round_half_up in the forward pass, identity gradient."""
    return x + (round_half_up(x) - x).detach()


def fake_quant(x: torch.Tensor, scale: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
    """clamp(round(x / s), lo, hi) * s; gradient passes inside the clamp range (clipped STE)."""
    q = torch.clamp(ste_round(x / scale), lo, hi)
    return q * scale


def requantize_exact(acc: torch.Tensor, mult: torch.Tensor, bias: torch.Tensor, shift: torch.Tensor,
                     relu: bool) -> torch.Tensor:
    """Integer requantization on int64 tensors: clamp((acc*M + B + 2**(S-1)) >> S, lo, 127), channel axis 1."""
    view = (1, -1) + (1,) * (acc.dim() - 2)
    m, b, s = (t.to(torch.int64).reshape(view) for t in (mult, bias, shift))
    lo, hi = clamp_range(relu)
    v = acc.to(torch.int64) * m + b + (torch.ones_like(s) << (s - 1))
    return torch.clamp(v >> s, lo, hi)


def to_exact_int64(acc: torch.Tensor) -> torch.Tensor:
    """float64 accumulator holding integers -> int64, refusing values that float64 cannot hold exactly."""
    if acc.dtype != torch.float64:
        raise TypeError("exact integer evaluation needs float64 accumulators")
    if acc.numel() and acc.abs().max() >= 2.0**52:
        raise OverflowError("accumulator exceeds 2**52: float64 evaluation would not be exact")
    return torch.round(acc).to(torch.int64)


class ActQuant(nn.Module):
    """Per-tensor int8 activation quantizer with an EMA max observer (zero point 0, scale = max / 127)."""

    def __init__(self, relu: bool, momentum: float = 0.1):
        super().__init__()
        self.relu = relu
        self.momentum = momentum
        self.register_buffer("running_max", torch.zeros(()))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))

    @property
    def scale(self) -> torch.Tensor:
        return torch.clamp(self.running_max, min=ACT_RANGE_MIN) / ACT_MAX

    @torch.no_grad()
    def observe(self, x: torch.Tensor) -> None:
        m = (x.max() if self.relu else x.abs().max()).clamp(min=ACT_RANGE_MIN)
        if not bool(self.initialized):
            self.running_max.copy_(m)
            self.initialized.fill_(True)
        else:
            self.running_max.mul_(1 - self.momentum).add_(self.momentum * m)

    def forward(self, x: torch.Tensor, mode: str) -> torch.Tensor:
        """mode: 'float' (pass, ReLU applied if any), 'observe' (float + update range), 'qat' (fake-quant)."""
        if self.relu and mode != "qat":
            x = torch.relu(x)
        if mode in ("observe", "qat") and self.training:
            self.observe(x)
        if mode == "qat":
            lo, hi = clamp_range(self.relu)
            return fake_quant(x, self.scale, lo, hi)
        return x
