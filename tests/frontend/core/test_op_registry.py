"""The op registry: every reference of every spec resolves, the numpy term and the torch layer agree, the files the
specs name exist and hold the names the specs give, and the registry stays torch-free."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest
from nash.frontend.core import op_registry as reg
from nash.frontend.core.op_registry import ENGINES, OP_SPECS, PE_ENGINES, op_spec, resource_path

SPECS = pytest.mark.parametrize("spec", OP_SPECS, ids=[s.name for s in OP_SPECS])


def test_engine_list_and_ids_are_the_generated_codes_abi():
    # The generated code indexes its schedule columns and LayerDesc.op by these ids (hls_templates/src/*.j2).
    assert ENGINES == ("conv", "shift", "adder", "misc")
    assert reg.ENGINE_IDS == {"conv": 0, "shift": 1, "adder": 2, "misc": 3}
    assert [s.engine_id for s in OP_SPECS] == [0, 1, 2]
    assert reg.OP_NAMES == PE_ENGINES == ("conv", "shift", "adder")
    assert reg.engine_id_legend() == "0 conv, 1 shift, 2 adder, 3 misc"
    assert reg.c_engine_function("misc") == "engine_misc"


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="unknown op 'mul'"):
        op_spec("mul")
    with pytest.raises(ValueError, match="unknown PE engine 'misc'"):
        reg.engine_spec("misc")


@SPECS
def test_every_reference_resolves(spec):
    for attr, dotted in spec.dotted_names.items():
        obj = reg.resolve(dotted)
        assert callable(obj), f"{spec.name}.{attr} = {dotted} is not callable"


def test_resolve_hand_cases():
    from nash.frontend.integer.reference import conv_acc
    from nash.frontend.ops.shift import ShiftConv2d

    assert reg.resolve("nash.frontend.integer.reference.conv_acc") is conv_acc
    assert reg.resolve("nash.frontend.ops.shift.ShiftConv2d.sign_exponent") is ShiftConv2d.sign_exponent
    with pytest.raises(AttributeError):
        reg.resolve("nash.frontend.integer.reference.no_such_function")


@SPECS
def test_every_named_file_exists(spec):
    for attr, rel in spec.files.items():
        assert resource_path(rel).is_file(), f"{spec.name}.{attr}: {rel} missing"


@SPECS
def test_template_names_are_defined_where_the_spec_says(spec):
    local = resource_path(spec.local_pe_template).read_text()
    assert f" {spec.c_pe_array}(" in local and f" {spec.c_pe_lane}(" in local
    assert "{{ engine_fn }}(" in resource_path(spec.engine_template).read_text()


@SPECS
def test_verilog_module_and_c_model_carry_the_spec_names(spec, tmp_path):
    from nash.codegen.rtl.pe_arrays import render_pe_array

    paths = render_pe_array(spec.engine, 2, 3, tmp_path, exp_max=5)
    v = paths["verilog"].read_text()
    assert f"module {spec.verilog_module}_tm2_tn3_a32" in v
    c = paths["c_model"].read_text()
    assert f"const {spec.c_weight_type} w[2][3]" in c
    capi = paths["capi_cpp"].read_text()
    assert f"info[0] = {spec.engine_id};" in capi


def test_cocotb_testbench_is_the_one_the_runner_runs():
    from nash.codegen.rtl import sim_runner

    for spec in OP_SPECS:
        assert spec.cocotb_test == sim_runner.TB_MODULE
        assert importlib.util.find_spec(spec.cocotb_test) is not None


def test_cost_keys_are_in_the_shipped_cost_table():
    from nash.frontend.accel.cost_table import DEFAULT_TABLE

    entries = json.loads(DEFAULT_TABLE.read_text())["entries"]
    for spec in OP_SPECS:
        missing = [k for k in spec.cost.keys if k not in entries]
        assert not missing, f"{spec.name}: cost keys {missing} not in {DEFAULT_TABLE}"
        assert spec.cost.kind in ("dsp", "lut")


def test_shift_code_width_hand_cases():
    # 2 sign bits + ceil(log2(E + 1)) exponent bits (at least 1): docs/weights-blob.md
    shift = op_spec("shift")
    assert [reg.shift_exp_bits(e) for e in (0, 1, 7, 8, 15)] == [1, 1, 3, 4, 4]
    assert [shift.code_bits(e) for e in (0, 7, 15)] == [3, 5, 6]
    assert op_spec("conv").code_bits(7) == op_spec("adder").code_bits(7) == 8


def test_term_ranges_hand_worked():
    # conv: (-128)(-128) = 16384, (-128)(127) = -16256; shift: |x << E| <= 128 * 2^E; adder: -|x - w| in [-255, 0].
    assert op_spec("conv").term_range() == (-16256, 16384)
    assert op_spec("shift").term_range(7) == (-16384, 16384)
    assert op_spec("shift").term_range(0) == (-128, 128)
    assert op_spec("shift").term_range(15) == (-(128 << 15), 128 << 15)
    assert op_spec("adder").term_range() == (-255, 0)


def _random_params(spec, rng, shape, exp_max):
    """Integer parameters drawn from the ranges the spec's encoding declares."""
    p = {f.name: np.array(exp_max if f.name == "exp_max" else f.lo, dtype=f.dtype) for f in spec.fields if f.scalar}
    for f in spec.fields:
        if f.scalar:
            continue
        hi = int(p[f.hi]) if isinstance(f.hi, str) else f.hi
        p[f.name] = rng.integers(f.lo, hi + 1, size=shape).astype(f.dtype)
    return p


@SPECS
@pytest.mark.parametrize("lo,hi", [(-128, 127), (0, 127)])
def test_term_extremes_hold_by_brute_force(spec, lo, hi):
    """Per-term bound vs every input value, the term computed by the numpy reference (a 1x1 layer per weight)."""
    rng = np.random.default_rng(1)
    p = _random_params(spec, rng, (40, 1, 1, 1), exp_max=6)
    tmin, tmax = spec.term_extremes(spec.integer_weight(p).reshape(-1), lo, hi)
    x = np.arange(lo, hi + 1).reshape(-1, 1, 1, 1)  # every input value, one image each
    terms = spec.resolve("numpy_acc")(x, *spec.weight_args(p)).reshape(len(x), -1)  # [inputs, weights]
    np.testing.assert_array_equal(terms.min(axis=0), tmin)
    np.testing.assert_array_equal(terms.max(axis=0), tmax)


def _load_torch_layer(spec, layer, p):
    """Put integer parameters into the op's torch layer (float64); returns the scale of its output vs the acc."""
    import torch

    with torch.no_grad():
        if spec.name == "shift":  # DeepShift-PS: S = sign, P = -e (already integers, rounding keeps them)
            layer.S.copy_(torch.from_numpy(p["sign"].astype(np.float64)))
            layer.P.copy_(torch.from_numpy(-p["exp"].astype(np.float64)))
            return 2.0 ** -int(p["exp_max"])  # x * sign * 2^-e = sign * (x << (E - e)) * 2^-E
        layer.weight.copy_(torch.from_numpy(p["weight"].astype(np.float64)))
        return 1.0


def test_torch_loaders_cover_every_op():
    assert {s.name for s in OP_SPECS} == {"conv", "shift", "adder"}, "add a loader to _load_torch_layer"


@SPECS
@pytest.mark.parametrize("stride,padding,groups", [(1, 1, 1), (2, 1, 2), (1, 0, 4)])
def test_numpy_term_and_torch_layer_agree(spec, stride, padding, groups):
    import torch

    rng = np.random.default_rng(7)
    cin, cout, k, size, exp_max = 4, 8, 3, 6, 5
    p = _random_params(spec, rng, (cout, cin // groups, k, k), exp_max)
    x = rng.integers(-128, 128, size=(2, cin, size, size))
    want = spec.resolve("numpy_acc")(x, *spec.weight_args(p), stride, padding, groups)
    kwargs = {"mode": "ps", "exp_max": exp_max} if spec.uses_exp_max else {}
    layer = spec.resolve("torch_layer")(cin, cout, k, stride, padding, groups, **kwargs).double()
    scale = _load_torch_layer(spec, layer, p)
    with torch.no_grad():
        got = layer(torch.from_numpy(x.astype(np.float64))).numpy() / scale
    np.testing.assert_array_equal(got, want.astype(np.float64))


def test_registry_and_graph_import_without_torch():
    code = ("import sys; import nash.frontend.core.op_registry, nash.frontend.core.graph; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
