"""`make test` never skips an RTL test silently: the skip-or-fail decision with Icarus hidden from PATH, the shared
system-deps script (what it reports and the one command it prints), and the Makefile / CI wiring."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from helpers import REPO, REQUIRE_RTL_ENV, require_simulator

SCRIPT = REPO / "mk" / "system-deps.sh"
BASH = shutil.which("bash") or "/bin/bash"


def _fake_tools(d, names):
    d.mkdir(exist_ok=True)
    for n in names:
        (d / n).write_text("#!/bin/sh\nexit 0\n")
        (d / n).chmod(0o755)
    return d


def test_missing_icarus_fails_under_make_test(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no iverilog, no vvp
    monkeypatch.setenv(REQUIRE_RTL_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=r"iverilog.*make system-deps.*apt-get install -y iverilog"):
        require_simulator("icarus")


def test_missing_icarus_skips_with_the_reason_outside_make(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(REQUIRE_RTL_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"iverilog.*make system-deps"):
        require_simulator("icarus")


def test_present_icarus_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(_fake_tools(tmp_path / "bin", ["iverilog", "vvp"])))
    monkeypatch.setenv(REQUIRE_RTL_ENV, "1")
    assert require_simulator("icarus") is None


def _deps(path, *args):
    return subprocess.run([BASH, str(SCRIPT), *args], env={"PATH": str(path)}, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("args", [["--check"], []])
def test_system_deps_names_the_one_install_command(tmp_path, args):
    """Nothing on PATH (no apt-get either): the script installs nothing and stops with the command that does."""
    bin_ = _fake_tools(tmp_path / "bin", ["g++", "make", "tclsh"])
    os.symlink(sys.executable, bin_ / "python3")  # has venv and ensurepip
    r = _deps(bin_, *args)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.strip() == ("system-deps: missing iverilog yosys; install with: "
                                "sudo apt-get install -y iverilog yosys")


def test_system_deps_all_present(tmp_path):
    bin_ = _fake_tools(tmp_path / "bin", ["g++", "make", "iverilog", "vvp", "yosys", "tclsh"])
    os.symlink(sys.executable, bin_ / "python3")
    r = _deps(bin_, "--check")
    assert r.returncode == 0 and r.stdout == r.stderr == ""


def test_make_test_and_ci_use_the_script_and_require_rtl():
    if shutil.which("make") is None:
        pytest.skip("make not installed")
    for target in ("test", "test-all"):
        r = subprocess.run(["make", "-n", "-o", ".venv/.installed", target], cwd=REPO, capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert "bash mk/system-deps.sh" in lines
        assert any(ln.startswith(f"{REQUIRE_RTL_ENV}=1 ") and "pytest" in ln for ln in lines), r.stdout
        assert lines.index("bash mk/system-deps.sh") < next(i for i, ln in enumerate(lines) if "pytest" in ln)
    ci = (REPO / ".ci" / "run").read_text()
    assert "bash mk/system-deps.sh" in ci and ci.index("mk/system-deps.sh") < ci.index("make test")
