"""Run the rendered Vitis HLS script with whichever tool is installed.

``vitis_hls -f run_hls.tcl`` (Vitis HLS <= 2024.1) or ``vitis-run --mode hls --tcl run_hls.tcl`` (>= 2024.2, which
cannot pass argv: the steps are written to ``options.tcl`` beforehand). Neither on PATH -> :class:`ToolMissingError`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from nash.frontend.core.errors import ToolMissingError

HLS_STEPS = ("csim", "csynth", "cosim", "export")
TOOLS = ("vitis_hls", "vitis-run")


def detect() -> tuple[str, str]:
    """(tool name, path) of the Vitis HLS front end to use; vitis_hls first (the classic Tcl flow)."""
    for name in TOOLS:
        path = shutil.which(name)
        if path:
            return name, path
    raise ToolMissingError("neither vitis_hls nor vitis-run is on PATH: install Vitis HLS (AMD Vitis 2022.1 or newer) "
                           "and source its settings64.sh, then run again; the project is rendered by `nash codegen`")


def command(tool: str, path: str, script: Path) -> list[str]:
    if tool == "vitis_hls":
        return [path, "-f", str(script)]
    return [path, "--mode", "hls", "--tcl", str(script)]


def run_hls(project_dir: Path, log: Path | None = None) -> int:
    """Run ``run_hls.tcl`` in ``project_dir``; returns the tool's exit code (output teed to ``log``)."""
    tool, path = detect()
    cmd = command(tool, path, Path(project_dir) / "run_hls.tcl")
    log = log or Path(project_dir) / "vitis_hls_run.log"
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, cwd=project_dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=os.environ.copy())
        assert proc.stdout is not None
        for line in proc.stdout:
            print(line, end="")
            f.write(line)
        return proc.wait()
