"""cocotb simulations of the generated PE arrays (Icarus by default; Verilator when >= 5.036 is on PATH).

Each run checks every output against the numpy integer reference and the g++-built C model (ctypes) on edge and
random vectors, back to back, with ap_ce stalls, ap_start gaps and ap_continue back-pressure, and measures latency
and II from the handshakes. The unmarked tests are the fast subset of ``make test``; ``make sim`` runs all of them.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from helpers import require_simulator
from nash.codegen.rtl.pe_arrays import PEArrayConfig, expected_latency
from nash.codegen.rtl.sim_runner import calibrate, check_record, run_pe_sim, simulator_status
from nash.frontend.accel.calibration import calibration_path, default_pe_latency, load_pe_timing
from nash.frontend.core.op_registry import PE_ENGINES

VERILATOR_OK, VERILATOR_WHY = simulator_status("verilator")  # optional: its tests skip with the reason


@pytest.fixture
def icarus() -> None:
    require_simulator("icarus")  # skip with the reason, or fail under `make test` (NASH_REQUIRE_RTL=1)


needs_icarus = pytest.mark.usefixtures("icarus")

# fast subset: one non-square array per engine
FAST = [("conv", 3, 5, 32, 7), ("shift", 4, 3, 32, 5), ("adder", 2, 6, 32, 7)]
# full matrix (make sim): >= 3 parameter sets per engine, non-square, Tn = 1, non power-of-two Tn, tight ACC_BITS
FULL = [
    ("conv", 1, 1, 16, 7), ("conv", 4, 8, 32, 7), ("conv", 8, 3, 32, 7), ("conv", 3, 5, 18, 7), ("conv", 16, 16, 32, 7),
    ("shift", 2, 3, 32, 7), ("shift", 8, 4, 14, 3), ("shift", 5, 16, 32, 15), ("shift", 4, 1, 9, 0),
    ("shift", 6, 7, 32, 7),
    ("adder", 1, 7, 32, 7), ("adder", 8, 8, 32, 7), ("adder", 16, 5, 32, 7), ("adder", 6, 2, 10, 7),
    ("adder", 12, 16, 32, 7),
]


def _id(c: tuple) -> str:
    return f"{c[0]}-tm{c[1]}-tn{c[2]}-a{c[3]}-e{c[4]}"


def _check_measurements(m: dict, cfg: PEArrayConfig) -> None:
    """Measured latency / II == the blackbox JSON's rtl_performance == the accelerator model's formula."""
    bb = json.loads(Path(m["paths"]["blackbox_json"]).read_text())["rtl_performance"]
    assert m["latency"] == int(bb["latency"]) == expected_latency(cfg.engine, cfg.tm, cfg.tn), m
    assert m["ii"] == int(bb["II"]) == 1, m
    s = m["stream"]
    assert s["ii_in_max"] == s["ii_out_max"] == 1 and s["ii_in_mean"] == s["ii_out_mean"] == 1.0, s
    assert s["latency_min"] == s["latency_max"] == m["latency"], "latency differs in a back-to-back stream"
    assert s["cycles"] == s["vectors"] + m["latency"], "a stream of N vectors must take N + latency cycles"
    assert m["tests"] == 4 and m["c_model_checked"]


@needs_icarus
@pytest.mark.parametrize("c", FAST, ids=[_id(c) for c in FAST])
def test_pe_array_icarus_fast(c, tmp_path) -> None:
    cfg = PEArrayConfig(*c)
    m = run_pe_sim(cfg, tmp_path, "icarus", n_random=32, seed=3)
    _check_measurements(m, cfg)


@needs_icarus
def test_testbench_catches_faults(tmp_path) -> None:
    """Negative controls: a wrong adder-tree operation and a missing pipeline stage must both fail the testbench."""
    cfg = PEArrayConfig("adder", 2, 3)

    def wrong_sum(src: str) -> str:  # level-1 node subtracts instead of adding
        return re.sub(r"(t1_0 <= .*?) \+ ", r"\1 - ", src, count=1)

    def short_pipe(src: str) -> str:  # declare a latency one cycle shorter than the datapath
        return src.replace("localparam LATENCY = 4;", "localparam LATENCY = 3;")

    for fault in (wrong_sum, short_pipe):
        with pytest.raises(AssertionError):
            run_pe_sim(cfg, tmp_path, "icarus", n_random=8, seed=1, rtl_transform=fault)


@needs_icarus
def test_calibration_json_agrees(tmp_path, monkeypatch) -> None:
    """The calibration JSON (what the accelerator model reads) holds the measured latency / II, which agree with the
    blackbox JSON and with the accelerator model's default formula 2 + ceil(log2(tn))."""
    out = tmp_path / "cal" / "pe_arrays.json"
    monkeypatch.setenv("NASH_CALIBRATION", str(out))
    assert calibration_path() == out
    path = calibrate(tms=(3,), tns=(1, 4), work_dir=tmp_path / "work")
    assert path == out
    doc = json.loads(out.read_text())
    assert doc["source"] == "cocotb+icarus"
    got = {(r["engine"], r["tm"], r["tn"]): (r["latency"], r["ii"]) for r in doc["records"]}
    assert set(got) == {(e, 3, tn) for e in PE_ENGINES for tn in (1, 4)}
    for (engine, tm, tn), (lat, ii) in got.items():
        assert lat == expected_latency(engine, tm, tn) and ii == 1
    assert not list(out.parent.glob(".*.tmp")), "atomic write left a temp file"
    # the accelerator model's reader (nash.frontend.accel.calibration) sees the same numbers
    timing = load_pe_timing(out)
    assert timing.calibrated
    for (engine, tm, tn), (lat, ii) in got.items():
        assert timing.latency(engine, tm, tn) == lat and timing.ii(engine, tm, tn) == ii
        assert default_pe_latency(tn) == lat


@needs_icarus
def test_calibration_default_location_is_cwd_independent(tmp_path, monkeypatch) -> None:
    """Without --out or $NASH_CALIBRATION, ``calibrate`` writes the per-user cache file
    ($XDG_CACHE_HOME/nash-hls/calibration/pe_arrays.json) and the accelerator model finds it from another cwd."""
    monkeypatch.delenv("NASH_CALIBRATION", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    path = calibrate(tms=(2,), tns=(3,), work_dir=tmp_path / "work", engines=("shift",))
    assert path == tmp_path / "cache" / "nash-hls" / "calibration" / "pe_arrays.json"
    assert not (tmp_path / "a" / "build").exists()
    monkeypatch.chdir(tmp_path / "b")
    timing = load_pe_timing()
    assert timing.calibrated and str(path) in timing.source
    assert timing.latency("shift", 2, 3) == expected_latency("shift", 2, 3) == 4  # 2 + ceil(log2 3)


def test_calibration_file_from_make_sim_agrees(tmp_path) -> None:
    """If ``make sim`` has written the calibration file, every record agrees with the rendered blackbox JSON."""
    path = calibration_path()
    if not path.exists():
        pytest.skip(f"{path} not written yet (run `make sim`)")
    doc = json.loads(path.read_text())
    assert doc["source"] == "cocotb+icarus" and doc["records"]
    from nash.codegen.rtl.pe_arrays import render_pe_array

    for r in doc["records"]:
        assert set(r) == {"engine", "tm", "tn", "latency", "ii"}
        paths = render_pe_array(r["engine"], r["tm"], r["tn"], tmp_path / "r")
        check_record(r, paths["blackbox_json"])


@needs_icarus
@pytest.mark.slow
@pytest.mark.parametrize("c", FULL, ids=[_id(c) for c in FULL])
def test_pe_array_icarus_full(c, tmp_path) -> None:
    cfg = PEArrayConfig(*c)
    m = run_pe_sim(cfg, tmp_path, "icarus", n_random=160, seed=11, n_single=6)
    _check_measurements(m, cfg)


@pytest.mark.slow
@pytest.mark.skipif(not VERILATOR_OK, reason=VERILATOR_WHY)
@pytest.mark.parametrize("c", FAST, ids=[_id(c) for c in FAST])
def test_pe_array_verilator(c, tmp_path) -> None:
    cfg = PEArrayConfig(*c)
    m = run_pe_sim(cfg, tmp_path, "verilator", n_random=64, seed=5)
    _check_measurements(m, cfg)


def test_simulator_status_reasons() -> None:
    ok, why = simulator_status("verilator")
    assert isinstance(ok, bool) and why
    assert simulator_status("questa")[0] is False
    assert os.environ.get("NASH_CALIBRATION") is None or calibration_path() == Path(os.environ["NASH_CALIBRATION"])
