"""Depthwise lanes in Verilog: one lane per engine op, ``pe_lane_<op>`` plus the lane's window accumulator.

The HLS engines run a depthwise layer on ``dw_lanes`` channel-parallel lanes (``mac_dw`` in
``hls_templates/src/engine.cpp.j2``): per output pixel each lane sums ``f(x, w)`` over the k x k window of its channel,
``sum = (k == 0 ? 0 : sum) + pe_lane_<op>(x, w)``. This module renders that lane so that Yosys can measure what one
costs (``codegen/rtl/yosys_calibrate.py`` -> cost-table ``<engine>.dw_lane_*``), and runs it under cocotb + Icarus
against the numpy integer reference (:func:`run_dw_lane_sim`, testbench ``codegen/rtl/testbench/dw_lane_tb.py``).

Interface per cycle: ``valid_in``, ``first`` / ``last`` (a window's first and last term), ``x`` (int8) and ``w`` (int8,
or the shift code of the PE arrays); the window's sum appears on ``acc`` while ``valid_out`` is 1, ``LATENCY`` cycles
after its last term. ``ap_ce = 0`` holds the lane.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# importing pe_arrays registers the template filter ``sext`` on the one Jinja environment
from nash.codegen.rtl.pe_arrays import MAX_ACC_BITS, EngineOperands, encode_shift_weights
from nash.codegen.templates import get_template
from nash.frontend.integer.reference import adder_acc, conv_acc, patches, shift_acc

TEMPLATE = "hls_templates/pe_arrays/dw_lane.v.j2"
LATENCY = 3  # input registers, term register, accumulator (nash::cyc::D_DW = 3 in the HLS cycle count)
TB_MODULE = "nash.codegen.rtl.testbench.dw_lane_tb"  # imported by name in the simulator's Python


@dataclass(frozen=True)
class DwLaneConfig(EngineOperands):
    """One depthwise lane: its engine's op, accumulator width, shift exponent range and whether the conv multiplier
    may use a DSP (``use_dsp=False`` asks for LUT fabric, as ``synth_xilinx -nodsp`` does)."""

    engine: str
    acc_bits: int = 32
    exp_max: int = 7
    use_dsp: bool = True

    def __post_init__(self) -> None:
        self.check_engine()
        if not self.term_bits <= self.acc_bits <= MAX_ACC_BITS:
            raise ValueError(f"acc_bits: need {self.term_bits} <= ACC_BITS <= {MAX_ACC_BITS} for a {self.engine} "
                             f"lane, got {self.acc_bits}")

    @property
    def name(self) -> str:
        base = f"nash_dw_lane_{self.engine}_a{self.acc_bits}"
        if self.spec.uses_exp_max:
            base += f"_e{self.exp_max}"
        return base if self.use_dsp or self.engine != "conv" else base + "_fabric"

    @property
    def latency(self) -> int:
        return LATENCY

    def as_dict(self) -> dict:
        return {"engine": self.engine, "acc_bits": self.acc_bits, "exp_max": self.exp_max, "use_dsp": self.use_dsp}


def render_dw_lane(cfg: DwLaneConfig, out_dir: str | os.PathLike) -> Path:
    """Write ``<name>.v`` into ``out_dir``; returns its path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{cfg.name}.v"
    path.write_text(get_template(TEMPLATE).render(cfg=cfg))
    return path


# ---- vectors and golden sums (the numpy integer reference) -----------------------------------------------------------
@dataclass(frozen=True)
class LaneLayer:
    """One depthwise layer run on one lane, channel after channel: its shape (NCHW input, one k x k filter per
    channel)."""

    channels: int
    size: int
    kernel: int
    stride: int = 1
    padding: int = 0


def _weights(cfg: DwLaneConfig, layer: LaneLayer, rng: np.random.Generator, extreme: str | None):
    """(codes [C, k*k] the lane reads, reference arguments): random accepted weights, or an extreme pattern."""
    c, kk = layer.channels, layer.kernel**2
    if cfg.engine == "shift":
        sign = rng.integers(-1, 2, (c, kk))
        exp = rng.integers(0, cfg.exp_max + 1, (c, kk))
        if extreme == "max":  # every term +-128 << E
            sign, exp = np.where(rng.integers(0, 2, (c, kk)) == 0, 1, -1), np.zeros((c, kk), np.int64)
        codes = encode_shift_weights(sign, exp, cfg.exp_max).astype(np.int64)
        if extreme == "reserved":  # reserved codes (sign 2'b10, e > E) are a zero term, as in pe_lane_shift
            bad = rng.integers(0, 2, (c, kk)) == 0
            codes[bad] = (2 << cfg.exp_bits) | rng.integers(0, cfg.exp_max + 1, int(bad.sum()))
            if cfg.exp_max < (1 << cfg.exp_bits) - 1:
                big = ~bad & (rng.integers(0, 2, (c, kk)) == 0)
                codes[big] = (1 << cfg.exp_bits) | rng.integers(cfg.exp_max + 1, 1 << cfg.exp_bits, int(big.sum()))
                bad |= big
            sign = np.where(bad, 0, sign)
        return codes, (sign.reshape(c, 1, layer.kernel, layer.kernel), exp.reshape(c, 1, layer.kernel, layer.kernel))
    lo = -128
    w = rng.integers(lo, 128, (c, kk))
    if extreme == "max":
        w = np.full((c, kk), lo if cfg.engine == "conv" else 127)
    return w, (w.reshape(c, 1, layer.kernel, layer.kernel),)


def _reference(cfg: DwLaneConfig, x: np.ndarray, args: tuple, layer: LaneLayer) -> np.ndarray:
    """[C, OH*OW] window sums of the depthwise layer (groups = C) from the integer reference."""
    kw = {"stride": layer.stride, "padding": layer.padding, "groups": layer.channels}
    if cfg.engine == "conv":
        acc = conv_acc(x, args[0], **kw)
    elif cfg.engine == "shift":
        acc = shift_acc(x, args[0], args[1], cfg.exp_max, **kw)
    else:
        acc = adder_acc(x, args[0], **kw)
    return acc.reshape(layer.channels, -1)


def lane_vectors(cfg: DwLaneConfig, layer: LaneLayer, seed: int, extreme: str | None = None) -> dict[str, np.ndarray]:
    """One lane's input stream for a depthwise layer and the golden window sums.

    ``extreme``: None (random int8 activations and accepted weights), "max" (activations -128, the largest terms:
    the accumulator's worst case), "reserved" (shift: reserved weight codes mixed in). Returns ``x``, ``w`` (codes),
    ``first``, ``last`` (one entry per term, channel by channel, window by window) and ``golden`` (one per window).
    """
    rng = np.random.default_rng(seed)
    c, kk = layer.channels, layer.kernel**2
    x = rng.integers(-128, 128, (1, c, layer.size, layer.size))
    if extreme == "max":
        x = np.full_like(x, -128)
    codes, args = _weights(cfg, layer, rng, extreme)
    golden = _reference(cfg, x, args, layer)
    win = patches(x, layer.kernel, layer.stride, layer.padding, c)[0]  # [C, L, k*k]: window order i, j
    n_win = win.shape[1]
    pos = np.tile(np.arange(kk), c * n_win)
    return {"x": win.reshape(-1), "w": np.repeat(codes[:, None, :], n_win, axis=1).reshape(-1),
            "first": (pos == 0).astype(np.int64), "last": (pos == kk - 1).astype(np.int64),
            "golden": golden.reshape(-1)}


# ---- simulation (cocotb) ---------------------------------------------------------------------------------------------
def run_dw_lane_sim(cfg: DwLaneConfig, data: dict[str, np.ndarray], work_dir: str | os.PathLike,
                    sim: str = "icarus", seed: int = 1, stalls: bool = True) -> dict:
    """Render and simulate one lane on the stream ``data`` (:func:`lane_vectors`); returns the testbench's
    measurements (outputs checked, latency). AssertionError with the testbench's messages when an output differs."""
    from nash.codegen.rtl.sim_runner import run_testbench, simulator_status

    ok, why = simulator_status(sim)
    if not ok:
        raise RuntimeError(why)
    work = Path(work_dir).resolve() / cfg.name
    verilog = render_dw_lane(cfg, work / "rtl")
    out, n_cases = run_testbench([verilog], cfg.name, TB_MODULE, work, sim, data, cfg.as_dict(), {"stalls": stalls},
                                 sim, seed, None, True, config_env="NASH_DW_TB_CONFIG")
    out.update({"name": cfg.name, "tests": n_cases, "verilog": str(verilog)})
    return out
