"""Yosys synthesis of the PE arrays and lanes: the ``stat -json`` parser on real samples, and real syntheses (one
array, one depthwise lane) checked against a hand count of the RTL's registers, DSPs and carry chains."""

from __future__ import annotations

import json

import pytest
from helpers import REPO, require_yosys
from nash.codegen.rtl.dw_lanes import DwLaneConfig, render_dw_lane
from nash.codegen.rtl.pe_arrays import render_pe_array
from nash.codegen.rtl.yosys_synth import YosysError, parse_stat, synthesize, tool_source

DATA = REPO / "tests" / "data"


def test_parse_stat_conv_sample():
    """Yosys 0.23 output for the conv 2x2 array: LUT2 x 32 + LUT3 + LUT4 x 3; FDRE 149; 4 DSP48E2; 10 CARRY4."""
    r = parse_stat((DATA / "yosys_stat_conv_pe_2x2.json").read_text(), "nash_conv_pe_tm2_tn2_a32")
    assert (r["lut"], r["ff"], r["dsp"], r["carry4"], r["carry8"]) == (36, 149, 4, 10, 5.0)
    assert r["cells"]["IBUF"] == 53  # I/O buffers are kept in the cells, not counted as logic


def test_parse_stat_counts_inv_srl_and_set_flops():
    """The requant lane sample: LUT1-6 (2+7+65+72+32+123) + INV 9 + SRL16E 1 = 311 LUT; FDRE 268 + FDSE 7 = 275 FF;
    MUXF7 (a slice mux, not a LUT) is not counted."""
    data = json.loads((DATA / "yosys_stat_requant_lane.json").read_text())
    r = parse_stat(data)  # no top given: the design totals
    assert (r["lut"], r["ff"], r["dsp"], r["carry8"]) == (311, 275, 1, 9.5)
    assert parse_stat(data, "nash_requant_lane_a24_s41")["lut"] == 311


def test_parse_stat_counts_distributed_ram_at_its_lut_sites():
    """UG574: a RAM64M8 (64 x 7 quad-port) fills a whole SLICEM, 8 LUT6; a RAM64X1D 2; a RAM32M 4. 3 LUT6 + 2 x 8 +
    1 x 2 + 1 x 4 = 25 LUT."""
    data = {"design": {"num_cells_by_type": {"LUT6": 3, "RAM64M8": 2, "RAM64X1D": 1, "RAM32M": 1, "FDRE": 5}}}
    assert parse_stat(data)["lut"] == 25


def test_parse_stat_rejects_bad_output():
    with pytest.raises(YosysError, match="not JSON"):
        parse_stat("Number of cells: 3")
    with pytest.raises(YosysError, match="num_cells_by_type"):
        parse_stat({"modules": {}})


def test_tool_source_names_tool_version_and_flow():
    assert tool_source("Yosys 0.23 (git sha1 7ce5011c24b)") == "yosys 0.23 synth_xilinx -family xcup"


def test_conv_2x2_synthesis_matches_the_hand_count(tmp_path):
    """Real Yosys on the conv Tm = Tn = 2 array (~5 s). Hand count from the RTL (pe_array.v.j2):

    * FF: x_q 2 x 8 + w_q 4 x 8 + valid bits 3 (latency 2 + log2 2) + term registers 4 x 16 + per row the output
      register's 17 distinct bits (the 17-bit sum sign-extended to 32: the 15 copies of the sign bit are one FF,
      Yosys merges equal FFs) 2 x 17 = 149;
    * DSP48E2: one per MAC = 4;  CARRY4: per row one 17-bit adder = ceil(17 / 4) = 5, so 10;
    * LUT: one per bit of the two 16 + 16 -> 17-bit adders (32-34) plus a few control gates (adv, ap_idle,
      ap_ready): 32 <= LUT <= 40.
    """
    require_yosys()
    paths = render_pe_array("conv", 2, 2, tmp_path)
    res = synthesize(paths["verilog"], "nash_conv_pe_tm2_tn2_a32", tmp_path / "synth")
    r = res.resources
    assert r["ff"] == 16 + 32 + 3 + 64 + 34
    assert r["dsp"] == 4
    assert r["carry4"] == 10
    assert 32 <= r["lut"] <= 40
    assert res.source.startswith("yosys ") and res.source.endswith("synth_xilinx -family xcup")


def test_conv_dw_lane_synthesis_matches_the_hand_count(tmp_path):
    """Real Yosys on the conv depthwise lane (~5 s). Hand count from the RTL (dw_lane.v.j2):

    * FF: x_q 8 + w_q 8 + three stage-1 marks (valid, first, last) + the 16-bit term register + three stage-2 marks
      + the 32-bit accumulator + valid_out 1 = 71;
    * DSP48E2: the one 8 x 8 product;  CARRY4: the 32-bit accumulator add = 8;
    * LUT: one per accumulator bit for the add, at most one more per bit for the window restart (first ? 0 : sum),
      and a few control gates: 32 <= LUT <= 72.
    """
    require_yosys()
    cfg = DwLaneConfig("conv")
    res = synthesize(render_dw_lane(cfg, tmp_path), cfg.name, tmp_path / "synth")
    r = res.resources
    assert r["ff"] == 8 + 8 + 3 + 16 + 3 + 32 + 1
    assert r["dsp"] == 1 and r["carry4"] == 8
    assert 32 <= r["lut"] <= 72


@pytest.mark.slow
def test_nodsp_puts_the_conv_multiplier_in_luts(tmp_path):
    """``-nodsp``: the same lane with no DSP48E2; its 8 x 8 multiplier needs at least one LUT per partial-product bit
    pair (64 AND terms folded two per LUT6 -> >= 32 more LUTs than with the DSP); the registers are unchanged."""
    require_yosys()
    cfg = DwLaneConfig("conv", use_dsp=False)
    with_dsp = synthesize(render_dw_lane(DwLaneConfig("conv"), tmp_path), "nash_dw_lane_conv_a32", tmp_path / "a")
    res = synthesize(render_dw_lane(cfg, tmp_path), cfg.name, tmp_path / "synth", nodsp=True)
    assert res.resources["dsp"] == 0 and res.resources["ff"] == with_dsp.resources["ff"]
    assert res.resources["lut"] >= with_dsp.resources["lut"] + 32
