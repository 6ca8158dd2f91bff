"""Vivado scale factors: the model reads them (hand-worked misc unit), and calibrate_from_vivado turns hand-made
measurements into the factors and shell entries worked out by hand below (hierarchical: per unit; flat: one factor
for the whole design)."""

import numpy as np
import pytest
from nash.frontend.accel.board import load_board
from nash.frontend.accel.calibration import CalibrationError, PeTiming
from nash.frontend.accel.cost_table import CostTable, load_cost_table, scale_key
from nash.frontend.accel.model import Configs, EngineModel, MiscModel
from nash.frontend.accel.vivado_calibration import Measurement, calibrate_from_vivado, unscaled
from nash.frontend.core.graph import Node

PW = Node("pw", "conv", "conv", ("input",), 16, 32, 8, 8, kernel=1, stride=1, padding=0, role="project")
RES = ("dsp", "lut", "ff", "bram", "uram")


def _with(table: CostTable, **entries: float) -> CostTable:
    values = dict(table.values)
    values.update({k.replace("__", "."): v for k, v in entries.items()})
    return CostTable(values, dict(table.sources), "test")


def test_the_model_multiplies_each_unit_by_its_factors():
    t = _with(load_cost_table(), vivado_scale__misc__dsp=0.5, vivado_scale__misc__lut=2.0,
              vivado_scale__misc__bram=0.25, vivado_scale__shift__lut=3.0)
    # shipped table: misc 48 DSP; 6000 + 1500 (m_axi) LUT; 8000 + 2200 FF; 2 x (4 + 2) BRAM18 -> x (0.5, 2, 1, 0.25)
    assert list(MiscModel([], t, None).resources()) == [24.0, 15000.0, 10200.0, 3.0, 0.0]
    cfg = Configs.from_rows([(16, 8, 0, 8, 4, 0)])
    board = load_board("kv260")
    plain = EngineModel("conv", [PW], board, load_cost_table(), PeTiming(), 16.0).resources(cfg)[0]
    t2 = _with(load_cost_table(), vivado_scale__conv__lut=2.0, vivado_scale__shift__ff=5.0)
    scaled = EngineModel("conv", [PW], board, t2, PeTiming(), 16.0).resources(cfg)[0]
    assert scaled[1] == 2 * plain[1] and list(np.delete(scaled, 1)) == list(np.delete(plain, 1))  # only conv LUT


PREDICTED = {"conv": np.array([100.0, 10000, 20000, 40, 0]), "misc": np.array([48.0, 7500, 10200, 12, 0]),
             "shell": np.array([0.0, 6000, 8000, 0, 0])}


def _meas(total, units=None):
    return Measurement(dict(zip(RES, total, strict=True)), "u.rpt", "2023.2", "nash_bd_wrapper",
                       {u: dict(zip(RES, v, strict=True)) for u, v in units.items()} if units else None,
                       {"conv": "engine_conv_U0 + gmem_conv_m_axi_U"} if units else {})


def test_hierarchical_factors_per_unit_and_the_shell_from_the_rest():
    m = _meas([200, 20000, 30000, 70, 4], {"conv": [150, 13200, 16800, 46, 4], "misc": [32, 5200, 6800, 14, 0]})
    t, changes, notes = calibrate_from_vivado(load_cost_table(), m, PREDICTED, "tiny")
    v = t.values
    # conv: 150/100, 13200/10000, 16800/20000, 46/40; misc: 32/48, 5200/7500, 6800/10200, 14/12
    assert [v[scale_key("conv", r)] for r in RES[:4]] == pytest.approx([1.5, 1.32, 0.84, 1.15])
    assert [v[scale_key("misc", r)] for r in RES[:4]] == pytest.approx([2 / 3, 5200 / 7500, 2 / 3, 14 / 12])
    assert v[scale_key("conv", "uram")] == 1.0  # predicted 0: not a factor
    assert v["shell.lut"] == 20000 - 13200 - 5200 == 1600 and v["shell.ff"] == 30000 - 16800 - 6800 == 6400
    assert t.sources[scale_key("conv", "lut")].startswith("vivado 2023.2 report_utilization -hierarchical: conv = "
                                                          "engine_conv_U0 + gmem_conv_m_axi_U of design "
                                                          "nash_bd_wrapper (model tiny; u.rpt): measured 13200 / "
                                                          "predicted 10000 LUT")
    assert "shell.lut: 6000 -> 1600" in changes
    assert any(n.startswith("conv URAM: not calibrated: the model predicts 0, the report 4") for n in notes)
    assert any(n.startswith("shell BRAM18: not calibrated: 10 outside the units") for n in notes)  # 70 - 46 - 14
    assert any(n.startswith("shell DSP: not calibrated: 18 outside") for n in notes)  # 200 - 150 - 32


def test_flat_report_one_factor_for_the_whole_design():
    # predicted totals: DSP 148, LUT 23500, FF 38200, BRAM18 52; measured LUT and FF twice that, BRAM equal
    t, _, notes = calibrate_from_vivado(load_cost_table(), _meas([200, 47000, 76400, 52, 0]), PREDICTED, "tiny")
    v = t.values
    for u in ("conv", "misc"):
        assert v[scale_key(u, "lut")] == pytest.approx(2.0) and v[scale_key(u, "ff")] == pytest.approx(2.0)
        assert v[scale_key(u, "dsp")] == pytest.approx(200 / 148) and v[scale_key(u, "bram")] == pytest.approx(1.0)
    assert v["shell.lut"] == pytest.approx(12000) and v["shell.ff"] == pytest.approx(16000)
    assert "flat: the units are not told apart" in t.sources[scale_key("conv", "lut")]
    assert notes == []


def test_recalibration_replaces_the_factors():
    m = _meas([200, 20000, 30000, 70, 4], {"conv": [150, 13200, 16800, 46, 4], "misc": [32, 5200, 6800, 14, 0]})
    once, _, _ = calibrate_from_vivado(load_cost_table(), m, PREDICTED, "tiny")
    assert unscaled(once).values[scale_key("conv", "lut")] == 1.0
    twice, _, _ = calibrate_from_vivado(once, m, PREDICTED, "tiny")  # same prediction, same report: same factor
    assert twice.values[scale_key("conv", "lut")] == pytest.approx(1.32)


def test_bad_measurements_are_one_line_errors():
    with pytest.raises(CalibrationError, match=r"u.rpt: no instance of the misc unit"):
        calibrate_from_vivado(load_cost_table(), _meas([200, 20000, 30000, 70, 4], {"conv": [1, 1, 1, 1, 0]}),
                              PREDICTED, "tiny")
    over = _meas([200, 10000, 30000, 70, 4], {"conv": [150, 13200, 16800, 46, 4], "misc": [32, 5200, 6800, 14, 0]})
    with pytest.raises(CalibrationError, match=r"u.rpt: the units' LUT \(18400\) exceed the design total \(10000\)"):
        calibrate_from_vivado(load_cost_table(), over, PREDICTED, "tiny")
