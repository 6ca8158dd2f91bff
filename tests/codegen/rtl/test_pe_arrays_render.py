"""PE-array codegen without a simulator: blackbox JSON of the weight-stationary wrapper, Verilog lint, C model vs
the numpy integer reference.

The golden values come from ``nash.frontend.integer.reference`` (independent of the templates under test).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from helpers import require_simulator
from nash.codegen.rtl.pe_arrays import (
    PSUM_PORT_MAX_BITS,
    CModel,
    PEArrayConfig,
    StationaryConfig,
    build_c_model,
    encode_shift_weights,
    expected_latency,
    find_ap_types,
    pack_vector,
    render_pe_array,
    unpack_signed,
)
from nash.codegen.rtl.sim_runner import make_vectors
from nash.frontend.core.op_registry import PE_ENGINES
from nash.frontend.integer.bounds import signed_bits
from nash.frontend.integer.reference import adder_acc, conv_acc, shift_acc

# (engine, tm, tn, acc_bits, exp_max): square, non-square, Tn = 1, non power-of-two Tn, tight and wide accumulators
CONFIGS = [
    ("conv", 4, 8, 32, 7), ("conv", 3, 5, 18, 7), ("conv", 1, 1, 16, 7), ("conv", 16, 16, 64, 7),
    ("shift", 2, 3, 32, 7), ("shift", 8, 4, 14, 3), ("shift", 5, 16, 32, 15), ("shift", 4, 1, 9, 0),
    ("adder", 2, 1, 32, 7), ("adder", 6, 2, 10, 7), ("adder", 8, 8, 32, 7), ("adder", 7, 13, 13, 7),
]
IDS = [f"{e}-tm{tm}-tn{tn}-a{a}-e{x}" for e, tm, tn, a, x in CONFIGS]
# window positions of the weight-stationary wrapper per config: 1, powers of two, 3 x 3, 5 x 5, 7 x 7
KK = dict(zip(CONFIGS, [9, 1, 4, 25, 9, 3, 49, 2, 1, 9, 16, 5], strict=True))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[tuple, dict[str, Path]]:
    out = tmp_path_factory.mktemp("pe_render")
    return {c: render_pe_array(c[0], c[1], c[2], out / "_".join(map(str, c)), acc_bits=c[3], exp_max=c[4],
                               kk=KK[c])
            for c in CONFIGS}


def _ports(verilog: str) -> dict[str, tuple[str, int]]:
    """name -> (direction, width) of the module's ports."""
    ports = {}
    for d, msb, name in re.findall(r"^\s*(input|output)\s+wire\s+(?:\[(\d+):0\]\s+)?(\w+)", verilog, re.M):
        ports[name] = (d, int(msb) + 1 if msb else 1)
    return ports


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_blackbox_json_matches_rtl(rendered, cfg) -> None:
    """The UG1399 JSON describes the weight-stationary module: every port, in the prototype's order, none wider than
    PSUM_PORT_MAX_BITS; latency / II of the datapath."""
    paths = rendered[cfg]
    c = PEArrayConfig(*cfg)
    ws = StationaryConfig(c, KK[cfg])
    bb = json.loads(paths["blackbox_json"].read_text())
    for key in ("c_function_name", "rtl_top_module_name", "c_files", "rtl_files", "c_parameters", "rtl_common_signal",
                "rtl_performance", "rtl_resource_usage"):
        assert key in bb, f"UG1399 key {key} missing"
    assert bb["c_function_name"] == bb["rtl_top_module_name"] == ws.name == f"{c.name}_k{KK[cfg]}_ws"
    base = paths["blackbox_json"].parent
    for f in [x["c_file"] for x in bb["c_files"]] + bb["rtl_files"]:
        assert (base / f).exists(), f"{f} named in the blackbox JSON is not beside it"
    assert bb["rtl_files"] == [paths["ws_verilog"].name, paths["verilog"].name]
    verilog = paths["ws_verilog"].read_text()
    assert re.search(rf"^module {ws.name} \(", verilog, re.M)
    assert re.search(rf"^    {c.name} u_array \(", verilog, re.M)  # the datapath, instantiated once
    assert re.search(rf"^module {c.name} \(", paths["verilog"].read_text(), re.M)
    ports = _ports(verilog)
    named = list(bb["rtl_common_signal"].values())
    for p in bb["c_parameters"]:
        named += list(p["rtl_ports"].values())
    for n in named:
        assert n in ports, f"port {n} of the blackbox JSON is not a port of the Verilog"
    assert set(ports) == set(named), f"Verilog ports not described in the JSON: {set(ports) - set(named)}"
    kb = max(1, (KK[cfg] - 1).bit_length())
    words = -(-c.tm * c.tn // 16)
    want = {"x": ("input", 8 * c.tn), "k": ("input", kb), "cbank": ("input", 1), "wdata": ("input", 128),
            "wj": ("input", max(1, (words - 1).bit_length())), "wk": ("input", kb), "we": ("input", 1),
            "wbank": ("input", 1)}
    for name, w in want.items():
        assert ports[name] == w, name
    rows = [ports[f"psum_{i}"][1] // c.acc_bits for i in range(len(ws.psum_ports))]
    assert sum(rows) == c.tm and all(ports[f"psum_{i}"][1] <= PSUM_PORT_MAX_BITS for i in range(len(rows)))
    assert all(ports[n][1] <= PSUM_PORT_MAX_BITS for n in ports)
    dirs = [(p["c_name"], p["c_port_direction"]) for p in bb["c_parameters"]]
    assert dirs == [(n, "in") for n in want] + [(f"psum_{i}", "out") for i in range(len(rows))]
    perf = bb["rtl_performance"]
    assert int(perf["latency"]) == expected_latency(c.engine, c.tm, c.tn) == 2 + int(np.ceil(np.log2(c.tn)))
    assert int(perf["II"]) == 1
    res = {k: int(v) for k, v in bb["rtl_resource_usage"].items()}
    assert set(res) == {"FF", "LUT", "BRAM", "URAM", "DSP"}
    assert (res["DSP"] == c.tm * c.tn) if c.engine == "conv" else (res["DSP"] == 0)
    # the C prototype the HLS code calls: the same name and the JSON's argument order
    proto = re.sub(r"\s+", " ", paths["bb_header"].read_text())
    m = re.search(rf"void {ws.name}\((.*?)\);", proto)
    assert m, proto
    args = [a.strip().split()[-1].lstrip("&") for a in m.group(1).split(",")]
    assert args == [n for n, _ in dirs]


def test_psum_ports_split_at_1024_bits() -> None:
    assert StationaryConfig(PEArrayConfig("conv", 64, 4), 9).psum_ports == [(0, 32), (32, 32)]
    assert StationaryConfig(PEArrayConfig("conv", 64, 4, acc_bits=64), 9).psum_ports == [
        (0, 16), (16, 16), (32, 16), (48, 16)]
    assert StationaryConfig(PEArrayConfig("adder", 7, 4, acc_bits=13), 1).psum_ports == [(0, 7)]
    with pytest.raises(ValueError, match="kk"):
        StationaryConfig(PEArrayConfig("conv", 2, 2), 0)


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_verilog_2001_icarus_no_warnings(rendered, cfg, tmp_path) -> None:
    require_simulator("icarus")
    p = rendered[cfg]
    for top in (p["verilog"], p["ws_verilog"]):  # the datapath alone, and the wrapper around it
        srcs = [str(top)] if top == p["verilog"] else [str(top), str(p["verilog"])]
        proc = subprocess.run(["iverilog", "-g2001", "-Wall", "-o", str(tmp_path / "a.vvp"), *srcs],
                              capture_output=True, text=True)
        assert proc.returncode == 0 and proc.stdout + proc.stderr == "", proc.stdout + proc.stderr


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_verilator_lint_wall(rendered, cfg) -> None:
    if shutil.which("verilator") is None:
        pytest.skip("verilator not installed (optional): `apt-get install verilator` to lint with -Wall")
    p = rendered[cfg]
    for srcs in ([p["verilog"]], [p["ws_verilog"], p["verilog"]]):
        proc = subprocess.run(["verilator", "--lint-only", "-Wall", *map(str, srcs)], capture_output=True, text=True)
        assert proc.returncode == 0 and proc.stdout + proc.stderr == "", proc.stdout + proc.stderr


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_c_model_matches_integer_reference(rendered, cfg, tmp_path) -> None:
    """g++ -std=c++14 -O2 -Wall -Wextra -Werror build; random + edge vectors against integer_reference."""
    c = PEArrayConfig(*cfg)
    lib = build_c_model(rendered[cfg], tmp_path)
    vec = make_vectors(c, n_random=200, seed=7)
    got = CModel(lib, c).eval(vec["x"], vec["w"])
    np.testing.assert_array_equal(got, vec["golden"])


def test_golden_vectors_use_the_reference_directly() -> None:
    """Spot-check make_vectors against a direct integer_reference call (the tests' golden path)."""
    for engine in PE_ENGINES:
        c = PEArrayConfig(engine, 3, 5)
        vec = make_vectors(c, n_random=4, seed=11)
        i = len(vec["x"]) - 1 if engine != "shift" else 0
        x = vec["x"][i].astype(np.int64).reshape(1, 5, 1, 1)
        if engine == "conv":
            want = conv_acc(x, vec["w"][i].astype(np.int64).reshape(3, 5, 1, 1))
        elif engine == "adder":
            want = adder_acc(x, vec["w"][i].astype(np.int64).reshape(3, 5, 1, 1))
        else:
            codes = vec["w"][i].astype(np.int64)
            sign = ((codes >> c.exp_bits) & 3).astype(np.int64)
            sign = np.where(sign == 3, -1, sign)
            exp = codes & ((1 << c.exp_bits) - 1)
            want = shift_acc(x, sign.reshape(3, 5, 1, 1), exp.reshape(3, 5, 1, 1), c.exp_max)
        np.testing.assert_array_equal(vec["golden"][i], want.reshape(3))


@pytest.mark.parametrize("engine", PE_ENGINES)
def test_accumulator_bound_is_tight_and_checked(engine) -> None:
    """ACC_BITS = proven width is accepted and reached by an extreme vector; one bit less is refused."""
    tm, tn = 2, 6
    need = PEArrayConfig(engine, tm, tn, acc_bits=64).psum_bits_needed
    lo, hi = PEArrayConfig(engine, tm, tn).psum_range
    assert need == signed_bits(lo, hi)
    x = np.full((1, tn, 1, 1), -128, dtype=np.int64)
    if engine == "conv":
        extreme = conv_acc(x, np.full((tm, tn, 1, 1), -128))
    elif engine == "shift":
        extreme = shift_acc(x, np.full((tm, tn, 1, 1), -1), np.zeros((tm, tn, 1, 1)), 7)
    else:
        extreme = adder_acc(x, np.full((tm, tn, 1, 1), 127))
    assert int(np.abs(extreme).max()) == max(abs(lo), abs(hi)), "bound not reached by the extreme vector"
    PEArrayConfig(engine, tm, tn, acc_bits=need)
    with pytest.raises(ValueError, match="acc_bits"):
        PEArrayConfig(engine, tm, tn, acc_bits=need - 1)


def test_parameter_checks() -> None:
    with pytest.raises(ValueError, match="engine"):
        PEArrayConfig("mult", 2, 2)
    with pytest.raises(ValueError, match="tn"):
        PEArrayConfig("conv", 2, 0)
    with pytest.raises(ValueError, match="exp_max"):
        PEArrayConfig("shift", 2, 2, exp_max=16)
    with pytest.raises(ValueError, match="acc_bits"):
        PEArrayConfig("conv", 2, 2, acc_bits=65)
    assert PEArrayConfig("shift", 1, 1, exp_max=0).exp_bits == 1
    assert PEArrayConfig("shift", 1, 1, exp_max=7).weight_bits == 5
    assert PEArrayConfig("shift", 1, 1, exp_max=8).weight_bits == 6


def test_shift_encoding_and_packing() -> None:
    codes = encode_shift_weights(np.array([1, -1, 0, 1]), np.array([0, 7, 3, 5]), 7)
    assert codes.tolist() == [0b01_000, 0b11_111, 0b00_011, 0b01_101]
    with pytest.raises(ValueError):
        encode_shift_weights(np.array([2]), np.array([0]), 7)
    with pytest.raises(ValueError):
        encode_shift_weights(np.array([1]), np.array([8]), 7)
    vals = np.array([-128, 127, -1, 0, 5])
    word = pack_vector(vals, 8)
    assert word & 0xFF == 0x80 and (word >> 8) & 0xFF == 0x7F
    np.testing.assert_array_equal(unpack_signed(word, 8, 5), vals)


@pytest.mark.slow
def test_blackbox_c_model_with_ap_int(rendered, tmp_path) -> None:
    """The ap_uint blackbox C model (what Vitis csim compiles) replays a weight-stationary call sequence with the
    integer reference's psums on every defined call."""
    from nash.codegen.rtl.ws_sim import FIELDS, make_ws_sequence

    ap = find_ap_types()
    if ap is None:
        pytest.skip("no ap_int.h: set NASH_AP_TYPES or `pip install --no-deps hls4ml==1.3.0` (Xilinx ap_types)")
    for cfg in [CONFIGS[1], CONFIGS[3], CONFIGS[5], CONFIGS[9]]:
        c = PEArrayConfig(*cfg)
        ws = StationaryConfig(c, KK[cfg])
        paths = rendered[cfg]
        seq = make_ws_sequence(ws, n_random=40, seed=5)
        n = len(seq["x"])
        lines = [" ".join([f"{pack_vector(seq['x'][i], 8):x}", f"{pack_vector(seq['wdata'][i], 8):x}",
                           *(str(int(seq[f][i])) for f in FIELDS)]) for i in range(n)]
        (tmp_path / "in.txt").write_text("\n".join(lines) + "\n")
        outs = ", ".join(f"p{i}" for i in range(len(ws.psum_ports)))
        decl = "\n".join(f"        ap_uint<{rows * c.acc_bits}> p{i};" for i, (_, rows) in enumerate(ws.psum_ports))
        prints = "\n".join(f'        std::printf("%s ", p{i}.to_string(16, false).c_str());'
                            for i in range(len(ws.psum_ports)))
        main = tmp_path / f"main_{ws.name}.cpp"
        main.write_text(f"""#include <cstdio>
#include <fstream>
#include <string>
#include "{paths['bb_header'].name}"
int main(int, char** argv) {{
    std::ifstream in(argv[1]);
    std::string xs, ds;
    int k, cb, wj, wk, we, wb;
    while (in >> xs >> ds >> k >> cb >> wj >> wk >> we >> wb) {{
        ap_uint<{c.x_width}> x(xs.c_str(), 16);
        ap_uint<128> d(ds.c_str(), 16);
{decl}
        {ws.name}(x, k, cb, d, wj, wk, we, wb, {outs});
{prints}
        std::printf("\\n");
    }}
    return 0;
}}
""")
        exe = tmp_path / f"bb_{ws.name}"
        cmd = ["g++", "-std=c++14", "-O0", "-Wall", "-Wextra", "-Wno-unknown-pragmas", "-isystem", str(ap),
               f"-I{paths['bb_cpp'].parent}", str(main), str(paths["bb_cpp"]), "-o", str(exe)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        # ap_private.h itself trips -Wmaybe-uninitialized when inlined; our generated sources must be clean
        ours = [ln for ln in proc.stderr.splitlines() if "warning" in ln and str(ap) not in ln]
        assert not ours, proc.stderr
        out = subprocess.run([str(exe), str(tmp_path / "in.txt")], capture_output=True, text=True, check=True).stdout
        got = []
        for line in out.splitlines():
            total = 0
            for (first, _), word in zip(ws.psum_ports, line.split(), strict=True):
                total |= int(word, 16) << (first * c.acc_bits)
            got.append(unpack_signed(total, c.acc_bits, c.tm))
        chk = seq["check"]
        np.testing.assert_array_equal(np.stack(got)[chk], seq["golden"][chk])
