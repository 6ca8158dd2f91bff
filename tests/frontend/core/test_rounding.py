"""round_half_up (numpy and torch) is floor(x + 0.5) computed exactly: checked against exact rational arithmetic on
the values a float64 `floor(x + 0.5)` gets wrong, on ties, and on the floats next to ties."""

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from nash.frontend.core.quant_params import quantize_activation
from nash.frontend.core.quant_params import round_half_up as np_round
from nash.frontend.ops.fake_quant import round_half_up as torch_round


def exact(x: float) -> float:
    """floor(x + 1/2) in exact rational arithmetic (the independent golden)."""
    return float(math.floor(Fraction(x) + Fraction(1, 2)))


def _near_ties(dtype) -> np.ndarray:
    ties = np.array([k + 0.5 for k in range(-6, 6)] + [2.0**20 + 0.5, -(2.0**20) - 0.5, 2.0**51 + 0.5], dtype=dtype)
    below = np.nextafter(ties, np.array(-np.inf, dtype=dtype))
    above = np.nextafter(ties, np.array(np.inf, dtype=dtype))
    return np.concatenate([ties, below, above, np.nextafter(below, np.array(-np.inf, dtype=dtype))])


def test_largest_double_below_one_half_rounds_down():
    x = 0.49999999999999994  # the float64 just below 0.5; x + 0.5 rounds to 1.0 in float64
    assert x < 0.5 and np.floor(x + 0.5) == 1.0  # the naive formula's error this rule avoids
    assert np_round(x) == 0.0
    assert torch_round(torch.tensor(x, dtype=torch.float64)).item() == 0.0
    assert np_round(-x) == 0.0


def test_largest_float_below_one_half_rounds_down_in_float32():
    x = torch.tensor(np.nextafter(np.float32(0.5), np.float32(0)), dtype=torch.float32)
    assert torch.floor(x + 0.5).item() == 1.0
    assert torch_round(x).item() == 0.0


def test_ties_go_towards_plus_infinity():
    v = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5])
    np.testing.assert_array_equal(np_round(v), [-2, -1, 0, 1, 2, 3])
    np.testing.assert_array_equal(torch_round(torch.tensor(v)).numpy(), [-2, -1, 0, 1, 2, 3])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_exact_near_every_tie(dtype):
    v = _near_ties(dtype)
    want = np.array([exact(float(x)) for x in v])
    np.testing.assert_array_equal(np_round(v.astype(np.float64)), want)
    np.testing.assert_array_equal(torch_round(torch.from_numpy(v)).to(torch.float64).numpy(), want)


def test_numpy_and_torch_agree_on_random_values():
    rng = np.random.default_rng(7)
    v = np.concatenate([rng.normal(0, 300, 20000), np.round(rng.normal(0, 300, 2000)) + 0.5])
    np.testing.assert_array_equal(np_round(v), torch_round(torch.from_numpy(v)).numpy())
    np.testing.assert_array_equal(np_round(v), [exact(float(x)) for x in v])


def test_input_quantization_uses_the_exact_rule():
    # 3 / 6.000000000000001 is the double just below 0.5: the pixel quantizes to 0, not 1
    scale = float(np.nextafter(6.0, 7.0))
    assert 3.0 / scale == 0.49999999999999994
    assert quantize_activation(np.array([3.0], dtype=np.float32), scale)[0] == 0
    assert quantize_activation(np.array([3.0], dtype=np.float32), 6.0)[0] == 1  # the tie 0.5 goes up
