"""Synthesis of the Verilog PE arrays, depthwise lanes and requant lane with Yosys for UltraScale+
(``synth_xilinx -family xcup``).

One run: ``yosys -p "read_verilog X.v; synth_xilinx -family xcup -top TOP -flatten; tee -q -o stat.json stat -json"``.
:func:`parse_stat` turns the JSON cell counts into the resources the accelerator model prices:

* ``lut``: LUT1..LUT6 and INV (a LUT1 in Vivado), plus LUTs used as shift registers (SRL*, one LUT each) or
  distributed RAM (RAM* primitives, each at the number of LUT6 sites it occupies, :data:`RAM_LUTS`, UG574),
* ``ff``: FDRE/FDSE/FDCE/FDPE (and latches), ``dsp``: DSP48E2,
* ``carry8``: carry-chain blocks in CARRY8 units. Yosys 0.23 maps carries to CARRY4 even for ``xcup``; one CARRY8 spans
  8 bits, so CARRY4 counts as half a CARRY8.

Yosys is not Vivado: it does not absorb the conv input/term registers into the DSP48E2 A/B/M/P registers (its FF
count equals the RTL's register bits) and its LUT packing differs. These are the measured figures of an open tool,
recorded with the tool and version as their source.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from nash.frontend.core.errors import CheckFailedError, ToolMissingError

YOSYS = "yosys"
FAMILY = "xcup"
INSTALL = "sudo apt-get install -y yosys (or `make system-deps`)"
FF_CELLS = ("FDRE", "FDSE", "FDCE", "FDPE", "LDCE", "LDPE")
LUT_RE = re.compile(r"^(LUT[1-6](_2)?|INV|SRL16E|SRLC16E|SRLC32E|RAM\d+[SMX]\w*)$")
# LUT6 sites of the distributed-RAM primitives (UG574, "Distributed RAM"); any other RAM cell counts as one
RAM_LUTS = {"RAM32X1S": 1, "RAM32X1D": 2, "RAM32M": 4, "RAM32M16": 8, "RAM64X1S": 1, "RAM64X1D": 2, "RAM64M": 4,
            "RAM64M8": 8, "RAM128X1S": 2, "RAM128X1D": 4, "RAM256X1S": 4, "RAM256X1D": 8, "RAM512X1S": 8}


class YosysError(CheckFailedError):
    """Yosys ran but failed, or its statistics could not be read."""


def yosys_version(exe: str = YOSYS) -> str | None:
    """``"Yosys 0.23 (git sha1 ...)"`` or None when Yosys is not on PATH."""
    path = shutil.which(exe)
    if path is None:
        return None
    proc = subprocess.run([path, "-V"], capture_output=True, text=True, timeout=60)
    return proc.stdout.strip() or None


def yosys_status(exe: str = YOSYS) -> tuple[bool, str]:
    """(usable, reason) for the tests' skip-or-fail rule."""
    v = yosys_version(exe)
    return (True, v) if v else (False, f"{exe} not on PATH: {INSTALL}")


def tool_source(version: str) -> str:
    """The cost-table source string of a measured entry: ``"yosys 0.23 synth_xilinx -family xcup"``."""
    m = re.search(r"Yosys\s+(\S+)", version)
    return f"yosys {m.group(1) if m else version} synth_xilinx -family {FAMILY}"


def synth_script(verilog: str | os.PathLike, top: str, stat_json: str | os.PathLike, nodsp: bool = False) -> str:
    """The Yosys script of one synthesis run (flattened, so one module holds every cell); ``nodsp``: no DSP48E2,
    multipliers in LUT fabric (``synth_xilinx -nodsp``)."""
    return (f"read_verilog {verilog}; synth_xilinx -family {FAMILY} -top {top} -flatten{' -nodsp' if nodsp else ''}; "
            f"tee -q -o {stat_json} stat -json")


def parse_stat(data: dict | str, top: str | None = None) -> dict[str, float]:
    """Resources of the ``top`` module (or the whole design) from Yosys' ``stat -json`` output (a dict or its text).

    Returns {"lut", "ff", "dsp", "carry8", "carry4", "cells": {type: count}}; ``lut`` etc. as described in the
    module docstring.
    """
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as e:
            raise YosysError(f"yosys stat -json output is not JSON ({e})") from None
    mods = data.get("modules", {}) if isinstance(data, dict) else {}
    entry = None
    if top is not None:
        entry = mods.get(f"\\{top}") or mods.get(top)
    if entry is None:
        entry = data.get("design") if isinstance(data, dict) else None
    if not isinstance(entry, dict) or not isinstance(entry.get("num_cells_by_type"), dict):
        raise YosysError(f"yosys stat -json: no 'num_cells_by_type' for module {top or 'design'}")
    cells = {str(k).lstrip("\\"): int(v) for k, v in entry["num_cells_by_type"].items()}
    carry4, carry8 = cells.get("CARRY4", 0), cells.get("CARRY8", 0)
    return {
        "lut": sum(n * RAM_LUTS.get(c, 1) for c, n in cells.items() if LUT_RE.match(c)),
        "ff": sum(cells.get(c, 0) for c in FF_CELLS),
        "dsp": cells.get("DSP48E2", 0),
        "carry4": carry4,
        "carry8": carry8 + carry4 / 2,
        "cells": cells,
    }


@dataclass(frozen=True)
class SynthResult:
    """One synthesized module: its resources, the tool's version string and the wall time."""

    top: str
    resources: dict
    version: str
    seconds: float

    @property
    def source(self) -> str:
        return tool_source(self.version)


def synthesize(verilog: str | os.PathLike, top: str, work_dir: str | os.PathLike, timeout_s: float = 900,
               exe: str = YOSYS, nodsp: bool = False) -> SynthResult:
    """Synthesize ``top`` of ``verilog`` for UltraScale+ and return its parsed statistics (``nodsp``: without DSPs).

    Raises ToolMissingError without Yosys, YosysError when it fails or times out (the message holds its log tail).
    """
    version = yosys_version(exe)
    if version is None:
        raise ToolMissingError(f"{exe} not on PATH: {INSTALL}")
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    stat = work / f"{top}.stat.json"
    stat.unlink(missing_ok=True)
    cmd = [shutil.which(exe), "-q", "-l", str(work / f"{top}.yosys.log"),
           "-p", synth_script(Path(verilog).resolve(), top, stat.resolve(), nodsp)]
    t0 = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, cwd=work)
    except subprocess.TimeoutExpired:
        raise YosysError(f"yosys on {verilog}: no result after {timeout_s:.0f} s") from None
    secs = time.monotonic() - t0
    if proc.returncode != 0 or not stat.is_file():
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise YosysError(f"yosys on {verilog} failed (exit {proc.returncode}):\n{tail}")
    return SynthResult(top, parse_stat(stat.read_text(), top), version, secs)
