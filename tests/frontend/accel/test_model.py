"""Accelerator model: hand-worked layer latency, PE timing (calibrated and default), resources within the board."""

import json

import numpy as np
import pytest
from nash.frontend.accel.board import load_board
from nash.frontend.accel.calibration import PeTiming, calibration_path, default_pe_latency, load_pe_timing
from nash.frontend.accel.cost_table import load_cost_table
from nash.frontend.accel.model import Configs, EngineModel, budget_vector, resources_dict
from nash.frontend.accel.search import coarse_to_fine, make_context
from nash.frontend.core.graph import Node, lower

PW = Node("pw", "conv", "conv", ("input",), 16, 32, 8, 8, kernel=1, stride=1, padding=0, role="project")
DW = Node("dw", "conv", "conv", ("input",), 32, 32, 8, 8, kernel=3, stride=1, padding=1, groups=32, role="depthwise")
# tm=16, tn=8, dw lanes=16, no packing, buffer tile 8, 4 requant lanes, BRAM accumulators
CFG = Configs.from_rows([(16, 8, 16, 0, 8, 4, 0)])


def _engine(layers, pe=None):
    return EngineModel("conv", layers, load_board("kv260"), load_cost_table(), pe or PeTiming(), bw=16.0)


def test_pointwise_latency_hand_worked():
    # Pointwise 16 -> 32 channels, 8x8 map, bw 16 B/cycle, layer overhead 40, PE latency 2 + log2(8) = 5, II 1.
    # tile 8: 1 spatial tile, input tile 8x8; comp = 64 + 5 = 69; load = ceil((8*64 + 16*8)/16) = 40;
    #   store = ceil(16*64 / min(4, 16)) = 256; per output tile max(ceil(16/8)*69, 256) = 256;
    #   L = 1 * ceil(32/16) * 256 + 40 + 256 + 40 = 848
    # tile 4: 4 spatial tiles; comp = 16 + 5 = 21; load = ceil((8*16 + 128)/16) = 16; store = ceil(16*16/4) = 64;
    #   per output tile max(2*21, 64) = 64; L = 4 * 2 * 64 + 16 + 64 + 40 = 632  -> the model picks tile 4
    cyc, tile = _engine([PW]).layer_cycles(CFG)
    assert cyc[0, 0] == 632
    assert tile[0, 0] == 4


def test_depthwise_latency_hand_worked():
    # Depthwise 32 channels 3x3, 8x8 map, 16 lanes, lane PE latency 2 + log2(1) = 2.
    # tile 8: input tile 10x10; comp = 64*9 + 2 = 578; load = ceil((16*100 + 16*9)/16) = 109; store = 256;
    #   L = 1 * ceil(32/16) * 578 + 109 + 256 + 40 = 1561
    # tile 4: input tile 6x6; comp = 16*9 + 2 = 146; load = ceil((16*36 + 144)/16) = 45; store = 64;
    #   L = 4 * 2 * 146 + 45 + 64 + 40 = 1317
    cyc, tile = _engine([DW]).layer_cycles(CFG)
    assert cyc[0, 0] == 1317
    assert tile[0, 0] == 4


def test_calibrated_pe_timing_changes_latency(tmp_path):
    # A record with latency 9 and II 2 for the 16x8 conv array:
    # tile 4: comp = 16*2 + 9 = 41; per output tile max(2*41, 64) = 82; L = 4*2*82 + 16 + 64 + 40 = 776
    # tile 8: comp = 64*2 + 9 = 137; per output tile max(274, 256) = 274; L = 2*274 + 40 + 256 + 40 = 884
    p = tmp_path / "pe_arrays.json"
    p.write_text(json.dumps({"source": "cocotb+icarus",
                             "records": [{"engine": "conv", "tm": 16, "tn": 8, "latency": 9, "ii": 2}]}))
    pe = load_pe_timing(p)
    assert pe.calibrated and "cocotb+icarus" in pe.source
    cyc, tile = _engine([PW], pe).layer_cycles(CFG)
    assert cyc[0, 0] == 776 and tile[0, 0] == 4


def test_pe_timing_default_and_nearest_record(tmp_path, monkeypatch):
    monkeypatch.delenv("NASH_CALIBRATION", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # no nash-hls/calibration/pe_arrays.json here
    pe = load_pe_timing()
    assert not pe.calibrated and "uncalibrated" in pe.source
    assert [pe.latency("adder", 8, tn) for tn in (1, 2, 3, 4, 8, 16)] == [2, 3, 4, 4, 5, 6]
    assert default_pe_latency(64) == 8
    rec = PeTiming([{"engine": "shift", "tm": 8, "tn": 4, "latency": 6, "ii": 1}], "test")
    assert rec.latency("shift", 8, 4) == 6
    assert rec.latency("shift", 8, 8) == 7  # nearest record (tn 4) + one more adder-tree level
    assert rec.latency("conv", 8, 8) == 5  # no conv record: default formula


def test_calibration_location_ignores_cwd(tmp_path, monkeypatch):
    """Argument, else $NASH_CALIBRATION, else $XDG_CACHE_HOME/nash-hls/calibration/pe_arrays.json (~/.cache when
    XDG_CACHE_HOME is unset or relative); the file found is the same from any working directory."""
    monkeypatch.delenv("NASH_CALIBRATION", raising=False)
    cache = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    want = cache / "nash-hls" / "calibration" / "pe_arrays.json"
    want.parent.mkdir(parents=True)
    want.write_text(json.dumps({"source": "cocotb+icarus",
                                "records": [{"engine": "adder", "tm": 8, "tn": 4, "latency": 7, "ii": 1}]}))
    for cwd in (tmp_path, want.parent):
        monkeypatch.chdir(cwd)
        assert calibration_path() == want
        assert load_pe_timing().latency("adder", 8, 4) == 7
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")  # not absolute: ignored, as the XDG spec says
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert calibration_path() == tmp_path / "home" / ".cache" / "nash-hls" / "calibration" / "pe_arrays.json"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert calibration_path() == tmp_path / "home" / ".cache" / "nash-hls" / "calibration" / "pe_arrays.json"
    monkeypatch.setenv("NASH_CALIBRATION", str(tmp_path / "env.json"))
    assert calibration_path() == tmp_path / "env.json"
    assert calibration_path(tmp_path / "arg.json") == tmp_path / "arg.json"


def test_bad_calibration_file_names_field(tmp_path):
    p = tmp_path / "pe.json"
    p.write_text(json.dumps({"source": "x", "records": [{"engine": "conv", "tm": 8, "tn": 0, "latency": 3, "ii": 1}]}))
    with pytest.raises(ValueError, match=r"records\[0\]\.tn"):
        load_pe_timing(p)


ARCHS = [
    {"input_channels": 3, "input_size": 32, "num_classes": 100,
     "stem": {"op": "conv", "width": 16, "kernel": 3, "stride": 1},
     "stages": [{"width": 24, "stride": 2, "blocks": [{"op": "adder", "kernel": 3, "expand": 4},
                                                      {"op": "shift", "kernel": 5, "expand": 4}]},
                {"width": 40, "stride": 2, "blocks": [{"op": "conv", "kernel": 5, "expand": 6},
                                                      {"op": "adder", "kernel": 3, "expand": 6}]}],
     "head": {"width": 256}},
    {"input_channels": 3, "input_size": 32, "num_classes": 10,
     "stem": {"op": "conv", "width": 24, "kernel": 3, "stride": 1},
     "stages": [{"width": 32, "stride": 2, "blocks": [{"op": "conv", "kernel": 3, "expand": 4}] * 3}],
     "head": {"width": 128}},
]


@pytest.mark.parametrize("board", ["kv260", "zcu104", "ultra96v2"])
@pytest.mark.parametrize("arch", range(len(ARCHS)))
def test_returned_design_within_board(board, arch):
    ctx = make_context(lower(ARCHS[arch]), board)
    r = coarse_to_fine(ctx)
    assert r.design is not None
    b = load_board(board)
    used = resources_dict(r.design.res)
    for k, v in used.items():
        assert v <= b.budget[k] <= b.resources[k], (k, v, b.budget[k])
    # the total is the sum of its parts (engines + misc + shell), recomputed here
    parts = ctx.fixed_resources.copy()
    for e, row in r.design.rows.items():
        parts = parts + ctx.engines[e].resources(Configs.from_rows([row]))[0]
    assert np.allclose(parts, r.design.res)
    assert np.all(parts <= budget_vector(b) + 1e-9)
