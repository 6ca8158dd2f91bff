"""The board's input quantization equals the integer reference's (frontend quant_params), bit for bit."""

from __future__ import annotations

import numpy as np
from nash.board.quantize import quantize_input
from nash.frontend.core.quant_params import quantize_activation


def _both(x, scale):
    a, b = quantize_input(x, scale), quantize_activation(x, scale)
    assert a.dtype == b.dtype == np.int8
    np.testing.assert_array_equal(a, b)


def test_random_inputs_and_scales():
    rng = np.random.default_rng(0)
    for scale in (1 / 127, 0.0078740157, 0.05, 1e-3, 3.0):
        _both(rng.normal(0, 1, size=(64, 3, 8, 8)).astype(np.float32), scale)
        _both(rng.uniform(-300 * scale, 300 * scale, size=(1000,)), scale)


def test_adversarial_inputs():
    scale = 0.0078740157
    k = np.arange(-140, 141, dtype=np.float64)
    ties = (k + 0.5) * scale  # exact halves (in float64 before the float32 cast)
    near = np.concatenate([np.nextafter(ties.astype(np.float32), np.float32(np.inf)),
                           np.nextafter(ties.astype(np.float32), np.float32(-np.inf))])
    edges = np.array([127.49999, 127.5, -128.5, -128.49999, 1e30, -1e30, np.inf, -np.inf, 0.0, -0.0]) * scale
    for x in (ties, near, edges, np.float64(0.49999999999999994) * np.ones(3), k * scale):
        _both(x, scale)
    _both(np.array([0.5, 1.5, -0.5, -1.5, 2.5]), 1.0)  # ties go towards +inf
    assert quantize_input(np.array([0.5, -0.5, -1.5]), 1.0).tolist() == [1, 0, -1]
