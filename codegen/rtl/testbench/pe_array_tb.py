"""cocotb testbench for the generated PE arrays (conv / shift / adder), run through ``nash.codegen.rtl.sim_runner``.

Not a pytest module: the simulator imports it. Everything it needs comes through the file named by the environment
variable ``NASH_PE_TB_CONFIG`` (JSON written by the runner): the PE-array parameters, an ``.npz`` with the input
vectors, the numpy-integer-reference psums (``golden``) and the C-model psums (``cmodel``; left out by calibration
runs), and where to write the measurements. Every output is checked against both. Latency and II are measured
here, cycle by cycle, from the ``ap_ready`` / ``ap_done`` handshakes (never taken from the template).

Cycle convention: cycle k is the time between rising edges k and k+1. Inputs are driven right after an edge and
sampled (``ReadOnly``) before the next one; an input is accepted in cycle k when ``ap_ready`` is 1 in cycle k, an
output is taken in cycle k when ``ap_done & ap_continue & ap_ce`` is 1 in cycle k. Latency = done cycle - accept
cycle (the HLS convention: ap_start in cycle 0, ap_done in cycle L).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge
from nash.codegen.rtl.pe_arrays import PEArrayConfig, pack_vector, unpack_signed
from nash.codegen.rtl.testbench.tb_io import ApChainHarness, record_measurement


def _load() -> tuple[dict, PEArrayConfig, dict[str, np.ndarray]]:
    conf = json.loads(Path(os.environ["NASH_PE_TB_CONFIG"]).read_text())
    cfg = PEArrayConfig(**conf["cfg"])
    with np.load(conf["vectors"]) as z:
        data = {k: z[k] for k in z.files}
    return conf, cfg, data


class Harness(ApChainHarness):
    """One PE-array psum per transaction (x, w vectors)."""

    def __init__(self, dut, cfg: PEArrayConfig, data: dict[str, np.ndarray], seed: int) -> None:
        super().__init__(dut, seed)
        self.cfg = cfg
        self.x_words = [pack_vector(v, 8) for v in data["x"]]
        self.w_words = [pack_vector(v, cfg.weight_bits) for v in data["w"]]
        self.x, self.w = data["x"], data["w"]
        self.golden = data["golden"]
        self.cmodel = data.get("cmodel")  # absent when the runner skipped the C model (calibration runs)
        self.x_max = (1 << cfg.x_width) - 1
        self.w_max = (1 << cfg.w_width) - 1

    async def start(self) -> None:
        Clock(self.dut.ap_clk, 10, unit="ns").start()
        await self.reset()

    def _drive(self, start: int, ce: int, cont: int, idx: int | None) -> None:
        d = self.dut
        d.ap_start.value = start
        d.ap_ce.value = ce
        d.ap_continue.value = cont
        if idx is None:  # no transaction: random garbage on the data inputs, which must be ignored
            d.x.value = self.rng.getrandbits(self.cfg.x_width)
            d.w.value = self.rng.getrandbits(self.cfg.w_width)
        else:
            d.x.value = self.x_words[idx]
            d.w.value = self.w_words[idx]

    async def reset(self, cycles: int = 2) -> None:
        d = self.dut
        d.ap_rst.value = 1
        self._drive(0, 1, 1, None)
        for _ in range(cycles):
            await RisingEdge(d.ap_clk)
        d.ap_rst.value = 0
        self._drive(0, 1, 1, None)
        await ReadOnly()
        assert int(d.ap_done.value) == 0 and int(d.psum_ap_vld.value) == 0, "ap_done set right after reset"
        assert int(d.ap_idle.value) == 1, "ap_idle not set after reset"
        assert d.psum.value.to_unsigned() == 0, "psum not cleared by reset"
        await RisingEdge(d.ap_clk)
        self.cycle = 0

    def psum(self) -> np.ndarray:
        return unpack_signed(self.dut.psum.value.to_unsigned(), self.cfg.acc_bits, self.cfg.tm)

    output = psum

    def valids(self) -> list:
        return [self.dut.psum_ap_vld]

    def check(self, idx: int, got: np.ndarray, where: str) -> None:
        want = self.golden[idx]
        assert np.array_equal(got, want), (
            f"{where}: vector {idx}: RTL psum {got.tolist()} != numpy integer reference {want.tolist()} "
            f"(x={self.x[idx].tolist()}, w={self.w[idx].tolist()}, cfg={self.cfg.as_dict()})")
        assert self.cmodel is None or np.array_equal(got, self.cmodel[idx]), (
            f"{where}: vector {idx}: RTL psum {got.tolist()} != C model {self.cmodel[idx].tolist()}")


def _ii(cycles: list[int]) -> dict:
    gaps = np.diff(cycles) if len(cycles) > 1 else np.array([0])
    return {"max": int(gaps.max()), "mean": float(gaps.mean()) if len(cycles) > 1 else 0.0}


@cocotb.test()
async def reset_and_flush(dut) -> None:
    """Reset values; a synchronous reset in mid-stream empties the pipeline (no ap_done for flushed vectors)."""
    conf, cfg, data = _load()
    h = Harness(dut, cfg, data, conf["seed"])
    await h.start()
    n = min(3, len(data["x"]))
    for i in range(n):  # fill the pipeline
        h._drive(1, 1, 1, i)
        await RisingEdge(dut.ap_clk)
    dut.ap_rst.value = 1
    h._drive(0, 1, 1, None)
    await RisingEdge(dut.ap_clk)
    dut.ap_rst.value = 0
    for _ in range(cfg.latency + 2):
        await ReadOnly()
        assert int(dut.ap_done.value) == 0, "ap_done after a reset that should have flushed the pipeline"
        assert int(dut.ap_idle.value) == 1, "ap_idle low after reset with no ap_start"
        assert dut.psum.value.to_unsigned() == 0, "psum not cleared by reset"
        await RisingEdge(dut.ap_clk)
    # the pipeline still works after the flush
    res = await h.run([0], where="after-reset")
    assert res["dones"], "no output after reset"


@cocotb.test()
async def latency_single(dut) -> None:
    """One vector at a time into an empty pipeline: the latency must be the same for every vector."""
    conf, cfg, data = _load()
    h = Harness(dut, cfg, data, conf["seed"] + 1)
    await h.start()
    lats = []
    for i in range(min(conf["n_single"], len(data["x"]))):
        res = await h.run([i], where="single")
        lats += res["latencies"]
        for _ in range(2):  # idle gap
            await RisingEdge(dut.ap_clk)
            h.cycle += 1
    assert len(set(lats)) == 1, f"latency varies between vectors: {lats}"
    record_measurement(conf, "latency", lats[0])
    record_measurement(conf, "latency_single_samples", len(lats))


@cocotb.test()
async def stream_back_to_back(dut) -> None:
    """Every vector back to back (ap_start held high, no stalls): II from the accept and done cycles."""
    conf, cfg, data = _load()
    h = Harness(dut, cfg, data, conf["seed"] + 2)
    await h.start()
    order = list(range(len(data["x"])))
    t0 = time.perf_counter()
    res = await h.run(order, where="stream")
    secs = time.perf_counter() - t0
    assert len(res["dones"]) == len(order)
    ii_in, ii_out = _ii(res["accepts"]), _ii(res["dones"])
    record_measurement(conf, "stream", {"vectors": len(order), "cycles": res["cycles"], "seconds": secs,
                             "ii_in_max": ii_in["max"], "ii_in_mean": ii_in["mean"], "ii_out_max": ii_out["max"],
                             "ii_out_mean": ii_out["mean"], "latency_min": min(res["latencies"]),
                             "latency_max": max(res["latencies"])})
    record_measurement(conf, "ii", max(ii_in["max"], ii_out["max"]))


@cocotb.test()
async def stalls_and_backpressure(dut) -> None:
    """Random ap_start gaps, ap_ce stalls and ap_continue back-pressure: same results, in order, nothing lost."""
    conf, cfg, data = _load()
    if conf.get("skip_stalls"):
        return
    h = Harness(dut, cfg, data, conf["seed"] + 3)
    await h.start()
    order = list(range(len(data["x"])))
    res = await h.run(order, p_start=0.75, p_ce=0.7, p_cont=0.6, where="stalls")
    assert len(res["dones"]) == len(order)
    record_measurement(conf, "stalls", {"vectors": len(order), "cycles": res["cycles"],
                             "latency_max": max(res["latencies"])})
