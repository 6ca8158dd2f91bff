"""Hand-worked examples from docs/integer-semantics.md, one per operator (values computed by hand in the doc)."""

import numpy as np
import pytest
from helpers import REPO
from nash.frontend.core.model_file import load_model
from nash.frontend.core.quant_params import choose_multiplier, quantize_activation, requantize, rounding_right_shift
from nash.frontend.integer import reference as ir
from nash.frontend.integer.weights_io import load_integer_model


def test_rounding_rule_ties_go_up():
    v = np.array([5, -5, 7, -7, 6, -6])
    s = np.array([1, 1, 2, 2, 2, 2])
    # 2.5 -> 3, -2.5 -> -2, 1.75 -> 2, -1.75 -> -2, 1.5 -> 2, -1.5 -> -1
    assert rounding_right_shift(v, s).tolist() == [3, -2, 2, -2, 2, -1]


def test_conv_sobel_3x3_pad1():
    x = np.arange(1, 10).reshape(1, 1, 3, 3)
    w = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]]).reshape(1, 1, 3, 3)
    acc = ir.conv_acc(x, w, stride=1, padding=1)
    assert acc[0, 0, 1, 1] == -8  # centre: (1-3) + 2*(4-6) + (7-9)
    assert acc[0, 0, 0, 0] == -9  # corner: padding contributes 0; -2*2 - 5
    assert acc.shape == (1, 1, 3, 3)
    s2 = ir.conv_acc(x, w, stride=2, padding=1)
    # stride 2: output (1,1) is the window centred on input (2,2): rows 1-2 of x, right column padded -> 5*1 + 8*2
    assert s2.shape == (1, 1, 2, 2) and s2[0, 0, 0, 0] == -9 and s2[0, 0, 1, 1] == 21


def test_shift_exact_left_shift():
    x = np.array([5, -3, 7], dtype=np.int8).reshape(1, 3, 1, 1)
    sign = np.array([1, -1, 0]).reshape(1, 3, 1, 1)
    exp = np.array([0, 2, 3]).reshape(1, 3, 1, 1)
    # E = 3: 5 << 3 = 40; -(-3 << 1) = 6; sign 0 -> 0. Real value 46 * 2**-3 = 5.75 = 5*1 + (-3)*(-1/4).
    assert ir.shift_acc(x, sign, exp, exp_max=3)[0, 0, 0, 0] == 46


def test_adder_and_padding_gives_minus_abs_w():
    x = np.array([10, -20, 3]).reshape(1, 3, 1, 1)
    w = np.array([12, -20, -4]).reshape(1, 3, 1, 1)
    assert ir.adder_acc(x, w)[0, 0, 0, 0] == -9  # -(2 + 0 + 7)
    acc = ir.adder_acc(np.array([[[[5]]]]), np.full((1, 1, 3, 3), 2), padding=1)
    assert acc[0, 0, 0, 0] == -19  # eight padded zeros give -|0-2| each (-16), the pixel -|5-2| = -3


def test_requant_example():
    acc = np.array([-19]).reshape(1, 1)
    m, b, s = np.array([27000]), np.array([5 << 16]), np.array([16])
    # (-19*27000 + 327680 + 32768) >> 16 = floor(-152552 / 65536) = -3   (real: -2.8268 -> -3)
    assert requantize(acc, m, b, s, relu=False)[0, 0] == -3
    assert requantize(acc, m, b, s, relu=True)[0, 0] == 0
    assert requantize(np.array([[10**6]]), m, b, s, relu=False)[0, 0] == 127


def test_residual_add_example():
    assert ir.residual_add(np.array([100]), np.array([-50]), 20000, 10000, 14)[0] == 92  # (1.5e6 + 8192) >> 14
    assert ir.residual_add(np.array([127]), np.array([127]), 16384, 16384, 14)[0] == 127  # 254 clamps


def test_residual_add_operands_are_skip_then_project():
    """In the example model each add's inputs are (block input, project output), with mult_a on the first: the
    reference output is reproduced only in that order (the two multipliers differ, so a swap shows)."""
    im = load_integer_model(load_model(REPO / "examples" / "tiny_hybrid.json"))
    rng = np.random.default_rng(0)
    first = im.nodes[0]
    x = quantize_activation(rng.random((4, first.in_ch, first.in_size, first.in_size)), im.input_scale)
    t = ir.run_network(im.nodes, im.params, x, keep=True)
    adds = [n for n in im.nodes if n.kind == "add"]
    assert adds
    for n in adds:
        skip, proj = n.inputs
        assert proj.endswith("_project") and proj.startswith(n.name[: -len("_add")])
        assert not skip.startswith(n.name[: -len("_add")])  # the tensor that entered the block
        p = im.params[n.name]
        ma, mb, s = int(p["mult_a"]), int(p["mult_b"]), int(p["shift"])
        want = np.clip((t[skip].astype(np.int64) * ma + t[proj].astype(np.int64) * mb + (1 << (s - 1))) >> s,
                       -128, 127)
        np.testing.assert_array_equal(t[n.name], want)
        swapped = np.clip((t[proj].astype(np.int64) * ma + t[skip].astype(np.int64) * mb + (1 << (s - 1))) >> s,
                          -128, 127)
        assert ma != mb and not np.array_equal(t[n.name], swapped)


def test_multiplier_when_the_shift_is_clipped_or_carried():
    # |r| < 2^-26 needs S > 40: S = 40 and M = round(r 2^40) < 2^14
    m, s = choose_multiplier(np.array([2.0**-30, -(2.0**-30) * 3, 2.0**-42]))
    assert s.tolist() == [40, 40, 40] and m.tolist() == [1024, -3072, 0]
    # rounding carries 0.99999999 * 2^15 up to 2^15: one bit of shift less, M = 2^14
    m, s = choose_multiplier(np.array([0.99999999]))
    assert (int(m[0]), int(s[0])) == (16384, 14)
    # |r| >= 2^14 would need S < 1
    with pytest.raises(ValueError, match="too large"):
        choose_multiplier(np.array([2.0**14]))


def test_gap_example():
    m, s = choose_multiplier(np.array([0.25]))
    assert (int(m[0]), int(s[0])) == (16384, 16)
    x = np.array([[1, 2], [3, 5]]).reshape(1, 1, 2, 2)
    assert ir.global_avg_pool(x, 16384, 16)[0, 0] == 3  # (11*16384 + 32768) >> 16 = 3 (mean 2.75)


def test_fc_example():
    x = np.array([[1, -2, 3]])
    w = np.array([[1, 1, 1], [2, 0, -1]])
    assert ir.fully_connected(x, w, np.array([10, -5]))[0].tolist() == [12, -6]
