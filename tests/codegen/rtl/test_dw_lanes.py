"""The Verilog depthwise lanes (what `nash accel-calibrate --yosys` synthesizes for ``<engine>.dw_lane_*``) are
bit-exact against the numpy integer reference (depthwise conv / shift / adder with groups = channels), under cocotb +
Icarus, on random layers and on the extreme cases (the accumulator's worst-case terms, 1x1 windows, padding, stride,
reserved shift codes), with valid_in gaps and ap_ce stalls."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import require_simulator
from nash.codegen.rtl.dw_lanes import LATENCY, DwLaneConfig, LaneLayer, lane_vectors, render_dw_lane, run_dw_lane_sim

SLOW = pytest.mark.slow  # the fast subset: one lane per engine, each on an extreme case
CASES = [  # (engine, acc_bits, exp_max, layer, extreme)
    pytest.param(("conv", 32, 7, LaneLayer(3, 6, 3, 1, 1), None), marks=SLOW),
    ("conv", 20, 7, LaneLayer(2, 5, 5, 1, 0), "max"),  # 25 x 16384 needs 20 signed bits: the tight accumulator
    pytest.param(("shift", 32, 7, LaneLayer(3, 7, 3, 2, 1), None), marks=SLOW),
    ("shift", 24, 5, LaneLayer(2, 4, 3, 1, 1), "reserved"),  # E = 5: exponent codes 6, 7 and sign 2'b10 reserved
    pytest.param(("shift", 32, 7, LaneLayer(2, 5, 3, 1, 0), "max"), marks=SLOW),
    ("adder", 32, 7, LaneLayer(3, 5, 1, 1, 0), None),  # 1x1 windows: first = last on every term
    pytest.param(("adder", 14, 7, LaneLayer(2, 6, 5, 1, 2), "max"), marks=SLOW),  # 25 x -255 in 14 bits
]


def _id(c) -> str:
    lay = c[3]
    return f"{c[0]}-a{c[1]}-e{c[2]}-k{lay.kernel}s{lay.stride}p{lay.padding}-{c[4] or 'random'}"


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_dw_lane_matches_the_integer_reference(tmp_path, case):
    require_simulator("icarus")
    engine, acc, e, layer, extreme = case
    cfg = DwLaneConfig(engine, acc, e)
    data = lane_vectors(cfg, layer, seed=7, extreme=extreme)
    out = run_dw_lane_sim(cfg, data, tmp_path)
    assert out["tests"] == 2
    assert out["windows"] == out["stalled_windows"] == len(data["golden"])
    assert out["latency"] == LATENCY == cfg.latency


def test_extreme_vectors_reach_the_accumulator_bound():
    """The "max" streams drive every window to k^2 times the largest |term| (hand values: conv -128 x -128 = 16384,
    adder -|-128 - 127| = -255, shift +-128 << 7 = +-16384), so the tight widths above are really exercised."""
    conv = lane_vectors(DwLaneConfig("conv", 20), LaneLayer(2, 5, 5), 7, "max")
    assert set(conv["golden"].tolist()) == {25 * 16384}
    add = lane_vectors(DwLaneConfig("adder", 14), LaneLayer(2, 6, 5, 1, 0), 7, "max")
    assert set(add["golden"].tolist()) == {-25 * 255}
    sh = lane_vectors(DwLaneConfig("shift", 32), LaneLayer(1, 3, 3), 7, "max")
    assert abs(int(sh["golden"][0])) <= 9 * 16384 and int(sh["golden"][0]) % 16384 == 0


def test_reserved_shift_codes_are_in_the_stream():
    cfg = DwLaneConfig("shift", 24, 5)
    d = lane_vectors(cfg, LaneLayer(2, 4, 3, 1, 1), 7, "reserved")
    sign, e = d["w"] >> cfg.exp_bits, d["w"] & ((1 << cfg.exp_bits) - 1)
    assert np.any(sign == 2) and np.any(e > 5)


def test_config_rejects_a_too_narrow_accumulator(tmp_path):
    with pytest.raises(ValueError, match="acc_bits"):
        DwLaneConfig("conv", 15)  # a conv term needs 16 signed bits
    with pytest.raises(ValueError, match="engine"):
        DwLaneConfig("mul")
    v = render_dw_lane(DwLaneConfig("conv", use_dsp=False), tmp_path).read_text()
    assert 'use_dsp = "no"' in v and "module nash_dw_lane_conv_a32_fabric" in v
