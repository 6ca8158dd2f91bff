"""Code-derived cycle counts of the C model (docs/hls-codegen.md): a layer worked out by hand from the HLS scheduling
formulas and its loop trip counts, the counters changing no output, the step / period arithmetic, the report of
`nash csim` and the synthesizability rules on the instrumented sources."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import REPO, randomized_net
from nash.codegen.csim.build import build
from nash.codegen.csim.cycles import cycles_report
from nash.codegen.csim.run import CsimLibrary, compare
from nash.codegen.hls.plan import Plan
from nash.codegen.hls.project import generate
from nash.codegen.hls.render import AXI_LATENCY
from nash.codegen.hls.rules import check_project
from nash.frontend.accel.schedule import Task
from nash.frontend.core.model_file import new_model, save_model, update_sections
from nash.frontend.integer.reference import run_network
from nash.frontend.integer.weights_io import pack
from nash.frontend.models.convert import integer_model

from nash.cli import main as cli

# Stem: conv 3 -> 4 channels, 6 x 6, k = 3, stride 1, pad 1. No accelerator section: 8 x 8 PE arrays, 1 requant lane.
SMALL_ARCH = {
    "input_channels": 3, "input_size": 6, "num_classes": 3,
    "stem": {"op": "conv", "width": 4, "kernel": 3, "stride": 1},
    "stages": [{"width": 4, "stride": 1, "blocks": [{"op": "shift", "kernel": 3, "expand": 1}]}],
    "head": {"width": 8},
}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("cyc")
    im = integer_model(randomized_net(SMALL_ARCH, 0))
    mf = new_model("cyc", SMALL_ARCH, search_provenance={"dataset": "random"})
    update_sections(mf, "train", weights=pack(im))
    g = generate(save_model(mf, out / "model.json"), out / "prj")
    return g, CsimLibrary(build(g.project).lib, g.project.manifest)


def _images(g, n: int) -> np.ndarray:
    f = g.integer_model.nodes[0]
    return np.random.default_rng(5).integers(-128, 128, (n, f.in_ch, f.in_size, f.in_size), dtype=np.int8)


def _pipe(trip: int, ii: int, depth: int) -> int:
    return depth + (trip - 1) * ii


def test_stem_count_worked_by_hand(small):
    """Trip counts from the layer's shape and the code's tile walk (docs/hls-codegen.md); depths: the documented
    constants D_IO = 2, D_RQ = 5, MAC = pe_latency (2 + ceil(log2 8) = 5 without a section) + D_ACC = 1."""
    g, lib = small
    lib.predict(_images(g, 2), g.project.blob_path.read_bytes())
    lat, io = 64, 2
    # one output tile (4 <= TM = 8) over one input tile (3 <= TN = 8); planes of 36 bytes = 3 words. Tile side 8
    # (the fallback): a band starts on a word when its rows are a multiple of 16 / gcd(6, 16) = 8, so the one band is
    # the whole 6 x 6 map and its planes are read in one burst.
    read_x = lat + _pipe(3 * 3, 1, io)  # 74: the 3 valid planes in one run (one manual-burst request)
    read_w = lat + _pipe(8 + 9 * 4, 1, io)  # 109: TM scale records + 9 window positions x 4 words (64 weights)
    pad_x = _pipe(9, 1, io) + _pipe(6 * 6 * 9, 1, io)  # 335: the exposed first fill, then one window pixel per MAC
    load_w = _pipe(9 * 4, 1, io)  # 37: the first (here the only) weight tile, 9 positions x 4 words, one a cycle
    mac = _pipe(6 * 6 * 9, 1, 5 + 1)  # 329: (pixel, ki, kj) flattened (no next tile to load alongside)
    # drain (one output tile: after the MAC loop, on its own): 4 groups of 1 channel (1 requant lane) x 36 pixels,
    # one group's lanes of one pixel per cycle
    drain = _pipe(4 * 36, 1, io)  # 145
    compute = load_w + mac + drain  # 511
    # requant: the 8 scale records, then per group one loop over its 36 pixels (the previous group's 3 words leave
    # inside it), and one loop more for the last group's 3 words: 9 + 4 x 40 + 7
    requant = _pipe(8, 1, io) + 4 * _pipe(36, 1, 5) + _pipe(3, 1, 5)  # 176
    write = _pipe(4 * 3, 1, io) + lat  # 77: one run of the tile's 4 planes, then its write response
    assert compute == max(read_x, read_w, pad_x, compute, requant, write) == 511
    fills = {"read_x": lat + io, "read_w": lat + io, "pad_x": io, "requant": 5, "write": io}  # compute: the slowest
    assert lib.layer_cycles()["stem"] == compute + sum(fills.values()) == 652


# Stem: conv 3 -> 12 channels, 16 x 16, k = 3, stride 1, pad 1, on the 8 x 8 fallback arrays: two bands of 8 rows and
# two output tiles, so the input band of the (one) input tile is read once per band and reused for both.
BAND_ARCH = {
    "input_channels": 3, "input_size": 16, "num_classes": 3,
    "stem": {"op": "conv", "width": 12, "kernel": 3, "stride": 1},
    "stages": [{"width": 12, "stride": 2, "blocks": [{"op": "shift", "kernel": 3, "expand": 1}]}],
    "head": {"width": 8},
}


def test_banded_stem_count_worked_by_hand(tmp_path):
    """Two bands of 8 rows of a 16 x 16 map (docs/hls-codegen.md, spatial tiles): per band the input rows of the
    3 x 3 windows (with their halo) in one burst per channel plane, the weights once per band, two output tiles."""
    im = integer_model(randomized_net(BAND_ARCH, 1))
    mf = new_model("band", BAND_ARCH, search_provenance={"dataset": "random"})
    update_sections(mf, "train", weights=pack(im))
    g = generate(save_model(mf, tmp_path / "model.json"), tmp_path / "prj")
    lib = CsimLibrary(build(g.project).lib, g.project.manifest)
    x = _images(g, 2)
    outs, logits = lib.predict_debug(x, g.project.blob_path.read_bytes())
    golden = run_network(g.integer_model.nodes, g.integer_model.params, x, keep=True)
    assert compare(golden, outs, logits, g.integer_model.nodes) == (0, None)
    lat, io = 64, 2
    # Band 0: output rows 0-7 need input rows 0-8 (pad 1): bytes [0, 144) = words [0, 9); band 1: rows 7-15: bytes
    # [112, 256) = words [7, 16). 3 planes each: 6 runs of 9 words, all requested at the start (16 in flight), so
    # one round trip and the 6 runs back to back (before the manual bursts each run paid it: 444)
    read_x = lat + 6 * _pipe(9, 1, io)  # 124
    # per band both output tiles: 2 x (8 records + 9 positions x 4 words)
    read_w = 2 * (lat + _pipe(2 * (8 + 36), 1, io))  # 306
    # first fill 3 x 9 words exposed; per band: emit 2 output tiles x 128 pixels x 9 (the next band's fill hides)
    pad_x = _pipe(27, 1, io) + 2 * _pipe(2 * 128 * 9, 1, io)  # 28 + 2 x 2305
    # the first weight tile (36 words) is exposed; every later one loads during the previous tile's MAC loop
    load_w, mac = _pipe(36, 1, io), _pipe(max(128 * 9, 36), 1, 5 + 1)  # 37, 1157
    # every output tile drains (8 or 4 groups of 1 channel x 128 pixels: 1024 / 512 cycles) inside the next tile's
    # MAC loop (1152 cycles, so the drains hide); the last tile's 4 channels drain on their own
    compute = load_w + 4 * mac + _pipe(4 * 128, 1, io)  # 37 + 4 x 1157 + 513
    # per band and output tile: 8 records, per group its 128 pixels (the previous group's 8 words inside), the last
    # group's 8 words
    requant = 2 * (2 * _pipe(8, 1, io) + 12 * _pipe(128, 1, 5) + 2 * _pipe(8, 1, 5))
    # per band and output channel a run of 8 words: 16 runs of 9 cycles outlast the round trip, so no response is
    # waited for but the last (before the manual bursts each run paid it: 1752)
    write = 2 * (8 + 4) * _pipe(8, 1, io) + lat  # 280
    slowest = max(read_x, read_w, pad_x, compute, requant, write)
    assert slowest == compute == 5178
    fills = lat + io + lat + io + io + 5 + io  # read_x, read_w, pad_x, requant, write
    assert lib.layer_cycles()["stem"] == compute + fills == 5319
    stem = g.project.manifest["layers"][0]
    assert stem["band_rows"] == 8 and stem["name"] == "stem"


def test_counters_change_no_output(small):
    g, lib = small
    x, blob = _images(g, 10), g.project.blob_path.read_bytes()
    plain = CsimLibrary(build(g.project, defines=("NASH_NO_CYCLES",)).lib, g.project.manifest)
    plain.reset_cycles()
    outs, logits = lib.predict_debug(x, blob)
    outs0, logits0 = plain.predict_debug(x, blob)
    assert plain.layer_cycles() == {}  # really compiled out
    assert set(lib.layer_cycles()) == {n.name for n in g.integer_model.nodes}
    np.testing.assert_array_equal(logits, logits0)
    for name, a in outs.items():
        np.testing.assert_array_equal(a, outs0[name])
    golden = run_network(g.integer_model.nodes, g.integer_model.params, x, keep=True)
    assert compare(golden, outs, logits, g.integer_model.nodes) == (0, None)


def test_rtl_pe_arrays_keep_the_code_derived_counts(small, tmp_path):
    """--pe-impl rtl (weight-stationary blackboxes) keeps the loop nests: every layer's count equals the hls one
    (the stem's is the 652 cycles worked by hand above) and the outputs are bit-exact."""
    from nash.codegen.rtl.pe_arrays import find_ap_types

    if find_ap_types() is None:
        pytest.skip("ap_int.h not found: pip install --no-deps hls4ml==1.3.0 (make install does) or set NASH_AP_TYPES")
    g, lib = small
    rtl = generate(g.project.out.parent / "model.json", tmp_path / "rtl", pe_impl="rtl")
    rlib = CsimLibrary(build(rtl.project).lib, rtl.project.manifest)
    x, blob = _images(g, 2), g.project.blob_path.read_bytes()
    lib.predict(x, blob)
    got = rlib.predict(x, rtl.project.blob_path.read_bytes())
    np.testing.assert_array_equal(got, run_network(g.integer_model.nodes, g.integer_model.params, x))
    assert rlib.layer_cycles() == lib.layer_cycles() and rlib.layer_cycles()["stem"] == 652


def test_counts_do_not_depend_on_the_images_and_pe_latency_is_used(small):
    g, lib = small
    blob = g.project.blob_path.read_bytes()
    lib.predict(_images(g, 1), blob)
    one = lib.layer_cycles()
    lib.predict(_images(g, 3) // 3, blob)
    assert lib.layer_cycles() == one
    lib.set_pe_latency(0, 9)  # stem: MAC depth 9 + 1 instead of 6 -> 4 more cycles
    lib.predict(_images(g, 1), blob)
    assert lib.layer_cycles()["stem"] == one["stem"] + 4
    lib.set_pe_latency(0, 5)


def test_steps_and_period_from_layer_counts():
    plan = Plan({}, {"a": "conv", "b": "shift", "c": "misc"}, [[Task("conv", "a", 0), Task("shift", "b", 1)],
                                                              [Task("misc", "c", 0)]], "p", 100.0)
    acc = {"layers": {"a": {"cycles": 90}, "b": {"cycles": 10}, "c": {"cycles": 50}},
           "performance": {"period_cycles": 140, "fps": 1e8 / 140}}
    rep = cycles_report({"a": 100, "b": 120, "c": 40}, plan, acc)
    assert [s["code_cycles"] for s in rep["steps"]] == [120, 40]
    assert rep["period_cycles"] == 160 and rep["fps"] == pytest.approx(1e8 / 160, abs=0.01)
    assert rep["model_over_code"] == pytest.approx(140 / 160, abs=1e-4)
    assert rep["layers"]["a"] == {"engine": "conv", "code_cycles": 100, "model_cycles": 90, "model_over_code": 0.9}
    assert cycles_report({"a": 1, "b": 1, "c": 1}, plan, None)["model_fps"] is None


def test_axi_latency_is_the_generated_one(small):
    g, lib = small
    assert lib._lib.nash_cycles_axi_latency() == AXI_LATENCY == 64
    assert f"latency={AXI_LATENCY}" in (g.project.out / "src" / "top.cpp").read_text()


def test_instrumented_sources_pass_the_rules(small):
    g, _ = small
    assert check_project(g.project.out) == []


def test_cli_csim_reports_code_and_model_cycles(tmp_path):
    acc = tmp_path / "acc"
    r = CliRunner().invoke(cli, ["accel", str(REPO / "examples" / "tiny_hybrid.json"), "--out", str(acc)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["csim", str(acc / "model.json"), "--images", "4", "--out", str(tmp_path / "c")])
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "c" / "csim_report.json").read_text())
    section = json.loads((acc / "model.json").read_text())["accelerator"]
    cyc = rep["cycles"]
    assert rep["mismatches"] == 0 and len(cyc["layers"]) == 14
    assert cyc["model_period_cycles"] == section["performance"]["period_cycles"]
    assert all(v["model_cycles"] == section["layers"][k]["cycles"] for k, v in cyc["layers"].items())
    assert cyc["period_cycles"] == sum(s["code_cycles"] for s in cyc["steps"]) > 0
    assert "code-derived:" in r.output and "vs model" in r.output
