"""Runs tests/board_pynq (the driver on the emulated pynq device) in the board venv: pynq 3.0.1 + numpy 1.26.4, the
Kria-PYNQ image's versions (``make board-venv``), with the runtime taken from a real deploy bundle. Under ``make
test`` (NASH_REQUIRE_BOARD_VENV=1) a missing venv fails; elsewhere it skips with the command that creates it."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from helpers import REPO
from nash.board.bundle import open_bundle

VENV_PY = REPO / ".venv-board" / "bin" / "python"


def test_driver_suite_in_the_board_venv(tiny_bundle, tmp_path):
    if not VENV_PY.exists():
        msg = "no .venv-board (pynq 3.0.1 + numpy 1.26.4): run `make board-venv`"
        if os.environ.get("NASH_REQUIRE_BOARD_VENV") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    rt = tmp_path / "extracted"
    open_bundle(tiny_bundle).extract(rt)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NASH_EMULATED", "PYTHON"))}
    env |= {"PYTHONPATH": str(rt / "runtime"), "NASH_PYNQ_TEST_BUNDLE": str(tiny_bundle)}
    suite = REPO / "tests" / "board_pynq"
    proc = subprocess.run([str(VENV_PY), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "python_files=pynq_*.py",
                           "-o", "addopts=", "-o", "pythonpath=", f"--confcutdir={suite}", f"--rootdir={suite}",
                           str(suite)], env=env, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    m = re.search(r"(\d+) passed", out)
    assert m and int(m.group(1)) >= 9, out[-2000:]
    assert "skipped" not in out and "failed" not in out, out[-2000:]


def test_nash_run_emulated_on_a_model_file(tmp_path, monkeypatch):
    """`nash run MODEL.json --backend emulated`: deploys, then runs the bundle's runtime in the board venv. The out
    folder is relative, as `make demo` passes it (the runtime runs in another working folder)."""
    import json

    from click.testing import CliRunner

    from nash.cli import main as cli

    if not VENV_PY.exists():
        if os.environ.get("NASH_REQUIRE_BOARD_VENV") == "1":
            pytest.fail("no .venv-board: run `make board-venv`")
        pytest.skip("no .venv-board: run `make board-venv`")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run"
    r = CliRunner().invoke(cli, ["run", str(REPO / "examples" / "tiny_hybrid.json"), "--backend", "emulated",
                                 "--images", "20", "--out", "run"])
    assert r.exit_code == 0, r.output
    rep = json.loads((out / "run_report.json").read_text())
    assert rep["backend"] == "emulated" and rep["fps_kind"] == "emulated" and rep["images"] == 20
    assert rep["mismatches"] == 0 and rep["accuracy"] is not None and rep["pl_clock_mhz"] is None
    assert (out / "bundle.zip").exists()
