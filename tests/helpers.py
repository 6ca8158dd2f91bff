"""Shared test helpers: small architectures and a network with non-trivial trained-like state."""

from __future__ import annotations

import copy

import torch
from nash.frontend.graph import lower
from nash.frontend.hybrid_net import HybridNet

ALL_OPS_ARCH = {
    "input_channels": 3, "input_size": 11, "num_classes": 7,
    "stem": {"op": "conv", "width": 6, "kernel": 3, "stride": 1},
    "stages": [
        {"width": 6, "stride": 1, "blocks": [{"op": "shift", "kernel": 5, "expand": 1}]},
        {"width": 10, "stride": 2, "blocks": [{"op": "adder", "kernel": 3, "expand": 3},
                                              {"op": "adder", "kernel": 5, "expand": 2}]},
        {"width": 14, "stride": 2, "blocks": [{"op": "conv", "kernel": 5, "expand": 3},
                                              {"op": "shift", "kernel": 3, "expand": 2}]},
    ],
    "head": {"width": 22},
}


def arch_with(op_stem="conv", **over):
    a = copy.deepcopy(ALL_OPS_ARCH)
    a["stem"]["op"] = op_stem
    a.update(over)
    return a


def randomized_net(arch: dict, seed: int = 0, shift_mode: str = "ps", exp_max: int = 7) -> HybridNet:
    """A network whose BN statistics, activation ranges and weights are all non-trivial (a few QAT steps)."""
    torch.manual_seed(seed)
    net = HybridNet(lower(arch), shift_mode=shift_mode, exp_max=exp_max)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.uniform_(-1.5, 1.5)  # negative gammas too: negative requant multipliers
                m.bias.uniform_(-0.5, 0.5)
    x = torch.rand(16, arch["input_channels"], arch["input_size"], arch["input_size"]) * 2 - 0.5
    net.train()
    for _ in range(2):
        net(x, "observe")
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    for _ in range(2):
        loss = net(x, "qat").square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    return net
