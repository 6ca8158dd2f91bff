"""cocotb testbench for one depthwise lane (``codegen/rtl/dw_lanes.py``), run through ``run_dw_lane_sim``.

Not a pytest module: the simulator imports it. The file named by ``NASH_DW_TB_CONFIG`` (JSON written by the runner)
gives the lane's parameters, an ``.npz`` with the term stream (``x``, ``w``, ``first``, ``last``) and the numpy integer
reference's window sums (``golden``), and where to write the measurements. Every window sum is checked; the latency
(cycles from a window's last term to its ``valid_out``) is measured here, never taken from the template.

Cycle convention as in ``pe_array_tb``: inputs are driven right after a rising edge and sampled (``ReadOnly``) before
the next one; a term is taken in a cycle where ``valid_in & ap_ce``.
"""

from __future__ import annotations

import json
import os
import random
from collections import deque
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge
from nash.codegen.rtl.dw_lanes import DwLaneConfig
from nash.codegen.rtl.testbench.tb_io import record_measurement


def _load() -> tuple[dict, DwLaneConfig, dict[str, np.ndarray]]:
    conf = json.loads(Path(os.environ["NASH_DW_TB_CONFIG"]).read_text())
    with np.load(conf["vectors"]) as z:
        data = {k: z[k] for k in z.files}
    return conf, DwLaneConfig(**conf["cfg"]), data


def _signed(v: int, bits: int) -> int:
    return v - (1 << bits) if v >> (bits - 1) else v


async def _reset(dut) -> None:
    dut.ap_rst.value = 1
    dut.ap_ce.value = 1
    dut.valid_in.value = 0
    for _ in range(2):
        await RisingEdge(dut.ap_clk)
    dut.ap_rst.value = 0
    await ReadOnly()
    assert int(dut.valid_out.value) == 0, "valid_out set right after reset"
    await RisingEdge(dut.ap_clk)


async def _stream(dut, cfg: DwLaneConfig, data: dict, rng: random.Random, p_valid: float, p_ce: float,
                  where: str) -> dict:
    """Send every term (with random gaps and ap_ce stalls); check every window sum in order; return the latencies."""
    n, golden = len(data["x"]), data["golden"]
    i = cycle = 0
    ends: deque[int] = deque()  # cycle in which each window's last term was taken
    got: list[int] = []
    lats: list[int] = []
    limit = 20 * n + 100
    while (i < n or ends) and cycle < limit:
        offer = i < n and rng.random() < p_valid
        ce = 1 if rng.random() < p_ce else 0
        dut.ap_ce.value = ce
        dut.valid_in.value = int(offer)
        if offer:
            dut.x.value = int(data["x"][i]) & 0xFF
            dut.w.value = int(data["w"][i]) & ((1 << cfg.weight_bits) - 1)
            dut.first.value = int(data["first"][i])
            dut.last.value = int(data["last"][i])
        else:  # no term: garbage on the data and the window marks, which must be ignored
            dut.x.value = rng.getrandbits(8)
            dut.w.value = rng.getrandbits(cfg.weight_bits)
            dut.first.value = rng.getrandbits(1)
            dut.last.value = rng.getrandbits(1)
        await ReadOnly()
        if int(dut.valid_out.value):
            assert ends, f"{where}: cycle {cycle}: valid_out with no window in flight"
            k = len(got)
            value = _signed(dut.acc.value.to_unsigned(), cfg.acc_bits)
            assert value == int(golden[k]), (f"{where}: window {k}: RTL sum {value} != numpy integer reference "
                                             f"{int(golden[k])} (cfg={cfg.as_dict()})")
            got.append(value)
            if ce:  # an output shown while ap_ce = 0 stays on for the next cycle; count it once
                lats.append(cycle - ends.popleft())
            else:
                got.pop()
        if offer and ce:
            if int(data["last"][i]):
                ends.append(cycle)
            i += 1
        await RisingEdge(dut.ap_clk)
        cycle += 1
    assert i == n and not ends, f"{where}: timed out after {limit} cycles ({n - i} terms left, {len(ends)} in flight)"
    assert len(got) == len(golden), f"{where}: {len(got)} window sums for {len(golden)} windows"
    dut.valid_in.value = 0
    dut.ap_ce.value = 1
    return {"latency_min": min(lats), "latency_max": max(lats), "windows": len(got), "cycles": cycle}


@cocotb.test()
async def back_to_back(dut) -> None:
    """Every term on consecutive cycles: each window sum equals the reference; the latency is one constant."""
    conf, cfg, data = _load()
    Clock(dut.ap_clk, 10, unit="ns").start()
    await _reset(dut)
    res = await _stream(dut, cfg, data, random.Random(conf["seed"]), 1.0, 1.0, "back-to-back")
    assert res["latency_min"] == res["latency_max"], f"latency varies: {res}"
    assert res["cycles"] == len(data["x"]) + res["latency_max"], f"a stream of N terms must take N + latency: {res}"
    record_measurement(conf, "latency", res["latency_max"])
    record_measurement(conf, "windows", res["windows"])


@cocotb.test()
async def gaps_and_stalls(dut) -> None:
    """Random valid_in gaps (garbage on the inputs) and ap_ce stalls: the same sums, the same latency in cycles
    that advance the pipeline."""
    conf, cfg, data = _load()
    if not conf.get("stalls", True):
        return
    Clock(dut.ap_clk, 10, unit="ns").start()
    await _reset(dut)
    res = await _stream(dut, cfg, data, random.Random(conf["seed"] + 1), 0.7, 0.8, "gaps-and-stalls")
    record_measurement(conf, "stalled_windows", res["windows"])
