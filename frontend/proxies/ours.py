"""The project's zero-shot metric for hybrid networks: NN-Degree + early trainability, combined by ranks.

Why: NASH pairs a topology term (NN-Degree, blind to the op type) with Zen-Score. On hybrids Zen's statistics come
from a Gaussian-initialised forward pass, so they reflect each operator's raw output magnitudes rather than how well
the network will learn; and the gradient-based proxies that could see learning either ignore adder / shift layers
(``isinstance(m, nn.Conv2d)``) or collapse on them (SynFlow). What separates a conv, a shift and an adder network of
the same topology in practice is their optimisation: AdderNet's full-precision gradient with adaptive scaling,
DeepShift's straight-through rounding of exponents and signs, BatchNorm after every adder.

``trainability`` measures exactly that, op-agnostically: the network in its training initialisation and training
mode (BN batch statistics, the real op layers with their own backward rules) takes ``steps`` SGD steps (the training
recipe's learning rate and momentum) on one fixed mini-batch, and the score is the relative decrease of the
cross-entropy loss, (L_0 - L_steps) / L_0: dimensionless (no raw magnitude enters), identical in meaning for every op
type, and cheap (a few forward/backward passes on one batch; no dataset pass). Without labelled data (user datasets
absent) it uses Gaussian inputs with random labels (speed of fitting a fixed batch).

``ours`` = rank_G(NN-Degree) / N + rank_G(trainability) / N, the NASH rank form with Zen replaced by the
trainability term. It was designed on a separate set of sampled architectures (seed 1) and then evaluated on the
reported benchmark (seed 0); see docs/search.md.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..search_space import build_model
from .nash_metric import rank_sum

NEEDS = ("nn_degree", "trainability")
STEPS = 3
LR = 0.05
MOMENTUM = 0.9


# Pixels per mini-batch: 64 images at 16x16 (the setting designed on digits); larger inputs use fewer images
# (32x32: 16, 64x64: 8 at least) to keep the proxy affordable in the CIFAR / Tiny-ImageNet spaces.
BATCH_PIXELS = 64 * 16 * 16
MIN_BATCH = 8


def default_batch(arch: dict) -> int:
    return max(MIN_BATCH, BATCH_PIXELS // (arch["input_size"] ** 2))


def trainability(arch: dict, data=None, seed: int = 0, steps: int = STEPS, lr: float = LR,
                 batch: int | None = None) -> float:
    """Relative loss decrease after ``steps`` SGD steps on one mini-batch (see the module docstring)."""
    x, y = _batch(arch, data, seed, batch or default_batch(arch))
    torch.manual_seed(seed)
    net = build_model(arch)  # training initialisation, adder eta as in training
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=MOMENTUM)
    losses = []
    for s in range(steps + 1):
        loss = F.cross_entropy(net(x, "float"), y)
        losses.append(float(loss.detach()))
        if s == steps:
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    l0, l1 = losses[0], losses[-1]
    if not (math.isfinite(l0) and math.isfinite(l1)) or l0 <= 0:
        return -math.inf  # diverged: the worst rank
    return (l0 - l1) / l0


def _batch(arch: dict, data, seed: int, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(data, dict) and data.get("x") is not None and data.get("y") is not None:
        x = torch.from_numpy(np.ascontiguousarray(data["x"][:batch], dtype=np.float32))
        y = torch.from_numpy(np.asarray(data["y"][:batch], dtype=np.int64))
        return x, y
    g = torch.Generator().manual_seed(seed)
    c, r = arch["input_channels"], arch["input_size"]
    x = torch.randn(batch, c, r, r, generator=g)
    y = torch.randint(0, arch["num_classes"], (batch,), generator=g)
    return x, y


def combine(base: list[dict[str, float]]) -> list[float]:
    """ours over a group, from base scores ``nn_degree`` and ``trainability``."""
    return rank_sum([b["nn_degree"] for b in base], [b["trainability"] for b in base])
