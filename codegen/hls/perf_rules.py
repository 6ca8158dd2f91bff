"""The performance rules R9-R15 of ``docs/hls-coding-rules.md``: bursts, wide m_axi words, DATAFLOW form, Tcl
settings, narrow RTL-blackbox ports.

Lexical like R1-R8 (``rules.py``), but over a whole project: the m_axi pointers are the top function's
``#pragma HLS INTERFACE m_axi`` ports, followed through calls (argument -> parameter, same file first) and local pointer
aliases. A *burst region* is the innermost enclosing loop that is not fully unrolled; the accesses of a called function
outside its own loops count as accesses of the caller's region at the call when the callee is a helper (no loop that is
not fully unrolled, no DATAFLOW, nor in anything it calls): such helpers are inlined into the caller's loop.

- R9  no conditional m_axi access in a burst region (under ``if``/``else``/``switch`` or a ``?:`` operand).
- R10 per region, at most one access stream per bundle and direction (a stream: one pointer at one index expression).
- R11 sequential addresses: the index is ``i`` or ``invariant + i``, ``i`` the region loop's unit-step induction
      variable or a counter the loop increments by one; every other term is loop-invariant. A manual-burst port
      (``hls::burst_maxi<T>``, UG1399 "Using Manual Burst") is read / written word by word of the run its
      ``read_request`` / ``write_request`` opened: sequential by construction (and R9 does not apply), but a request of
      one word is flagged (one burst per word). R10 counts its reads / writes as one stream per port.
- R12 every m_axi port is a wide word (>= 128 bits: ``ap_uint<128>``, ``hls::vector<int8_t, 16>``, a typedef of one).
- R13 a DATAFLOW region holds only process calls, channel declarations and pragmas; each stream / array channel
      declared in it has one writing and one reading process.
- R14 ``run_hls.tcl``: ``config_interface -m_axi_alignment_byte_size`` >= 16 and a non-zero ``-m_axi_latency``.
- R15 no argument of an RTL-blackbox function (the ``c_function_name`` of a blackbox JSON) is an ``ap_[u]int`` wider
      than 1024 bits (ap_int's default ``AP_INT_MAX_W``): the PE arrays keep their weight tile (weight-stationary)
      instead of taking it as one multi-kilobit word per call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from nash.codegen.hls.cpp_scan import FOR, FUNC, Violation, line_of, matching, strip_comments

WIDE_BITS = 128  # one m_axi beat of the KV260's 128-bit HP ports
BLACKBOX_MAX_BITS = 1024  # ap_int's default AP_INT_MAX_W: the widest blackbox argument R15 accepts
MIN_ALIGNMENT_BYTES = 16

_KEYWORDS = {"if", "for", "while", "switch", "return", "sizeof", "else", "do", "case", "static_cast",
             "reinterpret_cast", "const_cast"}
_CALL = re.compile(r"(?<![\w.>])((?:\w+::)*\w+)\s*(?:<[^;{}()]*?>)?\s*\(")
_M_AXI = re.compile(r"#pragma\s+HLS\s+INTERFACE\b([^\n]*)", re.I)
_DATAFLOW = re.compile(r"#pragma\s+HLS\s+DATAFLOW\b", re.I)
_INT_BITS = {"char": 8, "int8_t": 8, "uint8_t": 8, "short": 16, "int16_t": 16, "uint16_t": 16, "int": 32,
             "unsigned": 32, "int32_t": 32, "uint32_t": 32, "long": 64, "int64_t": 64, "uint64_t": 64, "bool": 1}
_STREAM_TYPE = re.compile(r"^(?:static\s+)?hls::(?:stream|stream_of_blocks)\s*<")


@dataclass
class _Param:
    name: str
    type: str
    pointer: bool  # a pointer, reference or array parameter (may carry an m_axi pointer)


@dataclass
class _Fn:
    name: str
    file: str
    code: str  # the file's text, comments blanked
    start: int
    open: int  # position of the body's '{'
    close: int
    params: list[_Param]
    ptrs: dict[str, frozenset[str]] = field(default_factory=dict)  # m_axi pointer name -> bundles

    def line(self, pos: int) -> int:
        return line_of(self.code, pos)


@dataclass
class _Access:
    ptr: str
    bundles: frozenset[str]
    write: bool
    index: str
    pos: int  # in the function that holds the region (the call for an inlined access)
    conditional: bool
    via: str = ""  # callee name for an access inlined from a call
    manual: bool = False  # a read() / write() of a manual-burst port (hls::burst_maxi): its request fixes the run


def _split_top(text: str, sep: str = ",") -> list[str]:
    """``text`` split at ``sep`` outside (), [], {} and <> nesting."""
    out, depth, cur = [], 0, []
    for ch in text:
        if ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            depth -= 1
        if ch == sep and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return [t.strip() for t in out if t.strip()]


def _params(text: str) -> list[_Param]:
    out = []
    for p in _split_top(text):
        p = p.split("=")[0].strip()
        m = re.match(r"^(.*?)(\w+)\s*((?:\[[^\]]*\])*)$", p, re.S)
        if not m or not m.group(1).strip():
            continue
        typ = m.group(1).strip()
        out.append(_Param(m.group(2), typ, "*" in typ or "&" in typ or bool(m.group(3)) or "burst_maxi" in typ))
    return out


def _functions(files: Mapping[str, str]) -> list[_Fn]:
    fns = []
    for name, text in files.items():
        code = strip_comments(text)
        for m in FUNC.finditer(code):
            if m.group(1) in _KEYWORDS:
                continue
            open_ = m.end() - 1
            fns.append(_Fn(m.group(1), name, code, m.start(), open_, matching(code, open_), _params(m.group(2))))
    return fns


def _resolve(fns: list[_Fn], caller: _Fn, name: str) -> list[_Fn]:
    """Definitions a call of ``name`` in ``caller`` reaches: the caller's file first (anonymous namespaces)."""
    name = name.split("::")[-1]
    same = [f for f in fns if f.name == name and f.file == caller.file]
    return same or [f for f in fns if f.name == name]


def _calls(fn: _Fn, fns: list[_Fn]):
    """(position, callee, argument texts) of every call in ``fn``'s body to a function of the project."""
    body = fn.code[fn.open + 1:fn.close]
    for m in _CALL.finditer(body):
        if m.group(1) in _KEYWORDS:
            continue
        callees = _resolve(fns, fn, m.group(1))
        if not callees:
            continue
        open_ = fn.open + 1 + m.end() - 1
        args = _split_top(fn.code[open_ + 1:matching(fn.code, open_, "(", ")")])
        for c in callees:
            yield fn.open + 1 + m.start(), c, args


def _arg_pointer(arg: str, fn: _Fn) -> str | None:
    """The m_axi pointer an argument passes (``p``, ``p + off``, ``&p[i]``), if any."""
    m = re.match(r"^[&(\s]*(\w+)\s*(?:$|[+\-\[)])", arg)
    return m.group(1) if m and m.group(1) in fn.ptrs else None


def _ports(fns: list[_Fn]) -> list[tuple[_Fn, _Param, str, int]]:
    """(function, parameter, bundle, pragma position) of every ``INTERFACE m_axi`` pragma."""
    out = []
    for fn in fns:
        for m in _M_AXI.finditer(fn.code, fn.open, fn.close):
            opts = m.group(1)
            if not re.search(r"(?:^|\s)(?:mode\s*=\s*)?m_axi\b", opts, re.I):
                continue
            port = re.search(r"\bport\s*=\s*(\w+)", opts, re.I)
            bundle = re.search(r"\bbundle\s*=\s*(\w+)", opts, re.I)
            param = next((p for p in fn.params if port and p.name == port.group(1)), None)
            if param is not None:
                out.append((fn, param, bundle.group(1) if bundle else "<default>", m.start()))
    return out


def _bind(fns: list[_Fn]) -> None:
    """Fill every function's m_axi pointers: the ports, then through calls and local pointer aliases (fixpoint)."""
    for fn, param, bundle, _ in _ports(fns):
        fn.ptrs[param.name] = fn.ptrs.get(param.name, frozenset()) | {bundle}
    alias = re.compile(r"[\w:<>]+\s*\*\s*(?:const\s+)?(\w+)\s*=\s*([^;]+);")
    changed = True
    while changed:
        changed = False
        for fn in fns:
            for m in alias.finditer(fn.code, fn.open, fn.close):
                bundles = frozenset().union(*(fn.ptrs[w] for w in re.findall(r"\w+", m.group(2)) if w in fn.ptrs))
                if bundles and not bundles <= fn.ptrs.get(m.group(1), frozenset()):
                    fn.ptrs[m.group(1)] = fn.ptrs.get(m.group(1), frozenset()) | bundles
                    changed = True
            for _, callee, args in _calls(fn, fns):
                for param, arg in zip(callee.params, args, strict=False):
                    ptr = _arg_pointer(arg, fn)
                    if ptr and param.pointer and not fn.ptrs[ptr] <= callee.ptrs.get(param.name, frozenset()):
                        callee.ptrs[param.name] = callee.ptrs.get(param.name, frozenset()) | fn.ptrs[ptr]
                        changed = True


def _loops(fn: _Fn) -> list[tuple[re.Match, int, int]]:
    """(match, body open, body close) of every for loop in ``fn``."""
    out = []
    for m in FOR.finditer(fn.code, fn.open, fn.close):
        out.append((m, m.end() - 1, matching(fn.code, m.end() - 1)))
    return out


def _fully_unrolled(fn: _Fn, open_: int, close: int) -> bool:
    head = "\n".join(fn.code[open_:close].splitlines()[1:4])
    return bool(re.search(r"#pragma\s+HLS\s+UNROLL\b(?![^\n]*factor)", head, re.I))


def _region(fn: _Fn, pos: int) -> tuple[re.Match, int, int] | None:
    """The burst region of ``pos``: the innermost enclosing loop that is not fully unrolled."""
    best = None
    for m, open_, close in _loops(fn):
        if open_ < pos < close and not _fully_unrolled(fn, open_, close) and (best is None or open_ > best[1]):
            best = (m, open_, close)
    return best


def _controlled(code: str, kw: re.Match) -> tuple[int, int]:
    """Extent of the statement an ``if``/``else``/``switch``/``while`` keyword controls."""
    i = kw.end()
    if kw.group(1) != "else":
        i = matching(code, code.index("(", i), "(", ")") + 1
    while i < len(code) and code[i].isspace():
        i += 1
    if i < len(code) and code[i] == "{":
        return i, matching(code, i)
    nested = re.compile(r"(if|switch|while)\b").match(code, i)
    if nested:  # else if (..) {..}, if (..) while (..) ..
        return i, _controlled(code, nested)[1]
    depth = 0
    for j in range(i, len(code)):
        depth += code[j] in "([{"
        depth -= code[j] in ")]}"
        if (code[j] == ";" and depth <= 0) or (code[j] == "}" and depth == 0):
            return i, j
    return i, len(code)


def _conditional(code: str, lo: int, pos: int) -> bool:
    """True when ``pos`` is under an if/else/switch/while opened after ``lo`` or in a ``?:`` operand."""
    for kw in re.finditer(r"\b(if|else|switch|while)\b", code[:pos]):
        if kw.start() > lo:
            a, b = _controlled(code, kw)
            if a <= pos <= b:
                return True
    start = max(code.rfind(c, lo, pos) for c in ";{}") + 1
    stack: list[list[bool]] = [[]]
    for i in range(start, pos):
        ch = code[i]
        if ch in "([":
            stack.append([])
        elif ch in ")]" and len(stack) > 1:
            stack.pop()
        elif ch == "?":
            stack[-1].append(True)
    return any(any(level) for level in stack)


def _direct_accesses(fn: _Fn) -> list[_Access]:
    out = []
    for ptr, bundles in fn.ptrs.items():
        for m in re.finditer(rf"(?<![\w.>:])({re.escape(ptr)})\s*(\[|\+\+)", fn.code[:fn.close]):
            if m.start() < fn.open:
                continue
            if m.group(2) == "++":  # *p++: a pointer stepping by one element
                index, after = "__seq__", m.end()
            else:
                end = matching(fn.code, m.end() - 1, "[", "]")
                index, after = fn.code[m.end():end], end + 1
            rest = fn.code[after:after + 3].lstrip()
            write = bool(re.match(r"(=(?!=)|[-+*/%&|^]=|<<=|>>=)", rest)) or \
                fn.code[max(fn.open, m.start() - 2):m.start()] in ("++", "--")
            compound = bool(re.match(r"([-+*/%&|^]=|<<=|>>=)", rest))
            for w in ({True, False} if compound else {write}):
                out.append(_Access(ptr, bundles, w, index, m.start(), False))
    for a in out:
        region = _region(fn, a.pos)
        a.conditional = _conditional(fn.code, region[1] if region else fn.open, a.pos)
    # manual bursts: a word of the run its read_request / write_request opened (sequential by construction; reading
    # or writing it under a condition does not break the burst)
    for ptr in _manual_ports(fn):
        for m in re.finditer(rf"(?<![\w.>:]){re.escape(ptr)}\s*\.\s*(read|write)\s*(?:<[^;()]*>)?\s*\(",
                             fn.code[:fn.close]):
            if m.start() > fn.open:
                out.append(_Access(ptr, fn.ptrs[ptr], m.group(1) == "write", "__seq__", m.start(), False, manual=True))
    return out


def _manual_ports(fn: _Fn) -> list[str]:
    """The m_axi pointers of ``fn`` that are manual-burst ports (parameters of type ``hls::burst_maxi<T>``)."""
    return [p.name for p in fn.params if "burst_maxi" in p.type and p.name in fn.ptrs]


def _request_rules(fn: _Fn) -> list[Violation]:
    """R11 for manual bursts: a request of one word (``read_request(off, 1)``) is a one-beat burst per word."""
    out = []
    for ptr in _manual_ports(fn):
        for m in re.finditer(rf"(?<![\w.>:]){re.escape(ptr)}\s*\.\s*(read|write)_request\s*\(", fn.code):
            if not fn.open < m.start() < fn.close:
                continue
            args = _split_top(fn.code[m.end():matching(fn.code, m.end() - 1, "(", ")")])
            if len(args) == 2 and re.fullmatch(r"\(*\s*1[uU]?\s*\)*", args[1]):
                out.append(Violation("R11", fn.file, fn.line(m.start()),
                                     f"{m.group(1)}_request of one word on manual-burst port '{ptr}': every word is "
                                     f"its own burst; request the whole run (base, length) before its words"))
    return out


def _substitute(index: str, subst: dict[str, str]) -> str:
    """A callee's index expression in the caller's terms: every parameter name replaced by its (argument)."""
    return re.sub(r"\b\w+\b", lambda w: f"({subst[w.group(0)]})" if w.group(0) in subst else w.group(0), index)


def _loose_accesses(fn: _Fn, fns: list[_Fn], seen: frozenset[str] = frozenset()) -> list[_Access]:
    """Accesses of ``fn`` outside its own burst regions (they run in the caller's region), direct and inlined."""
    out = [a for a in _direct_accesses(fn) if _region(fn, a.pos) is None]
    return out + [a for a in _inlined(fn, fns, seen) if _region(fn, a.pos) is None]


def _has_loops(fn: _Fn, fns: list[_Fn], seen: frozenset[str] = frozenset()) -> bool:
    """True when ``fn`` or a function it calls has a loop that is not fully unrolled, or a DATAFLOW region: such a
    function is a process or a loop nest of its own, not a helper inlined into the caller's burst region."""
    if _DATAFLOW.search(fn.code, fn.open, fn.close) or any(
            not _fully_unrolled(fn, o, c) for _, o, c in _loops(fn)):
        return True
    for _, callee, _ in _calls(fn, fns):
        key = f"{callee.file}:{callee.name}"
        if key not in seen and _has_loops(callee, fns, seen | {key}):
            return True
    return False


def _inlined(fn: _Fn, fns: list[_Fn], seen: frozenset[str] = frozenset()) -> list[_Access]:
    """The loose accesses of every function ``fn`` calls, at the call, in ``fn``'s pointers and index terms."""
    out = []
    for pos, callee, args in _calls(fn, fns):
        key = f"{callee.file}:{callee.name}"
        if key in seen or _has_loops(callee, fns, seen | {key}):
            continue
        region = _region(fn, pos)
        cond = _conditional(fn.code, region[1] if region else fn.open, pos)
        subst = {p.name: a for p, a in zip(callee.params, args, strict=False)}
        for a in _loose_accesses(callee, fns, seen | {key}):
            ptr = _arg_pointer(subst.get(a.ptr, ""), fn)
            if ptr is None:
                continue
            index = _substitute(a.index, subst)
            out.append(_Access(ptr, fn.ptrs[ptr], a.write, index, pos, a.conditional or (cond and not a.manual),
                               a.via or callee.name, a.manual))
    return out


def _label(fn: _Fn, loop: re.Match) -> str:
    pre = fn.code[:loop.start()].rstrip().splitlines()
    m = re.fullmatch(r"\s*(\w+):\s*", pre[-1]) if pre else None
    return m.group(1) if m else f"at line {fn.line(loop.start())}"


def _unit_vars(fn: _Fn, loop: re.Match, open_: int, close: int) -> set[str]:
    """The loop's unit-step induction variable and the counters its body increments by one."""
    out = set()
    init = re.search(r"(\w+)\s*=\s*[^=]", loop.group(1))
    step = re.sub(r"\s", "", loop.group(3))
    if init and step in {f"++{init.group(1)}", f"{init.group(1)}++", f"{init.group(1)}+=1"}:
        out.add(init.group(1))
    body = fn.code[open_:close]
    for m in re.finditer(r"(?:\+\+\s*(\w+)|(\w+)\s*\+\+)", body):
        name = m.group(1) or m.group(2)
        n = re.escape(name)
        others = re.findall(rf"(?<![\w.]){n}\s*(?:[-+*/%&|^]?=(?!=)|--)|--\s*{n}\b", body)
        increments = list(re.finditer(rf"\+\+\s*{n}\b|(?<![\w.]){n}\s*\+\+", body))
        # a counter: incremented by one exactly once per iteration, unconditionally, and never assigned otherwise
        if not others and len(increments) == 1 and not _conditional(fn.code, open_, open_ + m.start()):
            out.add(name)
    return out


def _variant(fn: _Fn, loop: re.Match, open_: int, close: int) -> set[str]:
    """Identifiers that change inside the loop: its variable, and every name declared or assigned in its body."""
    body = fn.code[open_:close]
    names = set(re.findall(r"\b(\w+)\s*(?:[-+*/%&|^]?=(?!=)|<<=|>>=|\+\+|--)", loop.group(1) + ";" + loop.group(3)))
    names |= set(re.findall(r"(?<![\w.>])(\w+)\s*(?:\[[^\]]*\]\s*)*(?:[-+*/%&|^]?=(?!=)|<<=|>>=|\+\+|--)", body))
    names |= set(re.findall(r"(?:\+\+|--)\s*(\w+)", body))
    names |= set(re.findall(r"\bfor\s*\(\s*[\w:<>]+\s+(\w+)", body))
    return names


def _sum_terms(expr: str) -> list[tuple[str, str]]:
    """(sign, term) of a sum at the top level; parenthesized sums (and static_casts of them) are flattened."""
    expr = re.sub(r"static_cast\s*<[^<>]*(?:<[^<>]*>[^<>]*)*>\s*\(", "(", expr).strip()
    while expr.startswith("(") and matching(expr, 0, "(", ")") == len(expr) - 1:
        expr = expr[1:-1].strip()
    terms, depth, cur, sign = [], 0, [], "+"
    for i, ch in enumerate(expr):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        prev = expr[:i].rstrip()[-1:] if expr[:i].strip() else ""
        if ch in "+-" and depth == 0 and prev and prev not in "+-*/%(<>=&|^" and expr[i + 1:i + 2] != ch \
                and expr[i - 1:i] != ch:
            terms.append((sign, "".join(cur).strip()))
            cur, sign = [], ch
        else:
            cur.append(ch)
    terms.append((sign, "".join(cur).strip()))
    out = []
    for s, t in terms:
        t = re.sub(r"^static_cast\s*<[^<>]*(?:<[^<>]*>[^<>]*)*>\s*\(", "(", t)
        if s == "+" and t.startswith("(") and matching(t, 0, "(", ")") == len(t) - 1:
            out += _sum_terms(t)
        else:
            out.append((s, t))
    return out


def _sequential(index: str, unit: set[str], variant: set[str]) -> bool:
    if index == "__seq__":
        return True
    terms = _sum_terms(index)
    counters = [t for s, t in terms if s == "+" and re.sub(r"[()\s]", "", t) in unit]
    rest = [t for s, t in terms if not (s == "+" and re.sub(r"[()\s]", "", t) in unit)]
    if len(counters) != 1:
        return False
    return not any(set(re.findall(r"(?<![.>])\b([A-Za-z_]\w*)\b", t)) & variant for t in rest)


def _burst_rules(fn: _Fn, fns: list[_Fn]) -> list[Violation]:
    """R9-R11 over the burst regions of one function."""
    out = []
    accesses = _direct_accesses(fn) + _inlined(fn, fns)
    by_region: dict[int, list[_Access]] = {}
    loops = {}
    for a in accesses:
        region = _region(fn, a.pos)
        if region is not None:
            by_region.setdefault(region[1], []).append(a)
            loops[region[1]] = region
    for key, accs in sorted(by_region.items()):
        loop, open_, close = loops[key]
        label = _label(fn, loop)
        unit, variant = _unit_vars(fn, loop, open_, close), _variant(fn, loop, open_, close)

        def where(a: _Access) -> str:
            what = f"{'write' if a.write else 'read'} of m_axi pointer '{a.ptr}'"
            return what + (f" (through {a.via}())" if a.via else "")

        for a in accs:
            if a.conditional:
                out.append(Violation("R9", fn.file, fn.line(a.pos),
                                     f"conditional {where(a)} inside loop {label}: bursts need unconditional access"))
            if not _sequential(a.index, unit, variant):
                idx = re.sub(r"\s+", " ", a.index).strip()
                out.append(Violation("R11", fn.file, fn.line(a.pos),
                                     f"{where(a)} in loop {label} at index '{idx}': not base + i with i the loop "
                                     f"counter (stride 1)"))
        streams: dict[tuple[str, bool], dict[tuple[str, str], _Access]] = {}
        for a in accs:
            for b in a.bundles:
                streams.setdefault((b, a.write), {}).setdefault((a.ptr, re.sub(r"\s", "", a.index)), a)
        for (bundle, write), group in sorted(streams.items()):
            if len(group) > 1:
                first, *others = sorted(group.values(), key=lambda a: a.pos)
                names = ", ".join(sorted({f"'{a.ptr}'" for a in group.values()}))
                out.append(Violation("R10", fn.file, fn.line(others[0].pos),
                                     f"loop {label} {'writes' if write else 'reads'} {len(group)} m_axi streams of "
                                     f"bundle {bundle} ({names}): one pointer per bundle and direction per loop"))
    return out


def _typedefs(files: Mapping[str, str]) -> dict[str, str]:
    out = {}
    for text in files.values():
        code = strip_comments(text)
        for m in re.finditer(r"\btypedef\s+([^;]+?)\s+(\w+)\s*;", code):
            out[m.group(2)] = m.group(1)
        for m in re.finditer(r"\busing\s+(\w+)\s*=\s*([^;]+);", code):
            out[m.group(1)] = m.group(2)
    return out


def _bits(typ: str, typedefs: dict[str, str], depth: int = 0) -> int | None:
    """Width in bits of an element type (None when unknown)."""
    t = re.sub(r"\b(const|volatile|__restrict__|restrict|unsigned(?=\s+\w)|signed)\b|[*&]", " ", typ).strip()
    t = re.sub(r"\s+", " ", t)
    m = re.fullmatch(r"(?:hls::)?burst_maxi\s*<(.*)>", t)
    if m:
        return _bits(m.group(1), typedefs, depth)
    m = re.fullmatch(r"(?:ap_uint|ap_int)\s*<\s*(\d+)\s*>", t)
    if m:
        return int(m.group(1))
    m = re.fullmatch(r"hls::vector\s*<\s*(.+?)\s*,\s*(\d+)\s*>", t)
    if m:
        inner = _bits(m.group(1), typedefs, depth)
        return None if inner is None else inner * int(m.group(2))
    base = t.split("::")[-1]
    if base in _INT_BITS:
        return _INT_BITS[base]
    if base in typedefs and depth < 8:
        return _bits(typedefs[base], typedefs, depth + 1)
    return None


def _port_rules(fns: list[_Fn], typedefs: dict[str, str]) -> list[Violation]:
    """R12: every m_axi port carries a wide word."""
    out = []
    for fn, param, bundle, pos in _ports(fns):
        bits = _bits(param.type, typedefs)
        if bits is None or bits < WIDE_BITS:
            width = "unknown width" if bits is None else f"{bits} bits"
            out.append(Violation("R12", fn.file, fn.line(pos),
                                 f"m_axi port '{param.name}' (bundle {bundle}) has element type "
                                 f"'{re.sub(r'[*&]', '', param.type).strip()}' ({width}); use a word of >= "
                                 f"{WIDE_BITS} bits (nash::word_t, ap_uint<128>, hls::vector<int8_t, 16>)"))
    return out


def _statements(code: str, lo: int, hi: int):
    """(position, kind, text) of the top-level statements of ``code[lo:hi]`` (kind: 'pragma', 'control', 'block',
    'stmt')."""
    i = lo
    while i < hi:
        if code[i].isspace() or code[i] == ";":
            i += 1
            continue
        if code[i] == "#":
            end = code.find("\n", i)
            end = hi if end < 0 else end
            yield i, "pragma", code[i:end]
            i = end
            continue
        if code[i] == "{":
            end = matching(code, i)
            yield i, "block", code[i:end + 1]
            i = end + 1
            continue
        kw = re.match(r"(if|for|while|do|switch|return|goto|break|continue|throw|else)\b", code[i:hi])
        depth, j = 0, i
        while j < hi:
            ch = code[j]
            if ch in "([":
                depth += 1
            elif ch in ")]":
                depth -= 1
            elif ch == "{" and depth == 0 and kw:
                j = matching(code, j)
                break
            elif ch == ";" and depth == 0:
                break
            j += 1
        yield i, "control" if kw else "stmt", code[i:j + 1]
        i = j + 1


def _channel_roles(callee: _Fn, param: _Param, fns: list[_Fn], seen: frozenset[str] = frozenset()) -> set[str]:
    """'read' / 'write' uses of a channel parameter inside a process (and in what it passes the channel on to)."""
    body = callee.code[callee.open:callee.close]
    n = re.escape(param.name)
    roles = set()
    if re.search(rf"(?<![\w.]){n}\s*(?:\.\s*(?:write|write_nb)\s*\(|<<)", body):
        roles.add("write")
    if re.search(rf"(?<![\w.]){n}\s*(?:\.\s*(?:read|read_nb|empty)\s*\(|>>)", body):
        roles.add("read")
    if "stream" not in param.type:  # an array channel (PIPO): element writes and reads
        for m in re.finditer(rf"(?<![\w.]){n}\s*\[", body):
            end = m.end() - 1
            while end < len(body) and body[end] == "[":
                end = matching(body, end, "[", "]") + 1
                while end < len(body) and body[end].isspace():
                    end += 1
            roles.add("write" if re.match(r"[-+*/%&|^]?=(?!=)", body[end:end + 2]) else "read")
    for _, inner, args in _calls(callee, fns):
        key = f"{inner.file}:{inner.name}"
        for q, a in zip(inner.params, args, strict=False):
            if a.strip() == param.name and key not in seen:
                roles |= _channel_roles(inner, q, fns, seen | {key})
    return roles


def _dataflow_rules(fns: list[_Fn]) -> list[Violation]:
    """R13: canonical DATAFLOW regions."""
    out = []
    for fn in fns:
        for m in _DATAFLOW.finditer(fn.code, fn.open, fn.close):
            # the region: the innermost block holding the pragma (the function body, or a loop body)
            lo = max((o for _, o, c in _loops(fn) if o < m.start() < c), default=fn.open)
            hi = matching(fn.code, lo)
            channels: dict[str, tuple[int, list[tuple[str, set[str]]]]] = {}
            calls = []
            for pos, kind, text in _statements(fn.code, lo + 1, hi):
                flat = re.sub(r"\s+", " ", text).strip()
                call = re.fullmatch(r"((?:\w+::)*\w+)\s*(?:<[^;]*>)?\s*\((.*)\)\s*;", flat, re.S)
                decl = re.fullmatch(r"(static\s+)?(?:const\s+)?((?:\w+::)*\w+\s*(?:<.*>)?)\s+(\w+)\s*"
                                    r"((?:\[[^\]]*\])*)\s*(.*?);", flat, re.S)
                if kind == "pragma":
                    continue
                if kind == "stmt" and call and call.group(1) not in _KEYWORDS:
                    calls.append((pos, call.group(1), _split_top(call.group(2))))
                    continue
                if kind == "stmt" and decl and decl.group(2) not in _KEYWORDS:
                    stream = bool(_STREAM_TYPE.match(decl.group(2)))
                    init = decl.group(5).strip()
                    if (decl.group(1) and not stream) or (init and not (stream and init.startswith("("))):
                        out.append(Violation("R13", fn.file, fn.line(pos), f"DATAFLOW region of {fn.name}: "
                                             f"'{flat}' initializes a variable (only channel declarations)"))
                    if stream or decl.group(4):
                        channels[decl.group(3)] = (pos, [])
                    continue
                what = kind if kind != "stmt" else "statement"
                out.append(Violation("R13", fn.file, fn.line(pos), f"DATAFLOW region of {fn.name}: {what} "
                                     f"'{flat[:60]}' (only process calls and channel declarations)"))
            for _, name, args in calls:
                callees = _resolve(fns, fn, name)
                for arg_i, arg in enumerate(args):
                    a = arg.strip()
                    if a in channels:
                        roles = _channel_roles(callees[0], callees[0].params[arg_i], fns) if callees and \
                            arg_i < len(callees[0].params) else {"read", "write"}
                        channels[a][1].append((name, roles))
            for ch, (pos, uses) in channels.items():
                writers = [n for n, r in uses if "write" in r]
                readers = [n for n, r in uses if "read" in r]
                if len(writers) != 1 or len(readers) != 1 or set(writers) & set(readers):
                    out.append(Violation("R13", fn.file, fn.line(pos),
                                         f"DATAFLOW region of {fn.name}: channel '{ch}' has writers {writers} and "
                                         f"readers {readers} (one writing and one reading process)"))
    return out


def check_performance(files: Mapping[str, str]) -> list[Violation]:
    """R9-R13 over a project's synthesized sources, ``{file name: text}``."""
    fns = _functions(files)
    _bind(fns)
    out = []
    for fn in fns:
        out += _burst_rules(fn, fns) + _request_rules(fn)
    return out + _port_rules(fns, _typedefs(files)) + _dataflow_rules(fns)


def check_tcl(name: str, text: str) -> list[Violation]:
    """R14 over the text of ``run_hls.tcl``: the m_axi alignment and latency settings of ``config_interface``."""
    code = re.sub(r"#[^\n]*", "", text)
    lines = [(i + 1, ln) for i, ln in enumerate(code.splitlines()) if re.match(r"\s*config_interface\b", ln)]
    at = lines[0][0] if lines else 1
    opts = " ".join(ln for _, ln in lines)
    out = []
    align = re.findall(r"-m_axi_alignment_byte_size\s+(\d+)", opts)
    if not align or int(align[-1]) < MIN_ALIGNMENT_BYTES:
        got = align[-1] if align else "unset (1 in the Vivado IP flow)"
        out.append(Violation("R14", name, at, f"config_interface -m_axi_alignment_byte_size is {got}; needs >= "
                                              f"{MIN_ALIGNMENT_BYTES} for wide bursts"))
    latency = re.findall(r"-m_axi_latency\s+(\d+)", opts)
    if not latency or int(latency[-1]) == 0:
        got = latency[-1] if latency else "unset"
        out.append(Violation("R14", name, at, f"config_interface -m_axi_latency is {got}; set the DDR round trip "
                                              f"in cycles so the schedule hides it"))
    return out


def blackbox_functions(jsons: Mapping[str, str]) -> dict[str, str]:
    """``{c_function_name: JSON file name}`` of the RTL-blackbox descriptions ``{file name: text}`` (files that are
    not blackbox JSON are skipped)."""
    out = {}
    for name, text in jsons.items():
        try:
            data = json.loads(text)
        except ValueError:
            continue
        if isinstance(data, dict) and isinstance(data.get("c_function_name"), str):
            out[data["c_function_name"]] = name
    return out


def check_blackboxes(files: Mapping[str, str], jsons: Mapping[str, str]) -> list[Violation]:
    """R15 over the declarations and definitions of the blackbox functions the JSON files ``{name: text}`` name,
    found in ``files`` (``{file name: text}``, the blackbox prototypes included)."""
    boxes = blackbox_functions(jsons)
    out = []
    typedefs = _typedefs(files)
    for fname, text in files.items():
        code = strip_comments(text)
        for fn, js in boxes.items():
            for m in re.finditer(rf"\b{re.escape(fn)}\s*\(", code):
                before = code[:m.start()].rstrip()
                if not re.search(r"\bvoid$", before):  # a call, not a declaration
                    continue
                close = matching(code, m.end() - 1, "(", ")")
                for param in _params(code[m.end():close]):
                    bits = _bits(param.type, typedefs)
                    if bits is not None and bits > BLACKBOX_MAX_BITS:
                        out.append(Violation("R15", fname, line_of(code, m.start()),
                                             f"RTL blackbox {fn} ({js}): argument '{param.name}' is "
                                             f"'{re.sub(r'[&]', '', param.type).strip()}' ({bits} bits > "
                                             f"{BLACKBOX_MAX_BITS}); keep wide operands inside the RTL "
                                             f"(weight-stationary PE array) and pass narrow ports per call"))
    return out
