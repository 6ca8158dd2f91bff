"""The project's zero-shot metric for hybrid networks: NN-Degree + early trainability, combined by ranks.

Why: NASH pairs a topology term (NN-Degree, blind to the op type) with Zen-Score. On hybrids Zen's statistics come
from a Gaussian-initialised forward pass, so they reflect each operator's raw output magnitudes rather than how well
the network will learn; and the gradient-based proxies that could see learning either ignore adder / shift layers
(``isinstance(m, nn.Conv2d)``) or collapse on them (SynFlow). What separates a conv, a shift and an adder network of
the same topology in practice is their optimisation: AdderNet's full-precision gradient with adaptive scaling,
DeepShift's straight-through rounding of exponents and signs, BatchNorm after every adder.

``trainability`` measures exactly that, op-agnostically: the network in its training initialisation and training
mode (BN batch statistics, the real op layers with their own backward rules, e.g. the adders' adaptively scaled
weight gradient) takes one SGD step (lr 0.01) on one fixed mini-batch, and the score is the relative decrease of the
cross-entropy loss, (L_0 - L_1) / L_0: dimensionless (no raw magnitude enters), identical in meaning for every op
type, and cheap (two forward passes and one backward pass on a few images). To first order it is
lr * |g|^2 / L_0 with g the step the optimiser actually takes, so the op-specific update rules enter directly.
Without labelled data (user datasets absent) it uses Gaussian inputs with random labels.

One step at a small learning rate, not several at the training rate: on the deep, wide networks of the 32x32 space,
three steps at lr 0.05 (the first design) are chaotic: a float-rounding-level perturbation of the computation (the
channels-last memory layout) reorders the scores (Spearman -0.6 between the two layouts over 8 networks), so the
score would be noise there; one step at lr 0.01 keeps the order (0.95 and 1.0 on two draws of 8). It also costs about
a third as much. See docs/search.md for the protocol and the measurements.

``ours`` = rank_G(NN-Degree) / N + rank_G(trainability) / N, the NASH rank form with Zen replaced by the
trainability term. Since proxy version 8 the trainability is the mean of 2 independent draws (initialisation and
mini-batch) for inputs up to 16x16: on the digits benchmark this raised it from tau 0.20 to 0.46; one draw above,
for the cifar32 search's time budget. The same pass also yields the AZ-NAS-style expressivity terms
(``expressivity.py``), which the benchmark reports but which did not earn a place in ``ours`` (docs/search.md).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from nash.frontend.nas.proxies.common import float_forward, logits_name
from nash.frontend.nas.proxies.expressivity import block_outputs, expressivity_terms
from nash.frontend.nas.proxies.nash_metric import rank_sum
from nash.frontend.nas.search_space import build_model

NEEDS = ("nn_degree", "trainability")
STEPS = 1
LR = 0.01
MOMENTUM = 0.9  # only acts from a second step on
REPEATS_SMALL = 2  # independent draws averaged for inputs up to 16x16 (see default_repeats)


# Pixels per mini-batch: 16 images at 16x16 (digits); larger inputs use fewer images (32x32: 4; 64x64: 4, the floor)
# so that the proxy stays affordable in the CIFAR / Tiny-ImageNet spaces.
BATCH_PIXELS = 16 * 16 * 16
MIN_BATCH = 4


def default_batch(arch: dict) -> int:
    return max(MIN_BATCH, BATCH_PIXELS // (arch["input_size"] ** 2))


def trainability(arch: dict, data=None, seed: int = 0, steps: int = STEPS, lr: float = LR,
                 batch: int | None = None, repeats: int | None = None) -> float:
    """Relative loss decrease after ``steps`` SGD steps on one mini-batch (see the module docstring), averaged over
    ``repeats`` draws."""
    return step_signals(arch, data, seed, steps, lr, batch, repeats)["trainability"]


def default_repeats(arch: dict) -> int:
    """Independent draws averaged: 2 up to 16x16 inputs, 1 above, where a second draw would push the 1000-candidate
    cifar32 search past its 10-minute budget (docs/search.md)."""
    return REPEATS_SMALL if arch["input_size"] <= 16 else 1


def step_signals(arch: dict, data=None, seed: int = 0, steps: int = STEPS, lr: float = LR,
                 batch: int | None = None, repeats: int | None = None) -> dict[str, float]:
    """{'trainability', 'expressivity', 'progressivity'} of one architecture, each the mean over ``repeats``
    independent draws (draw r: initialisation seed ``seed + r``, the r-th mini-batch of ``data``). Per draw one
    pass: the block features of the first forward pass (the network in its training initialisation and train mode)
    give the expressivity terms, and the same pass starts the SGD step of the trainability."""
    if steps < 1:
        raise ValueError(f"trainability needs steps >= 1, got {steps}")
    b = batch or default_batch(arch)
    draws = []
    for r in range(repeats or default_repeats(arch)):
        x, y = mini_batch(arch, data, seed + r, b, offset=r * b)
        torch.manual_seed(seed + r)
        net = build_model(arch)  # training initialisation, adder eta as in training
        draws.append(loss_decrease(net, x, y, steps, lr, with_features=True))
    return {k: float(np.mean([d[k] for d in draws])) for k in draws[0]}


def loss_decrease(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int = STEPS,
                  lr: float = LR, with_features: bool = False):
    """(L_0 - L_steps) / L_0 of ``net`` in train mode after ``steps`` SGD steps on (x, y); -inf when it diverged.
    With ``with_features``: a dict with it as 'trainability' and the expressivity terms of the first pass."""
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=MOMENTUM)
    losses, feats = [], None
    blocks = block_outputs(net)
    logits = logits_name(net)
    for _ in range(steps):
        t = float_forward(net, x)
        if feats is None:
            feats = [t[b].detach() for b in blocks]
        loss = F.cross_entropy(t[logits], y)
        losses.append(float(loss.detach()))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():  # the last loss needs no graph
        losses.append(float(F.cross_entropy(net(x, "float"), y)))
    l0, l1 = losses[0], losses[-1]
    ok = math.isfinite(l0) and math.isfinite(l1) and l0 > 0
    value = (l0 - l1) / l0 if ok else -math.inf  # diverged: the worst rank
    if not with_features:
        return value
    return {"trainability": value, **expressivity_terms(feats)}


def mini_batch(arch: dict, data, seed: int, batch: int, offset: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch`` images and labels of ``data`` from ``offset`` on (wrapping around a short batch), or Gaussian
    images with random labels without data."""
    if isinstance(data, dict) and data.get("x") is not None and data.get("y") is not None:
        idx = (offset + np.arange(batch)) % len(data["x"]) if offset else np.arange(min(batch, len(data["x"])))
        x = torch.from_numpy(np.ascontiguousarray(data["x"][idx], dtype=np.float32))
        y = torch.from_numpy(np.asarray(data["y"][idx], dtype=np.int64))
        return x, y
    g = torch.Generator().manual_seed(seed)
    c, r = arch["input_channels"], arch["input_size"]
    x = torch.randn(batch, c, r, r, generator=g)
    y = torch.randint(0, arch["num_classes"], (batch,), generator=g)
    return x, y


def combine(base: list[dict[str, float]]) -> list[float]:
    """ours over a group, from base scores ``nn_degree`` and ``trainability``."""
    return rank_sum([b["nn_degree"] for b in base], [b["trainability"] for b in base])
