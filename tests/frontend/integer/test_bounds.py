"""The proven accumulator bound is never exceeded, on random and adversarial inputs, and is tight."""

import numpy as np
import pytest
from helpers import arch_with, randomized_net
from nash.frontend.core.graph import Node
from nash.frontend.integer import reference as ir
from nash.frontend.integer.bounds import (
    accumulator_bits,
    adder_bounds,
    input_range,
    layer_bounds,
    network_bounds,
    product_bounds,
    signed_bits,
)
from nash.frontend.models.convert import integer_model


def test_signed_bits_hand_cases():
    assert signed_bits(-128, 127) == 8
    assert signed_bits(-129, 0) == 9
    assert signed_bits(0, 128) == 9
    assert signed_bits(-(2**31), 2**31 - 1) == 32


def test_hand_worked_bounds():
    w = np.array([[3, -2]]).reshape(1, 2, 1, 1)
    assert [int(v[0]) for v in product_bounds(w, 0, 127)] == [-254, 381]
    assert [int(v[0]) for v in product_bounds(w, -128, 127)] == [-128 * 3 - 127 * 2, 127 * 3 + 128 * 2]
    wa = np.array([[-128, 5]]).reshape(1, 2, 1, 1)  # inputs in [0, 127]: |x+128| in [128, 255], |x-5| in [0, 122]
    assert [int(v[0]) for v in adder_bounds(wa, 0, 127)] == [-(255 + 122), -128]


@pytest.mark.parametrize("stem", ["conv", "shift", "adder"])
def test_bounds_hold_on_adversarial_inputs(stem):
    net = randomized_net(arch_with(op_stem=stem), seed=3)
    im = integer_model(net)
    by_name = {n.name: n for n in im.nodes}
    bounds = network_bounds(im.nodes, im.params)
    inputs = {"max": np.full((1, 3, 11, 11), 127), "min": np.full((1, 3, 11, 11), -128),
              "random": np.random.default_rng(0).integers(-128, 128, (4, 3, 11, 11))}
    for name, q in inputs.items():
        t = ir.run_network(im.nodes, im.params, q.astype(np.int8), keep=True)
        for n in im.nodes:
            if n.kind != "conv":
                continue
            acc = ir.layer_acc(n, t[n.inputs[0]], im.params[n.name])
            b = bounds[n.name]
            assert b["acc_min"] <= acc.min() and acc.max() <= b["acc_max"], (name, n.name)
            assert b["acc_bits"] == accumulator_bits(n, im.params[n.name], input_range(n, by_name))
            assert b["acc_bits"] <= 32 and b["product_bits"] <= 64


@pytest.mark.parametrize("op", ["conv", "shift", "adder"])
@pytest.mark.parametrize("in_range", [(-128, 127), (0, 127)])
def test_bound_is_attained_by_worst_case_input(op, in_range):
    """Per output channel, the input built from the per-term extremes reaches that channel's bound exactly."""
    rng = np.random.default_rng(7)
    cin, k, cout = 5, 3, 4
    node = Node("n", "conv", op, ("input",), cin, cout, k, 1, k, 1, 0, 1, False)
    shape = (cout, cin, k, k)
    if op == "shift":
        p = {"sign": rng.integers(-1, 2, shape), "exp": rng.integers(0, 8, shape), "exp_max": np.array(7)}
        w = ir.shift_weights(p["sign"], p["exp"], 7)
    else:
        p = {"weight": rng.integers(-128, 128, shape)}
        w = p["weight"]
    lo, hi = in_range
    mn, mx = (adder_bounds if op == "adder" else product_bounds)(w, lo, hi)
    for c in range(cout):
        wc = w[c]
        if op == "adder":
            x_max = np.clip(wc, lo, hi)  # the nearest admissible value to w makes each term smallest
            x_min = np.where(np.abs(lo - wc) >= np.abs(hi - wc), lo, hi)
        else:
            x_max = np.where(wc > 0, hi, lo)
            x_min = np.where(wc > 0, lo, hi)
        assert ir.layer_acc(node, x_max[None], p)[0, c, 0, 0] == mx[c]
        assert ir.layer_acc(node, x_min[None], p)[0, c, 0, 0] == mn[c]
    assert layer_bounds(node, p, in_range) == (int(mn.min()), int(mx.max()))


def test_tiny_example_fits_int32():
    from nash.frontend.core.model_file import load_model
    from nash.frontend.integer.weights_io import load_integer_model

    im = load_integer_model(load_model("examples/tiny_hybrid.json"))
    b = network_bounds(im.nodes, im.params)
    assert all(v["acc_bits"] <= 32 for v in b.values())
