"""Zen-Score (Lin et al., "Zen-NAS: A Zero-Shot NAS for High-Performance Image Recognition", ICCV 2021), computed on
every op type.

All op weights are re-drawn from N(0, 1) (adder weights too; shift weights as power-of-two roundings of N(0, 1)
draws), BN gamma = 1 / beta = 0 in train mode (batch statistics). With x, eps ~ N(0, I) of shape [B, C, R, R]:

    Delta = mean_batch sum |f(x) - f(x + 0.01 eps)|   on the pre-GAP feature map f
    Zen   = log(Delta) + sum over BN layers of log(sqrt(mean_c sigma_c^2))

sigma_c^2 is the batch variance of channel c on the clean input (the BN running variance with momentum 1 after the
clean forward pass, which is what Zen-NAS's running_var holds up to its EMA). Averaged over ``repeats`` draws.
"""

from __future__ import annotations

import math

import torch
from nash.frontend.nas.proxies.common import bn_layers, float_forward, gaussian_init, gaussian_input, pre_gap_name


@torch.no_grad()
def zen_terms(net, arch: dict, seed: int = 0, batch: int = 16, repeats: int = 1, mixup: float = 0.01,
              input_seed: int | None = None) -> dict:
    """{'zen': ..., 'log_delta': ..., 'log_bn': ...} averaged over ``repeats``; ``seed`` draws the weights,
    ``input_seed`` (default ``seed``) the inputs x and eps."""
    gen = torch.Generator().manual_seed(seed if input_seed is None else input_seed)
    torch.manual_seed(seed)
    name = pre_gap_name(net)
    zs, ds, bs = [], [], []
    for _ in range(repeats):
        gaussian_init(net)
        net.train()
        for bn in bn_layers(net):
            bn.momentum = 1.0
        x = gaussian_input(arch, batch, gen)
        eps = gaussian_input(arch, batch, gen)
        f_mix = float_forward(net, x + mixup * eps)[name]
        f = float_forward(net, x)[name]  # last: BN running_var holds the clean batch variance
        delta = float((f - f_mix).abs().sum(dim=(1, 2, 3)).mean())
        log_bn = 0.0
        for bn in bn_layers(net):
            log_bn += 0.5 * math.log(max(float(bn.running_var.mean()), 1e-300))
        log_delta = math.log(delta) if delta > 0 else -math.inf
        zs.append(log_delta + log_bn)
        ds.append(log_delta)
        bs.append(log_bn)
    return {"zen": sum(zs) / repeats, "log_delta": sum(ds) / repeats, "log_bn": sum(bs) / repeats}
