"""The requant lane in Verilog: ``q = clamp((acc * M + B + 2^(S-1)) >>> S, lo, 127)`` at the HLS contract widths.

The HLS engines compute the same function (``nash::requant<ACC_W, SUM_W>`` in ``hls_templates/src/nash_common.h``;
the numpy rule is ``frontend/core/quant_params.requantize``). This module renders it so that Yosys can measure what
one lane costs (``codegen/rtl/yosys_synth.py``); ``tests/codegen/rtl/test_requant_lane.py`` checks it bit-exact against
the numpy rule with Icarus.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from nash.codegen.templates import get_template
from nash.frontend.core.quant_params import MULT_BITS

TEMPLATE = "hls_templates/pe_arrays/requant_lane.v.j2"
LATENCY = 5  # input registers, product, + bias + rounding, shift, clamp
MAX_SUM_BITS = 63  # codegen refuses product_bits > 63 (codegen/hls/render.py)


@dataclass(frozen=True)
class RequantLaneConfig:
    """Widths of one requant lane: the accumulator (``ACC_W``) and the proven width of the whole sum (``SUM_W``)."""

    acc_bits: int = 32
    sum_bits: int = 48

    def __post_init__(self) -> None:
        if not 2 <= self.acc_bits <= 64:
            raise ValueError(f"acc_bits: need 2 <= ACC_W <= 64, got {self.acc_bits}")
        # a 16-bit multiplier times a non-trivial accumulator needs at least 17 bits; the rounding constant 2^(S-1)
        # fits SUM_W bits for S <= SUM_W - 1, which the proven width guarantees for the shifts a layer really uses
        lo = MULT_BITS + 2
        if not lo <= self.sum_bits <= MAX_SUM_BITS:
            raise ValueError(f"sum_bits: need {lo} <= SUM_W <= {MAX_SUM_BITS}, got {self.sum_bits}")

    @property
    def name(self) -> str:
        return f"nash_requant_lane_a{self.acc_bits}_s{self.sum_bits}"

    @property
    def latency(self) -> int:
        return LATENCY


def render_requant_lane(cfg: RequantLaneConfig, out_dir: str | os.PathLike) -> Path:
    """Write ``<name>.v`` into ``out_dir``; returns its path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{cfg.name}.v"
    text = get_template(TEMPLATE).render(name=cfg.name, acc_bits=cfg.acc_bits, sum_bits=cfg.sum_bits,
                                         latency=cfg.latency)
    path.write_text(text)
    return path
