"""Find the Xilinx tools and the KV260 board files the bitstream flow needs, with their versions.

Each missing piece is a :class:`~nash.frontend.core.errors.ToolMissingError` (exit 3) whose one line names the tool,
the flow step that needs it and where to get it, so the flow stops before any step has run. Versions are read from
``<tool> -version`` (``vitis-run --version``); ``vitis-run`` is accepted from 2024.2 on (the release whose HLS mode
the flow drives through a generated Tcl file, since it takes no script arguments).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from nash.frontend.core.errors import ToolMissingError

VIVADO_URL = "AMD Vivado ML Edition 2022.1 or newer (https://www.xilinx.com/support/download.html)"
HLS_URL = "AMD Vitis HLS 2022.1 or newer, or Vitis 2024.2+ for vitis-run (https://www.xilinx.com/support/download.html)"
BOARD_STORE = ("the Vivado board store (Vivado: Tools > Vivado Store > Boards > Kria KV260), or a clone of "
               "https://github.com/Xilinx/XilinxBoardStore passed as --board-repo DIR")
BOARD_NAME = "kv260_som"
VITIS_RUN_MIN = (2024, 2)
VERSION_RE = re.compile(r"\bv?(20\d\d)\.(\d)")
BOARD_REPO_ENV = "NASH_BOARD_REPO"


@dataclass(frozen=True)
class Tool:
    """An executable found on PATH and the release it reported (None when its banner had no version)."""

    name: str
    path: str
    version: tuple[int, int] | None

    @property
    def version_text(self) -> str:
        return f"{self.version[0]}.{self.version[1]}" if self.version else "unknown"


@dataclass(frozen=True)
class BoardFiles:
    """The newest KV260 SOM board definition found: its repository root (for ``board.repoPaths``), version and file."""

    repo: Path
    version: str
    board_xml: Path


def parse_version(text: str) -> tuple[int, int] | None:
    """(year, release) of the first ``v2023.2``-like token of a tool's version banner."""
    m = VERSION_RE.search(text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def _version(path: str, flag: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run([path, flag], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_version(out.stdout + out.stderr)


def missing(tool: str, step: str, where: str) -> ToolMissingError:
    """The one-line error for a missing tool: what, for which step, where to get it."""
    return ToolMissingError(f"{tool} not found (needed by the '{step}' step of nash bitstream): install {where}, "
                            "source its settings64.sh so that it is on PATH, and run again")


def find_vivado(step: str = "vivado_project") -> Tool:
    """``vivado`` on PATH, with its version."""
    path = shutil.which("vivado")
    if not path:
        raise missing("vivado", step, VIVADO_URL)
    return Tool("vivado", path, _version(path, "-version"))


def find_hls(step: str = "hls") -> Tool:
    """The Vitis HLS front end: ``vitis_hls`` (classic, <= 2024.1) first, else ``vitis-run`` >= 2024.2."""
    path = shutil.which("vitis_hls")
    if path:
        return Tool("vitis_hls", path, _version(path, "-version"))
    path = shutil.which("vitis-run")
    if not path:
        raise missing("vitis_hls or vitis-run", step, HLS_URL)
    ver = _version(path, "--version")
    if ver is None or ver < VITIS_RUN_MIN:
        got = f"{ver[0]}.{ver[1]}" if ver else "an unknown version"
        raise ToolMissingError(f"vitis-run at {path} is {got} (needed by the '{step}' step of nash bitstream: its "
                               f"HLS mode is driven through a generated Tcl file from 2024.2 on): install {HLS_URL}")
    return Tool("vitis-run", path, ver)


def find_tclsh(step: str = "dry-run") -> Tool:
    """``tclsh`` (Debian package ``tcl``), for the dry run."""
    path = shutil.which("tclsh") or shutil.which("tclsh8.6")
    if not path:
        raise ToolMissingError(f"tclsh not found (needed by nash bitstream --{step}): install the Debian package "
                               "'tcl' (apt-get install -y tcl) and run again")
    return Tool("tclsh", path, None)


def board_search_roots(board_repo: str | os.PathLike | None = None, vivado: Tool | None = None) -> list[Path]:
    """Where KV260 board files may be: ``board_repo``, ``$NASH_BOARD_REPO`` (``:``-separated), the Vivado
    installation's board folders and the per-user board store of ``~/.Xilinx``."""
    roots = [Path(board_repo)] if board_repo else []
    roots += [Path(p) for p in os.environ.get(BOARD_REPO_ENV, "").split(os.pathsep) if p]
    install = os.environ.get("XILINX_VIVADO") or (str(Path(vivado.path).resolve().parent.parent) if vivado else "")
    if install:
        roots += [Path(install) / "data" / "boards" / "board_files", Path(install) / "data" / "xhub" / "boards"]
    roots.append(Path.home() / ".Xilinx")
    return roots


def _version_key(v: str) -> tuple:
    return tuple(int(p) if p.isdigit() else 0 for p in re.split(r"[._]", v))


def find_board_files(board_repo: str | os.PathLike | None = None, vivado: Tool | None = None,
                     step: str = "vivado_project") -> BoardFiles:
    """The newest ``kv260_som/<version>/board.xml`` under the search roots (:func:`board_search_roots`)."""
    roots = board_search_roots(board_repo, vivado)
    if board_repo and not Path(board_repo).is_dir():
        raise ToolMissingError(f"--board-repo {board_repo}: not a folder (the KV260 board files are needed by the "
                               f"'{step}' step of nash bitstream; get them from {BOARD_STORE})")
    found = []
    for root in roots:
        if root.is_dir():
            found += [(p.parent.name, root, p) for p in root.glob(f"**/{BOARD_NAME}/*/board.xml")]
    if not found:
        raise ToolMissingError(f"KV260 board files ({BOARD_NAME}/*/board.xml) not found under "
                               f"{', '.join(str(r) for r in roots)} (needed by the '{step}' step of nash bitstream): "
                               f"install them from {BOARD_STORE}")
    version, root, xml = max(found, key=lambda f: _version_key(f[0]))
    return BoardFiles(root, version, xml)
