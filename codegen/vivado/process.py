"""Run one tool invocation with its output shown and kept in a log file."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def run_logged(cmd: list[str], cwd: Path, log: Path, echo: bool = True) -> int:
    """Run ``cmd`` in ``cwd``, tee stdout + stderr to ``log`` (and the terminal when ``echo``); the exit code."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=os.environ.copy())
        assert proc.stdout is not None
        for line in proc.stdout:
            if echo:
                print(line, end="")
            f.write(line)
        return proc.wait()
