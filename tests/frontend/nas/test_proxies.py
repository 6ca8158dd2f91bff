"""Zero-shot proxies: hand-computed NN-Degree, Zen-Score behaviour, NASH rank combination, op-agnostic robustness."""

from __future__ import annotations

import copy
import math
import random

import numpy as np
import pytest
import torch
from nash.frontend.core.graph import lower
from nash.frontend.nas.proxies import BASE_PROXIES, BENCH_PROXIES, base_names, combine_group, score_arch
from nash.frontend.nas.proxies.common import op_units
from nash.frontend.nas.proxies.nash_metric import nash_metric
from nash.frontend.nas.proxies.nn_degree import nn_degree
from nash.frontend.nas.proxies.ours import combine as ours_combine
from nash.frontend.nas.proxies.zen import zen_terms
from nash.frontend.nas.search_space import build_model, get_space, sample

HAND = {
    "input_channels": 1, "input_size": 16, "num_classes": 10,
    "stem": {"op": "conv", "width": 8, "kernel": 3, "stride": 1},
    "stages": [
        {"width": 8, "stride": 1, "blocks": [{"op": "conv", "kernel": 3, "expand": 1},
                                             {"op": "adder", "kernel": 5, "expand": 2}]},
        {"width": 16, "stride": 2, "blocks": [{"op": "shift", "kernel": 3, "expand": 2},
                                              {"op": "conv", "kernel": 3, "expand": 3},
                                              {"op": "adder", "kernel": 5, "expand": 2}]},
        {"width": 24, "stride": 2, "blocks": [{"op": "conv", "kernel": 3, "expand": 3}]},
    ],
    "head": {"width": 48, "op": "conv"},
}


def with_ops(arch: dict, op: str) -> dict:
    a = copy.deepcopy(arch)
    for st in a["stages"]:
        for b in st["blocks"]:
            b["op"] = op
    return a


def test_nn_degree_hand_computed():
    # stage 0: w=8, layers 2 (expand 1) + 3 = 5, residuals: both blocks (stride 1, 8 -> 8) = 2  -> 8 + 2/5
    # stage 1: w=16, layers 3+3+3 = 9, residuals: blocks 1 and 2 (block 0 has stride 2)  = 2  -> 16 + 2/9
    # stage 2: w=24, layers 3, residuals 0                                                      -> 24
    expected = 8 + 2 / 5 + 16 + 2 / 9 + 24
    assert nn_degree(HAND) == pytest.approx(expected, rel=1e-12)
    # the residual count agrees with the lowered graph's add nodes
    assert sum(1 for n in lower(HAND) if n.kind == "add") == 4
    # blind to the op type (as FLASH's definition is)
    assert nn_degree(with_ops(HAND, "adder")) == nn_degree(HAND)


def test_zen_invariant_to_input_seed_and_sees_adders():
    conv = with_ops(HAND, "conv")
    adder = copy.deepcopy(conv)
    for b in adder["stages"][1]["blocks"]:
        b["op"] = "adder"
    z_conv = [zen_terms(build_model(conv), conv, seed=0, input_seed=s)["zen"] for s in range(5)]
    z_add = [zen_terms(build_model(adder), adder, seed=0, input_seed=s)["zen"] for s in range(5)]
    spread = max(np.std(z_conv), np.std(z_add))
    assert spread < 0.02 * abs(np.mean(z_conv))  # input seed changes the score by < 2 %
    assert abs(np.mean(z_add) - np.mean(z_conv)) > 4 * spread  # an op change is seen beyond that noise
    # adder weights are re-initialised N(0,1) too: two weight seeds give different adder weights
    n1, n2 = build_model(adder), build_model(adder)
    zen_terms(n1, adder, seed=1)
    zen_terms(n2, adder, seed=2)
    w1 = n1.units["s1b0_expand"].layer.weight
    w2 = n2.units["s1b0_expand"].layer.weight
    assert not np.allclose(w1.detach().numpy(), w2.detach().numpy())
    assert abs(float(w1.detach().std()) - 1.0) < 0.2


def test_nash_rank_combination_hand_group():
    nn = [10.0, 30.0, 20.0, 20.0]
    zen = [1.0, 0.5, 3.0, -math.inf]
    # ranks (ascending, ties averaged, -inf worst): nn -> [1, 4, 2.5, 2.5]; zen -> [3, 2, 4, 1]; / N = 4
    assert nash_metric(nn, zen) == pytest.approx([1.0, 1.5, 1.625, 0.875])
    assert combine_group("nash", [{"nn_degree": a, "zen": b} for a, b in zip(nn, zen, strict=True)]) == \
        pytest.approx([1.0, 1.5, 1.625, 0.875])
    # NaN ranks as worst too; the best in both terms scores 2
    assert nash_metric([1.0, 2.0, 3.0], [float("nan"), 0.0, 5.0]) == pytest.approx([2 / 3, 4 / 3, 2.0])
    assert ours_combine([{"nn_degree": 1.0, "trainability": 0.3}, {"nn_degree": 2.0, "trainability": 0.1}]) == \
        pytest.approx([1.5, 1.5])


@pytest.fixture(scope="module")
def op_variants():
    sp = get_space("digits")
    mixed = sample(sp, random.Random(4))
    ops = [b["op"] for st in mixed["stages"] for b in st["blocks"]]
    if len(set(ops)) < 2:
        mixed["stages"][0]["blocks"][0]["op"] = "adder" if ops[0] != "adder" else "conv"
    return {"conv": with_ops(mixed, "conv"), "shift": with_ops(mixed, "shift"), "adder": with_ops(mixed, "adder"),
            "mixed": mixed}


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    return {"x": rng.random((16, 1, 16, 16), dtype=np.float32), "y": rng.integers(0, 10, 16)}


def test_every_proxy_runs_on_every_op_mix(op_variants, batch):
    scores = {}
    for kind, arch in op_variants.items():
        s = score_arch(arch, BASE_PROXIES, seed=0, data=batch)
        assert set(s) == set(BASE_PROXIES)
        for name, v in s.items():
            assert math.isfinite(v), (kind, name, v)
        scores[kind] = s
    group = [scores[k] for k in op_variants]
    for metric in BENCH_PROXIES:
        vals = combine_group(metric, group)
        assert len(vals) == 4 and not any(math.isnan(v) for v in vals)
    # op-agnostic: the data-dependent and init-dependent proxies tell the op types apart
    for name in ("zen", "naswot", "meco", "trainability"):
        vals = {k: scores[k][name] for k in ("conv", "shift", "adder")}
        assert len({round(v, 9) for v in vals.values()}) == 3, (name, vals)


def test_synflow_flows_through_adders_without_residual():
    """Adder blocks in non-residual positions (where -sum|x - w| <= 0 used to be zeroed by the ReLU, so the score
    was exactly 0, -inf in log): the linearised pass uses the adder's magnitude, the score is finite and sees the
    adder weights."""
    from nash.frontend.nas.proxies import baselines
    from nash.frontend.nas.search_space import build_model

    a = copy.deepcopy(HAND)
    a["stages"] = [{"width": 16, "stride": 2, "blocks": [{"op": "adder", "kernel": 3, "expand": 2}]},
                   {"width": 24, "stride": 2, "blocks": [{"op": "adder", "kernel": 3, "expand": 2}]}]
    s = score_arch(a, ["synflow"])["synflow"]
    assert math.isfinite(s)
    assert math.isfinite(score_arch(with_ops(a, "conv"), ["synflow"])["synflow"])
    assert math.isfinite(score_arch(with_ops(a, "shift"), ["synflow"])["synflow"])
    torch.manual_seed(0)
    net = build_model(a, eta=None)
    with torch.no_grad():
        adder = next(u.layer for _, u in op_units(net) if type(u.layer).__name__ == "AdderConv2d")
        adder.weight.mul_(3.0)  # larger |x - w| terms: a larger flow through that block
    assert baselines.synflow(net, a) > s


def test_scores_are_seeded(batch):
    a = HAND
    s1 = score_arch(a, BASE_PROXIES, seed=3, data=batch)
    s2 = score_arch(a, BASE_PROXIES, seed=3, data=batch)
    assert s1 == s2


def test_unknown_proxy_is_named():
    with pytest.raises(ValueError, match="unknown proxy 'jacov'"):
        base_names(["jacov"])


def test_trainability_batch_follows_the_pixel_budget(op_variants):
    """16 images at 16x16, 4 at 32x32, and the floor of 4 at 64x64; two draws (two batches) up to 16x16, one above;
    images past the draws' batches are never read."""
    from nash.frontend.nas.proxies import ours

    assert [ours.default_batch({"input_size": r}) for r in (16, 32, 64)] == [16, 4, 4]
    rng = np.random.default_rng(1)
    x = rng.random((64, 1, 16, 16), dtype=np.float32)
    assert [ours.default_repeats({"input_size": r}) for r in (16, 32, 64)] == [2, 1, 1]
    x[32:] = np.nan  # poison everything the proxy must not use
    data = {"x": x, "y": rng.integers(0, 10, 64)}
    v = ours.trainability(op_variants["mixed"], data, seed=0)
    assert math.isfinite(v) and v == ours.trainability(op_variants["mixed"], {"x": x[:32], "y": data["y"][:32]})
    # the mean of the two draws: draw r initialises with seed r and takes the r-th 16 images
    one = [ours.trainability(op_variants["mixed"], {"x": x[16 * r:16 * r + 16], "y": data["y"][16 * r:16 * r + 16]},
                             seed=r, repeats=1) for r in (0, 1)]
    assert v == pytest.approx((one[0] + one[1]) / 2, rel=1e-12)
    # no step taken (lr 0): the loss cannot change, whatever the op type
    for arch in op_variants.values():
        assert ours.trainability(arch, data, seed=0, lr=0.0) == 0.0
    with pytest.raises(ValueError, match="steps >= 1"):
        ours.trainability(op_variants["mixed"], data, steps=0)
