"""Stand-ins for vivado / vitis_hls / vitis-run on PATH, so the bitstream flow's steps, staleness, reports, timing gate
and tool detection are tested without Xilinx tools. The fakes write the files the real tools write (empty
placeholders; the reports are the hand-written samples of tests/data/vivado) and log every invocation."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / "data"

VIVADO = r'''
import os, pathlib, shutil, sys
args = sys.argv[1:]
if args == ["-version"]:
    print(os.environ.get("FAKE_VIVADO_BANNER", "vivado v2023.2 (64-bit)"))
    sys.exit(0)
script = args[args.index("-source") + 1]
with open(os.environ["FAKE_XILINX_LOG"], "a") as f:
    f.write(f"vivado {script}\n")
cwd = pathlib.Path.cwd()
proj = cwd / "nash_kv260"
fx = pathlib.Path(os.environ["FAKE_XILINX_DATA"]) / "vivado"
reports = cwd.parent / "reports"
reports.mkdir(exist_ok=True)
if script == "project.tcl":
    proj.mkdir(exist_ok=True)
    (proj / "nash_kv260.xpr").write_text("<Project/>")
elif script == "synth.tcl":
    shutil.copy(fx / "utilization_impl.rpt", reports / "utilization_synth.rpt")
elif script == "impl.tcl":
    run = proj / "nash_kv260.runs" / "impl_1"
    run.mkdir(parents=True, exist_ok=True)
    (run / "nash_bd_wrapper.bit").write_bytes(b"fake bitstream")
    gen = "nash_kv260.srcs" if os.environ.get("FAKE_VIVADO_BANNER", "").find("2019") >= 0 else "nash_kv260.gen"
    hwh = proj / gen / "sources_1" / "bd" / "nash_bd" / "hw_handoff"
    hwh.mkdir(parents=True, exist_ok=True)
    (hwh / "nash_bd.hwh").write_text("<fake hwh/>")
    shutil.copy(fx / "utilization_impl.rpt", reports / "utilization_impl.rpt")
    shutil.copy(fx / "utilization_hier_impl.rpt", reports / "utilization_hier_impl.rpt")
    shutil.copy(fx / os.environ.get("FAKE_TIMING", "timing_met.rpt"), reports / "timing_impl.rpt")
sys.exit(int(os.environ.get("FAKE_VIVADO_RC", "0")))
'''

HLS = r'''
import hashlib, os, pathlib, shutil, sys
args = sys.argv[1:]
if args in (["-version"], ["--version"]):
    print(os.environ.get("FAKE_HLS_BANNER", "Vitis HLS - High-Level Synthesis from C, C++ and OpenCL v2023.2 (64-bit)"))
    sys.exit(0)
opts = pathlib.Path("options.tcl").read_text()
with open(os.environ["FAKE_XILINX_LOG"], "a") as f:
    f.write(f"{pathlib.Path(sys.argv[0]).name} {' '.join(args)} | {' '.join(opts.split()[-12:])}\n")
sol = pathlib.Path("nash_hls_prj") / "solution1"
(sol / "impl" / "ip").mkdir(parents=True, exist_ok=True)
src = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(pathlib.Path("src").rglob("*.cpp"))))
(sol / "impl" / "ip" / "component.xml").write_text(f"<fake component of {src.hexdigest()}/>")  # the IP follows the C++
(sol / "syn" / "report").mkdir(parents=True, exist_ok=True)
sample = pathlib.Path(os.environ["FAKE_XILINX_DATA"]) / "csynth_sample_conv_pe_8x8.xml"
shutil.copy(sample, sol / "syn" / "report" / "csynth.xml")
'''


def _exe(path: Path, body: str) -> None:
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(0o755)


class FakeXilinx:
    """A bin folder with the chosen fakes, a board repository, and the invocation log."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root, self.mp = root, monkeypatch
        self.bin = root / "bin"
        self.bin.mkdir(parents=True)
        self.log = root / "tools.log"
        self.log.write_text("")
        self.board_repo = root / "boards"
        xml = self.board_repo / "XilinxBoardStore" / "boards" / "Xilinx" / "kv260_som" / "1.4" / "board.xml"
        xml.parent.mkdir(parents=True)
        xml.write_text("<board/>")
        (xml.parent.parent / "1.3").mkdir()
        (xml.parent.parent / "1.3" / "board.xml").write_text("<board/>")
        monkeypatch.setenv("PATH", f"{self.bin}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin")
        monkeypatch.setenv("HOME", str(root / "home"))
        for var in ("XILINX_VIVADO", "NASH_BOARD_REPO"):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("FAKE_XILINX_LOG", str(self.log))
        monkeypatch.setenv("FAKE_XILINX_DATA", str(DATA))

    def install(self, *names: str) -> FakeXilinx:
        for n in names:
            _exe(self.bin / n, VIVADO if n == "vivado" else HLS)
        return self

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines()


@pytest.fixture
def fake_xilinx(tmp_path, monkeypatch) -> FakeXilinx:
    return FakeXilinx(tmp_path / "xilinx", monkeypatch)
