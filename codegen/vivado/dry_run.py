"""The Tcl dry run: the generated scripts run in ``tclsh`` with every Vivado / Vitis HLS command as a recorder.

Each script runs in a fresh interpreter (as each tool invocation is a fresh process), in the flow's real order and
working directory, on the real generated files. The recorder (``vivado_tcl/dry_run.tcl.j2``) checks every call
against the documented options of :mod:`nash.codegen.vivado.tcl_commands` and stops at an unknown command or option,
a wrong argument count, an undefined variable (plain Tcl) or a file that neither exists nor was written by an earlier
command of the flow (``export_design`` -> the IP folder, ``create_project`` -> the ``.xpr``, ``make_wrapper`` -> the
wrapper). It also follows the block design's interface nets, so a master whose bundle does not reach an HP port has
no DDR segment and fails the script's own check.

What it proves: the scripts are well-formed Tcl, call only documented commands with documented options and
argument counts, use only defined variables, read only files that exist or that an earlier step writes, and agree
with each other on paths and names (HLS IP folder and VLNV, project, runs, block-design cells). What it does not
prove: that Vivado or Vitis HLS accept the design (IP configuration values, pin names of Xilinx IPs, the address map,
timing, resources), nor that an option exists in every tool release.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from nash.codegen import templates
from nash.codegen.vivado.tcl_commands import TABLES
from nash.codegen.vivado.tools import Tool, find_tclsh
from nash.frontend.core.atomic_io import atomic_write_text
from nash.frontend.core.errors import CheckFailedError

STAND_IN_BOARD_PART = "xilinx.com:kv260_som:part0:1.4"  # what the stand-in get_board_parts answers


@dataclass
class ScriptRun:
    """One script's dry run."""

    script: str
    tool: str
    ok: bool
    commands: int
    message: str


def render_recorder(tool: str, script: Path, state_file: Path, log_file: Path) -> str:
    """The tclsh program that defines the recorders of ``tool`` and sources ``script``."""
    cmds = [{"name": c.name, "flags": c.flags, "options": c.options, "positional": c.positional, "source": c.source}
            for c in TABLES[tool].values()]
    return templates.get_template("vivado_tcl/dry_run.tcl.j2").render(
        tool=tool, commands=cmds, script=str(script.resolve()), state_file=str(state_file.resolve()),
        log_file=str(log_file.resolve()), board_part=STAND_IN_BOARD_PART)


def run_script(tool: str, script: Path, cwd: Path, work: Path, tclsh: Tool | None = None) -> ScriptRun:
    """Dry-run one script (``tool``: "vivado" or "vitis_hls") from ``cwd``; state and call logs go to ``work``."""
    tclsh = tclsh or find_tclsh()
    work.mkdir(parents=True, exist_ok=True)
    runner = work / f"dry_run_{script.stem}.tcl"
    calls = work / f"{script.stem}.calls"
    atomic_write_text(runner, render_recorder(tool, script, work / "products.tcl", calls))
    p = subprocess.run([tclsh.path, str(runner)], cwd=cwd, capture_output=True, text=True, timeout=120)
    out = (p.stdout + p.stderr).strip()
    fail = [line for line in out.splitlines() if line.startswith("NASH_DRY_FAIL")]
    n = len(calls.read_text().splitlines()) if calls.is_file() else 0
    if p.returncode == 0 and not fail:
        return ScriptRun(script.name, tool, True, n, "ok")
    msg = fail[0].removeprefix("NASH_DRY_FAIL ") if fail else (out.splitlines()[-1] if out else f"exit {p.returncode}")
    return ScriptRun(script.name, tool, False, n, msg)


def dry_run(scripts: list[tuple[str, Path, Path]], work: Path, stop_on_failure: bool = True) -> list[ScriptRun]:
    """Dry-run ``scripts`` ((tool, script, cwd), in flow order) with one products state shared across them; writes
    ``work/dry_run.json``. Raises :class:`CheckFailedError` naming script:line at the first failure."""
    tclsh = find_tclsh()
    (work / "products.tcl").unlink(missing_ok=True)
    runs = []
    for tool, script, cwd in scripts:
        r = run_script(tool, script, cwd, work, tclsh)
        runs.append(r)
        if not r.ok and stop_on_failure:
            break
    atomic_write_text(work / "dry_run.json", json.dumps(
        {"what": "tclsh dry run of the generated scripts (docs/bitstream.md: what it proves and what not)",
         "scripts": [asdict(r) for r in runs]}, indent=1) + "\n")
    bad = [r for r in runs if not r.ok]
    if bad:
        raise CheckFailedError(f"dry run failed in {bad[0].script}: {bad[0].message} (calls: {work})")
    return runs
