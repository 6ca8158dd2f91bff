"""cocotb simulations of the weight-stationary PE arrays (the ``--pe-impl rtl`` blackboxes), Icarus by default.

Each run replays a call sequence (both banks filled, then random calls that load during compute, switch banks, read
the entry they write, use positions >= KK and load words past the last PE, then extreme tiles) and checks every
defined psum against the numpy integer reference and the stateful C model, back to back and with ap_start gaps
(garbage on every input, we = 1 included), ap_ce stalls and ap_continue back-pressure. Injected faults must be caught.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import require_simulator
from nash.codegen.rtl.pe_arrays import PEArrayConfig, StationaryConfig, expected_latency
from nash.codegen.rtl.ws_sim import code_psum, make_ws_sequence, run_ws_sim


@pytest.fixture
def icarus() -> None:
    require_simulator("icarus")


needs_icarus = pytest.mark.usefixtures("icarus")

# (engine, tm, tn, acc_bits, exp_max, kk): all three ops; two load words per position (adder: 21 PEs); KK not a
# power of two (conv 9, shift 3, adder 5: positions >= KK exist); shift with E = 5 (exponent codes > E exist)
FAST = [("conv", 4, 5, 32, 7, 9), ("shift", 4, 3, 32, 5, 3), ("adder", 3, 7, 32, 7, 5)]
# make sim: one position (KK = 1), KK = 49 (k = 7), psum split over two ports (64 rows x 32 bits, 20 x 64 bits),
# E = 15, tight accumulators, 64 PEs in 4 load words
FULL = [("conv", 1, 1, 16, 7, 1), ("conv", 64, 2, 32, 7, 4), ("conv", 8, 8, 32, 7, 49), ("shift", 5, 16, 32, 15, 9),
        ("shift", 20, 3, 64, 7, 2), ("adder", 16, 4, 32, 7, 25), ("adder", 6, 2, 10, 7, 7)]


def _cfg(c: tuple) -> StationaryConfig:
    return StationaryConfig(PEArrayConfig(*c[:5]), c[5])


def _id(c: tuple) -> str:
    return f"{c[0]}-tm{c[1]}-tn{c[2]}-a{c[3]}-e{c[4]}-kk{c[5]}"


def _check(m: dict, ws: StationaryConfig) -> None:
    bb = json.loads(Path(m["paths"]["blackbox_json"]).read_text())["rtl_performance"]
    assert m["latency"] == int(bb["latency"]) == expected_latency(ws.pe.engine, ws.pe.tm, ws.pe.tn), m
    assert m["ii"] == int(bb["II"]) == 1
    assert m["tests"] == 2 and m["cycles"] == m["calls"] + m["latency"], m
    assert m["checked"] >= 0.6 * m["calls"], m  # most calls read defined entries


@needs_icarus
@pytest.mark.parametrize("c", FAST, ids=[_id(c) for c in FAST])
def test_weight_stationary_array_matches_reference_and_c_model(c, tmp_path) -> None:
    ws = _cfg(c)
    _check(run_ws_sim(ws, tmp_path, n_random=96, seed=3), ws)


@needs_icarus
@pytest.mark.slow
@pytest.mark.parametrize("c", FULL, ids=[_id(c) for c in FULL])
def test_weight_stationary_array_full(c, tmp_path) -> None:
    ws = _cfg(c)
    _check(run_ws_sim(ws, tmp_path, n_random=160, seed=5), ws)


# negative controls: each fault must make the testbench fail
FAULTS = {
    # a call that is not accepted (stall, gap with garbage inputs) writes anyway
    "write_without_accept": ("wire write = we & accept & wk_ok;", "wire write = we & wk_ok;"),
    # the compute side ignores its bank (reads bank 0 always)
    "bank_ignored": ("wire [KB:0] raddr = {cbank, k};", "wire [KB:0] raddr = {1'b0, k};"),
    # the compute side sees this call's write (write-first bypass instead of the old code)
    "write_first": ("wire [KB:0] raddr = {cbank, k};",
                    "wire [KB:0] raddr = (write && {wbank, wk} == {cbank, k}) ? {~cbank, k} : {cbank, k};"),
}


@needs_icarus
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_injected_faults_are_caught(fault, tmp_path) -> None:
    old, new = FAULTS[fault]
    ws = _cfg(FAST[0])
    with pytest.raises(AssertionError, match="RTL psum"):
        run_ws_sim(ws, tmp_path, n_random=96, seed=3, rtl_transform=lambda s: s.replace(old, new))


def test_sequence_covers_the_adversarial_cases() -> None:
    """The call sequence really holds what the tests claim (independent of any simulator)."""
    for c in FAST:
        ws = _cfg(c)
        s = make_ws_sequence(ws, n_random=96, seed=3)
        chk, we = s["check"], s["we"] == 1
        load_during_compute = chk & we & (s["wbank"] != s["cbank"]) & (s["wk"] < ws.kk)
        same_entry = we & (s["wbank"] == s["cbank"]) & (s["wk"] == s["k"]) & (s["k"] < ws.kk) & chk
        assert load_during_compute.sum() >= 10 and same_entry.sum() >= 1
        assert set(s["cbank"][chk].tolist()) == {0, 1}
        if ws.kk < 1 << ws.k_bits:
            assert (chk & (s["k"] >= ws.kk)).any() and (we & (s["wk"] >= ws.kk)).any()
        if ws.load_words < 1 << ws.j_bits:
            assert (we & (s["wj"] >= ws.load_words)).any()
        if ws.pe.engine == "shift":  # reserved sign codes 2'b10 written
            codes = s["wdata"][we] & ((1 << ws.pe.weight_bits) - 1)
            assert ((codes >> ws.pe.exp_bits) & 3 == 2).any()


@pytest.mark.parametrize("c", FAST + FULL[:3], ids=[_id(c) for c in FAST + FULL[:3]])
def test_stateful_c_model_matches_reference(c, tmp_path) -> None:
    """The stateful C model (g++ -Werror, ctypes) on a call sequence: every defined call's psum is the integer
    reference's; state carries over between runs and clear() empties it."""
    from nash.codegen.rtl.pe_arrays import StationaryModel, build_c_model, render_pe_array

    ws = _cfg(c)
    paths = render_pe_array(c[0], c[1], c[2], tmp_path, c[3], c[4], kk=c[5])
    model = StationaryModel(build_c_model(paths, tmp_path / "b"), ws)
    seq = make_ws_sequence(ws, n_random=200, seed=11)
    model.clear()
    half = len(seq["x"]) // 2
    first = model.run({k: v[:half] for k, v in seq.items()})
    second = model.run({k: v[half:] for k, v in seq.items()})  # continues from the first half's state
    got = np.concatenate([first, second])
    np.testing.assert_array_equal(got[seq["check"]], seq["golden"][seq["check"]])
    model.clear()
    zero = model.run({k: v[:1] for k, v in seq.items()} | {"k": np.zeros(1, np.int32), "we": np.zeros(1, np.int32)})
    np.testing.assert_array_equal(zero[0], code_psum(ws, seq["x"][0], np.zeros(ws.pes, np.int64)))
