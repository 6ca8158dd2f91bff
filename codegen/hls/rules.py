"""Checker for the synthesizability rules of ``docs/hls-coding-rules.md`` over generated (synthesized) sources.

A lexical checker, not a compiler: it knows the shapes of code the templates emit and flags departures. Every rule
has an id used in the messages and in the document: R1..R8 (synthesizability, per file) and R9..R14 (the burst,
interface and DATAFLOW performance rules of UG1399 / UG1448, over a whole project, because m_axi pointers are
followed from the top function's INTERFACE pragmas through the calls).
"""

from __future__ import annotations

import re
from pathlib import Path

from nash.codegen.hls.cpp_scan import FOR, FUNC, Violation, line_of, matching, strip_comments
from nash.codegen.hls.perf_rules import check_blackboxes, check_performance, check_tcl

# R1 no dynamic memory; R2 no std containers / strings / streams / exceptions / stdio; R3 integer only.
_FORBIDDEN = [
    ("R1", re.compile(r"\b(new|delete|malloc|calloc|realloc|free|alloca)\b\s*[\[(]?"), "dynamic memory"),
    ("R2", re.compile(r"#include\s*<(vector|map|list|deque|set|string|iostream|sstream|fstream|memory|functional|"
                      r"unordered_map|array|cstdio|stdio\.h|cstdlib|stdlib\.h)>"), "standard library header"),
    ("R2", re.compile(r"\bstd::(vector|map|list|deque|set|string|unique_ptr|shared_ptr|function|cout|cerr)\b"),
     "standard container / stream"),
    ("R2", re.compile(r"\b(throw|try|catch|goto|printf|fprintf|puts)\b"), "exceptions / goto / stdio"),
    ("R3", re.compile(r"\b(float|double)\b"), "floating point"),
]
_STATIC_BOUND = re.compile(r"^\s*\w+\s*<=?\s*([A-Z_][A-Z0-9_]*|\d+|nash::[A-Z_][A-Z0-9_]*)\s*$")


def check_source(path: Path, text: str | None = None, require_labels: bool = True) -> list[Violation]:
    """Violations in one synthesized source file."""
    raw = Path(path).read_text() if text is None else text
    code = strip_comments(raw)
    name = Path(path).name
    out: list[Violation] = []
    for rule, pat, what in _FORBIDDEN:
        for m in pat.finditer(code):
            out.append(Violation(rule, name, line_of(code, m.start()), f"{what}: '{m.group(0).strip()}'"))
    # R4 no recursion: a function body does not call the function itself (a namespace-qualified call such as
    # nash::requant inside a local requant is another function).
    for m in FUNC.finditer(code):
        fn = m.group(1)
        if fn in ("if", "for", "while", "switch"):
            continue
        body = code[m.end() - 1:matching(code, m.end() - 1) + 1]
        if re.search(rf"(?<!::)\b{re.escape(fn)}\s*(<[^>]*>)?\s*\(", body[1:]):
            out.append(Violation("R4", name, line_of(code, m.start()), f"function {fn} calls itself (recursion)"))
    # R5-R8: loops. A loop that calls a function of this file containing loops, directly or through its callees
    # (e.g. a DATAFLOW region calling its processes), is not innermost (the callees' loops carry the pragmas).
    bodies: dict[str, str] = {}  # function name -> its bodies (overloads of one name together)
    for m in FUNC.finditer(code):
        bodies[m.group(1)] = bodies.get(m.group(1), "") + code[m.end() - 1:matching(code, m.end() - 1) + 1]
    looping = {fn for fn, body in bodies.items() if FOR.search(body)}
    grown = True
    while grown:
        grown = False
        for fn, body in bodies.items():
            if fn not in looping and any(re.search(rf"\b{re.escape(c)}\s*(<[^>]*>)?\s*\(", body) for c in looping):
                looping.add(fn)
                grown = True
    calls = re.compile(rf"\b({'|'.join(map(re.escape, sorted(looping)))})\s*\(") if looping else None
    for m in FOR.finditer(code):
        ln = line_of(code, m.start())
        cond = m.group(2)
        brace = m.end() - 1
        body = code[brace:matching(code, brace) + 1]
        head = "\n".join(body.splitlines()[1:4])  # pragmas directly after the loop header
        pre = code[:m.start()].rstrip().splitlines()
        static = bool(_STATIC_BOUND.match(cond))
        unrolled = "#pragma HLS UNROLL" in head
        pipelined = "#pragma HLS PIPELINE" in head
        if require_labels and not (pre and re.fullmatch(r"\s*\w+:\s*", pre[-1])):
            out.append(Violation("R5", name, ln, "loop without a label"))
        if unrolled and not static:
            out.append(Violation("R6", name, ln, f"unrolled loop with a non-static bound '{cond.strip()}'"))
        if not static and "loop_tripcount" not in head:
            out.append(Violation("R7", name, ln, f"variable-bound loop '{cond.strip()}' without loop_tripcount"))
        inner = FOR.search(body[1:]) is not None or (calls is not None and calls.search(body) is not None)
        if not inner and not (unrolled or pipelined) and not _inside_pipelined(code, m.start()):
            out.append(Violation("R8", name, ln, "innermost loop neither pipelined nor unrolled"))
    return out


def _inside_pipelined(code: str, pos: int) -> bool:
    """True when an enclosing loop (or function) is pipelined (its inner loops are unrolled by the tool)."""
    for m in FOR.finditer(code[:pos]):
        end = matching(code, m.end() - 1)
        if end > pos:
            head = "\n".join(code[m.end() - 1:end].splitlines()[1:4])
            if "#pragma HLS PIPELINE" in head:
                return True
    for m in FUNC.finditer(code[:pos]):
        end = matching(code, m.end() - 1)
        if end > pos:
            head = "\n".join(code[m.end() - 1:end].splitlines()[1:6])
            if "#pragma HLS PIPELINE" in head:
                return True
    return False


def synthesized_files(project_dir: Path) -> list[Path]:
    """The sources Vitis HLS synthesizes: everything under src/ (the testbench and compat shims are excluded).

    The PE-array C models under src/pe/ are included (the HLS-path header only; blackbox C models and ctypes
    wrappers are not synthesized).
    """
    src = Path(project_dir) / "src"
    files = sorted(p for p in src.glob("*") if p.suffix in (".h", ".cpp"))
    files += sorted(p for p in (src / "pe").glob("*.h") if not p.name.endswith("_bb.h"))
    return files


def check_project(project_dir: Path) -> list[Violation]:
    """R1-R8 over every synthesized source, then the performance rules R9-R14 (sources and ``run_hls.tcl``)."""
    out = []
    for f in synthesized_files(project_dir):
        # Loop labels are this codegen's convention; the PE-array headers (another template family) are exempt.
        out += check_source(f, require_labels=f.parent.name != "pe")
    return out + check_project_performance(project_dir)


def check_project_performance(project_dir: Path) -> list[Violation]:
    """R9-R15 over a rendered project: its synthesized sources, its blackbox prototypes and ``run_hls.tcl``."""
    project_dir = Path(project_dir)
    src = project_dir / "src"
    files = {f.relative_to(src).as_posix(): f.read_text() for f in synthesized_files(project_dir)}
    out = check_performance(files)
    pe = src / "pe"  # R15: the blackbox JSONs and their prototypes (the _bb.h headers are not synthesized)
    protos = {f.relative_to(src).as_posix(): f.read_text() for f in sorted(pe.glob("*_bb.h"))}
    out += check_blackboxes(files | protos, {f.name: f.read_text() for f in sorted(pe.glob("*.json"))})
    tcl = project_dir / "run_hls.tcl"
    return out + check_tcl(tcl.name, tcl.read_text() if tcl.exists() else "")
