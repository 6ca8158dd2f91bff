"""PE arrays: render the Verilog datapaths, their Vitis HLS RTL-blackbox JSON and the matching C++ C model.

One PE-array evaluation takes a Tn-vector of int8 activations ``x[n]`` and Tm x Tn weights and returns Tm partial sums
``psum[m] = sum_{n < Tn} f(x[n], w[m][n])`` (see ``docs/pe-arrays.md``):

* conv:  ``f = x * w`` (w int8; [-127, 127] by contract, -128 accepted),
* shift: ``f = sign * (x << (E - e))`` with the weight coded as (sign, e), e in [0, E] (E = ``exp_max``),
* adder: ``f = -|x - w|`` (w int8 in [-128, 127]).

Every engine exists as (1) a Verilog datapath module, (2) a synthesizable plain C++14 function (the C model, used
by csim and by ``--pe-impl hls``), (3) the **weight-stationary** wrapper that ``--pe-impl rtl`` calls as a Vitis HLS
RTL blackbox: the Verilog module ``<name>_k<KK>_ws`` holding, per PE, a double-banked register file of KK weight
codes around (1), its stateful plain-C++ model, the blackbox C model csim compiles in place of the Verilog and the
inline adapter the engines call (one call per cycle with narrow ports: ``x[Tn]``, window position, compute bank,
one 16-byte weight word with its address, write enable and load bank -> ``psum[Tm]`` in ports of at most
:data:`PSUM_PORT_MAX_BITS` bits; ``docs/pe-arrays.md``), and (4) an ``extern "C"`` wrapper of (2) and of the
stateful model for ctypes tests. All are rendered from ``hls_templates/pe_arrays/`` by :func:`render_pe_array`.
Packed vectors put element 0 in the least significant bits; weight (m, n) is element ``m * Tn + n``.

Pipeline (fixed, II = 1): input registers, one term register, then one register per adder-tree level, the last of
which is the output register, so ``latency = 2 + ceil(log2(Tn))`` cycles from the clock edge that samples the inputs
(``ap_start``) to ``ap_done`` (:func:`expected_latency`).
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from nash.codegen.templates import ENV, get_template
from nash.frontend.core.op_registry import (
    ENGINE_IDS,
    PE_ENGINES,
    SHIFT_EXP_MAX_LIMIT,
    engine_id_legend,
    engine_spec,
    shift_exp_bits,
)
from nash.frontend.integer.bounds import adder_tree_levels, signed_bits

MAX_ACC_BITS = 64  # the C model's widest accumulator type is int64_t
II = 1
WORD_LANES = 16  # weight codes per load word of the weight-stationary array: one 16-byte word of the weight stream
PSUM_PORT_MAX_BITS = 1024  # widest blackbox port (ap_int's default AP_INT_MAX_W): psum rows are split into such ports
TEMPLATE_FOLDER = "hls_templates/pe_arrays"  # in the one Jinja environment, nash.codegen.templates
CXXFLAGS = ("-std=c++14", "-O2", "-Wall", "-Wextra", "-Werror", "-Wno-unknown-pragmas")


def tree_levels(tn: int) -> int:
    """Adder-tree depth ceil(log2(tn)) (0 for tn = 1)."""
    return (int(tn) - 1).bit_length()


def expected_latency(engine: str, tm: int, tn: int) -> int:
    """Latency in cycles of every PE array: input register + term register + ceil(log2(tn)) tree registers.

    The same for the three engines and independent of ``tm``; equals the accelerator model's default
    ``2 + ceil(log2(tn))``. Simulation measures it (``make sim``); the blackbox JSON carries it.
    """
    if engine not in PE_ENGINES:
        raise ValueError(f"unknown engine {engine!r}; expected one of {PE_ENGINES}")
    if tm < 1 or tn < 1:
        raise ValueError(f"need tm >= 1 and tn >= 1, got tm={tm}, tn={tn}")
    return 2 + tree_levels(tn)


@dataclass(frozen=True)
class TreeNode:
    """One register of the adder tree: ``name = a + b`` (or ``name = a`` sign-extended when ``b`` is None)."""

    name: str
    bits: int
    a: str
    a_bits: int
    b: str | None
    b_bits: int


class EngineOperands:
    """What every rendered PE and lane derives from its engine and shift exponent range (``engine``, ``exp_max``
    fields of the dataclass that mixes it in): the checks, the op spec, the weight code and term widths."""

    engine: str
    exp_max: int

    def check_engine(self) -> None:
        if self.engine not in PE_ENGINES:
            raise ValueError(f"engine: unknown {self.engine!r}; expected one of {PE_ENGINES}")
        if not 0 <= self.exp_max <= SHIFT_EXP_MAX_LIMIT:
            raise ValueError(f"exp_max: need 0 <= E <= {SHIFT_EXP_MAX_LIMIT}, got {self.exp_max}")

    @property
    def spec(self):
        """The op registry's spec of this engine."""
        return engine_spec(self.engine)

    @property
    def exp_bits(self) -> int:
        """Width of the shift code's exponent field: ceil(log2(E + 1)), at least 1."""
        return shift_exp_bits(self.exp_max)

    @property
    def weight_bits(self) -> int:
        """Bits of one packed weight: 8 (int8) for conv/adder; 2 (sign) + exp_bits for shift."""
        return self.spec.code_bits(self.exp_max)

    @property
    def term_range(self) -> tuple[int, int]:
        """[min, max] of one term f(x, w) over every input and every accepted weight code (the op registry's
        bound: conv [-16256, 16384], shift +-128 * 2^E, adder [-255, 0])."""
        return self.spec.term_range(self.exp_max)

    @property
    def term_bits(self) -> int:
        return signed_bits(*self.term_range)


@dataclass(frozen=True)
class PEArrayConfig(EngineOperands):
    """Parameters of one PE array (from the accelerator section: Tm, Tn, accumulator width, shift exponent range)."""

    engine: str
    tm: int
    tn: int
    acc_bits: int = 32
    exp_max: int = 7

    def __post_init__(self) -> None:
        self.check_engine()
        for field, v in (("tm", self.tm), ("tn", self.tn)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{field}: need an integer >= 1, got {v!r}")
        if not 2 <= self.acc_bits <= MAX_ACC_BITS:
            raise ValueError(f"acc_bits: need 2 <= ACC_BITS <= {MAX_ACC_BITS}, got {self.acc_bits}")
        need = self.psum_bits_needed
        if self.acc_bits < need:
            lo, hi = self.psum_range
            raise ValueError(f"acc_bits: {self.engine} psum over tn={self.tn} lies in [{lo}, {hi}], which needs "
                             f"{need} signed bits; ACC_BITS={self.acc_bits} would overflow")

    # ---- naming -----------------------------------------------------------------------------------------------
    @property
    def engine_id(self) -> int:
        return ENGINE_IDS[self.engine]

    @property
    def engine_legend(self) -> str:
        """``"0 conv, 1 shift, 2 adder"``: the engine ids the C model's info call reports."""
        return engine_id_legend(PE_ENGINES)

    @property
    def name(self) -> str:
        """Module / C function base name, unique per parameter set."""
        base = f"{self.spec.verilog_module}_tm{self.tm}_tn{self.tn}_a{self.acc_bits}"
        return f"{base}_e{self.exp_max}" if self.spec.uses_exp_max else base

    # ---- widths and bounds --------------------------------------------------------------------------------------
    @property
    def psum_range(self) -> tuple[int, int]:
        """Proven psum bound: tn times the term range (the range holds 0, so every partial sum is inside it too)."""
        lo, hi = self.term_range
        return self.tn * lo, self.tn * hi

    @property
    def psum_bits_needed(self) -> int:
        return signed_bits(*self.psum_range)

    def sum_bits(self, leaves: int) -> int:
        """Exact signed width of a sum of ``leaves`` terms."""
        lo, hi = self.term_range
        return signed_bits(leaves * lo, leaves * hi)

    @property
    def levels(self) -> int:
        return tree_levels(self.tn)

    @property
    def latency(self) -> int:
        return expected_latency(self.engine, self.tm, self.tn)

    @property
    def ii(self) -> int:
        return II

    @property
    def x_width(self) -> int:
        return 8 * self.tn

    @property
    def w_width(self) -> int:
        return self.weight_bits * self.tm * self.tn

    @property
    def psum_width(self) -> int:
        return self.acc_bits * self.tm

    @property
    def c_acc_type(self) -> str:
        return "int32_t" if self.acc_bits <= 32 else "int64_t"

    @property
    def c_weight_type(self) -> str:
        return self.spec.c_weight_type

    # ---- adder tree ---------------------------------------------------------------------------------------------
    @cached_property
    def tree(self) -> list[list[TreeNode]]:
        """Registered adder tree per output row: ``tree[l]`` holds level l+1 (level 0 is the term registers ``t0_n``).

        Odd nodes pass through (registered); each node's width is the exact width of the sum of its leaves, so no
        bit is wasted and no sum can overflow (a node's leaves are a subset of the whole sum's).
        """
        names = [f"t0_{n}" for n in range(self.tn)]
        out: list[list[TreeNode]] = []
        for level, shape in enumerate(adder_tree_levels(self.tn), start=1):
            row = [TreeNode(f"t{level}_{i}", self.sum_bits(la + lb), names[2 * i], self.sum_bits(la),
                            names[2 * i + 1] if lb else None, self.sum_bits(lb) if lb else 0)
                   for i, (la, lb) in enumerate(shape)]
            out.append(row)
            names = [node.name for node in row]
        return out

    def as_dict(self) -> dict:
        return {"engine": self.engine, "tm": self.tm, "tn": self.tn, "acc_bits": self.acc_bits,
                "exp_max": self.exp_max}


@dataclass(frozen=True)
class StationaryConfig:
    """The weight-stationary wrapper of a PE array (``--pe-impl rtl``): per PE a register file of ``kk`` weight codes
    in two banks (ping-pong: one bank is loaded while the other computes), addressed ``{bank, k}``."""

    pe: PEArrayConfig
    kk: int  # window positions per tile: the largest k * k of the engine's standard layers

    def __post_init__(self) -> None:
        if not isinstance(self.kk, int) or self.kk < 1:
            raise ValueError(f"kk: need an integer >= 1 (largest k * k of the engine's layers), got {self.kk!r}")

    @property
    def name(self) -> str:
        """Verilog module = blackbox C function = JSON c_function_name / rtl_top_module_name."""
        return f"{self.pe.name}_k{self.kk}_ws"

    @property
    def pes(self) -> int:
        return self.pe.tm * self.pe.tn

    @property
    def k_bits(self) -> int:
        """Width of the window-position ports ``k`` / ``wk``."""
        return max(1, (self.kk - 1).bit_length())

    @property
    def load_words(self) -> int:
        """16-byte load words per window position (KW of the engine): word j holds PEs [16 j, 16 j + 16)."""
        return -(-self.pes // WORD_LANES)

    @property
    def j_bits(self) -> int:
        return max(1, (self.load_words - 1).bit_length())

    @property
    def word_bits(self) -> int:
        return 8 * WORD_LANES

    @property
    def rf_depth(self) -> int:
        """Entries of one PE's register file: address {bank, k}, k padded to k_bits."""
        return 2 << self.k_bits

    @property
    def psum_ports(self) -> list[tuple[int, int]]:
        """(first row, rows) of each psum output port: at most PSUM_PORT_MAX_BITS bits each."""
        per = max(1, PSUM_PORT_MAX_BITS // self.pe.acc_bits)
        return [(r, min(per, self.pe.tm - r)) for r in range(0, self.pe.tm, per)]

    @property
    def latency(self) -> int:
        """The datapath's: the register-file read is combinational into its input registers."""
        return self.pe.latency

    @property
    def ii(self) -> int:
        return II

    @property
    def rf_bits(self) -> int:
        """Weight storage in bits: 2 banks x kk codes x weight_bits per PE."""
        return 2 * self.kk * self.pe.weight_bits * self.pes

    def as_dict(self) -> dict:
        return self.pe.as_dict() | {"kk": self.kk}


# ---- resource estimate (rough, from the structure; Vivado's numbers replace it once the flow has run) --------------
def resource_estimate(cfg: PEArrayConfig) -> dict[str, int]:
    """Structural estimate of FF/LUT/DSP for the blackbox JSON (``rtl_resource_usage``); not a synthesis result."""
    pes = cfg.tm * cfg.tn
    ff = cfg.x_width + cfg.w_width + cfg.latency  # input registers + valid pipeline
    lut = 4  # control
    tree_bits = sum(node.bits for row in cfg.tree for node in row)
    ff += cfg.tm * tree_bits + cfg.psum_width
    lut += cfg.tm * tree_bits  # one LUT (carry chain) per adder bit
    dsp = 0
    if cfg.engine == "conv":
        dsp = pes  # one DSP48E2 per int8 MAC (AREG/BREG/MREG used as the input and term registers)
    elif cfg.engine == "shift":
        ff += pes * cfg.term_bits
        lut += pes * cfg.term_bits * (cfg.exp_bits + 1)  # barrel shifter + conditional negate
    else:
        ff += pes * cfg.term_bits
        lut += pes * 3 * cfg.term_bits  # subtract, |.|, negate
    return {"FF": ff, "LUT": lut, "BRAM": 0, "URAM": 0, "DSP": dsp}


def stationary_resource_estimate(ws: StationaryConfig) -> dict[str, int]:
    """The datapath's estimate plus the register files as simple dual-port distributed RAM (two LUTs per bit
    column of 64 entries, RAM64X1D) and the read gating; not a synthesis result."""
    res = resource_estimate(ws.pe)
    columns = ws.pes * ws.pe.weight_bits
    res["LUT"] += columns * 2 * -(-ws.rf_depth // 64) + columns + ws.load_words
    return res


# ---- rendering -----------------------------------------------------------------------------------------------------
def _sext(expr: str, have: int, want: int) -> str:
    """Verilog sign extension of a signed ``have``-bit expression (a plain name or a part-select) to ``want`` bits."""
    if want == have:
        return expr
    if want < have:
        raise ValueError(f"cannot sign-extend {expr} from {have} to {want} bits")
    return f"{{{{{want - have}{{{expr}[{have - 1}]}}}}, {expr}}}"


ENV.filters["sext"] = _sext  # used by pe_array.v.j2


def render_pe_array(engine: str, tm: int, tn: int, out_dir: str | os.PathLike, acc_bits: int = 32,
                    exp_max: int = 7, kk: int = 1) -> dict[str, Path]:
    """Render one PE array and its weight-stationary wrapper (``kk`` window positions) into ``out_dir``; returns the
    paths by role.

    Keys: ``verilog`` (the datapath), ``c_model`` (plain C++14 header with the synthesizable function, also the
    ``--pe-impl hls`` implementation), ``ws_verilog`` (the weight-stationary module around the datapath),
    ``ws_model`` (its stateful plain C++ model), ``blackbox_json`` (UG1399 RTL-blackbox description of the
    weight-stationary module), ``bb_header`` / ``bb_cpp`` (the blackbox prototype the HLS code calls, and the C model
    csim compiles), ``rtl_call`` (the ``--pe-impl rtl`` adapter the engines call), ``capi_cpp`` (``extern "C"``
    wrappers for a ctypes shared library).
    """
    cfg = PEArrayConfig(engine, tm, tn, acc_bits, exp_max)
    ws = StationaryConfig(cfg, kk)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "verilog": out / f"{cfg.name}.v",
        "c_model": out / f"{cfg.name}.h",
        "ws_verilog": out / f"{ws.name}.v",
        "ws_model": out / f"{ws.name}.h",
        "blackbox_json": out / f"{ws.name}.json",
        "bb_header": out / f"{ws.name}_bb.h",
        "bb_cpp": out / f"{ws.name}_bb.cpp",
        "rtl_call": out / f"{ws.name}_rtl.h",
        "capi_cpp": out / f"{ws.name}_capi.cpp",
    }
    ctx = {"cfg": cfg, "ws": ws, "res": stationary_resource_estimate(ws),
           "paths": {k: p.name for k, p in paths.items()}}
    templates = {
        "verilog": "pe_array.v.j2",
        "c_model": "pe_array.h.j2",
        "ws_verilog": "pe_array_ws.v.j2",
        "ws_model": "pe_array_ws.h.j2",
        "blackbox_json": "pe_array_blackbox.json.j2",
        "bb_header": "pe_array_bb.h.j2",
        "bb_cpp": "pe_array_bb.cpp.j2",
        "rtl_call": "pe_array_rtl_call.h.j2",
        "capi_cpp": "pe_array_capi.cpp.j2",
    }
    for role, tmpl in templates.items():
        text = get_template(f"{TEMPLATE_FOLDER}/{tmpl}").render(**ctx)
        if role == "blackbox_json":
            text = json.dumps(json.loads(text), indent=2) + "\n"  # validate + normalise
        _write_if_changed(paths[role], text)
    return paths


def _write_if_changed(path: Path, text: str) -> None:
    """Write ``text`` unless the file already holds it (keeps mtimes stable so simulator builds are reused)."""
    if path.exists() and path.read_text() == text:
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# ---- weight coding (shift) -----------------------------------------------------------------------------------------
def encode_shift_weights(sign: np.ndarray, exp: np.ndarray, exp_max: int) -> np.ndarray:
    """(sign, e) -> uint8 codes ``sign[1:0] << exp_bits | e`` (sign two's complement: +1 = 01, -1 = 11, 0 = 00)."""
    sign = np.asarray(sign, dtype=np.int64)
    exp = np.asarray(exp, dtype=np.int64)
    if np.any((exp < 0) | (exp > exp_max)) or np.any(np.abs(sign) > 1):
        raise ValueError(f"shift weights out of range: need sign in {{-1,0,1}} and exponent in [0, {exp_max}]")
    return (((sign & 3) << shift_exp_bits(exp_max)) | exp).astype(np.uint8)


def pack_vector(values: np.ndarray, bits: int) -> int:
    """Pack integers (two's complement, ``bits`` each) into one int, element 0 in the least significant bits."""
    mask = (1 << bits) - 1
    out = 0
    for i, v in enumerate(np.asarray(values).reshape(-1).tolist()):
        out |= (int(v) & mask) << (i * bits)
    return out


def unpack_signed(word: int, bits: int, count: int) -> np.ndarray:
    """Inverse of :func:`pack_vector` for signed fields: ``count`` values of ``bits`` bits -> int64 array."""
    mask = (1 << bits) - 1
    sign = 1 << (bits - 1)
    vals = [((word >> (i * bits)) & mask) for i in range(count)]
    return np.array([v - (1 << bits) if v & sign else v for v in vals], dtype=np.int64)


def find_ap_types() -> Path | None:
    """Folder holding Xilinx's Apache-2.0 ``ap_int.h`` (to compile the blackbox C model without Vitis), or None.

    ``$NASH_AP_TYPES`` wins; else the copy shipped in the hls4ml wheel (``pip install --no-deps hls4ml==1.3.0``).
    """
    env = os.environ.get("NASH_AP_TYPES")
    if env:
        return Path(env) if (Path(env) / "ap_int.h").exists() else None
    import importlib.util

    try:
        spec = importlib.util.find_spec("hls4ml")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        d = Path(loc) / "templates" / "vivado" / "ap_types"
        if (d / "ap_int.h").exists():
            return d
    return None


# ---- C model shared library (ctypes) -------------------------------------------------------------------------------
def build_c_model(paths: dict[str, Path], build_dir: str | os.PathLike | None = None) -> Path:
    """Compile the rendered C model's ``extern "C"`` wrapper into a shared library with g++ (cached by content)."""
    capi = Path(paths["capi_cpp"])
    inc = Path(paths["c_model"]).parent
    build = Path(build_dir) if build_dir else capi.parent
    build.mkdir(parents=True, exist_ok=True)
    headers = [Path(paths[k]).read_text() for k in ("c_model", "ws_model") if k in paths]
    digest = hashlib.sha256((capi.read_text() + "".join(headers) + " ".join(CXXFLAGS)).encode()).hexdigest()[:12]
    lib = build / f"lib{capi.stem}_{digest}.so"
    if lib.exists():
        return lib
    gxx = shutil.which("g++")
    if gxx is None:
        raise RuntimeError("g++ not found: the PE-array C model needs a C++14 compiler")
    tmp = lib.with_name(f".{lib.name}.{os.getpid()}.tmp")
    cmd = [gxx, *CXXFLAGS, "-fPIC", "-shared", f"-I{inc}", str(capi), "-o", str(tmp)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"g++ failed on {capi}:\n{proc.stderr}")
    os.replace(tmp, lib)
    return lib


class CModel:
    """ctypes handle on a compiled PE-array C model: ``eval(x, w) -> psum`` for a batch of vectors."""

    def __init__(self, lib_path: str | os.PathLike, cfg: PEArrayConfig) -> None:
        self.cfg = cfg
        self._lib = ctypes.CDLL(str(lib_path))
        info = (ctypes.c_int * 5)()
        self._lib.nash_pe_array_info(info)
        got = tuple(info)
        want = (cfg.engine_id, cfg.tm, cfg.tn, cfg.acc_bits, cfg.exp_max)
        if got != want:
            raise RuntimeError(f"C model {lib_path} was built for {got}, expected {want}")
        self._fn = self._lib.nash_pe_array_eval
        self._fn.restype = ctypes.c_int
        self._fn.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]

    def eval(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        """x [N, tn] int8, w [N, tm, tn] (int8; uint8 shift codes) -> psum [N, tm] int64."""
        cfg = self.cfg
        x = np.ascontiguousarray(x, dtype=np.int8).reshape(-1, cfg.tn)
        w = np.ascontiguousarray(w, dtype=cfg.spec.code_dtype).reshape(-1, cfg.tm, cfg.tn)
        if x.shape[0] != w.shape[0]:
            raise ValueError(f"batch mismatch: x has {x.shape[0]} vectors, w has {w.shape[0]}")
        out = np.zeros((x.shape[0], cfg.tm), dtype=np.int64)
        rc = self._fn(x.shape[0], x.ctypes.data, w.ctypes.data, out.ctypes.data)
        if rc != 0:
            raise RuntimeError(f"C model returned {rc}")
        return out


class StationaryModel:
    """ctypes handle on the stateful C model of a weight-stationary PE array (the same shared library as
    :class:`CModel`): ``run`` replays a sequence of blackbox calls and returns each call's psums."""

    FIELDS = ("k", "cbank", "wj", "wk", "we", "wbank")

    def __init__(self, lib_path: str | os.PathLike, ws: StationaryConfig) -> None:
        self.ws = ws
        self._lib = ctypes.CDLL(str(lib_path))
        info = (ctypes.c_int * 6)()
        self._lib.nash_pe_ws_info(info)
        c = ws.pe
        want = (c.engine_id, c.tm, c.tn, c.acc_bits, c.exp_max, ws.kk)
        if tuple(info) != want:
            raise RuntimeError(f"C model {lib_path} was built for {tuple(info)}, expected {want}")
        self._fn = self._lib.nash_pe_ws_run
        self._fn.restype = ctypes.c_int
        self._fn.argtypes = [ctypes.c_int] + [ctypes.c_void_p] * 9

    def clear(self) -> None:
        """Zero both banks of every register file."""
        self._lib.nash_pe_ws_clear()

    def run(self, calls: dict[str, np.ndarray]) -> np.ndarray:
        """``calls``: ``x`` [N, tn] int8, ``wdata`` [N, 16] uint8 and the int fields of :attr:`FIELDS` [N]
        -> psum [N, tm] int64, the calls applied in order to the state left by the previous ``run``."""
        x = np.ascontiguousarray(calls["x"], dtype=np.int8).reshape(-1, self.ws.pe.tn)
        n = x.shape[0]
        wdata = np.ascontiguousarray(calls["wdata"], dtype=np.uint8).reshape(n, WORD_LANES)
        ints = [np.ascontiguousarray(calls[f], dtype=np.int32).reshape(n) for f in self.FIELDS]
        out = np.zeros((n, self.ws.pe.tm), dtype=np.int64)
        rc = self._fn(n, x.ctypes.data, *(a.ctypes.data for a in ints[:2]), wdata.ctypes.data,
                      *(a.ctypes.data for a in ints[2:]), out.ctypes.data)
        if rc != 0:
            raise RuntimeError(f"C model returned {rc}")
        return out
