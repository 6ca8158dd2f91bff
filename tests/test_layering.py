"""The layer rule: the lower layers import without torch, and the import-linter contracts hold (and are not vacuous)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from helpers import REPO, load_script

# Packages that must import without torch: codegen (csim library loader included), the integer model and reference,
# the model-file core, the accelerator model and the board runtime. Every submodule is imported, found by walking the
# packages, so a new module is covered without editing this list.
TORCH_FREE = ["nash.codegen", "nash.frontend.integer", "nash.frontend.core", "nash.frontend.accel", "nash.board"]

_IMPORT_ALL = textwrap.dedent("""
    import importlib, pkgutil, sys
    loaded = []
    for pkg in sys.argv[1:]:
        mod = importlib.import_module(pkg)
        names = [pkg] + [m.name for m in pkgutil.walk_packages(mod.__path__, pkg + ".")]
        for name in names:
            importlib.import_module(name)
            loaded.append(name)
            if "torch" in sys.modules:
                sys.exit(f"importing {name} loaded torch")
    print("\\n".join(loaded))
""")


def _lint_tool():
    return load_script("tools/lint_imports.py")


def test_lower_layers_import_without_torch():
    # A fresh interpreter: this test process has torch loaded already.
    r = subprocess.run([sys.executable, "-c", _IMPORT_ALL, *TORCH_FREE], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr or r.stdout
    loaded = set(r.stdout.split())
    for name in ("nash.codegen.hls.render", "nash.codegen.hls.project", "nash.codegen.csim.run",
                 "nash.codegen.rtl.pe_arrays", "nash.codegen.vivado.hls_tool", "nash.frontend.integer.model",
                 "nash.frontend.integer.weights_io", "nash.frontend.core.model_file", "nash.frontend.accel.search",
                 "nash.frontend.accel.schedule", "nash.board"):
        assert name in loaded, f"{name} was not imported by the walk"


@pytest.fixture(scope="module")
def lint_tool():
    tool = _lint_tool()
    if tool.lint_imports_exe() is None:
        pytest.skip("lint-imports is not installed (it is in the dev extra: pip install -e '.[dev]')")
    return tool


def test_import_contracts_hold(lint_tool, tmp_path):
    lint_tool.stage_packages(tmp_path)
    r = lint_tool.run_staged(tmp_path, ["--no-logo"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken." in r.stdout and "BROKEN" not in r.stdout


@pytest.mark.parametrize("module,source,contract", [
    ("nash/board/_probe.py", "import torch\n", "Torch-free lower layers"),
    ("nash/board/_probe.py", "import nash.frontend.core.graph\n", "The board runtime imports only numpy"),
    ("nash/frontend/core/_probe.py", "def f():\n    from nash.frontend.models import convert\n", "Layers"),
    ("nash/frontend/models/_probe.py", "import nash.frontend.nas.search_space\n", "Layers"),
    ("nash/codegen/hls/_probe.py", "import nash.frontend.models.convert\n", "Torch-free lower layers"),
])
def test_import_contracts_catch_a_violation(lint_tool, tmp_path, module, source, contract):
    """A forbidden import (a lazy one too) added to the staged tree breaks the contract that forbids it."""
    lint_tool.stage_packages(tmp_path)
    (tmp_path / module).write_text(source)
    r = lint_tool.run_staged(tmp_path, ["--no-logo"], capture_output=True, text=True)
    assert r.returncode == 1, r.stdout + r.stderr
    probe = module.removesuffix(".py").replace("/", ".")
    broken = r.stdout.split("Broken contracts", 1)[1]
    assert contract in broken and probe in broken, r.stdout
