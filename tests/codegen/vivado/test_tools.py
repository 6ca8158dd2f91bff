"""Tool and board-file detection: every missing piece stops `nash bitstream` at once (exit 3) with one line naming
the tool, the step that needs it and where to get it, before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from nash.codegen.vivado import tools

from nash.cli import main as cli

ROOT = Path(__file__).resolve().parents[3]
TINY = ROOT / "examples" / "tiny_hybrid.json"


def _fails(args: list[str], *needles: str, code: int = 3) -> str:
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == code, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.output
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


@pytest.mark.parametrize("installed,needles", [
    ((), ("vitis_hls or vitis-run not found", "'hls' step", "Vitis HLS", "settings64.sh")),
    (("vitis_hls",), ("vivado not found", "'vivado_project' step", "Vivado ML Edition")),
])
def test_missing_tool_stops_at_once(fake_xilinx, tmp_path, installed, needles):
    fake_xilinx.install(*installed)
    out = tmp_path / "build"
    _fails(["bitstream", str(TINY), "--out", str(out)], *needles)
    assert not out.exists() and fake_xilinx.calls() == []


def test_missing_board_files(fake_xilinx, tmp_path):
    fake_xilinx.install("vitis_hls", "vivado")
    out = tmp_path / "build"
    _fails(["bitstream", str(TINY), "--out", str(out)], "KV260 board files (kv260_som/*/board.xml) not found",
           "'vivado_project' step", "Vivado Store", "--board-repo")
    _fails(["bitstream", str(TINY), "--out", str(out), "--board-repo", str(tmp_path / "nope")],
           "--board-repo", "not a folder")
    assert not out.exists()


def test_board_files_from_env_and_vivado_install(fake_xilinx, tmp_path, monkeypatch):
    repo = tmp_path / "env-repo" / "kv260_som" / "1.3"
    repo.mkdir(parents=True)
    (repo / "board.xml").write_text("<board/>")
    monkeypatch.setenv("NASH_BOARD_REPO", str(tmp_path / "env-repo"))
    b = tools.find_board_files()
    assert b.version == "1.3" and b.repo == tmp_path / "env-repo"
    monkeypatch.delenv("NASH_BOARD_REPO")
    inst = tmp_path / "Vivado" / "2023.2"
    (inst / "data" / "boards" / "board_files" / "kv260_som" / "1.4").mkdir(parents=True)
    (inst / "data" / "boards" / "board_files" / "kv260_som" / "1.4" / "board.xml").write_text("<board/>")
    monkeypatch.setenv("XILINX_VIVADO", str(inst))
    assert tools.find_board_files().version == "1.4"


def test_vitis_run_needs_2024_2(fake_xilinx, tmp_path, monkeypatch):
    fake_xilinx.install("vitis-run", "vivado")
    monkeypatch.setenv("FAKE_HLS_BANNER", "vitis-run v2024.1 (64-bit)")
    _fails(["bitstream", str(TINY), "--out", str(tmp_path / "b")], "vitis-run", "is 2024.1", "2024.2")
    monkeypatch.setenv("FAKE_HLS_BANNER", "vitis-run v2024.2 (64-bit)")
    t = tools.find_hls()
    assert (t.name, t.version) == ("vitis-run", (2024, 2))


def test_vitis_run_flow_passes_the_script_through_tcl(fake_xilinx, tmp_path, monkeypatch):
    fake_xilinx.install("vitis-run", "vivado")
    monkeypatch.setenv("FAKE_HLS_BANNER", "vitis-run v2025.1 (64-bit)")
    r = CliRunner().invoke(cli, ["bitstream", str(TINY), "--out", str(tmp_path / "b"), "--board-repo",
                                 str(fake_xilinx.board_repo)])
    assert r.exit_code == 0, r.output
    call = fake_xilinx.calls()[0]
    assert call.startswith("vitis-run --mode hls --tcl ") and call.split(" | ")[0].endswith("run_hls.tcl")


def test_dry_run_without_tclsh(fake_xilinx, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(fake_xilinx.bin))  # not even /usr/bin
    out = tmp_path / "b"
    _fails(["bitstream", str(TINY), "--out", str(out), "--dry-run"], "tclsh not found", "'tcl'")
    assert not out.exists()


def test_bad_strategy_and_jobs(tmp_path):
    _fails(["bitstream", str(TINY), "--out", str(tmp_path / "b"), "--strategy", "place=Explore"],
           "option '--strategy'", "[synth=|impl=]NAME", code=2)
    _fails(["bitstream", str(TINY), "--out", str(tmp_path / "b"), "--jobs", "0"], "'--jobs'", code=2)


def test_parse_version():
    assert tools.parse_version("vivado v2023.2 (64-bit)\nSW Build 4029153") == (2023, 2)
    assert tools.parse_version("Vitis HLS - High-Level Synthesis from C, C++ and OpenCL v2022.1 (64-bit)") == (2022, 1)
    assert tools.parse_version("no version here") is None


def test_make_bitstream_fails_at_once_without_tools(fake_xilinx, tmp_path):
    import os
    import subprocess

    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}:/usr/bin:/bin"}  # no Xilinx tool on it
    # -o: treat the install stamp as up to date (never reinstall the venv from a test).
    r = subprocess.run(["make", "-o", ".venv/.installed", "bitstream", f"MODEL={TINY}", f"OUT={tmp_path}"], cwd=ROOT,
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "error: vitis_hls or vitis-run not found (needed by the 'hls' step" in r.stderr
    assert not (tmp_path / "bitstream").exists()
