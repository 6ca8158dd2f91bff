"""The tclsh dry run of the generated HLS and Vivado scripts (no Xilinx tools): it passes on the example and on a
demo-sized model with every op type and a searched accelerator section, and it fails, naming script:line, on an
unknown option, an undefined variable, an unknown command, a missing file and a bundle that reaches no HP port."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import ALL_OPS_ARCH, accel_section, randomized_net
from nash.codegen.hls import ip_names
from nash.codegen.hls.render import write_options
from nash.codegen.vivado.bitstream import Layout, engine_ports
from nash.codegen.vivado.dry_run import dry_run
from nash.codegen.vivado.tcl_commands import VITIS_HLS, VIVADO
from nash.frontend.core.errors import CheckFailedError

from nash.cli import main as cli

ROOT = Path(__file__).resolve().parents[3]
TINY = ROOT / "examples" / "tiny_hybrid.json"
pytestmark = pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh missing: apt-get install -y tcl")


def _bitstream_dry(model: Path, out: Path) -> CliRunner:
    r = CliRunner().invoke(cli, ["bitstream", str(model), "--out", str(out), "--dry-run", "--jobs", "2",
                                 "--strategy", "impl=Performance_Explore"])
    assert r.exit_code == 0, r.output
    return r


@pytest.fixture(scope="module")
def tiny_dry(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    _bitstream_dry(TINY, out)
    return out


def _order(lay: Layout) -> list[tuple[str, Path, Path]]:
    return [("vitis_hls", lay.hls / "run_hls.tcl", lay.hls)] + [
        ("vivado", lay.vivado / s, lay.vivado) for s in ("project.tcl", "synth.tcl", "impl.tcl")]


def test_example_dry_run_passes_and_records_the_design(tiny_dry):
    rep = json.loads((tiny_dry / "dry_run" / "dry_run.json").read_text())
    assert [(s["script"], s["ok"]) for s in rep["scripts"]] == [
        ("run_hls.tcl", True), ("project.tcl", True), ("synth.tcl", True), ("impl.tcl", True)]
    calls = (tiny_dry / "dry_run" / "project.calls").read_text()
    # every engine bundle goes through its own SmartConnect to its own HP port (4 bundles, HP0..HP3)
    hp = re.findall(r"connect_bd_intf_net hp(\d)_smartconnect/M00_AXI zynq_ultra_ps_e_0/S_AXI_HP(\d)_FPD", calls)
    assert hp == [("0", "0"), ("1", "1"), ("2", "2"), ("3", "3")]
    for e in ("conv", "shift", "adder", "misc"):
        assert f"nash_top_0/m_axi_gmem_{e} " in calls
    assert "connect_bd_intf_net ctrl_interconnect/M00_AXI nash_top_0/s_axi_control" in calls
    assert "CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ 200" in calls  # pl_clk0 = the plan's clock
    assert "apply_bd_automation -rule xilinx.com:bd_rule:zynq_ultra_ps_e -config {apply_board_preset \"1\"}" in calls
    assert "create_bd_cell -type ip -vlnv nash:hls:nash_top:1.0 nash_top_0" in calls  # export_design's VLNV
    for gp in (2, 3, 4, 5):
        assert f"CONFIG.PSU__SAXIGP{gp}__DATA_WIDTH 128" in calls
    impl = (tiny_dry / "dry_run" / "impl.calls").read_text()
    assert "launch_runs impl_1 -to_step write_bitstream -jobs 2" in impl
    assert "set_property strategy Performance_Explore" in impl
    assert re.search(r"report_utilization -hierarchical -hierarchical_depth 12 -file \S+/reports/"
                     r"utilization_hier_impl.rpt", impl)  # per instance, for nash accel-calibrate --vivado
    settings = (tiny_dry / "vivado" / "settings.tcl").read_text()
    assert "set nash_impl_strategy {Performance_Explore}" in settings
    assert "export_design -format ip_catalog" in (tiny_dry / "dry_run" / "run_hls.calls").read_text()


def test_hls_names_have_one_source(tmp_path, monkeypatch):
    """Project, solution and IP vendor / library / version live in codegen.hls.ip_names only: changed there, the
    rendered run_hls.tcl, the Vivado settings (IP folder, VLNV) and the flow's paths follow, and the dry run (which
    checks that the VLNV Vivado instantiates is the one export_design wrote, in the folder Vivado searches) passes."""
    monkeypatch.setattr(ip_names, "HLS_PROJECT", "other_prj")
    monkeypatch.setattr(ip_names, "HLS_SOLUTION", "sol_b")
    monkeypatch.setattr(ip_names, "IP_VENDOR", "acme")
    monkeypatch.setattr(ip_names, "IP_LIBRARY", "accel")
    monkeypatch.setattr(ip_names, "IP_VERSION", "2.3")
    _bitstream_dry(TINY, tmp_path)
    hls = (tmp_path / "hls" / "run_hls.tcl").read_text()
    assert "open_project -reset other_prj\n" in hls and "open_solution -reset sol_b " in hls
    assert "-vendor acme -library accel -version 2.3 " in hls
    settings = (tmp_path / "vivado" / "settings.tcl").read_text()
    assert "set nash_ip_vlnv acme:accel:nash_top:2.3\n" in settings
    assert "../hls/other_prj/sol_b/impl/ip]]" in settings
    assert Layout(tmp_path).hls_ip == tmp_path / "hls" / "other_prj" / "sol_b" / "impl" / "ip"
    calls = (tmp_path / "dry_run" / "project.calls").read_text()
    assert "create_bd_cell -type ip -vlnv acme:accel:nash_top:2.3 nash_top_0" in calls


def test_demo_sized_model_dry_run_passes(tmp_path):
    from nash.frontend.core.model_file import new_model, save_model, update_sections
    from nash.frontend.integer.weights_io import pack
    from nash.frontend.models.convert import integer_model

    im = integer_model(randomized_net(ALL_OPS_ARCH, 3))
    mf = new_model("demo_sized", ALL_OPS_ARCH, search_provenance={"dataset": "random"})
    update_sections(mf, "train", weights=pack(im))
    update_sections(mf, "accel", accelerator=accel_section(ALL_OPS_ARCH))
    model = save_model(mf, tmp_path / "model.json")
    _bitstream_dry(model, tmp_path / "out")
    clock = json.loads((tmp_path / "out" / "hls" / "project.json").read_text())["plan"]["clock_mhz"]
    assert f"FREQMHZ {clock:g}" in (tmp_path / "out" / "dry_run" / "project.calls").read_text()


def test_hls_script_with_every_step_enabled(tiny_dry, tmp_path):
    out = tmp_path / "o"
    shutil.copytree(tiny_dry, out)
    lay = Layout(out)
    write_options(lay.hls, ["csim", "csynth", "cosim", "export"])
    runs = dry_run(_order(lay)[:1], lay.dry_run)
    calls = (lay.dry_run / "run_hls.calls").read_text()
    assert runs[0].ok and "csim_design" in calls and "cosim_design -rtl verilog" in calls


@pytest.mark.parametrize("script,old,new,expect", [
    ("vivado/impl.tcl", "launch_runs impl_1 -to_step", "launch_runs impl_1 -bogus_opt -to_step",
     r"impl.tcl:\d+: launch_runs: unknown option -bogus_opt .*UG835.*launch_runs"),
    ("vivado/synth.tcl", "-jobs $nash_jobs", "-jobs $nash_jbos",
     r"synth.tcl:\d+: can't read \"nash_jbos\": no such variable"),
    ("vivado/project.tcl", "validate_bd_design", "validate_the_design",
     r"project.tcl:\d+: unknown command validate_the_design"),
    ("hls/run_hls.tcl", "add_files src/top.cpp", "add_files src/no_such.cpp",
     r"run_hls.tcl:\d+: add_files: file not found .*src/no_such.cpp"),
    ("hls/run_hls.tcl", "config_interface -m_axi_addr64", "config_interface -m_axi_addr65",
     r"run_hls.tcl:\d+: config_interface: unknown option -m_axi_addr65 .*UG1399"),
    ("hls/run_hls.tcl", "open_solution -reset solution1", "open_solution -reset solution2",  # IP lands elsewhere
     r"project.tcl:\d+: set_property: file not found .*solution1/impl/ip"),
    ("vivado/block_design.tcl", "S_AXI_HP1_FPD]", "S_AXI_HPC1_FPD]",  # the shift bundle reaches no HP port
     r"block_design.tcl:\d+: nash: master nash_top_0/Data_m_axi_gmem_shift has no DDR_LOW segment"),
    ("vivado/block_design.tcl", "[get_bd_pins rst_pl0/ext_reset_in]", "[get_bd_pins rst_pl9/ext_reset_in]",
     r"block_design.tcl:\d+: get_bd_pins: no cell 'rst_pl9'"),
])
def test_a_broken_script_fails_the_dry_run(tiny_dry, tmp_path, script, old, new, expect):
    out = tmp_path / "o"
    shutil.copytree(tiny_dry, out)
    f = out / script
    text = f.read_text()
    assert old in text
    f.write_text(text.replace(old, new, 1))
    lay = Layout(out)
    with pytest.raises(CheckFailedError, match=expect):
        dry_run(_order(lay), lay.dry_run)
    assert not json.loads((lay.dry_run / "dry_run.json").read_text())["scripts"][-1]["ok"]


def test_table_cites_a_section_for_every_command():
    for table, guide in ((VIVADO, "UG835"), (VITIS_HLS, "UG1399")):
        for c in table.values():
            assert c.source.startswith(guide) and c.source.endswith(c.name)
            assert not set(c.flags) & set(c.options), c.name


def test_engine_ports_are_one_hp_port_each():
    ports = engine_ports()
    assert [p["bundle"] for p in ports] == ["gmem_conv", "gmem_shift", "gmem_adder", "gmem_misc"]
    assert [(p["hp"], p["gp"]) for p in ports] == [(0, 2), (1, 3), (2, 4), (3, 5)]


def test_rtl_blackbox_project_dry_run(tmp_path):
    """--pe-impl rtl: run_hls.tcl adds the PE arrays' blackbox JSON files from their own folder; they must exist."""
    r = CliRunner().invoke(cli, ["bitstream", str(TINY), "--out", str(tmp_path), "--dry-run", "--pe-impl", "rtl"])
    assert r.exit_code == 0, r.output
    calls = (tmp_path / "dry_run" / "run_hls.calls").read_text().splitlines()
    blackboxes = [c for c in calls if " add_files -blackbox " in c]
    assert len(blackboxes) == 3 and all(c.endswith(".json") for c in blackboxes)  # conv, shift, adder
