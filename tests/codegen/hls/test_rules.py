"""The performance rules R9-R15 (codegen/hls/perf_rules.py, docs/hls-coding-rules.md).

Each rule: a hand-written minimal snippet in the canonical form of UG1399 / UG1448 passes, and a bad variant (the
pattern those guides name as preventing bursts, widening or dataflow) fails with that rule id. Then the generated code:
the byte-wise engines codegen rendered before issue 12 (frozen in tests/data/bytewise_project) must be flagged at the
sites the static review names (shared/reference/hls-performance.md), the packed PE-array blackbox rendered before the
weight-stationary interface (tests/data/packed_blackbox_project) must fail R15, and every project codegen renders now
must pass.
"""

from __future__ import annotations

import pytest
from helpers import REPO
from nash.codegen.hls.perf_rules import check_blackboxes, check_performance, check_tcl
from nash.codegen.hls.project import generate_from
from nash.codegen.hls.rules import check_project, check_project_performance
from nash.frontend.core.model_file import load_model
from nash.frontend.integer.weights_io import load_integer_model

TINY = REPO / "examples" / "tiny_hybrid.json"

WORD = "typedef ap_uint<128> word_t;\n"


def _ids(src: str) -> set[str]:
    return {v.rule for v in check_performance({"k.cpp": src})}


def _kernel(params: str, pragmas: str, body: str, pre: str = WORD) -> str:
    return f"""{pre}void k({params}) {{
{pragmas}
loop:
  for (int i = 0; i < n; ++i) {{
#pragma HLS loop_tripcount min=1 max=64
#pragma HLS PIPELINE II=1
{body}
  }}
}}
"""


TWO_BUNDLES = ("#pragma HLS INTERFACE m_axi port=in bundle=gmem0 offset=slave\n"
               "#pragma HLS INTERFACE m_axi port=out bundle=gmem1 offset=slave")


# ---- R9 conditional access (UG1448 Burst Inference Failure 10; UG1399 Preconditions and Limitations) ----------------
def test_r9_unconditional_copy_passes_and_conditional_reads_fail():
    good = _kernel("const word_t* in, word_t* out, int n", TWO_BUNDLES, "    out[i] = in[i];")
    assert _ids(good) == set()
    guarded = _kernel("const word_t* in, word_t* out, int n, int m", TWO_BUNDLES,
                      "    word_t v = 0;\n    if (i < m) v = in[i];\n    out[i] = v;")
    assert "R9" in _ids(guarded)
    braced = _kernel("const word_t* in, word_t* out, int n, int m", TWO_BUNDLES,
                     "    if (i < m) {\n      out[i] = in[i];\n    }")
    assert "R9" in _ids(braced)
    ternary = _kernel("const word_t* in, word_t* out, int n, int m", TWO_BUNDLES,
                      "    out[i] = i < m ? in[i] : word_t(0);")
    assert "R9" in _ids(ternary)
    # a ?: that only chooses the value written is not a conditional access
    value = _kernel("const word_t* in, word_t* out, int n, int m", TWO_BUNDLES,
                    "    const word_t v = in[i];\n    out[i] = v > 0 ? v : word_t(0);")
    assert _ids(value) == set()


def test_r9_follows_pointers_into_helpers_and_ignores_conditions_outside_the_loop():
    helper = """static inline word_t get(const word_t* p, int j) {
#pragma HLS INLINE
  return p[j];
}
"""
    src = _kernel("const word_t* in, word_t* out, int n, int m", TWO_BUNDLES,
                  "    word_t v = 0;\n    if (i < m) v = get(in, i);\n    out[i] = v;", WORD + helper)
    assert "R9" in _ids(src)
    outside = WORD + """void k(const word_t* in, word_t* out, int n, bool go) {
""" + TWO_BUNDLES + """
  if (!go) return;
loop:
  for (int i = 0; i < n; ++i) {
#pragma HLS PIPELINE II=1
    out[i] = in[i];
  }
}
"""
    assert _ids(outside) == set()


# ---- manual bursts (hls::burst_maxi, UG1399 "Using Manual Burst") -------------------------------------------------
MAXI = "hls::burst_maxi<word_t>"


def test_manual_burst_runs_pass_and_one_word_requests_fail():
    # per run one request, then its words (a conditional read of the requested run keeps the burst)
    good = WORD + f"""void k({MAXI} in, {MAXI} out, int n, int m) {{
{TWO_BUNDLES}
  in.read_request(0, n);
  out.write_request(0, n);
loop:
  for (int i = 0; i < n; ++i) {{
#pragma HLS loop_tripcount min=1 max=64
#pragma HLS PIPELINE II=1
    word_t v = in.read();
    if (i < m) v = 0;
    out.write(v);
  }}
  out.write_response();
}}
"""
    assert _ids(good) == set()
    # a request per word: each word its own burst (R11), also through a helper that receives the port
    per_word = good.replace("  in.read_request(0, n);\n", "").replace(
        "    word_t v = in.read();", "    in.read_request(i, 1);\n    word_t v = in.read();")
    assert _ids(per_word) == {"R11"}
    helper = WORD + """static void one(hls::burst_maxi<word_t>& p, int i) {
#pragma HLS INLINE
  p.write_request(i, 1);
}
""" + good.replace(WORD, "").replace("  out.write_request(0, n);\n", "").replace(
        "    out.write(v);", "    one(out, i);\n    out.write(v);")
    assert _ids(helper) == {"R11"}
    # two manual streams of one bundle read in one loop are still two streams (R10); a plain pointer beside them is
    # still checked for sequential, unconditional access (R11, R9)
    shared = ("#pragma HLS INTERFACE m_axi port=a bundle=gmem0\n#pragma HLS INTERFACE m_axi port=b bundle=gmem0\n"
              "#pragma HLS INTERFACE m_axi port=out bundle=gmem1")
    two = _kernel(f"{MAXI} a, {MAXI} b, word_t* out, int n", shared, "    out[i] = a.read() + b.read();")
    assert _ids(two) == {"R10"}
    strided = _kernel(f"{MAXI} a, word_t* out, int n", "#pragma HLS INTERFACE m_axi port=a bundle=gmem0\n"
                      "#pragma HLS INTERFACE m_axi port=out bundle=gmem1", "    out[2 * i] = a.read();")
    assert _ids(strided) == {"R11"}
    guarded = _kernel(f"{MAXI} a, word_t* out, int n, int m", "#pragma HLS INTERFACE m_axi port=a bundle=gmem0\n"
                      "#pragma HLS INTERFACE m_axi port=out bundle=gmem1", "    if (i < m) out[i] = a.read();")
    assert _ids(guarded) == {"R9"}


# ---- R10 one pointer per bundle and direction per loop (UG1399 Preconditions; UG1448 Burst Inference Failure 2) ---
def test_r10_two_reads_on_one_bundle_fail_separate_bundles_pass():
    shared = ("#pragma HLS INTERFACE m_axi port=a bundle=gmem0\n#pragma HLS INTERFACE m_axi port=b bundle=gmem0\n"
              "#pragma HLS INTERFACE m_axi port=out bundle=gmem1")
    body = "    out[i] = a[i] + b[i];"
    assert _ids(_kernel("const word_t* a, const word_t* b, word_t* out, int n", shared, body)) == {"R10"}
    separate = shared.replace("port=b bundle=gmem0", "port=b bundle=gmem2")
    assert _ids(_kernel("const word_t* a, const word_t* b, word_t* out, int n", separate, body)) == set()
    # one array per direction on one bundle is allowed: a read stream and a write stream
    rw = ("#pragma HLS INTERFACE m_axi port=in bundle=gmem0\n#pragma HLS INTERFACE m_axi port=out bundle=gmem0")
    assert _ids(_kernel("const word_t* in, word_t* out, int n", rw, "    out[i] = in[i];")) == set()


def test_r10_two_offsets_of_one_pointer_are_two_streams():
    pragmas = TWO_BUNDLES
    src = _kernel("const word_t* in, word_t* out, int n", pragmas, "    out[i] = in[i] + in[n + i];")
    assert _ids(src) == {"R10"}


def test_r10_sees_an_alias_of_the_same_bundle():
    shared = ("#pragma HLS INTERFACE m_axi port=a bundle=gmem0\n#pragma HLS INTERFACE m_axi port=b bundle=gmem0\n"
              "#pragma HLS INTERFACE m_axi port=out bundle=gmem1")
    src = WORD + """static void body(const word_t* x, const word_t* y, word_t* o, int n) {
loop:
  for (int i = 0; i < n; ++i) {
#pragma HLS PIPELINE II=1
    o[i] = x[i] ^ y[i];
  }
}
void k(const word_t* a, const word_t* b, word_t* out, int n) {
""" + shared + """
  body(a, b, out, n);
}
"""
    assert _ids(src) == {"R10"}


# ---- R11 sequential addresses (UG1448 Burst Inference Failure 8 and 7; UG1399 Preconditions) ------------------------
@pytest.mark.parametrize("index, ok", [
    ("i", True), ("base + i", True), ("static_cast<uint32_t>(base + off) + i", True), ("(base + i)", True),
    ("i * 4", False), ("base + 2 * i", False), ("base - i", False), ("i / 2", False), ("idx", False),
])
def test_r11_index_is_base_plus_the_loop_counter(index, ok):
    src = _kernel("const word_t* in, word_t* out, int n, uint32_t base, uint32_t off", TWO_BUNDLES,
                  f"    const int idx = i * 3;\n    out[i] = in[{index}];")
    assert ("R11" not in _ids(src)) == ok


def test_r11_counter_incremented_by_one_is_sequential_a_stride_is_not():
    counter = WORD + """void k(const word_t* in, word_t* out, int rows, int cols) {
""" + TWO_BUNDLES + """
  int k = 0;
flat:
  for (int t = 0; t < rows * cols; ++t) {
#pragma HLS PIPELINE II=1
    out[k] = in[k];
    ++k;
  }
}
"""
    assert _ids(counter) == set()
    strided = WORD + """void k(const word_t* in, word_t* out, int n) {
""" + TWO_BUNDLES + """
loop:
  for (int i = 0; i < n; i += 2) {
#pragma HLS PIPELINE II=1
    out[i] = in[i];
  }
}
"""
    assert _ids(strided) == {"R11"}


def test_r11_row_loops_burst_per_row():
    src = WORD + """void k(const word_t* in, word_t* out, int h, int w) {
""" + TWO_BUNDLES + """
rows:
  for (int r = 0; r < h; ++r) {
  cols:
    for (int c = 0; c < w; ++c) {
#pragma HLS PIPELINE II=1
      out[r * w + c] = in[r * w + c];
    }
  }
}
"""
    assert _ids(src) == set()  # r * w is invariant in the burst loop `cols`
    transposed = src.replace("in[r * w + c]", "in[c * h + r]")
    assert _ids(transposed) == {"R11"}


# ---- R12 wide words on every m_axi port (UG1399 Automatic Port Width Resizing) --------------------------------------
@pytest.mark.parametrize("typ, ok", [
    ("word_t", True), ("ap_uint<128>", True), ("ap_uint<512>", True), ("hls::vector<int8_t, 16>", True),
    ("nash::word_t", True), ("int8_t", False), ("uint8_t", False), ("int64_t", False), ("ap_uint<64>", False),
    ("hls::vector<int8_t, 8>", False),
])
def test_r12_port_element_type(typ, ok):
    pre = "namespace nash {\ntypedef ap_uint<128> word_t;\n}\n" + WORD
    src = _kernel(f"const {typ}* in, word_t* out, int n", TWO_BUNDLES, "    out[i] = in[i];", pre)
    assert ("R12" not in _ids(src)) == ok


# ---- R13 DATAFLOW canonical form (UG1399 Canonical Forms / Canonical Body; UG1448 Dataflow Canonical Rules - 2) -----
PROCESSES = WORD + """void rd(const word_t* in, hls::stream<word_t>& s, int n) {
rd_l:
  for (int i = 0; i < n; ++i) {
#pragma HLS PIPELINE II=1
    s.write(in[i]);
  }
}
void inc(hls::stream<word_t>& a, hls::stream<word_t>& b, int n) {
inc_l:
  for (int i = 0; i < n; ++i) {
#pragma HLS PIPELINE II=1
    b.write(a.read() + 1);
  }
}
void wr(hls::stream<word_t>& s, word_t* out, int n) {
wr_l:
  for (int i = 0; i < n; ++i) {
#pragma HLS PIPELINE II=1
    out[i] = s.read();
  }
}
"""


def _dataflow(region: str) -> str:
    return PROCESSES + f"""void k(const word_t* in, word_t* out, int n) {{
{TWO_BUNDLES}
#pragma HLS DATAFLOW
  hls::stream<word_t> s0("s0");
  hls::stream<word_t> s1("s1");
#pragma HLS STREAM variable=s0 depth=32
{region}
}}
"""


def test_r13_canonical_dataflow_passes():
    assert _ids(_dataflow("  rd(in, s0, n);\n  inc(s0, s1, n);\n  wr(s1, out, n);")) == set()


@pytest.mark.parametrize("region", [
    "  rd(in, s0, n);\n  if (n > 0) inc(s0, s1, n);\n  wr(s1, out, n);",  # a conditional process
    "  rd(in, s0, n);\n  for (int t = 0; t < 1; ++t) { inc(s0, s1, n); }\n  wr(s1, out, n);",  # a loop around a call
    "  const int m = n;\n  rd(in, s0, m);\n  inc(s0, s1, m);\n  wr(s1, out, m);",  # a variable initialization
    "  rd(in, s0, n);\n  inc(s0, s1, n);\n  wr(s0, out, n);",  # s0 read by two processes, s1 never read
    "  rd(in, s0, n);\n  rd(in, s0, n);\n  inc(s0, s1, n);\n  wr(s1, out, n);",  # s0 written by two processes
])
def test_r13_non_canonical_dataflow_fails(region):
    assert "R13" in _ids(_dataflow(region))


def test_r13_array_channels_and_streams_passed_on_to_helpers():
    src = WORD + """void fill(const word_t* in, word_t buf[64], int n) {
fl:
  for (int i = 0; i < n; ++i) {
#pragma HLS PIPELINE II=1
    buf[i] = in[i];
  }
}
void push(hls::stream<word_t>& s, word_t v) {
#pragma HLS INLINE
  s.write(v);
}
void drain(const word_t buf[64], hls::stream<word_t>& s, int n) {
dr:
  for (int i = 0; i < n; ++i) {
#pragma HLS PIPELINE II=1
    push(s, buf[i]);
  }
}
void wr(hls::stream<word_t>& s, word_t* out, int n) {
wr_l:
  for (int i = 0; i < n; ++i) {
#pragma HLS PIPELINE II=1
    out[i] = s.read();
  }
}
void k(const word_t* in, word_t* out, int n) {
""" + TWO_BUNDLES + """
#pragma HLS DATAFLOW
  word_t buf[64];
  hls::stream<word_t> s("s");
  fill(in, buf, n);
  drain(buf, s, n);
  wr(s, out, n);
}
"""
    assert _ids(src) == set()
    assert _ids(src.replace("drain(buf, s, n);", "drain(buf, s, n);\n  fill(in, buf, n);")) == {"R13"}


def test_a_streaming_engine_in_the_canonical_form_passes():
    """Wide words, a DATAFLOW region of read -> compute -> write, padding and packing on chip, one call site."""
    src = """namespace nash {
typedef ap_uint<128> word_t;
}
namespace {
void read_words(const nash::word_t* src, uint32_t base, int n, hls::stream<nash::word_t>& out) {
rd:
  for (int i = 0; i < n; ++i) {
#pragma HLS loop_tripcount min=1 max=256
#pragma HLS PIPELINE II=1
    out.write(src[base + i]);
  }
}
void relu(hls::stream<nash::word_t>& in, hls::stream<nash::word_t>& out, int n) {
cp:
  for (int i = 0; i < n; ++i) {
#pragma HLS PIPELINE II=1
    nash::word_t w = in.read();
    nash::word_t r = 0;
  lanes:
    for (int j = 0; j < 16; ++j) {
#pragma HLS UNROLL
      const ap_int<8> v = w.range(8 * j + 7, 8 * j);
      r.range(8 * j + 7, 8 * j) = v < 0 ? ap_int<8>(0) : v;
    }
    out.write(r);
  }
}
void write_words(hls::stream<nash::word_t>& in, nash::word_t* dst, uint32_t base, int n) {
wr:
  for (int i = 0; i < n; ++i) {
#pragma HLS loop_tripcount min=1 max=256
#pragma HLS PIPELINE II=1
    dst[base + i] = in.read();
  }
}
void layer(const nash::word_t* src, nash::word_t* dst, uint32_t in_base, uint32_t out_base, int n) {
#pragma HLS DATAFLOW
  hls::stream<nash::word_t, 32> xs("xs");
  hls::stream<nash::word_t, 32> ys("ys");
  read_words(src, in_base, n, xs);
  relu(xs, ys, n);
  write_words(ys, dst, out_base, n);
}
}  // namespace
void top(const nash::word_t* act_in, nash::word_t* act_out, int n_layers, int n) {
#pragma HLS INTERFACE m_axi port=act_in bundle=gmem_rd offset=slave depth=1024
#pragma HLS INTERFACE m_axi port=act_out bundle=gmem_wr offset=slave depth=1024
layers:
  for (int l = 0; l < n_layers; ++l) {
#pragma HLS loop_tripcount min=1 max=8
    if (l % 2 == 0)
      layer(act_in, act_out, 0, 0, n);
    else
      layer(act_in, act_out, 256, 256, n);
  }
}
"""
    assert check_performance({"engine.cpp": src}) == []


def test_else_if_blocks_are_conditions():
    src = _kernel("const word_t* in, word_t* out, int n, int m", TWO_BUNDLES,
                  "    word_t v = 0;\n    if (i < m) {\n      v = 1;\n    } else if (i > m) {\n      v = in[i];\n"
                  "    }\n    out[i] = v;")
    ids = [v for v in check_performance({"k.cpp": src}) if v.rule == "R9"]
    assert len(ids) == 1 and "'in'" in ids[0].message


# ---- R14 interface settings in the Tcl (UG1399 config_interface; Options for Controlling AXI4 Burst Behavior) -------
@pytest.mark.parametrize("tcl, ok", [
    ("config_interface -m_axi_addr64 -m_axi_alignment_byte_size 16 -m_axi_latency 64", True),
    ("config_interface -m_axi_addr64\nconfig_interface -m_axi_alignment_byte_size 64\n"
     "config_interface -m_axi_latency 40", True),
    ("config_interface -m_axi_addr64", False),
    ("config_interface -m_axi_alignment_byte_size 8 -m_axi_latency 64", False),
    ("config_interface -m_axi_alignment_byte_size 16 -m_axi_latency 0", False),
    ("# config_interface -m_axi_alignment_byte_size 16 -m_axi_latency 64\nconfig_interface -m_axi_addr64", False),
])
def test_r14_tcl_alignment_and_latency(tcl, ok):
    text = f"open_solution -reset solution1 -flow_target vivado\n{tcl}\ncsynth_design\n"
    assert (check_tcl("run_hls.tcl", text) == []) == ok
    assert all(v.rule == "R14" for v in check_tcl("run_hls.tcl", text))


def test_violation_names_file_and_line():
    src = _kernel("const word_t* in, word_t* out, int n", TWO_BUNDLES, "    out[i] = in[i * 4];")
    (v,) = check_performance({"k.cpp": src})
    assert str(v).startswith("k.cpp:9: [R11] ") and "'in'" in str(v) and "i * 4" in str(v)


def test_r4_a_qualified_call_of_a_namesake_is_not_recursion(tmp_path):
    from nash.codegen.hls.rules import check_source

    src = tmp_path / "e.cpp"
    src.write_text("""namespace {
int requant(int v) {
  return nash::requant(v, 1);
}
int again(int v) {
  return again(v - 1);
}
}
""")
    assert [(v.rule, v.line) for v in check_source(src)] == [("R4", 5)]


def test_r8_a_loop_calling_loops_through_a_region_is_not_innermost(tmp_path):
    """R8 (hand-made source): a loop calling a function that reaches loops only through its callees (a DATAFLOW
    region calling its processes), or a name whose earlier overload has the loop, is not innermost; a loop calling
    only loop-free functions is, and without a pipeline it is flagged."""
    from nash.codegen.hls.rules import check_source

    src = tmp_path / "e.cpp"
    text = """namespace {
void proc(int* a, int n) {
work:
  for (int i = 0; i < n; ++i) {
#pragma HLS loop_tripcount min=1 max=8
#pragma HLS PIPELINE II=1
    a[i] = i;
  }
}
void region(int* a, int n) {
  proc(a, n);
}
void twice(int* a, int n) {
dbl:
  for (int i = 0; i < n; ++i) {
#pragma HLS loop_tripcount min=1 max=8
#pragma HLS PIPELINE II=1
    a[i] *= 2;
  }
}
int twice(int v) {
  return 2 * v;
}
int scale(int v) {
  return 3 * v;
}
void outer(int* a, int n) {
passes:
  for (int p = 0; p < n; ++p) {
#pragma HLS loop_tripcount min=1 max=8
    region(a, n);
  }
over:
  for (int p = 0; p < n; ++p) {
#pragma HLS loop_tripcount min=1 max=8
    twice(a, n);
  }
flat:
  for (int p = 0; p < n; ++p) {
#pragma HLS loop_tripcount min=1 max=8
    a[p] = scale(p);
  }
}
}
"""
    src.write_text(text)
    flat = text.splitlines().index("flat:") + 2  # 1-based line of the loop after the label
    assert [(v.rule, v.line) for v in check_source(src)] == [("R8", flat)]


# ---- the generated code ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_project(tmp_path_factory):
    mf = load_model(TINY)
    return generate_from(mf, load_integer_model(mf), tmp_path_factory.mktemp("tiny_perf")).out


def test_the_pre_issue_12_bytewise_engines_violate_the_performance_rules():
    """A regression to byte-wise DDR access fails: the engines as rendered before issue 12 break R9-R12 and R14."""
    out = REPO / "tests" / "data" / "bytewise_project"
    found = check_project_performance(out)
    by_rule = {}
    for v in found:
        by_rule.setdefault(v.rule, []).append(v)
    assert {"R9", "R10", "R11", "R12", "R14"} <= set(by_rule)
    # the sites the static review names (shared/reference/hls-performance.md), checked on the source lines
    def src_line(v):
        return (out / "src" / v.file).read_text().splitlines()[v.line - 1]
    # byte pointers on the top's m_axi ports
    assert {"img_conv", "act_conv", "wb_conv", "logits"} <= {
        v.message.split("'")[1] for v in by_rule["R12"] if v.file == "top.cpp"}
    # padding / channel guards inside the input-tile load loop: conditional reads of img and act
    assert any(v.file == "engine_conv.cpp" and "img[" in src_line(v) and "'img'" in v.message for v in by_rule["R9"])
    # img and act (one bundle) read in the same loop
    assert any(v.file == "engine_conv.cpp" and "'act', 'img'" in v.message and "gmem_conv" in v.message
               for v in by_rule["R10"])
    # depthwise output written at a channel-strided address
    assert any(v.file == "engine_conv.cpp" and "act[" in src_line(v) and "write" in v.message for v in by_rule["R11"])
    tcl = {v.message.split(" is ")[0] for v in by_rule["R14"]}
    assert tcl == {"config_interface -m_axi_alignment_byte_size", "config_interface -m_axi_latency"}


def test_generated_code_follows_performance_rules(tiny_project):
    violations = check_project(tiny_project)
    assert violations == [], "\n".join(map(str, violations))


@pytest.fixture(scope="module")
def tiny_rtl_project(tmp_path_factory):
    mf = load_model(TINY)
    return generate_from(mf, load_integer_model(mf), tmp_path_factory.mktemp("tiny_rtl"), pe_impl="rtl").out


def test_generated_rtl_project_follows_every_rule(tiny_rtl_project):
    """--pe-impl rtl: the weight-stationary blackboxes pass R15 and the engines around them R1-R14."""
    assert sorted((tiny_rtl_project / "src" / "pe").glob("*_ws.json"))
    violations = check_project(tiny_rtl_project)
    assert violations == [], "\n".join(map(str, violations))


def test_the_packed_pe_blackbox_violates_r15():
    """A regression to the packed interface (the whole 16 x 16 weight tile as one ap_uint<2048> per call) fails R15
    on the blackbox prototype, naming the argument and its width; its x and psum ports are narrow enough."""
    out = REPO / "tests" / "data" / "packed_blackbox_project"
    found = [v for v in check_project_performance(out) if v.rule == "R15"]
    assert len(found) == 1, found
    (v,) = found
    assert v.file == "pe/nash_conv_pe_tm16_tn16_a32_bb.h"
    assert "nash_conv_pe_tm16_tn16_a32" in v.message and "'w'" in v.message and "2048 bits" in v.message
    assert "void nash_conv_pe_tm16_tn16_a32(" in (out / "src" / v.file).read_text().splitlines()[v.line - 1]


BB_JSON = {"bb.json": '{"c_function_name": "box", "rtl_top_module_name": "box"}'}


@pytest.mark.parametrize("width,bad", [(1024, False), (1025, True), (128, False)])
def test_r15_boundary_on_a_blackbox_prototype(width, bad):
    src = f"#include \"ap_int.h\"\nvoid box(ap_uint<8> x, ap_int<{width}> w, ap_uint<64>& p);\n"
    assert bool(check_blackboxes({"bb.h": src}, BB_JSON)) == bad


def test_r15_ignores_calls_other_functions_and_other_json():
    src = ("typedef ap_uint<4096> big_t;\nvoid other(big_t w);\nvoid f() { big_t w = 0; ap_uint<8> p; box(w, p); }\n"
           "void box(big_t w, ap_uint<8>& p);\n")
    found = check_blackboxes({"k.cpp": src}, BB_JSON | {"notes.json": '{"a": 1}', "broken.json": "{"})
    assert [(v.rule, v.line) for v in found] == [("R15", 4)]  # the declaration of box, through the typedef
