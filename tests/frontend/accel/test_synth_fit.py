"""The synthesis fit of the cost table: tree widths by hand, exact recovery of known costs, precedence of csynth
entries, and the one-line error when the shapes cannot determine the costs."""

from __future__ import annotations

import pytest
from nash.frontend.accel.cost_table import CostTable, load_cost_table
from nash.frontend.accel.synth_fit import SynthFitError, fit_synthesis, table_ratio, tree_bits
from nash.frontend.integer.bounds import adder_tree_levels

SHAPES = [(2, 2), (4, 4), (8, 4), (4, 8), (8, 8)]
SRC = "yosys 9.9 synth_xilinx -family xcup"


def _table(**values: float) -> CostTable:
    """The shipped table's entries with the given values set by hand (so the test does not follow the shipped ones)."""
    base = load_cost_table()
    over = {k.replace("__", "."): v for k, v in values.items()}
    return CostTable(dict(base.values, **over), dict(base.sources, **{k: "estimate" for k in over}), "hand")


def test_tree_bits_by_hand():
    # conv terms [-16256, 16384]: sums of 2, 4, 8 terms need 17, 18, 19 signed bits
    assert tree_bits("conv", 1) == 0
    assert tree_bits("conv", 2) == 17
    assert tree_bits("conv", 4) == 2 * 17 + 18
    assert tree_bits("conv", 8) == 4 * 17 + 2 * 18 + 19
    # adder terms [-255, 0]: 2 terms 10 bits, 3 terms (the pass-through of an odd node keeps 1 term: 9 bits) 11
    assert tree_bits("adder", 2) == 10
    assert adder_tree_levels(3) == [[(1, 1), (1, 0)], [(2, 1)]]
    assert tree_bits("adder", 3) == 10 + 9 + 11


def _synthetic(pe: dict, bit: float, lane: float, const: float) -> list[dict]:
    """Measurements made exactly from the per-bit formula with hand-chosen costs (every resource the same)."""
    rows = []
    for e in ("conv", "shift", "adder"):
        for tm, tn in SHAPES:
            v = pe[e] * tm * tn + bit * tm * tree_bits(e, tn) + lane * tn + const
            rows.append({"unit": "pe_array", "engine": e, "tm": tm, "tn": tn, "exp_max": 7,
                         "resources": {"lut": v, "ff": v, "carry8": v, "dsp": v}})
    return rows


def test_per_bit_fit_recovers_known_costs():
    pe = {"conv": 3.0, "shift": 40.0, "adder": 17.0}
    rows = _synthetic(pe, bit=0.9, lane=8.0, const=4.0)
    rows.append({"unit": "requant_lane", "acc_bits": 24, "sum_bits": 40,
                 "resources": {"lut": 300, "ff": 270, "carry8": 9, "dsp": 1}})
    table, rep = fit_synthesis(_table(requant__lane_lut=150.0), rows, SRC)
    coef = rep["fit_per_bit"]["coef"]["lut"]
    for e, v in pe.items():
        assert coef[f"pe:{e}"] == pytest.approx(v, abs=1e-3)
    assert coef["tree_bit"] == pytest.approx(0.9, abs=1e-4) and coef["lane"] == pytest.approx(8.0, abs=1e-3)
    assert rep["fit_per_bit"]["max_abs_rel_error"]["lut"] < 1e-4
    assert table["tree.lut_per_bit"] == pytest.approx(0.9, abs=1e-4)
    assert table["requant.lane_lut"] == 300 and table["requant.lane_dsp"] == 1
    assert table.sources["requant.lane_lut"].startswith("yosys 9.9 synth_xilinx -family xcup: one lane at ACC_W 24")
    assert "per-PE fit" in table.sources["shift.pe_lut"] and "2x2" in table.sources["shift.pe_lut"]
    moved = {c["entry"]: c for c in rep["changes"]}
    assert moved["requant.lane_lut"]["old"] == 150 and moved["requant.lane_lut"]["new_over_old"] == 2.0


def test_model_formula_fit_is_exact_when_the_data_follow_it():
    """Data made from R = pe x tm tn + node x tm (tn - 1): the fit of the model's own formula gives them back, and
    the table-vs-synthesis ratio after the fit is 1."""
    rows = []
    for e, pe in (("conv", 2.0), ("shift", 35.0), ("adder", 15.0)):
        for tm, tn in SHAPES:
            v = pe * tm * tn + 16.0 * tm * (tn - 1)
            rows.append({"unit": "pe_array", "engine": e, "tm": tm, "tn": tn,
                         "resources": {"lut": v, "ff": v, "carry8": 0.0, "dsp": tm * tn if e == "conv" else 0}})
    table, rep = fit_synthesis(_table(conv__pe_lut=4.0, tree__adder_lut=20.0), rows, SRC)
    assert table["conv.pe_lut"] == pytest.approx(2.0, abs=1e-3)
    assert table["shift.pe_ff"] == pytest.approx(35.0, abs=1e-3)
    assert table["tree.adder_lut"] == pytest.approx(16.0, abs=1e-3)
    assert table["conv.pe_dsp"] == pytest.approx(1.0, abs=1e-6)
    after = rep["table_vs_synthesis"]["after"]
    assert all(r["lut"]["synthesis_over_table"] == pytest.approx(1.0, abs=1e-3) for r in after)
    # before: the hand-set table, e.g. conv 2x2 LUT = 4 PEs x 4 + 2 nodes x 20 = 56 against 2*4 + 16*2 = 40
    conv22 = next(r for r in rep["table_vs_synthesis"]["before"] if (r["engine"], r["tm"], r["tn"]) == ("conv", 2, 2))
    assert conv22["lut"]["table"] == 56 and conv22["lut"]["synthesis"] == 40


def test_csynth_entries_keep_precedence():
    base = load_cost_table()
    sources = dict(base.sources, **{"shift.pe_lut": "csynth calibration: lut / (tm x tn) from a.xml"})
    values = dict(base.values, **{"shift.pe_lut": 33.0})
    table, rep = fit_synthesis(CostTable(values, sources, "t"), _synthetic(
        {"conv": 1.0, "shift": 40.0, "adder": 17.0}, 1.0, 8.0, 0.0), SRC)
    assert table["shift.pe_lut"] == 33.0 and table.sources["shift.pe_lut"].startswith("csynth")
    assert [k["entry"] for k in rep["kept"]] == ["shift.pe_lut"]


def test_too_few_shapes_is_one_line_error():
    rows = _synthetic({"conv": 1.0, "shift": 1.0, "adder": 1.0}, 1.0, 1.0, 1.0)
    rows = [r for r in rows if (r["tm"], r["tn"]) == (2, 2)]
    with pytest.raises(SynthFitError, match=r"do not determine the .* costs .*--sizes"):
        fit_synthesis(load_cost_table(), rows, "yosys")


def test_table_ratio_uses_the_model_formula():
    t = _table(adder__pe_lut=20.0, tree__adder_lut=20.0)
    r = table_ratio(t, [{"engine": "adder", "tm": 4, "tn": 8, "resources": {"lut": 1000, "ff": 500, "dsp": 0}}])[0]
    want = 32 * 20 + 28 * 20
    assert r["lut"]["table"] == pytest.approx(want) and r["lut"]["synthesis_over_table"] == round(1000 / want, 3)
    assert r["dsp"]["synthesis_over_table"] is None  # the table prices no DSP for the adder engine
