"""Vivado report parsers and the timing gate, on report files written by hand in the documented layouts
(tests/data/vivado/*.rpt: the tables of UG835 report_utilization / report_timing_summary as UG906 shows them, with
numbers chosen by hand; the expected values below are read off those files, not produced by the parser)."""

from __future__ import annotations

from pathlib import Path

import pytest
from nash.codegen.vivado import reports as rep
from nash.frontend.core.errors import CheckFailedError

DATA = Path(__file__).resolve().parents[2] / "data" / "vivado"


def test_utilization_ultrascale_with_prohibited_column():
    u = rep.parse_utilization(DATA / "utilization_impl.rpt")
    assert u["lut"] == {"used": 41234, "available": 117120, "util_percent": 35.21}
    assert u["ff"] == {"used": 52109, "available": 234240, "util_percent": 22.25}
    assert u["bram"]["used"] == 61.5 and u["bram"]["available"] == 144  # RAMB36 tiles, half tiles count 0.5
    assert u["uram"]["used"] == 4 and u["dsp"]["used"] == 200 and u["dsp"]["available"] == 1248


def test_utilization_older_layout_and_missing_rows(tmp_path):
    u = rep.parse_utilization(DATA / "utilization_7series_2019.rpt")  # no Prohibited column, Slice LUTs*
    assert u["lut"]["used"] == 1234 and u["lut"]["available"] == 53200 and u["ff"]["used"] == 2345
    assert u["uram"]["used"] is None  # no URAM on that device: no row
    bad = tmp_path / "u.rpt"
    bad.write_text((DATA / "utilization_impl.rpt").read_text().replace("| DSPs  ", "| XDSPs "))
    with pytest.raises(rep.ReportError, match=r"u.rpt: utilization report has no 'DSPs' row"):
        rep.parse_utilization(bad)
    with pytest.raises(rep.ReportError, match="not found"):
        rep.parse_utilization(tmp_path / "absent.rpt")


def test_timing_summary_values_and_clock():
    t = rep.parse_timing_summary(DATA / "timing_met.rpt")
    assert (t["wns_ns"], t["tns_ns"], t["whs_ns"], t["ths_ns"]) == (0.412, 0.0, 0.010, 0.0)
    assert t["tns_failing_endpoints"] == 0 and t["tns_total_endpoints"] == 90311
    assert t["clocks"] == [{"name": "clk_pl_0", "period_ns": 5.0, "frequency_mhz": 200.0}]
    v = rep.parse_timing_summary(DATA / "timing_setup_violated.rpt")
    assert v["wns_ns"] == -0.231 and v["tns_ns"] == -12.904 and v["tns_failing_endpoints"] == 117


def test_timing_summary_na_and_malformed(tmp_path):
    na = tmp_path / "na.rpt"
    text = (DATA / "timing_met.rpt").read_text().replace("      0.412        0.000", "         NA           NA", 1)
    na.write_text(text)
    t = rep.parse_timing_summary(na)
    assert t["wns_ns"] is None
    assert rep.timing_problems(t) == ["setup (WNS) not reported (NA: is the clock constrained?)"]
    junk = tmp_path / "junk.rpt"
    junk.write_text("no tables here\n")
    with pytest.raises(rep.ReportError, match="junk.rpt: no 'Design Timing Summary' row"):
        rep.parse_timing_summary(junk)


@pytest.mark.parametrize("name,problem", [("timing_setup_violated.rpt", "setup (WNS) slack -0.231 ns < 0"),
                                          ("timing_hold_violated.rpt", "hold (WHS) slack -0.015 ns < 0")])
def test_timing_gate(name, problem):
    t = rep.parse_timing_summary(DATA / name)
    with pytest.raises(CheckFailedError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        rep.timing_gate(t, False, DATA / name)
    assert rep.timing_gate(t, True, DATA / name).startswith("failed (allowed by --allow-timing-failure)")
    assert rep.timing_gate(rep.parse_timing_summary(DATA / "timing_met.rpt"), False, "x") == "passed"


def test_side_by_side_with_and_without_a_section():
    u = rep.parse_utilization(DATA / "utilization_impl.rpt")
    t = rep.parse_timing_summary(DATA / "timing_met.rpt")
    section = {"clock_mhz": 200, "resources": {"dsp": 160, "lut": 40000, "ff": 52109, "bram": 60, "uram": 4}}
    s = rep.side_by_side(u, t, section, 200.0)
    assert s["resources"]["dsp"]["predicted"] == 160 and s["resources"]["dsp"]["used_over_predicted"] == 1.25
    assert s["resources"]["bram"]["used_over_predicted"] == round(61.5 / 60, 3)
    assert s["clock"]["reported_mhz"] == 200.0 and s["clock"]["model_mhz"] == 200
    assert s["clock"]["fmax_estimate_mhz"] == round(1000 / (5.0 - 0.412), 1)  # 218.0 MHz
    none = rep.side_by_side(u, t, None, 200.0)
    assert none["resources"]["lut"]["predicted"] is None and none["clock"]["model_mhz"] is None
    lines = rep.format_table(s)
    assert lines[0].split() == ["resource", "used", "available", "predicted", "used/pred"]
    assert lines[-1].startswith("clock: target 200 MHz")


# ---- report_utilization -hierarchical (tests/data/vivado/utilization_hier_impl.rpt, hand-written in that layout) ----
def test_hierarchical_utilization_rows_depths_and_header():
    path = DATA / "utilization_hier_impl.rpt"
    rows = rep.parse_hierarchical_utilization(path)
    assert rows[0]["instance"] == "nash_bd_wrapper" and rows[0]["depth"] == 0
    # the top row of the file: 41234 LUT, 52109 FF, RAMB36 58 + RAMB18 7 = 123 halves, URAM 4, DSP 200
    assert rows[0]["resources"] == {"dsp": 200, "lut": 41234, "ff": 52109, "bram18": 123, "uram": 4}
    by = {r["instance"]: r for r in rows}
    assert by["nash_top_0"]["depth"] == 2 and by["inst"]["depth"] == 3 and by["engine_conv_U0"]["depth"] == 5
    assert by["engine_conv_U0"]["resources"] == {"dsp": 150, "lut": 12000, "ff": 15000, "bram18": 42, "uram": 4}
    assert rep.parse_header(path) == {"tool_version": "2023.2", "design": "nash_bd_wrapper",
                                      "device": "xck26-sfvc784-2LV-c",
                                      "command": "report_utilization -hierarchical -hierarchical_depth 12 -file "
                                                 "utilization_hier_impl.rpt"}


def test_find_instance_takes_the_outermost_vitis_hls_name():
    path = DATA / "utilization_hier_impl.rpt"
    rows = rep.parse_hierarchical_utilization(path)
    # engine_adder_U0 (depth 5), not its child grp_engine_adder_Pipeline_mac_fu_88 (depth 6)
    assert rep.find_instance(rows, ("engine_adder",), "adder", path)["instance"] == "engine_adder_U0"
    assert rep.find_instance(rows, ("gmem_misc_m_axi",), "misc adapter", path)["resources"]["lut"] == 1200
    assert rep.find_instance(rows, ("engine_nothing",), "x", path) is None
    with pytest.raises(rep.ReportError, match=r"conv or shift: 2 instances match \(engine_conv_U0, engine_shift_U0"):
        rep.find_instance(rows, ("engine_conv", "engine_shift"), "conv or shift", path)


def test_hierarchical_utilization_variants_and_errors(tmp_path):
    text = (DATA / "utilization_hier_impl.rpt").read_text()
    pct = tmp_path / "pct.rpt"  # -hierarchical_percentages: "N(P%)" cells; the DSP48 Blocks header of 7-series
    pct.write_text(text.replace("|      41234 |      41234 |", "| 41234(35.21%) | 41234(35.21%) |", 1)
                   .replace("DSP Blocks", "DSP48 Blocks"))
    rows = rep.parse_hierarchical_utilization(pct)
    assert rows[0]["resources"]["lut"] == 41234 and rows[0]["resources"]["dsp"] == 200
    no_ff = tmp_path / "no_ff.rpt"
    no_ff.write_text(text.replace("  FFs  ", " Regs  "))
    with pytest.raises(rep.ReportError, match=r"no_ff.rpt: 'Utilization by Hierarchy' table has no 'FFs' column"):
        rep.parse_hierarchical_utilization(no_ff)
    with pytest.raises(rep.ReportError, match=r"utilization_impl.rpt: no 'Utilization by Hierarchy' table"):
        rep.parse_hierarchical_utilization(DATA / "utilization_impl.rpt")  # a flat report
