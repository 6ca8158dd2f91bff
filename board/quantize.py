"""Input quantization of the board runtime: float images -> int8 codes, bit for bit the integer reference's
(``nash.frontend.core.quant_params.quantize_activation``, rounding rule ``round_half_up``).

The board cannot import ``nash.frontend`` (the layer rule keeps the runtime to numpy and pynq), so the rule is
re-implemented here; ``tests/board/test_quantize.py`` checks both equal on random and adversarial inputs (ties,
values next to ties, the clamp edges, inf/nan, float64 inputs that round differently in float32).
"""

from __future__ import annotations

import numpy as np

ACT_MIN, ACT_MAX = -128, 127


def round_half_up(x: np.ndarray) -> np.ndarray:
    """floor(x + 0.5) evaluated exactly: floor(x) plus one when the (exact) fraction x - floor(x) is >= 0.5."""
    x = np.asarray(x, dtype=np.float64)
    f = np.floor(x)
    with np.errstate(invalid="ignore"):
        return np.where(x - f >= 0.5, f + 1.0, f)


def quantize_input(x: np.ndarray, scale: float) -> np.ndarray:
    """Float images (any shape) -> int8 codes: clamp(round_half_up(float32(x) / scale), -128, 127).

    The input goes through float32 first, as the reference does (the dataset readers deliver float32)."""
    q = round_half_up(np.asarray(x, dtype=np.float32).astype(np.float64) / np.float64(scale))
    return np.clip(q, ACT_MIN, ACT_MAX).astype(np.int8)
