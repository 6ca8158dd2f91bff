"""Fake-quant (torch exact evaluation) == numpy integer reference, bit for bit."""

import numpy as np
import pytest
import torch
from helpers import ALL_OPS_ARCH, arch_with, randomized_net
from nash.frontend.core.graph import Node
from nash.frontend.core.quant_params import quantize_activation, requantize
from nash.frontend.integer import reference as ir
from nash.frontend.models.convert import integer_model
from nash.frontend.models.hybrid_net import _exact_layer_acc
from nash.frontend.ops.fake_quant import requantize_exact

rng = np.random.default_rng(1234)

CASES = [  # (op, in_ch, out_ch, k, stride, groups, size)
    ("conv", 3, 5, 3, 1, 1, 7), ("conv", 6, 6, 5, 2, 6, 9), ("conv", 7, 3, 1, 1, 1, 5),
    ("shift", 5, 7, 3, 2, 1, 8), ("shift", 9, 9, 5, 1, 9, 6), ("shift", 4, 11, 1, 1, 1, 3),
    ("adder", 3, 5, 3, 1, 1, 7), ("adder", 6, 6, 5, 2, 6, 9), ("adder", 5, 13, 1, 1, 1, 4),
    ("adder", 4, 6, 3, 2, 1, 10),
]


def _params(op, cin, cout, k, groups, exp_max=7):
    shape = (cout, cin // groups, k, k)
    if op == "shift":
        return {"sign": rng.integers(-1, 2, shape), "exp": rng.integers(0, exp_max + 1, shape),
                "exp_max": np.array(exp_max)}
    lo = -127 if op == "conv" else -128
    return {"weight": rng.integers(lo, 128, shape)}


@pytest.mark.parametrize("op,cin,cout,k,s,g,size", CASES)
@pytest.mark.parametrize("inputs", ["random", "all_max", "all_min", "alternating"])
def test_layer_accumulators_match(op, cin, cout, k, s, g, size, inputs):
    pad = k // 2
    out = (size + 2 * pad - k) // s + 1
    node = Node("n", "conv", op, ("input",), cin, cout, size, out, k, s, pad, g, False)
    p = _params(op, cin, cout, k, g)
    shape = (2, cin, size, size)
    x = {"random": rng.integers(-128, 128, shape), "all_max": np.full(shape, 127), "all_min": np.full(shape, -128),
         "alternating": np.where(np.indices(shape).sum(0) % 2 == 0, 127, -128)}[inputs]
    ref = ir.layer_acc(node, x, p)
    got = _exact_layer_acc(node, torch.from_numpy(x), {k_: torch.as_tensor(v) for k_, v in p.items()}).numpy()
    assert ref.shape == (2, cout, out, out)
    np.testing.assert_array_equal(got, ref)


def test_requant_torch_equals_numpy_on_edges():
    acc = np.concatenate([rng.integers(-(2**31), 2**31, (50, 4)), np.array([[2**31 - 1, -(2**31), 0, 1]])])
    mult = np.array([32767, -32768 + 1, 16384, -5])
    shift = np.array([40, 1, 17, 3])
    bias = np.array([2**40, -(2**20), 0, 7])
    for relu in (False, True):
        ref = requantize(acc, mult, bias, shift, relu)
        got = requantize_exact(torch.from_numpy(acc), *(torch.from_numpy(a) for a in (mult, bias, shift)), relu)
        np.testing.assert_array_equal(got.numpy(), ref)


@pytest.mark.parametrize("shift_mode", ["ps", "q"])
@pytest.mark.parametrize("stem", ["conv", "shift", "adder"])
def test_whole_network_bit_exact(shift_mode, stem):
    arch = arch_with(op_stem=stem)
    net = randomized_net(arch, seed=hash((shift_mode, stem)) % 1000, shift_mode=shift_mode)
    im = integer_model(net)
    x = torch.rand(5, 3, 11, 11) * 3 - 1  # includes values that clip at the input range
    q = net.quantize_input(x)
    np.testing.assert_array_equal(q.numpy(), quantize_activation(x.numpy(), im.input_scale))
    ref = ir.run_network(im.nodes, im.params, q.numpy(), keep=True)
    got = net.forward_integer(q, im.params, keep=True)
    for n in im.nodes:
        np.testing.assert_array_equal(got[n.name].numpy(), ref[n.name], err_msg=f"node {n.name}")
    # The fake-quant model in eval mode returns exactly the dequantized integer logits.
    logits = net(x, "qat")
    np.testing.assert_array_equal(logits.numpy(), (ref["fc"].astype(np.float32) * np.float32(im.logit_scale)))


def test_network_exercises_every_feature():
    nodes = randomized_net(ALL_OPS_ARCH).nodes
    convs = [n for n in nodes if n.kind == "conv"]
    assert {n.op for n in convs} == {"conv", "shift", "adder"}
    assert any(n.depthwise for n in convs) and any(n.stride == 2 for n in convs)
    assert any(n.kernel == 5 for n in convs) and any(n.kind == "add" for n in nodes)
    assert any(n.out_ch & (n.out_ch - 1) for n in convs)  # channel counts that are not powers of two
    # integer outputs are non-degenerate (not all clamped / zero)
    net = randomized_net(ALL_OPS_ARCH)
    im = integer_model(net)
    t = ir.run_network(im.nodes, im.params, net.quantize_input(torch.rand(4, 3, 11, 11)).numpy(), keep=True)
    assert len(np.unique(t["fc"])) > 5
