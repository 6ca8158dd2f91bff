"""cocotb testbench for the weight-stationary PE arrays (``--pe-impl rtl``), run through ``nash.codegen.rtl.ws_sim``.

Not a pytest module: the simulator imports it. ``NASH_PE_TB_CONFIG`` names the runner's JSON: the array's parameters,
an ``.npz`` with the call sequence (``ws_sim.make_ws_sequence``), the numpy-integer-reference psums (``golden``), the
C model's (``cmodel``) and which calls are checked. Every checked call's psum is compared with both, in order; in
every cycle the handshake is checked (``tb_io.ApChainHarness``: ready, valids, idle, held outputs), and when no
call is offered every data input carries random values (``we`` = 1 included), which must not change the register
files (a later call would read the damage). Latency and II are measured from ``ap_ready`` / ``ap_done`` (cycle
convention of ``pe_array_tb``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge
from nash.codegen.rtl.pe_arrays import PEArrayConfig, StationaryConfig, pack_vector, unpack_signed
from nash.codegen.rtl.testbench.tb_io import ApChainHarness, record_measurement

FIELDS = ("k", "cbank", "wj", "wk", "we", "wbank")


def _load() -> tuple[dict, StationaryConfig, dict[str, np.ndarray]]:
    conf = json.loads(Path(os.environ["NASH_PE_TB_CONFIG"]).read_text())
    cfg = dict(conf["cfg"])
    kk = cfg.pop("kk")
    with np.load(conf["vectors"]) as z:
        data = {k: z[k] for k in z.files}
    return conf, StationaryConfig(PEArrayConfig(**cfg), kk), data


class Harness(ApChainHarness):
    """One call (a register-file write and / or a MAC over the stationary weights) per transaction."""

    def __init__(self, dut, ws: StationaryConfig, data: dict[str, np.ndarray], seed: int) -> None:
        super().__init__(dut, seed)
        self.ws, self.data = ws, data
        self.x_words = [pack_vector(v, 8) for v in data["x"]]
        self.w_words = [pack_vector(v, 8) for v in data["wdata"]]
        self.ports = [(getattr(dut, f"psum_{i}"), getattr(dut, f"psum_{i}_ap_vld"), first, rows)
                      for i, (first, rows) in enumerate(ws.psum_ports)]
        self.widths = {"x": ws.pe.x_width, "wdata": ws.word_bits, "k": ws.k_bits, "wk": ws.k_bits,
                       "wj": ws.j_bits, "cbank": 1, "wbank": 1, "we": 1}

    async def start(self) -> None:
        Clock(self.dut.ap_clk, 10, unit="ns").start()
        d = self.dut
        d.ap_rst.value = 1
        self._drive(0, 1, 1, None)
        for _ in range(2):
            await RisingEdge(d.ap_clk)
        d.ap_rst.value = 0
        self._drive(0, 1, 1, None)
        await RisingEdge(d.ap_clk)

    def _drive(self, start: int, ce: int, cont: int, idx: int | None) -> None:
        d = self.dut
        d.ap_start.value = start
        d.ap_ce.value = ce
        d.ap_continue.value = cont
        for name, bits in self.widths.items():
            if idx is None:  # no call: random values everywhere, we = 1 included
                value = self.rng.getrandbits(bits)
            elif name == "x":
                value = self.x_words[idx]
            elif name == "wdata":
                value = self.w_words[idx]
            else:
                value = int(self.data[name][idx])
            getattr(d, name).value = value

    def psum(self) -> np.ndarray:
        total = 0
        for port, _, first, _ in self.ports:
            total |= port.value.to_unsigned() << (first * self.ws.pe.acc_bits)
        return unpack_signed(total, self.ws.pe.acc_bits, self.ws.pe.tm)

    output = psum

    def valids(self) -> list:
        return [vld for _, vld, _, _ in self.ports]

    def checked(self, idx: int) -> bool:
        return bool(self.data["check"][idx])

    def check(self, idx: int, got: np.ndarray, where: str) -> None:
        want = self.data["golden"][idx]
        row = {f: int(self.data[f][idx]) for f in FIELDS}
        assert np.array_equal(got, want), (f"{where}: call {idx} {row}: RTL psum {got.tolist()} != numpy integer "
                                           f"reference {want.tolist()} (cfg {self.ws.as_dict()})")
        assert np.array_equal(got, self.data["cmodel"][idx]), (
            f"{where}: call {idx}: RTL psum {got.tolist()} != C model {self.data['cmodel'][idx].tolist()}")


@cocotb.test()
async def calls_back_to_back(dut) -> None:
    """The whole sequence at one call per cycle: every checked psum right, fixed latency, II 1."""
    conf, ws, data = _load()
    h = Harness(dut, ws, data, conf["seed"])
    await h.start()
    res = await h.run(list(range(len(data["x"]))), where="back-to-back")
    assert res["checked"] == int(data["check"].sum())
    assert len(set(res["latencies"])) == 1, f"latency varies: {sorted(set(res['latencies']))}"
    gaps = np.diff(res["accepts"] + [res["accepts"][-1] + 1])
    assert int(gaps.max()) == 1 and int(np.diff(res["dones"]).max()) == 1
    record_measurement(conf, "latency", res["latencies"][0])
    record_measurement(conf, "ii", 1)
    record_measurement(conf, "cycles", res["cycles"])
    record_measurement(conf, "checked", res["checked"])


@cocotb.test()
async def calls_with_stalls(dut) -> None:
    """Random ap_start gaps (garbage on every input, we = 1 included), ap_ce stalls and ap_continue back-pressure:
    a call writes only in the cycle it is accepted, so the same psums come out, in order."""
    conf, ws, data = _load()
    if conf.get("skip_stalls"):
        return
    h = Harness(dut, ws, data, conf["seed"] + 1)
    await h.start()
    res = await h.run(list(range(len(data["x"]))), p_start=0.7, p_ce=0.75, p_cont=0.6, where="stalls")
    assert res["checked"] == int(data["check"].sum())
    record_measurement(conf, "stalls", {"calls": len(data["x"]), "cycles": res["cycles"]})
