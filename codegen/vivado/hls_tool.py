"""Run the rendered Vitis HLS script with whichever tool is installed.

``vitis_hls -f run_hls.tcl`` (Vitis HLS <= 2024.1) or ``vitis-run --mode hls --tcl run_hls.tcl`` (>= 2024.2, which
cannot pass argv: the steps are written to ``options.tcl`` beforehand). Neither on PATH -> :class:`ToolMissingError`
(found by :func:`nash.codegen.vivado.tools.find_hls`).
"""

from __future__ import annotations

from pathlib import Path

from nash.codegen.vivado.process import run_logged
from nash.codegen.vivado.tools import Tool, find_hls

HLS_STEPS = ("csim", "csynth", "cosim", "export")
TOOLS = ("vitis_hls", "vitis-run")


def detect(step: str = "hls") -> tuple[str, str]:
    """(tool name, path) of the Vitis HLS front end to use; vitis_hls first (the classic Tcl flow)."""
    tool = find_hls(step)
    return tool.name, tool.path


def command(tool: str, path: str, script: Path) -> list[str]:
    """The command line that runs ``script``: ``-f`` for vitis_hls, ``--mode hls --tcl`` for vitis-run."""
    if tool == "vitis_hls":
        return [path, "-f", str(script)]
    return [path, "--mode", "hls", "--tcl", str(script)]


def run_hls(project_dir: Path, log: Path | None = None, tool: Tool | None = None) -> int:
    """Run ``run_hls.tcl`` in ``project_dir``; returns the tool's exit code (output teed to ``log``)."""
    tool = tool or find_hls()
    cmd = command(tool.name, tool.path, Path(project_dir) / "run_hls.tcl")
    return run_logged(cmd, Path(project_dir), log or Path(project_dir) / "vitis_hls_run.log")
