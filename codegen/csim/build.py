"""g++ builds of a rendered project: the standalone csim executable and the shared library (ctypes entry points).

Both link the same objects (compiled once with -fPIC). Builds are cached by a hash of the rendered sources and the
compiler command line, in ``<cache>/<hash>/``; the cache folder is ``$NASH_BUILD_CACHE`` or ``<project>/build``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from nash.codegen.hls.render import SRC_FILES, TB_FILES, Project
from nash.codegen.rtl.pe_arrays import find_ap_types
from nash.frontend.core.atomic_io import atomic_write_text
from nash.frontend.core.errors import NashError, ToolMissingError

# Loop labels are Vitis HLS practice (reports, pragmas by name): -Wno-unused-label keeps the log readable.
CXXFLAGS = ("-std=c++14", "-O2", "-Wall", "-Wextra", "-Wno-unknown-pragmas", "-Wno-unused-label", "-fPIC")


class BuildError(NashError, RuntimeError):
    """g++ failed on the rendered sources: a fault of the generated code, not of the user's input (exit code 1).

    The message is one line (the first compiler error and where the whole output was written); ``output`` holds the
    compiler's full diagnostics.
    """

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


class CompilerMissingError(ToolMissingError, BuildError):
    """No g++ (or no ap_int.h): the build cannot start (exit code 3)."""


@dataclass(frozen=True)
class Build:
    exe: Path
    lib: Path
    cached: bool
    seconds: float

    @property
    def warnings(self) -> str:
        """Compiler diagnostics of the build (empty when g++ printed nothing)."""
        log = self.exe.parent / "build.log"
        return log.read_text() if log.exists() else ""


def gxx() -> str:
    """The C++ compiler: ``$CXX`` when set, else g++ on PATH (:class:`CompilerMissingError` when neither runs)."""
    cxx = os.environ.get("CXX")
    if cxx:
        if shutil.which(cxx) is None:
            raise CompilerMissingError(f"CXX={cxx}: no such compiler (unset CXX to use g++ from PATH)")
        return cxx
    exe = shutil.which("g++")
    if not exe:
        raise CompilerMissingError("g++ not found on PATH: C simulation needs a C++14 compiler (apt-get install g++)")
    return exe


def ap_types_dir() -> Path:
    """Folder with Xilinx's ``ap_int.h`` for g++ builds (the engines' 128-bit DDR words and contract-width requant,
    the RTL blackboxes' C models), or a clear error."""
    d = find_ap_types()
    if d is None:
        raise CompilerMissingError("C simulation needs Xilinx's ap_int.h (nash::word_t is ap_uint<128>); install "
                                   "the hls4ml wheel's copy (pip install --no-deps hls4ml==1.3.0; `make install` does) "
                                   "or set NASH_AP_TYPES to a folder holding ap_int.h")
    return d


def cache_root(project: Project) -> Path:
    env = os.environ.get("NASH_BUILD_CACHE")
    return Path(env) if env else project.out / "build"


def build_key(project: Project, compiler: str, flags: tuple[str, ...] = CXXFLAGS) -> str:
    h = hashlib.sha256()
    h.update(project.sources_hash.encode())
    h.update(" ".join((compiler, *flags)).encode())
    return h.hexdigest()[:16]


def _run(cmd: list[str], cwd: Path) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        first = next((ln for ln in proc.stderr.splitlines() if "error" in ln), proc.stderr.strip()[:300])
        raise BuildError(f"g++ exited with code {proc.returncode} ({' '.join(cmd)}): {first.strip()}", proc.stderr)
    return proc.stderr


def build(project: Project, jobs: int = 2, defines: tuple[str, ...] = ()) -> Build:
    """Compile ``project`` (or reuse a cached build of identical sources). ``defines``: extra ``-D`` macros, e.g.
    ``("NASH_NO_CYCLES",)`` to compile the code-derived cycle counters out."""
    import time

    t0 = time.perf_counter()
    compiler = gxx()
    flags = (*CXXFLAGS, *(f"-D{d}" for d in defines))
    dest = (cache_root(project) / build_key(project, compiler, flags)).resolve()  # g++ runs in another cwd
    exe, lib = dest / "nash_csim", dest / "libnash_csim.so"
    if exe.exists() and lib.exists():
        return Build(exe, lib, True, time.perf_counter() - t0)
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".tmp-", dir=dest.parent))
    try:
        out = project.out.resolve()
        inc = [f"-I{out / 'src'}", f"-I{out / 'tb'}", f"-isystem{out / 'compat'}",
               f"-DNASH_TB_DATA=\"{out / 'tb_data'}\""]
        inc.append(f"-isystem{ap_types_dir()}")  # ap_int.h: nash::word_t, the contract-width requant
        srcs = ([out / "src" / f for f in SRC_FILES] + [out / f for f in project.pe.csim_sources]
                + [out / f for f in TB_FILES])
        objs = [work / (s.stem + ".o") for s in srcs]
        cmds = [[compiler, *flags, *inc, "-c", str(s), "-o", str(o)] for s, o in zip(srcs, objs, strict=True)]
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            logs = list(pool.map(lambda c: _run(c, work), cmds))
        lib_objs = [str(o) for o in objs if o.stem != "testbench"]
        logs.append(_run([compiler, "-shared", *lib_objs, "-o", str(work / lib.name)], work))
        logs.append(_run([compiler, *[str(o) for o in objs], "-o", str(work / exe.name)], work))
        (work / "build.log").write_text("".join(logs))
        if dest.exists():  # another process finished the same build first
            shutil.rmtree(work, ignore_errors=True)
        else:
            for o in objs:
                o.unlink()
            os.replace(work, dest)
    except BuildError as e:
        if not e.output:
            raise
        log = project.out / "build_error.log"  # the whole diagnostics; the message stays one line
        atomic_write_text(log, e.output)
        raise BuildError(f"{e}; full compiler output in {log}", e.output) from None
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return Build(exe, lib, False, time.perf_counter() - t0)
