"""The supernet's forward on a sub-architecture equals the stand-alone HybridNet with the sliced weights."""

from __future__ import annotations

import random

import pytest
import torch
from nash.frontend.nas.search_space import get_space, sample
from nash.frontend.train.supernet.net import SuperNet
from nash.frontend.train.supernet.space import SupernetSpaceError, span_of


def _candidates(n=6, seed=0):
    sp = get_space("digits")
    rng = random.Random(seed)
    return [sample(sp, rng) for _ in range(n)]


def _supernet(seed=0, shift_mode="ps"):
    torch.manual_seed(seed)
    return SuperNet(span_of(_candidates()), shift_mode=shift_mode)


def _observe(net, archs, x):
    net.train()
    with torch.no_grad():
        for a in archs:
            net(x, a, "observe")


@pytest.mark.parametrize("shift_mode", ["ps", "q"])
def test_forward_equals_standalone_subnet(shift_mode):
    net = _supernet(shift_mode=shift_mode)
    rng = random.Random(1)
    archs = [net.space.largest(), net.space.smallest()] + [net.space.random(rng, 1.0) for _ in range(4)]
    x = torch.rand(8, 1, 16, 16)
    _observe(net, archs, x)  # activation ranges for qat mode
    for a in archs:
        for mode in ("float", "qat"):
            for training in (True, False):
                net.train(training)
                sub = net.subnet(a).train(training)
                ref = sub(x, mode)
                with torch.no_grad():
                    got = net(x, a, mode)
                # The same code on the same values: bit for bit.
                assert torch.equal(got, ref), (mode, training)


def test_subnet_weights_are_first_channels_and_centred_kernels():
    net = _supernet()
    a = net.space.smallest()
    sub = net.subnet(a)
    n = next(n for n in sub.nodes if n.name == "s0b0_dw")
    full = net.units[f"s0b0_dw__{n.op}"].layer
    name = "P" if n.op == "shift" else "weight"
    got = getattr(sub.units["s0b0_dw"].layer, name).detach()
    w = getattr(full, name).detach()
    k = n.kernel
    assert (k, w.shape[-1]) == (3, 5)  # a real sub-kernel (the candidates of seed 0 hold both kernels here)
    c = (w.shape[-1] - k) // 2
    # by hand: channel i, window rows / cols c .. c+k-1
    for i in range(n.out_ch):
        for r in range(k):
            for s in range(k):
                assert float(got[i, 0, r, s]) == float(w[i, 0, c + r, c + s])


def test_gradients_reach_shared_weights_only_of_the_used_slice():
    net = _supernet()
    a = net.space.smallest()
    x = torch.rand(4, 1, 16, 16)
    net.train()
    net(x, a, "float").sum().backward()
    n_out = a["stem"]["width"]
    g = net.units["stem__conv"].layer.weight.grad
    assert g[:n_out].abs().sum() > 0
    assert g[n_out:].abs().sum() == 0


def test_bn_running_stats_update_through_the_slices():
    net = _supernet()
    a = net.space.smallest()
    bn = net.units["stem__conv"].bn
    before = bn.running_mean.clone()
    net.train()
    with torch.no_grad():
        net(torch.rand(4, 1, 16, 16), a, "float")
    c = a["stem"]["width"]
    assert not torch.equal(bn.running_mean[:c], before[:c])
    assert torch.equal(bn.running_mean[c:], before[c:])


def test_arch_outside_the_span_is_named():
    net = _supernet()
    a = net.space.largest()
    a["stages"][1]["width"] = 999
    with pytest.raises(SupernetSpaceError, match=r"stages\[1\]\.width"):
        net.subnet(a)


def test_candidates_with_different_skeletons_are_refused():
    c = _candidates(2)
    c[1]["num_classes"] = 7
    with pytest.raises(SupernetSpaceError, match=r"candidates\[1\]\.architecture\.num_classes"):
        span_of(c)
