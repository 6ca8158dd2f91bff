"""Integer quantization constants and the requantization rule (numpy only, no torch).

This module is the single definition of the integer contract documented in ``docs/integer-semantics.md``:
activation ranges, the rounding rule, and how a real-valued rescale factor becomes an integer
multiplier ``M`` and right shift ``S``. The torch fake-quant path and the numpy integer reference both call it.
"""

from __future__ import annotations

import numpy as np

ACT_BITS = 8
ACT_MIN = -128  # int8 activations, zero point 0
ACT_MAX = 127
# Floor of an activation quantizer's observed range: a layer whose output was all zero on the observed data (every
# ReLU channel dead) would otherwise get a scale of ~0 and the next requantization multiplier s_in * s_w / s_out
# could not be represented. Any real activation range is far above it.
ACT_RANGE_MIN = 2.0**-10
RELU_MIN = 0  # ReLU is the lower bound of the requant clamp
CONV_W_MAX = 127  # conv / fc weights are symmetric int8 in [-127, 127]
ADDER_W_MIN = -128  # adder weights live in the input's scale, full int8 range
ADDER_W_MAX = 127
MULT_BITS = 15  # |M| < 2**15: the multiplier fits a signed 16-bit DSP operand
MAX_SHIFT = 40  # right shifts are in [1, MAX_SHIFT]
DEFAULT_SHIFT_EXP_MAX = 7  # shift weights are sign * 2**-e with e in [0, E]


def round_half_up(x: np.ndarray | float) -> np.ndarray:
    """The project's one float->int rounding rule: floor(x + 0.5) evaluated exactly (ties go towards +inf).

    ``x + 0.5`` in float64 can round up to the next integer (0.49999999999999994 + 0.5 == 1.0), so the rule is
    computed as floor(x) plus one when the fraction ``x - floor(x)`` (always exact in binary floating point) is at
    least one half.
    """
    x = np.asarray(x, dtype=np.float64)
    f = np.floor(x)
    with np.errstate(invalid="ignore"):  # inf - inf: the comparison is false and inf stays inf
        return np.where(x - f >= 0.5, f + 1.0, f)


def rounding_right_shift(v: np.ndarray, shift: np.ndarray | int) -> np.ndarray:
    """(v + 2**(S-1)) >> S on int64: the integer form of round_half_up(v / 2**S); S >= 1."""
    v = np.asarray(v, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    return (v + (np.int64(1) << (shift - 1))) >> shift


def clamp_range(relu: bool) -> tuple[int, int]:
    """Clamp bounds of a requantized int8 activation (ReLU is the lower bound)."""
    return (RELU_MIN if relu else ACT_MIN), ACT_MAX


def choose_multiplier(real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel integer multiplier and right shift with ``M / 2**S ~= real``.

    ``S`` is chosen so that ``2**14 <= |M| < 2**15`` (full 15-bit precision), limited to
    ``[1, MAX_SHIFT]``; ``real == 0`` gives ``M = 0, S = 1``. Returns int64 arrays.
    """
    real = np.atleast_1d(np.asarray(real, dtype=np.float64))
    if not np.all(np.isfinite(real)):
        raise ValueError("requantization scale is not finite (a BatchNorm variance or an activation scale is 0/NaN)")
    mag = np.abs(real)
    shift = np.ones(real.shape, dtype=np.int64)
    nz = mag > 0
    shift[nz] = (MULT_BITS - 1) - np.floor(np.log2(mag[nz])).astype(np.int64)
    shift = np.clip(shift, 1, MAX_SHIFT)
    mult = round_half_up(real * np.exp2(shift)).astype(np.int64)
    # Rounding can carry |M| up to exactly 2**15: give up one bit of shift for those channels.
    over = np.abs(mult) >= (1 << MULT_BITS)
    while np.any(over):
        shift[over] -= 1
        if np.any(shift < 1):
            raise ValueError(f"requantization scale too large to represent: max |scale| = {mag.max():.3g}")
        mult[over] = round_half_up(real[over] * np.exp2(shift[over])).astype(np.int64)
        over = np.abs(mult) >= (1 << MULT_BITS)
    return mult, shift


def quantize_bias(real_bias: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Bias in output units pre-scaled by 2**S, so that it adds to ``acc * M`` before the shift."""
    return round_half_up(np.asarray(real_bias, dtype=np.float64) * np.exp2(shift)).astype(np.int64)


def requantize(acc: np.ndarray, mult: np.ndarray, bias: np.ndarray, shift: np.ndarray, relu: bool) -> np.ndarray:
    """q = clamp((acc * M + B + 2**(S-1)) >> S, lo, 127) per output channel (channel axis = 1 or last for 2-D).

    ``acc`` has shape [N, C, H, W] or [N, C]; ``mult``, ``bias``, ``shift`` have shape [C].
    """
    acc = np.asarray(acc, dtype=np.int64)
    view = (1, -1) + (1,) * (acc.ndim - 2)
    m = np.asarray(mult, dtype=np.int64).reshape(view)
    b = np.asarray(bias, dtype=np.int64).reshape(view)
    s = np.asarray(shift, dtype=np.int64).reshape(view)
    lo, hi = clamp_range(relu)
    return np.clip(rounding_right_shift(acc * m + b, s), lo, hi).astype(np.int8)


def quantize_activation(x: np.ndarray, scale: float, relu: bool = False) -> np.ndarray:
    """Float tensor -> int8 codes with the project rounding rule (used for the network input)."""
    lo, hi = clamp_range(relu)
    q = round_half_up(np.asarray(x, dtype=np.float32).astype(np.float64) / np.float64(scale))
    return np.clip(q, lo, hi).astype(np.int8)
