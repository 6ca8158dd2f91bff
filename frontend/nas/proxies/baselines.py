"""Baseline proxies, each op-agnostic (op layers found through the graph, never by nn.Conv2d type checks).

- ``params`` / ``macs``: parameters and multiply-like operations (conv MACs, shifts, |x-w| ops, FC), from the graph.
- ``naswot`` (Mellor et al., "Neural Architecture Search without Training", ICML 2021): binary ReLU codes c_i of a
  batch at initialisation, K = C C^T + (1-C)(1-C)^T (Hamming-similarity kernel), score = log|det K|.
- ``synflow`` (Tanaka et al., "Pruning neural networks without any data by iteratively conserving synaptic flow",
  NeurIPS 2020; as a NAS proxy: Abdelfattah et al., ICLR 2021): weights replaced by |w| (for shift layers the sign
  of the power-of-two weight is dropped), BN made the identity, all-ones input in float64, R = sum(logits),
  score = sum over effective weights of |w * dR/dw| (the per-parameter saliency of the zero-cost-proxies code); we
  report log(score), summed in the log domain per layer. Adders: an adder outputs -sum|x - w| <= 0, so after the
  linearisation the following ReLU would zero it and nothing would flow through an adder block without a residual
  bypass (the score was exactly 0 on every such network). The linearised pass therefore uses the adder's magnitude
  +sum|x - w| >= 0, the positive flow that SynFlow's |w| substitution gives a conv layer (in a trained network the
  BatchNorm after every adder re-centres its output for the same reason).
- ``meco`` (Jiang et al., "MeCo: Zero-Shot NAS with One Data and Single Forward Pass via Minimum Eigenvalue of
  Correlation", NeurIPS 2023): one N(0, I) sample, for each op layer the Pearson correlation matrix of its channels
  (C x HW feature map), score = sum of the minimum eigenvalues (NaN correlations set to 0).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from nash.frontend.nas.proxies.common import (
    bn_layers,
    effective_weights,
    float_forward,
    gaussian_input,
    logits_name,
    op_units,
)
from nash.frontend.nas.search_space import arch_stats


def params_score(arch: dict) -> float:
    return float(arch_stats(arch)["params"])


def macs_score(arch: dict) -> float:
    return float(arch_stats(arch)["macs"])


@torch.no_grad()
def naswot(net, arch: dict, data: torch.Tensor | None = None, seed: int = 0, batch: int = 64) -> float:
    """log|det K| of the ReLU-code kernel; ``data`` is a batch of real images (Gaussian input when None)."""
    if data is None:
        data = gaussian_input(arch, batch, torch.Generator().manual_seed(seed))
    net.train()
    t = float_forward(net, data)
    codes = [(t[n.name] > 0).flatten(1) for n, _ in op_units(net) if n.relu]
    c = torch.cat(codes, dim=1).to(torch.float64)
    k = c @ c.T + (1 - c) @ (1 - c).T
    sign, logdet = torch.linalg.slogdet(k)
    return float(logdet) if float(sign) > 0 else -math.inf


def synflow(net, arch: dict) -> float:
    """log SynFlow on the linearised network (see module docstring); -inf only when no signal flows at all."""
    net.double()
    net.eval()
    with torch.no_grad():
        for bn in bn_layers(net):
            bn.reset_running_stats()
            bn.reset_parameters()
        for n in net.nodes:
            if n.kind == "fc":
                net.units[n.name].weight.abs_()
                net.units[n.name].bias.zero_()
    with effective_weights(net) as items:
        with torch.no_grad():
            for _, _, w in items:
                w.abs_()
        for p in net.parameters():
            p.grad = None
        for _, _, w in items:
            w.grad = None
        x = torch.ones(1, arch["input_channels"], arch["input_size"], arch["input_size"], dtype=torch.float64)
        out = float_forward(net, x, negate_adders=True)[logits_name(net)]
        out.sum().backward()
        fc = [net.units[n.name].weight for n in net.nodes if n.kind == "fc"]
        logs = [_log_saliency(w) for w in [w for _, _, w in items] + fc]
    net.float()
    return _logsumexp(logs)


def _log_saliency(w: torch.Tensor) -> float:
    """log sum |w * dR/dw| of one weight tensor (-inf without a gradient or when it is 0, +inf on overflow)."""
    if w.grad is None:
        return -math.inf
    s = float((w.detach() * w.grad).abs().sum())
    if not math.isfinite(s):
        return math.inf
    return math.log(s) if s > 0 else -math.inf


def _logsumexp(logs: list[float]) -> float:
    """log sum exp of per-layer logs without overflow; -inf for an empty or all -inf list."""
    top = max(logs, default=-math.inf)
    if not math.isfinite(top):
        return top
    return top + math.log(sum(math.exp(v - top) for v in logs))


@torch.no_grad()
def meco(net, arch: dict, seed: int = 0) -> float:
    """Sum over op layers of the minimum eigenvalue of the channel correlation matrix (one Gaussian sample)."""
    x = gaussian_input(arch, 1, torch.Generator().manual_seed(seed))
    net.train()
    t = float_forward(net, x, keep_pre_bn=True)
    total = 0.0
    for n, _ in op_units(net):
        f = t[f"{n.name}:z"][0].reshape(n.out_ch, -1).to(torch.float64)
        if f.shape[1] < 2:
            continue
        corr = torch.corrcoef(f)
        corr = torch.nan_to_num(corr, nan=0.0, posinf=0.0, neginf=0.0)
        total += float(torch.linalg.eigvalsh(corr)[0])
    return total


def images(data) -> torch.Tensor | None:
    """The image tensor of a proxy batch (``{"x": ..., "y": ...}`` or a bare array), or None."""
    if data is None:
        return None
    x = data.get("x") if isinstance(data, dict) else data
    return None if x is None else torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
