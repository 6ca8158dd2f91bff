"""Op-agnostic adapters shared by the proxies.

Every proxy reaches the op layers through the lowered graph (``net.nodes`` with ``kind == "conv"``) and the
``HybridUnit`` of each node (``.layer`` = QuantConv2d / ShiftConv2d / AdderConv2d, ``.bn``, ``.act``), never by
``isinstance(m, nn.Conv2d)``, so adder and shift layers are always seen.
"""

from __future__ import annotations

import contextlib
import math

import torch
from nash.frontend.ops.adder import AdderConv2d
from nash.frontend.ops.conv import QuantConv2d
from nash.frontend.ops.fake_quant import round_half_up
from nash.frontend.ops.shift import ShiftConv2d
from torch import nn


def op_units(net) -> list[tuple]:
    """(node, HybridUnit) for every conv / shift / adder layer, in execution order."""
    return [(n, net.units[n.name]) for n in net.nodes if n.kind == "conv"]


def bn_layers(net) -> list[nn.BatchNorm2d]:
    return [u.bn for _, u in op_units(net)]


def layer_op(layer: nn.Module) -> str:
    """'conv' | 'shift' | 'adder' of an op layer (by the foundation's layer classes)."""
    if isinstance(layer, AdderConv2d):
        return "adder"
    if isinstance(layer, ShiftConv2d):
        return "shift"
    if isinstance(layer, QuantConv2d):
        return "conv"
    raise TypeError(f"not an op layer: {type(layer).__name__}")


@torch.no_grad()
def gaussian_init(net, exp_max: int | None = None) -> None:
    """Zen-NAS initialisation for all op types: weights ~ N(0, 1) (adder weights too; a shift weight is the
    power-of-two rounding of an N(0, 1) draw: sign(w) * 2**clamp(round(log2|w|), -E, 0)), BN gamma 1 / beta 0 with
    fresh statistics, FC weights N(0, 1) and bias 0."""
    for _, u in op_units(net):
        layer = u.layer
        op = layer_op(layer)
        if op in ("conv", "adder"):
            layer.weight.normal_(0.0, 1.0)
        elif layer.mode == "ps":
            w = torch.randn_like(layer.S)
            e = exp_max if exp_max is not None else layer.exp_max
            layer.S.copy_(torch.sign(w))
            layer.P.copy_(torch.clamp(round_half_up(torch.log2(w.abs().clamp(min=1e-30))), -e, 0))
        else:
            layer.weight.normal_(0.0, 1.0)
        u.bn.reset_parameters()
        u.bn.reset_running_stats()
    for n in net.nodes:
        if n.kind == "fc":
            net.units[n.name].weight.normal_(0.0, 1.0)
            net.units[n.name].bias.zero_()


def float_forward(net, x: torch.Tensor, keep_pre_bn: bool = False,
                  negate_adders: bool = False) -> dict[str, torch.Tensor]:
    """Float forward pass returning every node's output (and ``<name>:z``, the op layer output before BN, when
    ``keep_pre_bn``). Same computation as ``HybridNet.forward(x, "float")``; ``negate_adders`` makes every adder
    layer output ``+sum|x - w|`` instead of ``-sum|x - w|`` (SynFlow's positive linearised flow)."""
    t = {"input": x}
    for n in net.nodes:
        src = t[n.inputs[0]]
        if n.kind == "conv":
            u = net.units[n.name]
            z = u.layer(src, None)
            if negate_adders and isinstance(u.layer, AdderConv2d):
                z = -z
            if keep_pre_bn:
                t[f"{n.name}:z"] = z
            t[n.name] = u.act(u.bn(z), "float")
        elif n.kind == "add":
            t[n.name] = src + t[n.inputs[1]]
        elif n.kind == "gap":
            t[n.name] = src.mean(dim=(2, 3))
        elif n.kind == "fc":
            t[n.name] = net.units[n.name](src)
    return t


def pre_gap_name(net) -> str:
    """Name of the node that feeds global average pooling (the pre-GAP feature map)."""
    return next(n.inputs[0] for n in net.nodes if n.kind == "gap")


def logits_name(net) -> str:
    return net.nodes[-1].name


@contextlib.contextmanager
def effective_weights(net):
    """Yield [(node, unit, w)] where ``w`` is a leaf tensor (requires grad) that the forward pass uses as the layer's
    effective weight: the conv / adder weight itself, and for shift layers the power-of-two weight (``shift_weight``
    is patched to return a leaf copy for the duration)."""
    items, patched = [], []
    for n, u in op_units(net):
        layer = u.layer
        if layer_op(layer) == "shift":
            w = layer.shift_weight().detach().clone().requires_grad_(True)
            layer.shift_weight = (lambda w=w: w)  # instance attribute shadows the method
            patched.append(layer)
        else:
            w = layer.weight
        items.append((n, u, w))
    try:
        yield items
    finally:
        for layer in patched:
            del layer.shift_weight


def gaussian_input(arch: dict, batch: int, gen: torch.Generator, dtype=torch.float32) -> torch.Tensor:
    c, r = arch["input_channels"], arch["input_size"]
    return torch.randn(batch, c, r, r, generator=gen, dtype=dtype)


def safe_log(v: float) -> float:
    return math.log(v) if v > 0 and math.isfinite(v) else (-math.inf if v <= 0 else math.inf)
