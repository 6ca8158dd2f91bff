"""`nash accel` and `nash accel-calibrate` end to end (csynth, Yosys and Vivado reports); accelerator-section
validation; csynth parsing."""

import copy
import json

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import REPO
from nash.frontend.accel.board import load_board
from nash.frontend.accel.calibration import PeTiming, parse_csynth
from nash.frontend.accel.section import validate_section
from nash.frontend.core.model_file import ModelFileError, load_model, new_model, save_model

from nash.cli import main

DATA = REPO / "tests" / "data"
ARCH = {"input_channels": 3, "input_size": 32, "num_classes": 100,
        "stem": {"op": "conv", "width": 16, "kernel": 3, "stride": 1},
        "stages": [{"width": 24, "stride": 2, "blocks": [{"op": "adder", "kernel": 3, "expand": 4},
                                                         {"op": "shift", "kernel": 5, "expand": 4}]}],
        "head": {"width": 96}}


@pytest.fixture(scope="module")
def accel_out(tmp_path_factory):
    d = tmp_path_factory.mktemp("accel")
    save_model(new_model("tiny", ARCH), d / "m.json")
    res = CliRunner().invoke(main, ["accel", str(d / "m.json"), "--board", "kv260", "--out", str(d / "out")])
    assert res.exit_code == 0, res.output
    return d / "out", res.output


def test_accel_writes_model_and_report(accel_out):
    out, text = accel_out
    rep = json.loads((out / "accel_report.json").read_text())
    for k in ("board", "fps", "latency_ms", "gops", "peak_gops", "resources", "board_resources", "search"):
        assert k in rep
    assert set(rep["resources"]) == {"dsp", "lut", "ff", "bram", "uram"}
    assert rep["board_resources"]["dsp"] == 1248
    assert rep["search"]["evaluations"] > 0 and rep["search"]["seconds"] >= 0
    assert (out / "accel_report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "engine" in (out / "accel_report.txt").read_text()
    mf = load_model(out / "model.json")
    acc = mf.data["accelerator"]
    validate_section(acc, mf.nodes)
    assert acc["performance"]["fps"] == pytest.approx(rep["fps"])
    assert f"{rep['fps']:.1f} FPS" in text


def test_section_validation_names_field(accel_out):
    out, _ = accel_out
    mf = load_model(out / "model.json")
    acc = copy.deepcopy(mf.data["accelerator"])
    acc["engines"]["conv"]["tm"] = 0
    with pytest.raises(ModelFileError, match=r"accelerator\.engines\.conv\.tm"):
        validate_section(acc, mf.nodes)
    acc = copy.deepcopy(mf.data["accelerator"])
    acc["schedule"]["steps"] = acc["schedule"]["steps"][::-1]
    for step in acc["schedule"]["steps"]:
        for t in step:
            t["image"] = 0
    with pytest.raises(ModelFileError, match=r"accelerator\.schedule\.steps"):
        validate_section(acc, mf.nodes)
    acc = copy.deepcopy(mf.data["accelerator"])
    acc["layers"]["stem"]["engine"] = "adder"
    with pytest.raises(ModelFileError, match=r"accelerator\.layers\.stem\.engine"):
        validate_section(acc, mf.nodes)


def test_loading_a_model_checks_its_accelerator_section(accel_out, tmp_path):
    """A hand-edited accelerator section is rejected when the model file is read (load_model / nash validate)."""
    out, _ = accel_out
    data = json.loads((out / "model.json").read_text())
    data["accelerator"]["engines"]["shift"]["tn"] = "8"
    data.pop("weights", None)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match=r"bad\.json.*accelerator\.engines\.shift\.tn"):
        load_model(bad)
    r = CliRunner().invoke(main, ["validate", str(bad)])
    assert r.exit_code != 0 and "accelerator.engines.shift.tn" in r.output


def test_section_that_does_not_fit_the_network_is_caught_by_its_readers(accel_out, tmp_path):
    """A well-formed section placing a layer on the wrong engine loads (structure is core's check), and is refused
    by `nash validate` and by codegen's plan (the fit to the network is accel's check, run by the stages reading it)."""
    out, _ = accel_out
    data = json.loads((out / "model.json").read_text())
    data["accelerator"]["layers"]["stem"]["engine"] = "adder"
    data["weights"] = None
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    load_model(bad)
    r = CliRunner().invoke(main, ["validate", str(bad)])
    assert r.exit_code == 2 and "accelerator.layers.stem.engine" in r.output and "bad.json" in r.output
    from nash.codegen.hls.plan import PlanError, make_plan

    with pytest.raises(PlanError, match=r"accelerator\.layers\.stem\.engine"):
        make_plan(data, load_model(bad).nodes)


def test_walk_that_overflows_the_buffers_is_refused_by_nash_validate(accel_out, tmp_path):
    """`nash accel` records each layer's walk; one that the engine's buffers cannot hold (more images per pass than
    the accumulators take) is refused by `nash validate`: exit 2, one line naming the file and the field."""
    out, _ = accel_out
    data = json.loads((out / "model.json").read_text())
    acc = data["accelerator"]
    conv = [n for n in load_model(out / "model.json").nodes if n.kind == "conv"]
    assert all(isinstance(acc["layers"][n.name]["reuse"], bool) for n in conv)
    stem = acc["layers"]["stem"]
    stem["images"] = acc["batch"] = 8  # 8 stem bands in one pass: the accumulators hold one (the stem sizes them)
    data["weights"] = None
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    r = CliRunner().invoke(main, ["validate", str(bad)])
    assert r.exit_code == 2 and "bad.json" in r.output and "accelerator.layers.stem.images" in r.output
    assert "accumulator pixels" in r.output and len(r.output.strip().splitlines()) == 1


def test_accel_records_its_provenance(accel_out):
    out, _ = accel_out
    mf = load_model(out / "model.json")
    assert mf.provenance("accel") == {"board": "kv260", "mode": "coarse-to-fine", "cost_table": None,
                                      "calibration": None}
    assert mf.provenance("accel")["mode"] == mf.data["accelerator"]["search"]["mode"]


def test_accel_unknown_board_and_too_large(tmp_path):
    save_model(new_model("tiny", ARCH), tmp_path / "m.json")
    r = CliRunner().invoke(main, ["accel", str(tmp_path / "m.json"), "--board", "kv999", "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "unknown board 'kv999'" in r.output and "kv260" in r.output
    r = CliRunner().invoke(main, ["accel", str(tmp_path / "m.json"), "--board", "ultra96v2", "--usable", "0.02",
                                  "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "no accelerator design fits board ultra96v2" in r.output
    assert not (tmp_path / "o" / "model.json").exists()


def test_accel_max_batch(tmp_path, accel_out):
    """`--max-batch 1`: one image per task (the section's batch, its slots); the default lets the search take more
    (this network's deep layers fold images); a cap below 1 is one line, exit 2, nothing written."""
    save_model(new_model("tiny", ARCH), tmp_path / "m.json")
    r = CliRunner().invoke(main, ["accel", str(tmp_path / "m.json"), "--max-batch", "1", "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    one = load_model(tmp_path / "o" / "model.json").data["accelerator"]
    assert one["batch"] == 1 and "batch 1" in r.output
    assert one["schedule"]["activation_slots"] == one["schedule"]["max_image_offset"] + 1
    acc = load_model(accel_out[0] / "model.json").data["accelerator"]
    assert acc["batch"] in (1, 2, 4, 8) and acc["performance"]["fps"] >= one["performance"]["fps"]
    assert json.loads((accel_out[0] / "accel_report.json").read_text())["batch"] == acc["batch"]
    r = CliRunner().invoke(main, ["accel", str(tmp_path / "m.json"), "--max-batch", "0", "--out", str(tmp_path / "z")])
    assert r.exit_code == 2 and "--max-batch: expected an integer >= 1" in r.output
    assert not (tmp_path / "z" / "model.json").exists()


def test_parse_csynth_sample():
    rep = parse_csynth(DATA / "csynth_sample_conv_pe_8x8.xml")
    assert rep["part"] == "xck26-sfvc784-2LV-c"
    assert rep["latency_worst"] == 5 and rep["ii"] == 1
    assert rep["resources"] == {"bram18": 0, "dsp": 32, "ff": 3200, "lut": 1536, "uram": 0}
    assert rep["clock_ns"] == pytest.approx(3.412)


def test_accel_calibrate_updates_table(tmp_path):
    out = tmp_path / "table.json"
    spec = f"conv:8x8:{DATA / 'csynth_sample_conv_pe_8x8.xml'}"
    start = tmp_path / "start.json"  # the tree and column costs the hand computation below uses
    start.write_text(json.dumps({"format": "nash-accel-cost-table", "version": 1, "entries": {
        k: {"value": v, "source": "test"} for k, v in (("tree.lut_per_bit", 1), ("tree.ff_per_bit", 2),
                                                       ("array.column_lut", 3), ("array.column_ff", 8))}}))
    r = CliRunner().invoke(main, ["accel-calibrate", spec, "--table", str(start), "--out", str(out)])
    assert r.exit_code == 0, r.output
    t = json.loads(out.read_text())["entries"]
    # One row's tree over 8 int8 x int8 products (16-bit signed terms, one more bit per level): 4 x 17 + 2 x 18 + 19
    # = 123 bits, so 8 rows hold 984 tree bits; 8 input columns.
    # LUT: (1536 - 984 x 1 - 8 x 3) / 64 PEs = 8.25; FF: (3200 - 984 x 2 - 8 x 8) / 64 = 18.25; DSP: 32 / 64 = 0.5
    assert t["conv.pe_lut"]["value"] == pytest.approx(8.25)
    assert t["conv.pe_ff"]["value"] == pytest.approx(18.25)
    assert t["conv.pe_dsp"]["value"] == pytest.approx(0.5)
    assert "csynth" in t["conv.pe_lut"]["source"]
    save_model(new_model("tiny", ARCH), tmp_path / "m.json")
    r = CliRunner().invoke(main, ["accel", str(tmp_path / "m.json"), "--cost-table", str(out), "--out",
                                  str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    assert load_model(tmp_path / "o" / "model.json").data["accelerator"]["model"]["cost_table"] == str(out)
    r = CliRunner().invoke(main, ["accel-calibrate", "conv:8:x.xml", "--out", str(out)])
    assert r.exit_code == 2 and "ENGINE:TMxTN:PATH" in r.output


@pytest.mark.parametrize("args,hint", [
    ([], "REPORTS (ENGINE:TMxTN:PATH), --yosys and/or --vivado"),
    (["conv:8x8:x.xml"], "--out"),
    (["--sizes", "2x2", "conv:8x8:x.xml", "--out", "t.json"], "--sizes"),
    (["--yosys", "--sizes", "2x"], "--sizes"),
    (["--yosys", "--sizes", "2x2"], "do not determine the 5 costs"),  # refused before any synthesis
])
def test_accel_calibrate_bad_options_are_one_line_errors(tmp_path, args, hint):
    r = CliRunner().invoke(main, ["accel-calibrate", *args])
    assert r.exit_code == 2 and hint in r.output
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_accel_calibrate_yosys_end_to_end(tmp_path):
    """Real Yosys on every engine at 2x2, 2x4 and 4x2, conv without DSPs at five shapes, four depthwise lanes and three
    requant lanes (~3 min on 2 shared cores); then a csynth report on top: its entries win."""
    from helpers import require_yosys

    require_yosys()
    out, rep = tmp_path / "table.json", tmp_path / "fit.json"
    spec = f"conv:8x8:{DATA / 'csynth_sample_conv_pe_8x8.xml'}"
    r = CliRunner().invoke(main, ["accel-calibrate", "--yosys", "--sizes", "2x2,2x4,4x2", "--out", str(out),
                                  "--report", str(rep), spec])
    assert r.exit_code == 0, r.output
    assert "[1/21] conv 2x2: LUT" in r.output and "per-bit fit, largest residual" in r.output
    t = json.loads(out.read_text())["entries"]
    src = t["shift.pe_lut"]["source"]
    assert src.startswith("yosys ") and "synth_xilinx -family xcup" in src
    assert t["requant.lane_dsp"]["source"].startswith("yosys ")
    assert t["shift.dw_lane_lut"]["source"].startswith("yosys ") and t["conv.dw_lane_dsp"]["value"] == 1
    assert t["conv.pe_lut_fabric"]["source"].startswith("yosys ") and "-nodsp" in t["conv.pe_lut_fabric"]["source"]
    assert t["conv.pe_lut"]["source"].startswith("csynth")  # applied after the Yosys fit
    fit = json.loads(rep.read_text())
    conv22 = next(m for m in fit["measurements"] if m.get("engine") == "conv" and m["tm"] == m["tn"] == 2)
    assert conv22["resources"]["ff"] == 149 and conv22["resources"]["dsp"] == 4  # hand count: test_yosys_synth.py


# ---- --vivado: the utilisation of a routed design (hand-written reports in tests/data/vivado, UG835 layout) -------
HIER = DATA / "vivado" / "utilization_hier_impl.rpt"
FLAT = DATA / "vivado" / "utilization_impl.rpt"
UNITS = ("conv", "shift", "adder", "misc")


def _model_prediction(model, table_path) -> dict[str, np.ndarray]:
    """What the model now predicts for the design of the model file's section, per unit and in total."""
    from nash.frontend.accel.cost_table import load_cost_table
    from nash.frontend.accel.model import AccelContext, Configs, shell_resources
    from nash.frontend.accel.vivado_calibration import engine_row

    mf = load_model(model)
    section, table = mf.data["accelerator"], load_cost_table(table_path)
    ctx = AccelContext.build(mf.nodes, load_board(section["board"]), table, PeTiming())
    out = {e: em.resources(Configs.from_rows([engine_row(section, e)]))[0] for e, em in ctx.engines.items()}
    out["misc"] = ctx.misc.resources()
    out["total"] = sum(out.values()) + shell_resources(table)
    return out


def test_calibrate_from_a_hierarchical_report(accel_out, tmp_path):
    # whether the search keeps conv's accumulators in BRAM or URAM depends on the rest of the design; pin BRAM, so
    # that conv's URAM (4 in the report) is a resource the model predicts 0 for
    mf = json.loads((accel_out[0] / "model.json").read_text())
    mf["accelerator"]["engines"]["conv"]["acc_mem"] = "bram"
    model, out = tmp_path / "model.json", tmp_path / "t.json"
    model.write_text(json.dumps(mf))
    r = CliRunner().invoke(main, ["accel-calibrate", "--vivado", str(HIER), "--model", str(model), "--out", str(out)])
    assert r.exit_code == 0, r.output
    t = json.loads(out.read_text())["entries"]
    assert t["vivado_scale.conv.lut"]["source"].startswith(
        "vivado 2023.2 report_utilization -hierarchical: conv = engine_conv_U0 + gmem_conv_m_axi_U of design "
        f"nash_bd_wrapper (model tiny; {HIER}): measured 13200 / predicted ")
    # the rest of the design: 41234 - (12000 + 9000 + 7000 + 4000 engines + 4 x 1200 adapters) LUT, likewise FF
    assert t["shell.lut"]["value"] == 4434 and t["shell.ff"]["value"] == 52109 - (15000 + 11000 + 8000 + 5000 + 7200)
    # the model now predicts, for this design, what the report measured (read off the file by hand: engine +
    # adapter; BRAM18 = 2 x RAMB36 + RAMB18), per unit and in total
    p = _model_prediction(model, out)
    measured = {"conv": [150, 13200, 16800, 46], "shift": [10, 10200, 12800, 29], "adder": [8, 8200, 9800, 25],
                "misc": [32, 5200, 6800, 13]}
    for u in UNITS:
        assert list(p[u][:4]) == pytest.approx(measured[u]), u
    assert list(p["total"][:3]) == pytest.approx([200, 41234, 52109])
    # what one report cannot calibrate is said: conv's URAM (the model has none) and the SmartConnects' BRAM
    assert "note: conv URAM: not calibrated: the model predicts 0, the report 4" in r.output
    assert "note: shell BRAM18: not calibrated: 10 outside the units" in r.output
    assert p["total"][3] == pytest.approx(123 - 10)


def test_calibrate_from_a_flat_report_in_reports_json(accel_out, tmp_path):
    model, out = accel_out[0] / "model.json", tmp_path / "t.json"
    rj = tmp_path / "build" / "reports.json"  # our schema (codegen/vivado/bitstream.collect), no hierarchical report
    rj.parent.mkdir()
    rj.write_text(json.dumps({"model": "tiny", "model_file": str(model),
                              "files": {"utilization": str(FLAT), "utilization_hierarchical": None}}))
    r = CliRunner().invoke(main, ["accel-calibrate", "--vivado", str(rj), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "whole design (flat report)" in r.output
    t = json.loads(out.read_text())["entries"]
    assert "flat: the units are not told apart" in t["vivado_scale.shift.ff"]["source"]
    assert t["vivado_scale.shift.ff"]["value"] == t["vivado_scale.conv.ff"]["value"]  # one factor for all
    # the file's totals: 41234 LUT, 52109 FF, 200 DSP, 61.5 RAMB36 tiles = 123 halves
    assert list(_model_prediction(model, out)["total"][:4]) == pytest.approx([200, 41234, 52109, 123])


def test_precedence_csynth_per_pe_then_vivado_totals(accel_out, tmp_path):
    """One command: the csynth report sets conv's per-PE entries, then the Vivado factors are measured against the
    table as csynth left it, so the model's conv total is still the measured one. A later run without --vivado keeps
    the factors (Vivado over Yosys and csynth) and says they were measured against other entries."""
    model, out, again = accel_out[0] / "model.json", tmp_path / "t.json", tmp_path / "t2.json"
    spec = f"conv:8x8:{DATA / 'csynth_sample_conv_pe_8x8.xml'}"
    r = CliRunner().invoke(main, ["accel-calibrate", spec, "--vivado", str(HIER), "--model", str(model),
                                  "--out", str(out)])
    assert r.exit_code == 0, r.output
    t = json.loads(out.read_text())["entries"]
    assert t["conv.pe_lut"]["source"].startswith("csynth") and t["vivado_scale.conv.lut"]["source"].startswith("vivado")
    assert _model_prediction(model, out)["conv"][1] == pytest.approx(12000 + 1200)
    r = CliRunner().invoke(main, ["accel-calibrate", spec, "--table", str(out), "--out", str(again)])
    assert r.exit_code == 0, r.output
    assert "kept the Vivado scale factors of adder, conv, misc, shift" in r.output
    t2 = json.loads(again.read_text())["entries"]
    assert all(t2[k] == t[k] for k in t if k.startswith("vivado_scale."))


def _cut_conv(path):
    path.write_text("".join(line for line in HIER.read_text().splitlines(keepends=True) if "engine_conv" not in line))
    return path


@pytest.mark.parametrize("make,extra,hint", [
    (lambda d: HIER, ["--no-model"], "--model"),
    (lambda d: (d / "r.json").write_text("{nope") and d / "r.json", [], "r.json: not valid JSON"),
    (lambda d: (d / "r.json").write_text('{"files": 3}') and d / "r.json", [], "r.json: field 'files'"),
    (lambda d: (d / "r.json").write_text('{"files": {"utilization": "gone.rpt"}}') and d / "r.json", [],
     "r.json: field 'files.utilization': gone.rpt not found"),
    (lambda d: _cut_conv(d / "cut.rpt"), [], "cut.rpt: no instance engine_conv_U0 (or module *_engine_conv) for the "
                                             "conv unit"),
    (lambda d: d / "absent.rpt", [], "absent.rpt: Vivado utilization report not found"),
    (lambda d: HIER, ["--bare-model"], "field 'accelerator': expected the accelerator section"),
])
def test_vivado_bad_input_is_one_line_and_writes_nothing(accel_out, tmp_path, make, extra, hint):
    model = accel_out[0] / "model.json"
    if "--bare-model" in extra:
        save_model(new_model("tiny", ARCH), tmp_path / "bare.json")
        model = tmp_path / "bare.json"
    args = ["accel-calibrate", "--vivado", str(make(tmp_path)), "--out", str(tmp_path / "t.json")]
    if "--no-model" not in extra:
        args += ["--model", str(model)]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2 and hint in r.output, r.output
    assert not (tmp_path / "t.json").exists()


def test_vivado_option_errors(tmp_path):
    r = CliRunner().invoke(main, ["accel-calibrate", "conv:8x8:x.xml", "--model", "m.json", "--out", "t.json"])
    assert r.exit_code == 2 and "--model" in r.output and "only with --vivado" in r.output
    r = CliRunner().invoke(main, ["accel-calibrate", "--vivado", str(HIER)])
    assert r.exit_code == 2 and "--out" in r.output
