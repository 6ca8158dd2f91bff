"""Torch model of a lowered architecture graph: float, observe (calibration), QAT and exact-integer modes.

- ``forward(x, "float")``: plain float network (ReLU, BN), no quantization.
- ``forward(x, "observe")``: float, and activation quantizers record their ranges.
- ``forward(x, "qat")`` in train mode: fake-quantized weights and activations with straight-through gradients.
- ``forward(x, "qat")`` in eval mode: BatchNorm folded into the integer requantization and every layer evaluated exactly
  by the integer rules (float64 accumulators holding integers, int64 requant); returns dequantized logits whose integer
  codes equal the numpy integer reference bit for bit.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from nash.frontend.core.graph import Node
from nash.frontend.core.quant_params import ACT_MAX, ACT_MIN, CONV_W_MAX, DEFAULT_SHIFT_EXP_MAX
from nash.frontend.models.convert import fc_weight_scale, integer_model
from nash.frontend.ops.adder import AdderConv2d, adder_conv2d
from nash.frontend.ops.conv import QuantConv2d
from nash.frontend.ops.fake_quant import ActQuant, fake_quant, requantize_exact, round_half_up, to_exact_int64
from nash.frontend.ops.shift import ShiftConv2d
from torch import nn

MODES = ("float", "observe", "qat")


def make_op_layer(node: Node, shift_mode: str, exp_max: int, eta: float | None) -> nn.Module:
    args = (node.in_ch, node.out_ch, node.kernel, node.stride, node.padding, node.groups)
    if node.op == "conv":
        return QuantConv2d(*args)
    if node.op == "shift":
        return ShiftConv2d(*args, mode=shift_mode, exp_max=exp_max)
    if node.op == "adder":
        return AdderConv2d(*args, eta=eta)
    raise ValueError(f"node {node.name}: unknown op {node.op!r}")


class HybridUnit(nn.Module):
    """op layer (conv / shift / adder) + BatchNorm + optional ReLU + int8 output quantizer."""

    def __init__(self, node: Node, shift_mode: str, exp_max: int, eta: float | None):
        super().__init__()
        self.layer = make_op_layer(node, shift_mode, exp_max, eta)
        self.bn = nn.BatchNorm2d(node.out_ch)
        self.act = ActQuant(relu=node.relu)

    def forward(self, x: torch.Tensor, in_scale: torch.Tensor | None, mode: str) -> torch.Tensor:
        return self.act(self.bn(self.layer(x, in_scale if mode == "qat" else None)), mode)


class HybridNet(nn.Module):
    """Hybrid conv/shift/adder network built from :func:`nash.frontend.core.graph.lower` output."""

    def __init__(self, nodes: list[Node], shift_mode: str = "ps", exp_max: int = DEFAULT_SHIFT_EXP_MAX,
                 eta: float | None = 0.2):
        super().__init__()
        self.nodes = list(nodes)
        self.exp_max = exp_max
        self.input_quant = ActQuant(relu=False)
        self.units = nn.ModuleDict()
        for n in self.nodes:
            if n.kind == "conv":
                self.units[n.name] = HybridUnit(n, shift_mode, exp_max, eta)
            elif n.kind == "add":
                self.units[n.name] = ActQuant(relu=False)
            elif n.kind == "fc":
                self.units[n.name] = nn.Linear(n.in_ch, n.out_ch)

    def forward(self, x: torch.Tensor, mode: str = "float") -> torch.Tensor:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if mode == "qat" and not self.training:
            return self.forward_exact(x)
        qat = mode == "qat"
        t = {"input": self.input_quant(x, mode)}
        scale = {"input": self.input_quant.scale}
        for n in self.nodes:
            src = t[n.inputs[0]]
            if n.kind == "conv":
                t[n.name] = self.units[n.name](src, scale[n.inputs[0]], mode)
                scale[n.name] = self.units[n.name].act.scale
            elif n.kind == "add":
                t[n.name] = self.units[n.name](src + t[n.inputs[1]], mode)
                scale[n.name] = self.units[n.name].scale
            elif n.kind == "gap":
                y = src.mean(dim=(2, 3))
                scale[n.name] = scale[n.inputs[0]]
                t[n.name] = fake_quant(y, scale[n.name], ACT_MIN, ACT_MAX) if qat else y
            elif n.kind == "fc":
                fc = self.units[n.name]
                if qat:
                    s_w = fc_weight_scale(fc.weight)
                    w = fake_quant(fc.weight, s_w, -CONV_W_MAX, CONV_W_MAX)
                    s_acc = scale[n.inputs[0]] * s_w
                    b = round_half_up(fc.bias / s_acc).detach() * s_acc + (fc.bias - fc.bias.detach())
                    t[n.name] = F.linear(src, w, b)
                else:
                    t[n.name] = fc(src)
        return t[self.nodes[-1].name]

    # ---- exact integer evaluation -------------------------------------------------------------------------------
    def quantize_input(self, x: torch.Tensor) -> torch.Tensor:
        """Float images -> int8 codes with the input quantizer's scale (rule of quant_params.quantize_activation)."""
        s = torch.tensor(float(self.input_quant.scale), dtype=torch.float64)
        return torch.clamp(round_half_up(x.to(torch.float32).to(torch.float64) / s), ACT_MIN, ACT_MAX).to(torch.int8)

    @torch.no_grad()
    def forward_exact(self, x: torch.Tensor) -> torch.Tensor:
        """Dequantized logits of the integer network on float input (the fake-quant model in eval mode)."""
        im = integer_model(self)
        logits = self.forward_integer(self.quantize_input(x), im.params)
        return logits.to(torch.float32) * im.logit_scale

    @torch.no_grad()
    def forward_integer(self, q: torch.Tensor, params: dict, keep: bool = False):
        """Run the integer network in torch (float64 accumulators, int64 requant) on int8 input codes."""
        t = {"input": q.to(torch.int64)}
        for n in self.nodes:
            p = {k: torch.as_tensor(np.asarray(v)) for k, v in params[n.name].items()}
            x = t[n.inputs[0]]
            if n.kind == "conv":
                t[n.name] = requantize_exact(_exact_layer_acc(n, x, p), p["mult"], p["bias"], p["shift"], n.relu)
            elif n.kind == "add":
                acc = x * int(p["mult_a"]) + t[n.inputs[1]] * int(p["mult_b"])
                s = int(p["shift"])
                t[n.name] = torch.clamp((acc + (1 << (s - 1))) >> s, ACT_MIN, ACT_MAX)
            elif n.kind == "gap":
                s = int(p["shift"])
                acc = x.sum(dim=(2, 3)) * int(p["mult"])
                t[n.name] = torch.clamp((acc + (1 << (s - 1))) >> s, ACT_MIN, ACT_MAX)
            elif n.kind == "fc":
                acc = x.to(torch.float64) @ p["weight"].to(torch.float64).T
                t[n.name] = to_exact_int64(acc) + p["bias"].to(torch.int64)
        return t if keep else t[self.nodes[-1].name]


def _exact_layer_acc(n: Node, x: torch.Tensor, p: dict) -> torch.Tensor:
    xd = x.to(torch.float64)
    if n.op == "adder":
        acc = adder_conv2d(xd, p["weight"].to(torch.float64), n.stride, n.padding, n.groups, eta=None)
    else:
        if n.op == "shift":
            w = p["sign"].to(torch.float64) * torch.pow(2.0, (int(p["exp_max"]) - p["exp"]).to(torch.float64))
        else:
            w = p["weight"].to(torch.float64)
        acc = F.conv2d(xd, w, None, n.stride, n.padding, 1, n.groups)
    return to_exact_int64(acc)
