"""Conversion of a trained float / QAT :class:`HybridNet` into the integer model (BatchNorm folded into requant).

Per conv-kind node with input scale s_in and output scale s_out (both from the activation quantizers):

- conv:  w_int = clamp(round(w / s_w[m]), -127, 127), s_acc[m] = s_in * s_w[m]
- shift: (sign, e) from the DeepShift rounding, integer weight sign * 2**(E - e), s_acc = s_in * 2**-E
- adder: w_int = clamp(round(w / s_in), -128, 127) (weights in the input's scale), s_acc = s_in, acc = -sum|x - w|

BatchNorm (running statistics) y = g * (v - mu) / sqrt(var + eps) + beta with v = s_acc * acc folds into
q = round(acc * r + b): r = s_acc * g / (sigma * s_out), b = (beta - g * mu / sigma) / s_out, realised as
(M, S) = choose_multiplier(r) and B = round(b * 2**S).

The network is read by its structure (``nodes``, ``input_quant``, ``units``), not through the :class:`HybridNet`
class: ``hybrid_net`` imports this module for its exact evaluation mode, so this module does not import it back.
"""

from __future__ import annotations

import numpy as np
import torch
from nash.frontend.core.graph import Node
from nash.frontend.core.quant_params import ADDER_W_MAX, ADDER_W_MIN, CONV_W_MAX, choose_multiplier, quantize_bias
from nash.frontend.core.quant_params import round_half_up as np_round_half_up
from nash.frontend.integer.model import IntegerModel
from nash.frontend.ops.conv import per_channel_weight_scale
from nash.frontend.ops.fake_quant import round_half_up
from torch import nn


def fc_weight_scale(w: torch.Tensor) -> torch.Tensor:
    """Per-tensor symmetric scale of the classifier (per-tensor so that argmax over integer logits is exact)."""
    amax = w.detach().abs().max()
    return torch.where(amax > 0, amax / CONV_W_MAX, torch.ones_like(amax))


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().to(torch.float64).numpy()


def fold_unit(node: Node, unit: nn.Module, s_in: float, s_out: float) -> dict[str, np.ndarray]:
    """Integer weights and requant parameters of one conv-kind node (``unit``: its ``hybrid_net.HybridUnit``)."""
    layer = unit.layer
    p: dict[str, np.ndarray] = {}
    with torch.no_grad():
        w = layer.weight if node.op != "shift" or layer.mode == "q" else None
        if node.op == "conv":
            s_w = per_channel_weight_scale(w)
            q = torch.clamp(round_half_up(w / s_w.view(-1, 1, 1, 1)), -CONV_W_MAX, CONV_W_MAX)
            p["weight"] = q.to(torch.int8).numpy()
            s_acc = s_in * _np(s_w)
        elif node.op == "shift":
            sign, e = layer.sign_exponent()
            p["sign"] = sign.to(torch.int8).numpy()
            p["exp"] = e.to(torch.int8).numpy()
            p["exp_max"] = np.array(layer.exp_max, dtype=np.int64)
            s_acc = np.full(node.out_ch, s_in * 2.0 ** -layer.exp_max)
        else:
            q = torch.clamp(round_half_up(w / torch.tensor(s_in, dtype=w.dtype)), ADDER_W_MIN, ADDER_W_MAX)
            p["weight"] = q.to(torch.int8).numpy()
            s_acc = np.full(node.out_ch, s_in)
    bn = unit.bn
    sigma = np.sqrt(_np(bn.running_var) + bn.eps)
    g, beta, mu = _np(bn.weight), _np(bn.bias), _np(bn.running_mean)
    r = s_acc * g / (sigma * s_out)
    b = (beta - g * mu / sigma) / s_out
    mult, shift = choose_multiplier(r)
    p["mult"], p["shift"], p["bias"] = mult, shift, quantize_bias(b, shift)
    return p


def residual_params(s_a: float, s_b: float, s_out: float) -> dict[str, np.ndarray]:
    """Common right shift S and multipliers Ma, Mb with Ma/2**S ~= s_a/s_out, Mb/2**S ~= s_b/s_out."""
    ra, rb = s_a / s_out, s_b / s_out
    _, shift = choose_multiplier(np.array([max(ra, rb)]))
    s = int(shift[0])
    ma, mb = (int(np_round_half_up(r * 2.0**s)) for r in (ra, rb))
    return {"mult_a": np.array(ma), "mult_b": np.array(mb), "shift": np.array(s)}


def gap_params(hw: int) -> dict[str, np.ndarray]:
    """Average pooling keeps the input scale: M / 2**S ~= 1 / (H*W)."""
    mult, shift = choose_multiplier(np.array([1.0 / hw]))
    return {"mult": mult[0:1].reshape(()), "shift": shift[0:1].reshape(())}


@torch.no_grad()
def integer_model(net: nn.Module) -> IntegerModel:
    """Fold a trained :class:`~nash.frontend.models.hybrid_net.HybridNet` (use after calibration or QAT; BN running
    statistics are used)."""
    scales = {"input": float(net.input_quant.scale)}
    params: dict[str, dict[str, np.ndarray]] = {}
    logit_scale = 1.0
    for n in net.nodes:
        s_in = scales[n.inputs[0]]
        if n.kind == "conv":
            unit = net.units[n.name]
            scales[n.name] = float(unit.act.scale)
            params[n.name] = fold_unit(n, unit, s_in, scales[n.name])
        elif n.kind == "add":
            scales[n.name] = float(net.units[n.name].scale)
            params[n.name] = residual_params(s_in, scales[n.inputs[1]], scales[n.name])
        elif n.kind == "gap":
            scales[n.name] = s_in
            params[n.name] = gap_params(n.in_size**2)
        elif n.kind == "fc":
            fc = net.units[n.name]
            s_w = fc_weight_scale(fc.weight)
            w = torch.clamp(round_half_up(fc.weight / s_w), -CONV_W_MAX, CONV_W_MAX)
            logit_scale = s_in * float(s_w)
            bias = np_round_half_up(_np(fc.bias) / logit_scale).astype(np.int64)
            params[n.name] = {"weight": w.to(torch.int8).numpy(), "bias": bias}
    return IntegerModel(net.nodes, params, scales["input"], logit_scale)
