"""The synthesis fit of the cost table: tree widths by hand, exact recovery of known costs (arrays, conv without DSPs,
depthwise lanes), precedence of csynth entries, and the one-line error when the shapes cannot determine the costs."""

from __future__ import annotations

import pytest
from nash.frontend.accel.array_cost import tree_bits
from nash.frontend.accel.cost_table import CostTable, load_cost_table
from nash.frontend.accel.synth_fit import SynthFitError, fit_synthesis, table_ratio
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


def _synthetic(pe: dict, bit: float, column: float, fabric_pe: float | None = None) -> list[dict]:
    """Measurements made exactly from the per-bit formula with hand-chosen costs (every resource the same); with
    ``fabric_pe``, conv arrays without DSPs too (their own PE cost, the same tree and columns)."""
    rows = []
    kinds = [("conv", False), ("shift", False), ("adder", False)] + ([("conv", True)] if fabric_pe else [])
    for e, fab in kinds:
        for tm, tn in SHAPES:
            v = (fabric_pe if fab else pe[e]) * tm * tn + bit * tm * tree_bits(e, tn) + column * tn
            rows.append({"unit": "pe_array", "engine": e, "tm": tm, "tn": tn, "exp_max": 7, "fabric": fab,
                         "resources": {"lut": v, "ff": v, "carry8": v, "dsp": 0 if fab else v}})
    return rows


def test_per_bit_fit_recovers_known_costs():
    pe = {"conv": 3.0, "shift": 40.0, "adder": 17.0}
    rows = _synthetic(pe, bit=0.9, column=8.0, fabric_pe=190.0)
    rows.append({"unit": "requant_lane", "acc_bits": 24, "sum_bits": 40,
                 "resources": {"lut": 300, "ff": 270, "carry8": 9, "dsp": 1}})
    table, rep = fit_synthesis(_table(requant__lane_lut=150.0), rows, SRC)
    coef = rep["fit_per_bit"]["coef"]["lut"]
    for e, v in pe.items():
        assert coef[f"pe:{e}"] == pytest.approx(v, abs=1e-3)
    assert coef["tree_bit"] == pytest.approx(0.9, abs=1e-4) and coef["column"] == pytest.approx(8.0, abs=1e-3)
    assert rep["fit_per_bit"]["max_abs_rel_error"]["lut"] < 1e-4
    assert table["tree.lut_per_bit"] == pytest.approx(0.9, abs=1e-4)
    assert table["array.column_ff"] == pytest.approx(8.0, abs=1e-3)
    assert table["shift.pe_lut"] == pytest.approx(40.0, abs=1e-3)
    assert table["conv.pe_lut_fabric"] == pytest.approx(190.0, abs=1e-2)
    assert table["conv.pe_ff_fabric"] == pytest.approx(190.0, abs=1e-2)
    assert "-nodsp" in table.sources["conv.pe_lut_fabric"]
    assert table["requant.lane_lut"] == 300 and table["requant.lane_dsp"] == 1
    assert table.sources["requant.lane_lut"].startswith("yosys 9.9 synth_xilinx -family xcup: one lane at ACC_W 24")
    assert "per-bit fit" in table.sources["shift.pe_lut"] and "2x2" in table.sources["shift.pe_lut"]
    moved = {c["entry"]: c for c in rep["changes"]}
    assert moved["requant.lane_lut"]["old"] == 150 and moved["requant.lane_lut"]["new_over_old"] == 2.0
    # the table prices every synthetic array exactly after the fit (the model's formula is the fit's)
    assert all(r["lut"]["synthesis_over_table"] == pytest.approx(1.0, abs=1e-3)
               for r in rep["table_vs_synthesis"]["after"])


def test_fit_writes_no_per_node_tree_entries():
    """One description of the tree (per bit): the fit writes no per-node tree.adder_* entries any more."""
    rows = []
    for e, pe in (("conv", 2.0), ("shift", 35.0), ("adder", 15.0)):
        for tm, tn in SHAPES:
            v = pe * tm * tn + 16.0 * tm * (tn - 1)
            rows.append({"unit": "pe_array", "engine": e, "tm": tm, "tn": tn,
                         "resources": {"lut": v, "ff": v, "carry8": 0.0, "dsp": tm * tn if e == "conv" else 0}})
    table, rep = fit_synthesis(_table(), rows, SRC)
    assert not any(k.startswith("tree.adder_") for k in table.values) and "fit_per_node" not in rep
    assert table["conv.pe_dsp"] == pytest.approx(1.0, abs=1e-6)


def test_depthwise_lane_entries_are_the_measured_lane():
    lanes = [{"unit": "dw_lane", "engine": e, "acc_bits": 32, "exp_max": 7, "fabric": fab,
              "resources": {"lut": lut, "ff": 70, "carry8": 4, "dsp": dsp}}
             for e, fab, lut, dsp in (("conv", False, 66, 1), ("shift", False, 107, 0), ("conv", True, 250, 0))]
    lanes.append({"unit": "dw_lane", "engine": "adder", "acc_bits": 24, "exp_max": 7, "fabric": False,
                  "resources": {"lut": 1, "ff": 1, "carry8": 1, "dsp": 0}})  # not the model's ACC_BITS: ignored
    base = load_cost_table()
    table, _ = fit_synthesis(base, _synthetic({"conv": 1.0, "shift": 40.0, "adder": 17.0}, 1.0, 8.0) + lanes, SRC)
    assert (table["conv.dw_lane_lut"], table["conv.dw_lane_ff"], table["conv.dw_lane_dsp"]) == (66, 70, 1)
    assert table["shift.dw_lane_lut"] == 107 and "shift depthwise lane" in table.sources["shift.dw_lane_lut"]
    assert table["conv.dw_lane_lut_fabric"] == 250 and "-nodsp" in table.sources["conv.dw_lane_lut_fabric"]
    assert table["adder.dw_lane_lut"] == base["adder.dw_lane_lut"]


def test_csynth_entries_keep_precedence():
    base = load_cost_table()
    sources = dict(base.sources, **{"shift.pe_lut": "csynth calibration: lut / (tm x tn) from a.xml"})
    values = dict(base.values, **{"shift.pe_lut": 33.0})
    table, rep = fit_synthesis(CostTable(values, sources, "t"), _synthetic(
        {"conv": 1.0, "shift": 40.0, "adder": 17.0}, 1.0, 8.0), SRC)
    assert table["shift.pe_lut"] == 33.0 and table.sources["shift.pe_lut"].startswith("csynth")
    assert [k["entry"] for k in rep["kept"]] == ["shift.pe_lut"]


def test_too_few_shapes_is_one_line_error():
    rows = _synthetic({"conv": 1.0, "shift": 1.0, "adder": 1.0}, 1.0, 1.0)
    rows = [r for r in rows if (r["tm"], r["tn"]) == (2, 2)]
    with pytest.raises(SynthFitError, match=r"do not determine the .* costs .*--sizes"):
        fit_synthesis(load_cost_table(), rows, "yosys")


def test_table_ratio_uses_the_model_formula():
    """adder 4 x 8 by hand: 32 PEs x 20 + 4 rows x tree bits (adder terms in [-255, 0]: four 2-term nodes of 10 bits,
    two of 11, one of 12 = 74) x 1 + 8 columns x 2 = 640 + 296 + 16 = 952 LUT."""
    t = _table(adder__pe_lut=20.0, tree__lut_per_bit=1.0, array__column_lut=2.0)
    assert tree_bits("adder", 8) == 4 * 10 + 2 * 11 + 12
    r = table_ratio(t, [{"engine": "adder", "tm": 4, "tn": 8, "resources": {"lut": 1000, "ff": 500, "dsp": 0}}])[0]
    assert r["lut"]["table"] == pytest.approx(952) and r["lut"]["synthesis_over_table"] == round(1000 / 952, 3)
    assert r["dsp"]["synthesis_over_table"] is None  # the table prices no DSP for the adder engine
