"""cocotb runner glue for the weight-stationary PE arrays (``--pe-impl rtl``): call sequences, golden psums, simulation.

A *call* is one blackbox call: the compute side (``x``, window position ``k``, bank ``cbank``) and the load side
(``wdata``: 16 bytes for PEs ``16 wj ..``, position ``wk``, bank ``wbank``, enable ``we``). :func:`make_ws_sequence`
builds a sequence that fills both banks, then mixes random calls (load during compute, both banks, the same entry
read and written in one call, positions >= KK, load words past the last PE, reserved shift codes and stray high bits)
with extreme tiles, and computes each call's golden psums with the numpy integer reference from a Python copy of the
register files (independent of the templates). A call whose compute side reads an entry no earlier call of the
sequence wrote is not checked (the Verilog's register files start undefined). :func:`run_ws_sim` checks the C model
(ctypes) against that golden, then runs ``nash.codegen.rtl.testbench.pe_ws_tb`` on Icarus (or Verilator >= 5.036).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from nash.codegen.rtl.pe_arrays import (
    WORD_LANES,
    StationaryConfig,
    StationaryModel,
    build_c_model,
    encode_shift_weights,
    render_pe_array,
)
from nash.codegen.rtl.sim_runner import _edge_vectors, mutate_verilog, run_testbench, simulator_status
from nash.frontend.integer.reference import shift_acc

TB_MODULE = "nash.codegen.rtl.testbench.pe_ws_tb"
FIELDS = ("k", "cbank", "wj", "wk", "we", "wbank")


def code_psum(ws: StationaryConfig, x: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """psum[m] of the integer reference for int8 ``x`` [tn] and the stored codes [tm * tn] (the low weight_bits of
    each byte; shift codes decoded by the documented rule: sign 2'b01 = +1, 2'b11 = -1, else 0; e > E gives 0)."""
    c = ws.pe
    codes = codes.astype(np.int64) & ((1 << c.weight_bits) - 1)
    xr = x.astype(np.int64).reshape(1, c.tn, 1, 1)
    if c.engine == "shift":
        sg = (codes >> c.exp_bits) & 3
        e = codes & ((1 << c.exp_bits) - 1)
        sign = np.where(sg == 1, 1, np.where(sg == 3, -1, 0))
        sign = np.where(e > c.exp_max, 0, sign)
        e = np.where(sign == 0, 0, e)
        return shift_acc(xr, sign.reshape(c.tm, c.tn, 1, 1), e.reshape(c.tm, c.tn, 1, 1), c.exp_max).reshape(c.tm)
    w = np.where(codes > 127, codes - 256, codes)  # int8 weights
    return c.spec.resolve("numpy_acc")(xr, w.reshape(c.tm, c.tn, 1, 1)).reshape(c.tm)


class _Sequence:
    """Builds calls and their golden psums against a Python copy of the register files."""

    def __init__(self, ws: StationaryConfig, seed: int) -> None:
        self.ws = ws
        self.rng = np.random.default_rng(seed)
        self.rf = np.zeros((2, ws.pes, ws.kk), dtype=np.int64)
        self.defined = np.zeros((2, ws.pes, ws.kk), dtype=bool)
        self.rows: list[dict] = []

    def call(self, x, k: int, cbank: int, wdata, wj: int, wk: int, we: int, wbank: int) -> None:
        ws = self.ws
        x = np.asarray(x, dtype=np.int8).reshape(ws.pe.tn)
        wdata = np.asarray(wdata, dtype=np.uint8).reshape(WORD_LANES)
        if k < ws.kk:
            check = bool(self.defined[cbank, :, k].all())
            golden = code_psum(ws, x, self.rf[cbank, :, k]) if check else np.zeros(ws.pe.tm, np.int64)
        else:  # positions past KK read zero codes
            check, golden = True, code_psum(ws, x, np.zeros(ws.pes, np.int64))
        if we and wk < ws.kk:  # after the read: a call reading the entry it writes sees the old code
            for lane in range(WORD_LANES):
                p = WORD_LANES * wj + lane
                if p < ws.pes:
                    self.rf[wbank, p, wk] = int(wdata[lane]) & ((1 << ws.pe.weight_bits) - 1)
                    self.defined[wbank, p, wk] = True
        self.rows.append({"x": x, "wdata": wdata, "k": k, "cbank": cbank, "wj": wj, "wk": wk, "we": we,
                          "wbank": wbank, "golden": golden, "check": check})

    def rand_x(self) -> np.ndarray:
        return self.rng.integers(-128, 128, self.ws.pe.tn)

    def rand_bytes(self) -> np.ndarray:
        return self.rng.integers(0, 256, WORD_LANES)

    def load_tile(self, codes: np.ndarray, bank: int, pos: int, x=None, cbank: int | None = None,
                  k: int | None = None) -> None:
        """Load a whole tile ([tm * tn] codes) into (bank, pos), one word per call; the compute side of those calls
        reads (cbank, k) (the other bank at a random position by default)."""
        ws = self.ws
        padded = np.zeros(ws.load_words * WORD_LANES, dtype=np.int64)
        padded[:ws.pes] = codes
        for j in range(ws.load_words):
            self.call(self.rand_x() if x is None else x, int(self.rng.integers(0, ws.kk)) if k is None else k,
                      1 - bank if cbank is None else cbank, padded[j * WORD_LANES:(j + 1) * WORD_LANES], j, pos, 1,
                      bank)

    def as_arrays(self) -> dict[str, np.ndarray]:
        out = {f: np.array([r[f] for r in self.rows], dtype=np.int32) for f in FIELDS}
        out["x"] = np.stack([r["x"] for r in self.rows]).astype(np.int8)
        out["wdata"] = np.stack([r["wdata"] for r in self.rows]).astype(np.uint8)
        out["golden"] = np.stack([r["golden"] for r in self.rows]).astype(np.int64)
        out["check"] = np.array([r["check"] for r in self.rows], dtype=bool)
        return out


def _edge_codes(ws: StationaryConfig) -> list[tuple[np.ndarray, np.ndarray]]:
    """The PE-array edge vectors (all-max, all-min, alternating, largest shifts...) as (x, codes [tm * tn])."""
    c = ws.pe
    out = []
    for x, w in zip(*_edge_vectors(c), strict=True):
        if c.engine == "shift":
            codes = encode_shift_weights(w[0], w[1], c.exp_max).astype(np.int64)
        else:
            codes = np.asarray(w, dtype=np.int64) & 0xFF
        out.append((np.asarray(x), codes.reshape(-1)))
    return out


def make_ws_sequence(ws: StationaryConfig, n_random: int, seed: int) -> dict[str, np.ndarray]:
    """A call sequence with golden psums (see the module docstring); arrays of length N (``x`` [N, tn], ``wdata``
    [N, 16], ``golden`` [N, tm], ``check`` [N] and the fields of :data:`FIELDS`)."""
    s = _Sequence(ws, seed)
    rng = s.rng
    k_codes, j_codes = 1 << ws.k_bits, 1 << ws.j_bits
    # 1. fill both banks at every position; the compute side reads the tile loaded before (the first tile's calls
    # read undefined entries and are not checked)
    prev = (0, 0)
    for bank in (0, 1):
        for pos in range(ws.kk):
            s.load_tile(rng.integers(0, 256, ws.pes), bank, pos, cbank=prev[0], k=prev[1])
            prev = (bank, pos)
    # 2. random calls: load during compute in either bank, the same entry read and written, k / wk >= KK, wj past
    # the last PE's word
    for _ in range(n_random):
        s.call(s.rand_x(), int(rng.integers(0, k_codes)), int(rng.integers(0, 2)), s.rand_bytes(),
               int(rng.integers(0, j_codes)), int(rng.integers(0, k_codes)), int(rng.random() < 0.7),
               int(rng.integers(0, 2)))
    # 3. extreme tiles: loaded into bank 0 at the last position while bank 1 computes, then computed while the next
    # load goes into bank 1 (a bank switch per tile)
    for x, codes in _edge_codes(ws):
        s.load_tile(codes, 0, ws.kk - 1)
        s.call(x, ws.kk - 1, 0, s.rand_bytes(), 0, int(rng.integers(0, ws.kk)), 1, 1)
    # 4. one call reads the entry it writes (old code), the next one the new code
    s.load_tile(rng.integers(0, 256, ws.pes), 1, 0, cbank=0, k=0)
    new = s.rand_bytes()
    s.call(s.rand_x(), 0, 1, new, 0, 0, 1, 1)
    s.call(s.rand_x(), 0, 1, s.rand_bytes(), 0, 0, 0, 1)
    return s.as_arrays()


def run_ws_sim(ws: StationaryConfig, work_dir: str | os.PathLike, sim: str = "icarus", n_random: int = 96,
               seed: int = 1, stalls: bool = True, rtl_transform: Callable[[str], str] | None = None,
               log_to_file: bool = True) -> dict:
    """Render, check the C model, simulate one weight-stationary PE array; returns the measurements (latency, ii,
    calls, checked calls, paths). Raises ``RuntimeError`` when the C model disagrees with the integer reference and
    ``AssertionError`` with the testbench's messages. ``rtl_transform`` edits the wrapper Verilog (fault injection)."""
    ok, why = simulator_status(sim)
    if not ok:
        raise RuntimeError(why)
    c = ws.pe
    work = Path(work_dir).resolve() / ws.name
    paths = render_pe_array(c.engine, c.tm, c.tn, work / "rtl", c.acc_bits, c.exp_max, kk=ws.kk)
    top = paths["ws_verilog"]
    tag = ""
    if rtl_transform is not None:
        top, tag = mutate_verilog(top, rtl_transform, work), "_mutant"
    data = make_ws_sequence(ws, n_random, seed)
    model = StationaryModel(build_c_model(paths, work / "cmodel"), ws)
    model.clear()
    data["cmodel"] = model.run(data)
    chk = data["check"]
    bad = np.flatnonzero(np.any(data["cmodel"][chk] != data["golden"][chk], axis=1))
    if bad.size:
        i = int(np.flatnonzero(chk)[bad[0]])
        raise RuntimeError(f"{ws.name}: C model != numpy integer reference on {bad.size} calls, first {i}: "
                           f"{data['cmodel'][i].tolist()} != {data['golden'][i].tolist()}")
    out, n_cases = run_testbench([top, paths["verilog"]], ws.name, TB_MODULE, work, sim + tag, data, ws.as_dict(),
                                 {"skip_stalls": not stalls}, sim, seed, None, log_to_file)
    out.update({"name": ws.name, "cfg": ws.as_dict(), "simulator": sim, "calls": int(len(chk)),
                "checked": int(chk.sum()), "tests": n_cases, "paths": {k: str(v) for k, v in paths.items()}})
    return out
