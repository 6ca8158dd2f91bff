"""The op registry: one frozen spec per hybrid op (conv, shift, adder) and the engine list, defined once.

Every layer of the toolchain reads op facts from here: the op names the architecture accepts, the engine that runs an
op and its integer id in the generated code, the integer weight encoding (fields, dtypes, ranges, the shift code), the
per-term accumulator bound that :mod:`nash.frontend.integer.bounds` sums, the cost-table keys of the accelerator
model, and the names of the C functions and Verilog modules the templates define.

The implementations themselves live in their layers (numpy reference, torch layer, C and Verilog templates, cocotb
testbench) and are *found* from a spec: :meth:`OpSpec.resolve` imports a dotted name lazily (so this module imports
neither torch nor anything above ``core``), :func:`resource_path` locates a template or testbench file. How to add an
op using this module: ``docs/extending.md``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.abc import Traversable

import numpy as np
from nash.frontend.core.quant_params import (
    ACT_MAX,
    ACT_MIN,
    ADDER_W_MAX,
    ADDER_W_MIN,
    CONV_W_MAX,
    DEFAULT_SHIFT_EXP_MAX,
)

# Shift exponents: E = quantization.shift_exp_max lies in [0, SHIFT_EXP_MAX_LIMIT] (docs/integer-semantics.md).
SHIFT_EXP_MAX_LIMIT = 15
SHIFT_MODES = ("ps", "q")  # DeepShift parametrisations of the shift layer: (P, S) or a quantized real weight
SHIFT_SIGN_BITS = 2  # the shift code's sign field: two's complement in 2 bits (+1 = 01, -1 = 11, 0 = 00)

# Where resource_path() looks: the data packages that ship the templates (the checkout folders of the same name).
_DATA_PACKAGES = {"hls_templates": "nash.hls_templates", "vivado_tcl": "nash.vivado_tcl"}

_DTYPE_RANGE = {"int8": (-128, 127), "uint8": (0, 255), "int64": (-(2**63), 2**63 - 1)}


def shift_exp_bits(exp_max: int) -> int:
    """Width of the exponent field of a shift weight code: ceil(log2(E + 1)), at least 1."""
    return max(1, int(exp_max).bit_length())


def resource_path(rel: str) -> Traversable:
    """The shipped template file a spec names by its checkout path (``hls_templates/...``), via importlib.resources."""
    folder, _, rest = rel.partition("/")
    res = resources.files(_DATA_PACKAGES[folder])
    for part in rest.split("/"):
        res = res.joinpath(part)
    return res


def resolve(dotted: str):
    """Import ``package.module.attr[.attr...]`` lazily and return the attribute (the longest importable prefix is the
    module)."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        module = ".".join(parts[:cut])
        try:
            obj = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if not e.name or not module.startswith(e.name):
                raise  # the module exists but one of its own imports is missing: report that, not a bad name
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(f"cannot resolve {dotted!r}: no importable module prefix")


@dataclass(frozen=True)
class IntField:
    """One integer parameter of an op's layer (weights file key ``int/<layer>/<name>``) and its accepted range.

    ``hi`` may name a scalar field of the same layer instead of a number (the shift exponent is bounded by the
    layer's ``exp_max``).
    """

    name: str
    dtype: str  # numpy dtype the converter stores
    lo: int
    hi: int | str
    scalar: bool = False  # a 0-d per-layer value (passed to the numpy reference as a Python int)


@dataclass(frozen=True)
class PeCost:
    """Cost-table keys of one PE of the engine (``frontend/accel/cost_table.json``) and which formula uses them.

    ``kind`` "dsp": one DSP48E2 per MAC (``dsp``; DSP packing is implemented nowhere, so it is not modelled);
    "lut": LUT fabric only. ``lut`` / ``ff`` are per PE in both (formulas:
    docs/accelerator-model.md, implemented by ``formula``).
    """

    kind: str
    lut: str
    ff: str
    dsp: str | None = None
    formula: str = "nash.frontend.accel.model.EngineModel.resources"

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(k for k in (self.dsp, self.lut, self.ff) if k)


@dataclass(frozen=True)
class OpSpec:
    """Everything the toolchain knows about one op, and where each implementation of its integer term lives.

    Term ``f(x, w)`` of one accumulator: ``term`` "product" (``x * w`` with the op's integer weight value) or
    "neg_abs_diff" (``-|x - w|``). The integer weight value of a layer is its ``weight`` field, or, when
    ``numpy_weight`` is set, that function of the fields (shift: ``sign * 2**(E - e)``).
    """

    name: str  # op name in the architecture (``"op"`` of stem / block / head)
    engine: str  # engine that runs the op's layers
    engine_id: int  # index of the engine in the generated code (schedule columns, LayerDesc.op, C-model info)
    fields: tuple[IntField, ...]  # integer parameters besides mult / bias / shift
    code_dtype: str  # one weight in the weights blob and the C / Verilog weight arrays: "int8" or "uint8"
    code_doc: str  # what one weight code is (comment in the generated engine)
    term: str  # "product" | "neg_abs_diff"
    numpy_acc: str  # numpy reference accumulator: fn(x, *weight_args, stride, padding, groups)
    torch_layer: str  # torch layer class: cls(in_ch, out_ch, kernel, stride, padding, groups)
    cost: PeCost
    numpy_weight: str | None = None  # fn(*weight_args) -> integer weight values (None: the "weight" field)
    code_encoder: str | None = None  # fn(*weight_args) -> blob codes (None: the weight values as code_dtype)
    # Names the templates define for this op (C functions, Verilog module prefix) and the files that hold them.
    c_engine: str = ""  # engine function in engine_<op>.cpp (hls_templates/src/engine.cpp.j2)
    c_pe_array: str = ""  # Tm x Tn array function of pe_local.h (hls_templates/src/pe_local.h.j2)
    c_pe_lane: str = ""  # depthwise lane function of pe_local.h
    verilog_module: str = ""  # PE-array module / C-model name prefix (hls_templates/pe_arrays/*.j2)
    engine_template: str = "hls_templates/src/engine.cpp.j2"
    local_pe_template: str = "hls_templates/src/pe_local.h.j2"
    c_model_template: str = "hls_templates/pe_arrays/pe_array.h.j2"
    verilog_template: str = "hls_templates/pe_arrays/pe_array.v.j2"
    cocotb_test: str = "nash.codegen.rtl.testbench.pe_array_tb"  # module the simulator imports

    # ---- encoding --------------------------------------------------------------------------------------------------
    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def weight_args(self, p) -> tuple:
        """The layer's integer fields in the order the numpy reference takes them (scalars as Python ints)."""
        return tuple(int(p[f.name]) if f.scalar else p[f.name] for f in self.fields)

    @property
    def uses_exp_max(self) -> bool:
        """Whether the layer's weights depend on the per-network shift exponent range E (shift)."""
        return "exp_max" in self.field_names

    def code_bits(self, exp_max: int = DEFAULT_SHIFT_EXP_MAX) -> int:
        """Bits of one packed weight code in the PE arrays: 8 for int8 weights; sign + exponent field for shift."""
        if self.code_dtype == "uint8":
            return SHIFT_SIGN_BITS + shift_exp_bits(exp_max)
        return 8

    @property
    def c_weight_type(self) -> str:
        return f"{self.code_dtype}_t"

    # ---- integer term ----------------------------------------------------------------------------------------------
    def integer_weight(self, p) -> np.ndarray:
        """Integer weight values of a layer's parameters ``p`` (int64)."""
        if self.numpy_weight is None:
            return np.asarray(p["weight"], dtype=np.int64)
        return np.asarray(self.resolve("numpy_weight")(*self.weight_args(p)), dtype=np.int64)

    def term_extremes(self, w: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Elementwise [min, max] of the term f(x, w) over inputs x in [lo, hi] (``lo <= 0 <= hi``), int64.

        A product's extremes are at x = lo or x = hi; -|x - w| is smallest at the far end and largest (closest to 0)
        at x = w when w lies inside [lo, hi].
        """
        t = np.asarray(w, dtype=np.int64)
        if self.term == "product":
            a, b = t * lo, t * hi
            return np.minimum(a, b), np.maximum(a, b)
        far = np.maximum(np.abs(lo - t), np.abs(hi - t))
        near = np.where(t < lo, lo - t, np.where(t > hi, t - hi, 0))
        return -far, -near

    def accepted_weights(self, exp_max: int = DEFAULT_SHIFT_EXP_MAX) -> np.ndarray:
        """Every integer weight value the PE arrays accept: the full code dtype for int8 weights (conv by contract
        is [-127, 127], -128 is accepted too); every (sign, e) with e in [0, E] for shift."""
        if self.numpy_weight is None:
            lo, hi = _DTYPE_RANGE[self.code_dtype]
            return np.arange(lo, hi + 1, dtype=np.int64)
        sign = np.repeat(np.array([-1, 0, 1], dtype=np.int64), exp_max + 1)
        exp = np.tile(np.arange(exp_max + 1, dtype=np.int64), 3)
        return np.unique(self.resolve("numpy_weight")(sign, exp, exp_max))

    def term_range(self, exp_max: int = DEFAULT_SHIFT_EXP_MAX) -> tuple[int, int]:
        """[min, max] of one term over every int8 input and every accepted weight (sizes PE-array adder trees)."""
        return _term_range(self, int(exp_max))

    # ---- implementations -------------------------------------------------------------------------------------------
    def resolve(self, attr: str):
        """Import the implementation a dotted-name attribute (``numpy_acc``, ``torch_layer``, ...) names."""
        dotted = getattr(self, attr)
        if not isinstance(dotted, str) or not dotted:
            raise ValueError(f"op {self.name}: {attr} names no implementation")
        return resolve(dotted)

    @property
    def dotted_names(self) -> dict[str, str]:
        """Every dotted-name reference of the spec (for checks): attribute -> dotted name."""
        refs = {"numpy_acc": self.numpy_acc, "torch_layer": self.torch_layer, "cost.formula": self.cost.formula}
        refs |= {k: getattr(self, k) for k in ("numpy_weight", "code_encoder") if getattr(self, k)}
        return refs

    @property
    def files(self) -> dict[str, str]:
        """Every template file the spec names (checkout path, read with :func:`resource_path`): attribute -> path."""
        return {k: getattr(self, k) for k in ("engine_template", "local_pe_template", "c_model_template",
                                              "verilog_template")}


@cache
def _term_range(spec: OpSpec, exp_max: int) -> tuple[int, int]:
    tmin, tmax = spec.term_extremes(spec.accepted_weights(exp_max), ACT_MIN, ACT_MAX)
    return int(tmin.min()), int(tmax.max())


def _spec(name: str, engine_id: int, **kw) -> OpSpec:
    """A spec whose engine and template names follow the one naming rule: engine ``<op>``, ``engine_<op>``,
    ``pe_array_<op>``, ``pe_lane_<op>``, ``nash_<op>_pe``."""
    return OpSpec(name=name, engine=name, engine_id=engine_id, c_engine=f"engine_{name}", c_pe_array=f"pe_array_{name}",
                  c_pe_lane=f"pe_lane_{name}", verilog_module=f"nash_{name}_pe", **kw)


_REF = "nash.frontend.integer.reference"

CONV = _spec(
    "conv", 0,
    fields=(IntField("weight", "int8", -CONV_W_MAX, CONV_W_MAX),),
    code_dtype="int8", code_doc="int8 weight", term="product",
    numpy_acc=f"{_REF}.conv_acc", torch_layer="nash.frontend.ops.conv.QuantConv2d",
    cost=PeCost("dsp", lut="conv.pe_lut", ff="conv.pe_ff", dsp="conv.pe_dsp"),
)
SHIFT = _spec(
    "shift", 1,
    fields=(IntField("sign", "int8", -1, 1), IntField("exp", "int8", 0, "exp_max"),
            IntField("exp_max", "int64", 0, SHIFT_EXP_MAX_LIMIT, scalar=True)),
    code_dtype="uint8", code_doc="shift code (sign & 3) << exp_bits | e", term="product",
    numpy_acc=f"{_REF}.shift_acc", torch_layer="nash.frontend.ops.shift.ShiftConv2d",
    numpy_weight=f"{_REF}.shift_weights", code_encoder="nash.codegen.hls.weights_blob.encode_shift",
    cost=PeCost("lut", lut="shift.pe_lut", ff="shift.pe_ff"),
)
ADDER = _spec(
    "adder", 2,
    fields=(IntField("weight", "int8", ADDER_W_MIN, ADDER_W_MAX),),
    code_dtype="int8", code_doc="int8 weight", term="neg_abs_diff",
    numpy_acc=f"{_REF}.adder_acc", torch_layer="nash.frontend.ops.adder.AdderConv2d",
    cost=PeCost("lut", lut="adder.pe_lut", ff="adder.pe_ff"),
)

OP_SPECS: tuple[OpSpec, ...] = (CONV, SHIFT, ADDER)  # engine id order
OP_NAMES: tuple[str, ...] = tuple(s.name for s in OP_SPECS)
PE_ENGINES: tuple[str, ...] = tuple(s.engine for s in OP_SPECS)  # engines with a PE array, one per op
MISC_ENGINE = "misc"  # residual add, global pooling and the classifier
ENGINES: tuple[str, ...] = (*PE_ENGINES, MISC_ENGINE)  # index = engine id in the generated code
ENGINE_IDS: dict[str, int] = {e: i for i, e in enumerate(ENGINES)}

_BY_NAME = {s.name: s for s in OP_SPECS}
_BY_ENGINE = {s.engine: s for s in OP_SPECS}


def op_spec(name: str) -> OpSpec:
    """The spec of an op by name (ValueError naming the known ops otherwise)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown op {name!r}; expected one of {list(OP_NAMES)}") from None


def engine_spec(engine: str) -> OpSpec:
    """The spec of the op a PE engine runs."""
    try:
        return _BY_ENGINE[engine]
    except KeyError:
        raise ValueError(f"unknown PE engine {engine!r}; expected one of {list(PE_ENGINES)}") from None


def c_engine_function(engine: str) -> str:
    """Name of an engine's C function (``engine_misc`` for the misc unit)."""
    return engine_spec(engine).c_engine if engine in _BY_ENGINE else f"engine_{engine}"


def engine_id_legend(engines: tuple[str, ...] = ENGINES) -> str:
    """``"0 conv, 1 shift, ..."``: the id comment the generated code carries."""
    return ", ".join(f"{ENGINE_IDS[e]} {e}" for e in engines)


def _check() -> None:
    # The id order is the generated code's ABI: spec ids must be 0..n-1 in OP_SPECS order.
    if [s.engine_id for s in OP_SPECS] != list(range(len(OP_SPECS))):
        raise AssertionError("op specs must be listed in engine-id order")


_check()
