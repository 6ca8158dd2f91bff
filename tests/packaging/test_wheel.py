"""The wheel is self-contained: built from a copy of the checkout, installed into a fresh venv outside it, and run
from a directory outside it, ``nash codegen`` renders the same bytes as the checkout, ``nash csim`` is bit-exact, and
the cocotb testbench of the PE arrays runs.

The fresh venv gets the wheel alone (``pip install --no-deps``); its dependencies (torch, numpy, cocotb, hls4ml's
ap_types, ...) come from the test's own venv through a ``.pth`` line that appends that venv's site-packages. A plain
path line does not run the ``.pth`` files found there, so the dev venv's editable ``nash`` finder stays inactive:
every test checks that ``nash`` is imported from the fresh venv.
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from helpers import REPO

try:
    import tomllib
except ImportError:  # Python 3.10: pytest's own dependency
    import tomli as tomllib

MODEL = REPO / "examples" / "tiny_hybrid.json"
# what a wheel build must not copy from a working checkout (build outputs, caches, venvs)
NOT_SOURCES = shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__", "*.pyc", ".*_cache",
                                     ".hypothesis", "runs", "sim_build")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """Build the wheel from a copy of the checkout (pip writes build/ and *.egg-info next to the sources), install it
    into a fresh venv, and make a work folder outside the checkout with the example model."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    shutil.copytree(REPO, src, ignore=NOT_SOURCES)
    pip = [sys.executable, "-m", "pip"]
    subprocess.run([*pip, "wheel", "--no-deps", "-q", "-w", str(root / "dist"), str(src)], check=True)
    (wheel,) = (root / "dist").glob("nash_hls-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([*pip, "--python", str(py), "install", "--no-deps", "--no-index", "-q", str(wheel)], check=True)
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    dev_sites = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    (Path(site) / "nash_test_dev_deps.pth").write_text("".join(f"{p}\n" for p in dev_sites))
    work = root / "work"
    work.mkdir()
    shutil.copy(MODEL, work)
    shutil.copy(MODEL.with_suffix(".weights.npz"), work)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "NASH_CALIBRATION")}
    env |= {"NASH_BUILD_CACHE": str(root / "build-cache"), "XDG_CACHE_HOME": str(root / "xdg-cache")}
    return {"root": root, "wheel": wheel, "venv": venv, "py": py, "work": work, "env": env}


def _run(inst: dict, *args: str) -> subprocess.CompletedProcess:
    """Run a command of the fresh venv from the work folder (outside the checkout)."""
    return subprocess.run(args, cwd=inst["work"], env=inst["env"], capture_output=True, text=True, timeout=600)


def _package_files() -> set[str]:
    """Every file the wheel must hold, from pyproject's package-dir map: all files of the mapped folders (modules,
    templates, board and cost JSON), with their installed names."""
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    want = set()
    for pkg, folder in cfg["package-dir"].items():
        base = REPO / folder
        for f in base.rglob("*"):
            rel = f.relative_to(base)
            if f.is_file() and "__pycache__" not in rel.parts and f.suffix != ".pyc":
                want.add("/".join((*pkg.split("."), *rel.parts)))
    return want


def test_wheel_holds_every_package_file(installed) -> None:
    names = set(zipfile.ZipFile(installed["wheel"]).namelist())
    want = _package_files()
    assert {"nash/hls_templates/pe_arrays/pe_array.v.j2", "nash/vivado_tcl/run_hls.tcl.j2",
            "nash/hls_templates/compat/hls_stream.h", "nash/codegen/rtl/testbench/pe_array_tb.py",
            "nash/frontend/accel/boards/kv260.json"} <= want
    assert sorted(want - names) == [], "files of the package folders missing from the wheel"
    meta = zipfile.ZipFile(installed["wheel"]).read(f"{installed['wheel'].name.split('-py3')[0]}.dist-info/METADATA")
    assert b"License-Expression: Apache-2.0" in meta


def test_installed_nash_is_the_wheel(installed) -> None:
    probe = ("import json, sys, importlib.resources as r, nash, nash.codegen.templates as t; "
             "print(json.dumps({'nash': nash.__file__, 'templates': str(r.files('nash.hls_templates')), "
             "'editable': [repr(f) for f in sys.meta_path if 'editable' in repr(f).lower()], "
             "'src': t.source('hls_templates/src/nash_common.h')}))")
    r = _run(installed, str(installed["py"]), "-c", probe)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    venv = installed["venv"].resolve()
    assert Path(got["nash"]).resolve().is_relative_to(venv), got
    assert Path(got["templates"]).resolve().is_relative_to(venv), got
    assert got["editable"] == [], "the dev venv's editable finder is active in the fresh venv"
    assert got["src"] == (REPO / "hls_templates" / "src" / "nash_common.h").read_text()


def test_installed_codegen_renders_the_checkouts_bytes(installed, tmp_path) -> None:
    nash = str(installed["venv"] / "bin" / "nash")
    r = _run(installed, nash, "codegen", "tiny_hybrid.json", "--out", "prj", "--pe-impl", "rtl")
    assert r.returncode == 0, r.stderr
    # the same command through the checkout's (editable) install, from the same folder and model copy
    dev = Path(sys.executable).with_name("nash")
    ref = tmp_path / "ref"
    r = subprocess.run([str(dev), "codegen", "tiny_hybrid.json", "--out", str(ref), "--pe-impl", "rtl"],
                       cwd=installed["work"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    got = installed["work"] / "prj"
    files = sorted(p.relative_to(ref).as_posix() for p in ref.rglob("*") if p.is_file())
    assert files and files == sorted(p.relative_to(got).as_posix() for p in got.rglob("*") if p.is_file())
    assert {"src/top.cpp", "run_hls.tcl", "compat/hls_stream.h"} <= set(files)
    assert any(f.endswith(".v") for f in files), "no Verilog PE array rendered"
    _, mismatch, errors = filecmp.cmpfiles(ref, got, files, shallow=False)
    assert mismatch == errors == []


def test_installed_csim_is_bit_exact(installed) -> None:
    """Default PE arrays (--pe-impl rtl compiles ap_int.h for ~30 s; its rendered sources are compared above)."""
    if shutil.which("g++") is None:
        pytest.skip("g++ not on PATH: apt-get install g++")
    nash = str(installed["venv"] / "bin" / "nash")
    r = _run(installed, nash, "csim", "tiny_hybrid.json", "--images", "16", "--out", "csim")
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads((installed["work"] / "csim" / "csim_report.json").read_text())
    assert rep["images"] == 16 and rep["mismatches"] == 0 and rep["layers_compared"] > 0
    assert rep["build_cached"] is False  # compiled here from the wheel's sources


def test_installed_cocotb_testbench_runs(installed) -> None:
    if not (shutil.which("iverilog") and shutil.which("vvp")):
        pytest.skip("Icarus Verilog not on PATH: apt-get install iverilog")
    r = _run(installed, str(installed["py"]), "-m", "nash.codegen.rtl.sim_runner", "calibrate", "--tm", "2",
             "--tn", "3", "--engines", "adder", "--out", "cal.json", "--work-dir", "sim")
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads((installed["work"] / "cal.json").read_text())
    assert doc["records"] == [{"engine": "adder", "tm": 2, "tn": 3, "latency": 4, "ii": 1}]  # 2 + ceil(log2 3)
