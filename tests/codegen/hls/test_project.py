"""Codegen without compiling the network: weights blob, accelerator-plan adapter, synthesizability rules over the
generated sources, the rendered Tcl, and the hls::stream shim (compiled on its own)."""

from __future__ import annotations

import copy
import json
import shutil
import struct
import subprocess
import zlib

import numpy as np
import pytest
from helpers import ALL_OPS_ARCH, REPO, accel_section, forget_walks, randomized_net
from nash.codegen import templates
from nash.codegen.hls import plan as accel_plan
from nash.codegen.hls import weights_blob
from nash.codegen.hls.plan import PlanError, make_plan, validate_schedule
from nash.codegen.hls.project import generate_from
from nash.codegen.hls.rules import check_project, check_source
from nash.frontend.accel.schedule import Task, sequential_schedule
from nash.frontend.core.graph import lower
from nash.frontend.core.model_file import load_model, new_model
from nash.frontend.core.op_registry import ENGINES
from nash.frontend.integer.weights_io import load_integer_model
from nash.frontend.models.convert import integer_model

ROOT = REPO
TINY = ROOT / "examples" / "tiny_hybrid.json"


@pytest.fixture(scope="module")
def tiny():
    mf = load_model(TINY)
    return mf, load_integer_model(mf)


# ---- weights blob --------------------------------------------------------------------------------------------------
def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def decode_conv_tiles(blob: bytes, off: int, node, t: weights_blob.Tiling) -> tuple[np.ndarray, dict[int, bytes]]:
    """Independent reading of a standard conv section (plain loops over the documented tile-major order): the
    weights [M, C/g, k*k] and each channel's 16-byte record; guard entries must be zero."""
    g_n, mg, cg, kk = node.groups, node.out_ch // node.groups, node.in_ch // node.groups, node.kernel**2
    n_mt, n_in, kw = _ceil(mg, t.tm), _ceil(cg, t.tn), _ceil(t.tm * t.tn, 16)
    w = np.zeros((node.out_ch, cg, kk), dtype=np.int64)
    recs, pos = {}, off
    for g in range(g_n):
        for mt in range(n_mt):
            for m in range(t.tm):
                ch, rec = mt * t.tm + m, blob[pos + 16 * m:pos + 16 * m + 16]
                if ch < mg:
                    recs[g * mg + ch] = rec
                else:
                    assert rec == bytes(16)
            pos += 16 * t.tm
            for ti in range(n_in):
                for k in range(kk):
                    for m in range(t.tm):
                        for n in range(t.tn):
                            v = np.int8(np.uint8(blob[pos + k * kw * 16 + m * t.tn + n]))
                            ch, c = mt * t.tm + m, ti * t.tn + n
                            if ch < mg and c < cg:
                                w[g * mg + ch, c, k] = v
                            else:
                                assert v == 0
                pos += kk * kw * 16
    return w, recs


def test_blob_layout_header_and_sections(tiny):
    _, im = tiny
    blob, man = weights_blob.pack(im.nodes, im.params)
    info = weights_blob.check(blob, n_layers=len(im.nodes))
    assert blob[:8] == b"NASHBLOB" and info["payload_size"] == len(blob) - 64
    assert info["crc32"] == zlib.crc32(blob[64:]) and man["size"] == len(blob)
    secs = {(s["layer"], s["name"]): s for s in man["sections"]}
    assert all(s["offset"] % 64 == 0 for s in man["sections"]) and len(blob) % 16 == 0
    stem = im.nodes[0]
    p = im.params["stem"]
    w, recs = decode_conv_tiles(blob, secs[("stem", "tiles")]["offset"], stem, weights_blob.DEFAULT_TILING)
    np.testing.assert_array_equal(w, p["weight"].reshape(stem.out_ch, stem.in_ch, -1))
    for ch, rec in recs.items():  # bias int64, multiplier int16, shift uint8, five zero bytes
        assert rec == struct.pack("<qhB5x", int(p["bias"][ch]), int(p["mult"][ch]), int(p["shift"][ch]))
    head = im.nodes[-1]
    s, hp = secs[(head.name, "classes")], im.params[head.name]  # per class: a record (bias), the row in words
    row = 16 * (1 + _ceil(head.in_ch, 16))
    for m in range(head.out_ch):
        at = s["offset"] + m * row
        assert struct.unpack_from("<q", blob, at)[0] == int(hp["bias"][m]) and blob[at + 8:at + 16] == bytes(8)
        np.testing.assert_array_equal(np.frombuffer(blob, np.int8, head.in_ch, at + 16), hp["weight"][m])
    s = secs[("s0b0_add", "scalars")]
    p = im.params["s0b0_add"]
    assert list(np.frombuffer(blob, "<i8", 3, s["offset"])) == [int(p["mult_a"]), int(p["mult_b"]), int(p["shift"])]


def test_blob_tile_major_hand_case():
    """3 output x 2 input channels, 1 x 1 kernel, a 2 x 2 array: two output tiles, each [2 records][1 weight word]."""
    from nash.frontend.core.graph import Node

    node = Node("c", "conv", "conv", ("input",), 2, 3, 4, 4, kernel=1)
    p = {"weight": np.array([[1, 2], [11, 12], [21, 22]]).reshape(3, 2, 1, 1), "bias": np.array([100, -1, 7]),
         "mult": np.array([3, -2, 5]), "shift": np.array([1, 2, 3])}
    blob, man = weights_blob.pack([node], {"c": p}, {"c": weights_blob.Tiling(2, 2, 2)})
    sec = blob[64:64 + 96]
    assert man["sections"][0]["count"] == 96
    rec = [bytes([100, 0, 0, 0, 0, 0, 0, 0, 3, 0, 1]) + bytes(5), bytes([255] * 8 + [254, 255, 2]) + bytes(5),
           bytes([7, 0, 0, 0, 0, 0, 0, 0, 5, 0, 3]) + bytes(5)]
    assert sec[0:32] == rec[0] + rec[1] and sec[32:48] == bytes([1, 2, 11, 12]) + bytes(12)
    assert sec[48:80] == rec[2] + bytes(16) and sec[80:96] == bytes([21, 22, 0, 0]) + bytes(12)


def test_shift_code_is_the_pe_array_code():
    from nash.codegen.rtl.pe_arrays import encode_shift_weights

    sign = np.array([-1, 0, 1, 1, -1, 0])
    exp = np.array([0, 3, 7, 2, 5, 0])
    for e_max in (0, 1, 3, 7, 15):
        s, e = sign, np.minimum(exp, e_max)
        expect = encode_shift_weights(s, e, e_max)
        expect[s == 0] = 0  # a zero weight is the code 0 whatever its exponent
        np.testing.assert_array_equal(weights_blob.encode_shift(s, e, e_max), expect)


def test_blob_errors_name_the_problem(tiny):
    _, im = tiny
    blob, _ = weights_blob.pack(im.nodes, im.params)
    with pytest.raises(weights_blob.BlobError, match="shorter than"):
        weights_blob.check(blob[:10])
    with pytest.raises(weights_blob.BlobError, match="bad magic"):
        weights_blob.check(b"\0" * 8 + blob[8:])
    with pytest.raises(weights_blob.BlobError, match="truncated or padded"):
        weights_blob.check(blob + b"\0")
    with pytest.raises(weights_blob.BlobError, match="CRC32"):
        weights_blob.check(blob[:-1] + bytes([blob[-1] ^ 0x80]))
    with pytest.raises(weights_blob.BlobError, match="version"):
        weights_blob.check(blob[:8] + (1).to_bytes(4, "little") + blob[12:])
    with pytest.raises(weights_blob.BlobError, match="expects 3"):
        weights_blob.check(blob, n_layers=3)


# ---- accelerator plan adapter ----------------------------------------------------------------------------------------
def test_fallback_plan_and_schedules():
    nodes = lower(ALL_OPS_ARCH)
    plan = make_plan({"accelerator": None}, nodes)
    assert plan.source == "default" and plan.pe == {"conv": (8, 8), "shift": (8, 8), "adder": (8, 8)}
    assert plan.max_offset > 0 and plan.min_slots == plan.max_offset + 1
    n_steps = max(sum(plan.engine_of[n.name] == e for n in nodes) for e in ENGINES)
    assert len(plan.steps) == n_steps  # as short as the busiest engine allows
    seq = make_plan({}, nodes, "sequential")
    assert len(seq.steps) == len(nodes) and seq.max_offset == 0


def test_schedule_validation_errors():
    nodes = lower(ALL_OPS_ARCH)
    eng = {n.name: accel_plan.default_engine(n) for n in nodes}
    seq = sequential_schedule(nodes, eng)
    validate_schedule(nodes, seq)
    with pytest.raises(PlanError, match="never scheduled"):
        validate_schedule(nodes, seq[:-1])
    with pytest.raises(PlanError, match="does not run after its input"):
        validate_schedule(nodes, [seq[1], seq[0], *seq[2:]])
    with pytest.raises(PlanError, match="has two tasks"):
        validate_schedule(nodes, [[seq[0][0], Task("conv", nodes[-3].name, 1)], *seq[1:-3], *seq[-2:]])
    with pytest.raises(PlanError, match="unknown engine"):
        validate_schedule(nodes, [[Task("dsp", "stem", 0)], *seq[1:]])


@pytest.fixture(scope="module")
def searched_section():
    """A real accelerator section for ALL_OPS_ARCH, from the accelerator search (nash accel)."""
    return lower(ALL_OPS_ARCH), accel_section(ALL_OPS_ARCH)


def test_accelerator_section_is_read_and_checked(searched_section):
    nodes, acc = searched_section
    plan = make_plan({"accelerator": acc}, nodes)
    assert plan.source == "accelerator" and plan.schedule_kind == "model"
    for e, cfg in acc["engines"].items():
        if e != "misc" and cfg is not None:
            assert plan.pe[e] == (cfg["tm"], cfg["tn"]) and plan.requant(e) == cfg["requant_lanes"]
            assert plan.lanes(e) == max(1, cfg["dw_lanes"])
    assert plan.part == acc["part"] and plan.clock_mhz == acc["clock_mhz"]
    assert plan.predicted_fps == acc["performance"]["fps"]
    assert plan.axi_bytes_per_cycle == acc["axi_bytes_per_cycle"]
    wide = copy.deepcopy(acc)
    wide["axi_bytes_per_cycle"] = 32.0  # a 256-bit port's bandwidth: more than the 128-bit engines can move
    with pytest.raises(PlanError, match=r"axi_bytes_per_cycle: at most 16 .* got 32\.0"):
        make_plan({"accelerator": wide}, nodes)
    many = copy.deepcopy(acc)
    many["engines"]["conv"]["requant_lanes"] = 17  # the requant stage has 16 byte banks
    with pytest.raises(PlanError, match=r"accelerator\.engines\.conv\.requant_lanes: at most 16 .* got 17"):
        make_plan({"accelerator": many}, nodes)
    throttled = copy.deepcopy(acc)
    throttled["axi_bytes_per_cycle"] = 6.0  # DDR-limited bandwidth per port: the same code, priced slower
    assert make_plan({"accelerator": throttled}, nodes).axi_bytes_per_cycle == 6.0
    assert [[(t.engine, t.layer, t.offset) for t in s] for s in plan.steps] == [
        [(t["engine"], t["layer"], t["image"]) for t in s] for s in acc["schedule"]["steps"]]
    bad = copy.deepcopy(acc)
    bad["engines"]["conv"]["tm"] = 0
    with pytest.raises(PlanError, match=r"accelerator\.engines\.conv\.tm"):
        make_plan({"accelerator": bad}, nodes)
    bad = copy.deepcopy(acc)
    bad["layers"]["stem"]["engine"] = "adder"
    with pytest.raises(PlanError, match=r"accelerator\.layers\.stem\.engine"):
        make_plan({"accelerator": bad}, nodes)


def test_batch_field_is_read_and_older_sections_run_one(searched_section):
    """The section's batch sizes the activation slots (one per image of the batches in flight); a section written
    before the field existed (no batch, no layers' images) loads as one image per task; a batch below 1 is refused
    naming the field."""
    nodes, acc = searched_section
    plan = make_plan({"accelerator": acc}, nodes)
    assert plan.batch == acc["batch"] and plan.min_slots == acc["batch"] * (plan.max_offset + 1)
    assert acc["schedule"]["activation_slots"] == plan.min_slots
    old = copy.deepcopy(acc)
    del old["batch"]
    for ent in old["layers"].values():
        del ent["images"]
    plan = make_plan({"accelerator": old}, nodes)
    assert plan.batch == 1 and plan.min_slots == plan.max_offset + 1
    bad = copy.deepcopy(acc)
    bad["batch"] = 0
    with pytest.raises(PlanError, match=r"accelerator\.batch"):
        make_plan({"accelerator": bad}, nodes)


def test_section_walks_are_read_and_checked(searched_section):
    """The layers' walks (reuse, images) the accelerator stage recorded are what the plan hands to codegen; a section
    without ``reuse`` (written before it) leaves the rule's; a walk that would overflow the engine's buffers is
    refused naming the field."""
    nodes, acc = searched_section
    conv = [n for n in nodes if n.kind == "conv"]
    plan = make_plan({"accelerator": acc}, nodes)
    assert plan.reuse == {n.name: acc["layers"][n.name]["reuse"] for n in conv}
    assert plan.images == {n.name: acc["layers"][n.name]["images"] for n in conv}
    old = copy.deepcopy(acc)  # as written before `reuse`: every layer on the rule's walk (reuse where it fits)
    for ent in old["layers"].values():
        if ent.get("reuse") is False:  # a re-reading layer's images were chosen for that walk: not the rule's
            del ent["images"]
        ent.pop("reuse", None)
    kept = {n.name: acc["layers"][n.name]["images"] for n in conv if acc["layers"][n.name]["reuse"] is not False}
    plan = make_plan({"accelerator": old}, nodes)
    assert plan.reuse == {} and plan.images == kept
    name = conv[-1].name
    bad = copy.deepcopy(acc)
    bad["layers"][name]["images"] = acc["batch"] + 1
    with pytest.raises(PlanError, match=rf"accelerator\.layers\.{name}\.images.*exceed the section's batch"):
        make_plan({"accelerator": bad}, nodes)
    dw = next(n.name for n in conv if n.depthwise)
    bad = copy.deepcopy(acc)
    bad["layers"][dw]["reuse"] = True
    with pytest.raises(PlanError, match=rf"accelerator\.layers\.{dw}\.reuse'?: .*depthwise"):
        make_plan({"accelerator": bad}, nodes)


# ---- rendered sources: synthesizability rules, Tcl -------------------------------------------------------------------
@pytest.fixture(scope="module")
def rendered(tmp_path_factory, tiny):
    mf, im = tiny
    out = {"tiny": generate_from(mf, im, tmp_path_factory.mktemp("tiny"))}
    arch = copy.deepcopy(ALL_OPS_ARCH)
    rim = integer_model(randomized_net(arch, 1))
    rmf = new_model("allops", arch)
    rmf.data["accelerator"] = accel_section(arch, {"conv": {"tm": 3, "tn": 5}, "adder": {"tm": 2, "tn": 7}})
    out["allops"] = generate_from(rmf, rim, tmp_path_factory.mktemp("allops"))
    rmf.data["accelerator"] = None
    out["local"] = generate_from(rmf, rim, tmp_path_factory.mktemp("local"), pe_impl="local")
    return out


@pytest.mark.parametrize("which", ["tiny", "allops", "local"])
def test_generated_sources_obey_the_coding_rules(rendered, which):
    violations = check_project(rendered[which].out)
    assert violations == [], "\n".join(map(str, violations))


def test_rule_checker_catches_violations(tmp_path):
    bad = tmp_path / "bad.cpp"
    bad.write_text("""#include <vector>
int f(int n) {
  int* p = new int[n];
loop:
  for (int i = 0; i < n; ++i) {
    p[i] = i;
  }
  for (int i = 0; i < 4; ++i) {
#pragma HLS UNROLL
    p[i] += 1;
  }
  double d = 0;
  return f(n - 1) + p[0] + (int)d;
}
""")
    rules = {v.rule for v in check_source(bad)}
    assert rules == {"R1", "R2", "R3", "R4", "R5", "R7", "R8"}


def test_top_interface_and_tcl(rendered):
    p = rendered["tiny"]
    top = (p.out / "src" / "top.cpp").read_text()
    for e in ("conv", "shift", "adder", "misc"):
        for port in (f"act_in_{e}", f"act_out_{e}", f"wb_{e}", *([f"img_{e}"] if e != "misc" else [])):
            assert f"port={port} bundle=gmem_{e}" in top, port
    assert "s_axilite port=return bundle=control" in top and "#pragma HLS DATAFLOW" in top
    assert "#pragma HLS ALIAS ports=act_in_conv,act_in_shift,act_in_adder,act_in_misc,act_out_conv," in top
    assert "#pragma HLS ALIAS ports=wb_conv,wb_shift,wb_adder,wb_misc distance=0" in top
    assert "max_read_burst_length=64" in top and "num_read_outstanding=16" in top
    header = (p.out / "src" / "nash_top.h").read_text()
    # the PE engines' activation and image ports are manual-burst ports, the misc unit's and the weights plain pointers
    for port in ("img_conv", "act_in_conv", "act_out_conv", "act_in_adder"):
        assert f"hls::burst_maxi<nash::word_t> {port}" in header, port
    assert "const nash::word_t* act_in_misc" in header and "nash::word_t* act_out_misc" in header
    assert "const nash::word_t* wb_conv" in header
    assert "int8_t*" not in header and "int64_t*" not in header  # every m_axi port is a 128-bit word pointer
    tcl = (p.out / "run_hls.tcl").read_text()
    for needle in ("set_part xck26-sfvc784-2LV-c", "create_clock -period 5.000", "config_interface -m_axi_addr64",
                   "config_interface -m_axi_alignment_byte_size 16", "-m_axi_latency 64",
                   "csim_design", "csynth_design", "cosim_design", "export_design -format ip_catalog",
                   "add_files -tb tb/testbench.cpp", "set_top nash_top", "source [file join $root options.tcl]"):
        assert needle in tcl, needle
    assert "set NASH_COSIM 1" in (p.out / "options.tcl").read_text()
    man = json.loads((p.out / "weights_manifest.json").read_text())
    assert man["size"] == p.blob_path.stat().st_size


def test_engines_are_word_bursts_and_dataflow_regions(rendered):
    """The canonical high-throughput form: no byte-wide pointer anywhere in the synthesized sources, a DATAFLOW
    region per layer task (standard and depthwise), one flattened pipelined MAC loop per tile."""
    import re

    for which in ("tiny", "allops"):
        src = rendered[which].out / "src"
        for f in ["top.cpp", "nash_top.h", *(f"engine_{e}.cpp" for e in ENGINES)]:
            text = (src / f).read_text()
            assert not re.search(r"\b(u?int8_t|u?int64_t)\s*\*", text), f"{which}/{f}: a byte or int64 pointer"
        for e in ("conv", "shift", "adder"):
            text = (src / f"engine_{e}.cpp").read_text()
            for region, pad, compute, requant in (("run_standard", "pad_x_std", "compute_std", "requant_std"),
                                                  ("run_depthwise", "pad_x_dw", "compute_dw", "requant_dw")):
                body = text[text.index(f"void {region}("):]
                body = body[:body.index("\n}\n")]
                assert "#pragma HLS DATAFLOW" in body
                calls = re.findall(r"^  (\w+)(?:<[\w, ]+>)?\(", body, re.M)
                assert calls == ["read_x", "read_w", pad, compute, requant, "write_out"]
            for loop in ("mac:", "dw_mac:"):
                head = text[text.index(loop):].splitlines()[1:4]
                assert "for (int i = 0; i < trip; ++i)" in head[0] and "PIPELINE II=1" in head[2]


def test_band_buffers_are_word_banks_in_their_mapped_memory(rendered):
    """pad_x keeps each lane's input band as 16-byte words, both ping-pong halves in one bank (one write port for the
    fill, one read port for the window read), bound to the memory that the buffer function maps the row to."""
    import re

    for which in ("tiny", "allops"):
        out = rendered[which].out
        engines = json.loads((out / "project.json").read_text())["engines"]
        for e in ("conv", "shift", "adder"):
            text = (out / "src" / f"engine_{e}.cpp").read_text()
            bufs = engines[e]["buffers"]
            for fn, lanes, depth, row in (("pad_x_std", "TN", "XB", "xband"), ("pad_x_dw", "DW", "XBD", "xband_dw")):
                body = text[text.index(f"void {fn}("):]
                body = body[:body.index("\n}\n")]
                assert f"static word_t xb[{lanes}][2 * {depth}];" in body
                assert "#pragma HLS ARRAY_PARTITION variable=xb complete dim=1" in body
                impl = bufs[row]["memory"] if row in bufs else "lutram"
                assert f"#pragma HLS BIND_STORAGE variable=xb type=ram_s2p impl={impl}" in body
                if row in bufs:  # the declared bank: lanes x (2 x words per half) x 128 bits, as the row says
                    lanes_n = int(re.search(rf"const int {lanes} = (\d+);", text).group(1))
                    words = int(re.search(rf"const int {depth} = (\d+);", text).group(1))
                    assert (bufs[row]["banks"], bufs[row]["depth"], bufs[row]["width_bits"]) == (lanes_n, 2 * words,
                                                                                                  128)
            assert "cyclic factor=16" not in text  # no byte banks any more


# ---- hls::stream shim --------------------------------------------------------------------------------
def test_hls_stream_shim(tmp_path):
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("g++ not installed")
    src = tmp_path / "s.cpp"
    src.write_text("""#include <cstdio>
#include "hls_stream.h"
int main(int argc, char**) {
  hls::stream<int, 2> s("s");
  s.write(1); s << 2;
  if (!s.full() || s.size() != 2 || s.write_nb(3)) return 1;
  int v; s >> v;
  if (v != 1 || s.read() != 2 || !s.empty() || s.read_nb(v)) return 2;
  hls::stream<long> u;  // unbounded
  for (int i = 0; i < 100; ++i) u.write(i);
  if (u.full() || u.size() != 100) return 3;
  std::printf("ok\\n");
  if (argc > 1) s.read();  // empty: must abort with a message
  return 0;
}
""")
    exe = tmp_path / "s"
    (tmp_path / "compat").mkdir()
    (tmp_path / "compat" / "hls_stream.h").write_text(templates.source("hls_templates/compat/hls_stream.h"))
    subprocess.run([gxx, "-std=c++14", "-Wall", "-Wextra", "-Werror", f"-isystem{tmp_path / 'compat'}",
                    str(src), "-o", str(exe)], check=True)
    assert subprocess.run([str(exe)], capture_output=True, text=True).stdout == "ok\n"
    r = subprocess.run([str(exe), "x"], capture_output=True, text=True)
    assert r.returncode != 0 and "read from an empty stream" in r.stderr


def test_accumulators_bound_to_their_own_memories(tmp_path):
    """acc_mem and acc_dw_mem of the section each bind their own accumulator array: the array's in compute_std, the
    depthwise lanes' in compute_dw (here: URAM and BRAM on the shift engine, the reverse on the adder engine). The
    section's tiles are raised to the whole map so that both accumulators are deeper than distributed RAM (shift:
    11 x 11 maps, 2 x 121 x 32 bits a bank; adder: 6 x 6, 2 x 36 x 32 bits, both above 1 Kbit)."""
    arch = copy.deepcopy(ALL_OPS_ARCH)
    rim = integer_model(randomized_net(arch, 1))
    rmf = new_model("split", arch)
    acc = accel_section(arch, {"shift": {"acc_mem": "uram", "acc_dw_mem": "bram"},
                               "adder": {"acc_mem": "bram", "acc_dw_mem": "uram"}})
    for ent in acc["layers"].values():  # whole-map bands: the largest accumulators
        if ent["engine"] != "misc":
            ent["tr"] = acc["engines"][ent["engine"]]["tr"] = 32
    rmf.data["accelerator"] = forget_walks(acc)  # the walks were chosen for the searched tiles
    out = generate_from(rmf, rim, tmp_path / "split").out
    engines = json.loads((out / "project.json").read_text())["engines"]
    for e, (m, md) in (("shift", ("uram", "bram")), ("adder", ("bram", "uram"))):
        assert (engines[e]["acc_mem"], engines[e]["acc_dw_mem"]) == (m, md)
        bufs = engines[e]["buffers"]
        assert (bufs["acc"]["memory"], bufs["acc_dw"]["memory"]) == (m, md)
        text = (out / "src" / f"engine_{e}.cpp").read_text()
        for fn, impl in (("compute_std", m), ("compute_dw", md)):
            body = text[text.index(f"void {fn}("):]
            body = body[:body.index("\n}\n")]
            assert f"#pragma HLS BIND_STORAGE variable=acc type=ram_2p impl={impl}" in body
