"""Run import-linter (``lint-imports``) on the ``nash`` package laid out as it is installed.

The source folders map onto the package through ``[tool.setuptools] package-dir`` (``frontend/`` is
``nash.frontend``), but grimp finds a package's modules by walking its root package's folder, so run on the checkout
it would see ``nash/`` without ``nash.frontend``, ``nash.codegen`` or ``nash.board``. This script lays the installed
layout out (files as symbolic links) in a temporary folder and runs ``lint-imports`` there with the contracts of
``pyproject.toml``. Extra arguments go to ``lint-imports``; the exit code is its exit code (3: not installed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: import-linter depends on tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"


def lint_imports_exe() -> str | None:
    """The ``lint-imports`` of this interpreter's environment (else the one on PATH), or None."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return shutil.which("lint-imports", path=path)


def stage_packages(dest: Path) -> None:
    """Mirror every mapped source folder under ``dest`` at its package's path: real folders, files linked (so that a
    file added to the staged tree does not land in the checkout)."""
    package_dir = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["package-dir"]
    for name, src in package_dir.items():
        src_root, target_root = ROOT / src, dest.joinpath(*name.split("."))
        for folder, dirs, files in os.walk(src_root):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            target = target_root / Path(folder).relative_to(src_root)
            target.mkdir(parents=True, exist_ok=True)
            for f in files:
                if (target / f).exists():
                    raise SystemExit(f"package-dir: {target / f} is mapped twice; cannot stage it")
                (target / f).symlink_to(Path(folder) / f)


def run_staged(stage: Path, args: list[str], **kwargs) -> subprocess.CompletedProcess:
    """``lint-imports`` with the contracts of pyproject.toml on a tree made by :func:`stage_packages`."""
    exe = lint_imports_exe()
    if exe is None:
        raise FileNotFoundError("lint-imports not found: install the dev extra (pip install -e '.[dev]')")
    env = {**os.environ, "PYTHONPATH": str(stage)}
    # cwd = the staged tree: lint-imports puts the working directory first on sys.path.
    return subprocess.run([exe, "--no-cache", str(PYPROJECT), *args], cwd=stage, env=env, check=False, **kwargs)


def main(argv: list[str]) -> int:
    if lint_imports_exe() is None:
        print("lint-imports not found: install the dev extra (pip install -e '.[dev]')", file=sys.stderr)
        return 3
    with tempfile.TemporaryDirectory(prefix="nash-lint-imports-") as tmp:
        stage_packages(Path(tmp))
        return run_staged(Path(tmp), argv).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
