"""The bitstream flow: content-hash staleness of the steps, and the whole `nash bitstream` run on stand-in tools
(tests/codegen/vivado/conftest.py): steps in order, a step re-runs only when its inputs change, reports.json with the
measured figures next to the model's prediction, the timing gate, and NAME.bit + NAME.hwh side by side."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from nash.codegen.vivado.flow import Flow, Step
from nash.frontend.core.errors import CheckFailedError

from nash.cli import main as cli

ROOT = Path(__file__).resolve().parents[3]
TINY = ROOT / "examples" / "tiny_hybrid.json"


# ---- staleness ---------------------------------------------------------------------------------------------------
def _steps(tmp: Path, ran: list[str], param: str = "a") -> list[Step]:
    src, mid, out = tmp / "src.txt", tmp / "mid.txt", tmp / "out.txt"
    flow = Flow(tmp / "state")

    def first():
        ran.append("first")
        mid.write_text(src.read_text().upper())

    def second():
        ran.append("second")
        out.write_text(mid.read_text() + "!")

    return [Step("first", first, [src], {"p": param}, [mid]),
            Step("second", second, [mid, flow.stamp("first")], {}, [out])]


def test_a_step_reruns_only_when_its_inputs_change(tmp_path):
    (tmp_path / "src.txt").write_text("x")
    flow, ran = Flow(tmp_path / "state"), []
    assert flow.run(_steps(tmp_path, ran), echo=lambda s: None) == {"first": "ran", "second": "ran"}
    assert flow.run(_steps(tmp_path, ran), echo=lambda s: None) == {"first": "up to date", "second": "up to date"}
    assert ran == ["first", "second"]
    (tmp_path / "src.txt").write_text("x")  # rewritten with the same bytes: content, not time, decides
    flow.run(_steps(tmp_path, ran), echo=lambda s: None)
    assert ran == ["first", "second"]
    (tmp_path / "src.txt").write_text("y")  # new content: both (the second reads the first's output)
    flow.run(_steps(tmp_path, ran), echo=lambda s: None)
    assert ran == ["first", "second"] * 2
    flow.run(_steps(tmp_path, ran, param="b"), echo=lambda s: None)  # a parameter is an input too
    assert ran[-2:] == ["first", "second"] and len(ran) == 6
    (tmp_path / "out.txt").unlink()  # a missing output re-runs its step only
    flow.run(_steps(tmp_path, ran, param="b"), echo=lambda s: None)
    assert ran[6:] == ["second"]


def test_a_failed_step_leaves_no_stamp(tmp_path):
    flow = Flow(tmp_path / "state")

    def boom():
        raise RuntimeError("tool failed")

    with pytest.raises(RuntimeError):
        flow.run([Step("s", boom, [], {}, [])], echo=lambda s: None)
    assert not flow.stamp("s").exists()
    with pytest.raises(CheckFailedError, match="step 's' finished but did not write .*never.txt"):
        flow.run([Step("s", lambda: None, [], {}, [tmp_path / "never.txt"])], echo=lambda s: None)
    assert not flow.stamp("s").exists()


# ---- the whole flow on stand-in tools ----------------------------------------------------------------------------
def _run(fake, out: Path, *extra: str, model: Path = TINY):
    return CliRunner().invoke(cli, ["bitstream", str(model), "--out", str(out), "--board-repo", str(fake.board_repo),
                                    "--jobs", "3", *extra])


def _steps_ran(output: str) -> list[str]:
    return [line.split("]")[0].strip("[") for line in output.splitlines() if line.endswith("] running")]


def test_bitstream_flow_end_to_end(fake_xilinx, tmp_path):
    fake_xilinx.install("vivado", "vitis_hls")
    out = tmp_path / "build"
    r = _run(fake_xilinx, out)
    assert r.exit_code == 0, r.output
    assert _steps_ran(r.output) == ["codegen", "hls", "vivado_project", "synth", "impl"]
    calls = fake_xilinx.calls()
    assert calls[0].startswith("vitis_hls -f ") and "NASH_CSIM 0" in calls[0] and "NASH_CSYNTH 1" in calls[0]
    assert "NASH_COSIM 0" in calls[0] and "NASH_EXPORT 1" in calls[0]
    assert calls[1:] == ["vivado project.tcl", "vivado synth.tcl", "vivado impl.tcl"]
    assert (out / "tiny_hybrid.bit").read_bytes() == b"fake bitstream"
    assert (out / "tiny_hybrid.hwh").read_text() == "<fake hwh/>"  # side by side, one base name
    rep = json.loads((out / "reports.json").read_text())
    assert rep["timing_gate"] == "passed" and rep["timing"]["wns_ns"] == 0.412
    assert rep["resources"]["lut"]["used"] == 41234 and rep["resources"]["lut"]["predicted"] is None  # no section
    assert rep["clock"]["target_mhz"] == 200.0 and rep["clock"]["reported_mhz"] == 200.0
    assert rep["hls_csynth"]["resources"]["dsp"] == 32  # the sample csynth.xml
    assert rep["board_files"]["version"] == "1.4"  # the newest of 1.3 / 1.4
    assert rep["tools"]["vivado"]["version"] == "2023.2"
    assert rep["files"]["hwh_from"].endswith("nash_kv260.gen/sources_1/bd/nash_bd/hw_handoff/nash_bd.hwh")
    settings = (out / "vivado" / "settings.tcl").read_text()
    assert "set nash_jobs 3" in settings and str(fake_xilinx.board_repo) in settings

    r = _run(fake_xilinx, out)  # nothing changed: no tool runs again
    assert r.exit_code == 0 and _steps_ran(r.output) == [] and len(fake_xilinx.calls()) == 4
    r = _run(fake_xilinx, out, "--strategy", "impl=Performance_Explore")  # only the implementation
    assert r.exit_code == 0 and _steps_ran(r.output) == ["impl"] and fake_xilinx.calls()[4:] == ["vivado impl.tcl"]
    r = _run(fake_xilinx, out, "--strategy", "impl=Performance_Explore", "--strategy", "synth=Flow_PerfOptimized_high")
    assert _steps_ran(r.output) == ["synth", "impl"]
    r = _run(fake_xilinx, out, "--strategy", "impl=Performance_Explore", "--strategy", "synth=Flow_PerfOptimized_high",
             "--schedule", "sequential")  # another kernel: everything after codegen
    assert _steps_ran(r.output) == ["codegen", "hls", "vivado_project", "synth", "impl"]


def test_prediction_side_by_side_with_an_accelerator_section(fake_xilinx, tmp_path):
    from helpers import accel_section
    from nash.frontend.core.model_file import load_model, save_model, update_sections

    fake_xilinx.install("vivado", "vitis_hls")
    shutil.copy(TINY.with_suffix("").with_suffix(".weights.npz"), tmp_path / "tiny_hybrid.weights.npz")
    mf = load_model(TINY)
    section = accel_section(mf.architecture)
    update_sections(mf, "accel", accelerator=section)
    model = save_model(mf, tmp_path / "tiny_hybrid.json")
    r = _run(fake_xilinx, tmp_path / "build", model=model)
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "build" / "reports.json").read_text())
    for k in ("lut", "ff", "dsp", "bram", "uram"):
        assert rep["resources"][k]["predicted"] == section["resources"][k]
    assert rep["resources"]["dsp"]["used_over_predicted"] == round(200 / section["resources"]["dsp"], 3)
    assert rep["clock"]["model_mhz"] == section["clock_mhz"]
    assert "resource" in r.output and "used/pred" in r.output  # the table is printed
    assert rep["model_file"] == str(model.resolve())
    assert rep["files"]["utilization_hierarchical"].endswith("reports/utilization_hier_impl.rpt")
    # nash accel-calibrate takes the build folder's reports.json: model file and hierarchical report from it
    table = tmp_path / "table.json"
    r = CliRunner().invoke(cli, ["accel-calibrate", "--vivado", str(tmp_path / "build" / "reports.json"),
                                 "--out", str(table)])
    assert r.exit_code == 0, r.output
    entries = json.loads(table.read_text())["entries"]
    assert "utilization_hier_impl.rpt" in entries["vivado_scale.conv.lut"]["source"]
    assert entries["shell.lut"]["value"] == 4434  # the sample's design total less its four units (by hand)
    shutil.move(tmp_path / "build", tmp_path / "moved")  # the stored report paths go stale: DIR/reports/ is used
    r = CliRunner().invoke(cli, ["accel-calibrate", "--vivado", str(tmp_path / "moved" / "reports.json"),
                                 "--out", str(table)])
    assert r.exit_code == 0 and str(tmp_path / "moved" / "reports" / "utilization_hier_impl.rpt") in r.output


@pytest.mark.parametrize("timing", ["timing_setup_violated.rpt", "timing_hold_violated.rpt"])
def test_timing_gate_stops_the_collect(fake_xilinx, tmp_path, monkeypatch, timing):
    fake_xilinx.install("vivado", "vitis_hls")
    monkeypatch.setenv("FAKE_TIMING", timing)
    out = tmp_path / "build"
    r = _run(fake_xilinx, out)
    assert r.exit_code == 1
    last = r.output.strip().splitlines()[-1]
    assert last.startswith("error: timing not met: ") and "--allow-timing-failure" in last
    assert not (out / "tiny_hybrid.bit").exists() and not (out / "tiny_hybrid.hwh").exists()
    assert json.loads((out / "reports.json").read_text())["timing_gate"].startswith("failed")
    r = _run(fake_xilinx, out, "--allow-timing-failure")
    assert r.exit_code == 0, r.output
    assert _steps_ran(r.output) == []  # the tools are not run again, only the collect
    assert (out / "tiny_hybrid.bit").exists()
    gate = json.loads((out / "reports.json").read_text())["timing_gate"]
    assert gate.startswith("failed (allowed by --allow-timing-failure)")


def test_old_vivado_handoff_comes_from_srcs(fake_xilinx, tmp_path, monkeypatch):
    fake_xilinx.install("vivado", "vitis_hls")
    monkeypatch.setenv("FAKE_VIVADO_BANNER", "Vivado v2019.2 (64-bit)")
    r = _run(fake_xilinx, tmp_path / "b")
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "b" / "reports.json").read_text())
    assert "nash_kv260.srcs/sources_1/bd/nash_bd/hw_handoff" in rep["files"]["hwh_from"]


def test_a_failing_tool_names_its_log(fake_xilinx, tmp_path, monkeypatch):
    fake_xilinx.install("vivado", "vitis_hls")
    monkeypatch.setenv("FAKE_VIVADO_RC", "1")
    r = _run(fake_xilinx, tmp_path / "b")
    assert r.exit_code == 1
    assert "error: vivado exited with code 1 in" in r.output and "project.tcl (log: " in r.output
    assert not (tmp_path / "b" / ".nash_flow" / "vivado_project.json").exists()
