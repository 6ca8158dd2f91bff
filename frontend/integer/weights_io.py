"""The sidecar weights file: integer model (what the hardware runs) plus the float state (to keep training).

Keys of the ``.npz``: ``int/<node>/<field>`` integer parameters per graph node, ``meta/input_scale`` and
``meta/logit_scale`` (float64 scalars), and ``float/<state_dict key>`` for the torch model's parameters and buffers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from nash.frontend.core.graph import Node
from nash.frontend.core.model_file import ModelFile, ModelFileError, load_weights
from nash.frontend.core.quant_params import (
    ADDER_W_MAX,
    ADDER_W_MIN,
    CONV_W_MAX,
    MAX_SHIFT,
    MULT_BITS,
)
from nash.frontend.integer.bounds import input_range, layer_bounds, product_bounds
from nash.frontend.integer.model import IntegerModel


def pack(im: IntegerModel, state: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Arrays for the weights file from an integer model and (optionally) the float state (a torch state_dict as
    numpy arrays)."""
    arrays = {"meta/input_scale": np.float64(im.input_scale), "meta/logit_scale": np.float64(im.logit_scale)}
    for node, p in im.params.items():
        for k, v in p.items():
            arrays[f"int/{node}/{k}"] = np.asarray(v)
    for k, v in (state or {}).items():
        arrays[f"float/{k}"] = np.asarray(v)
    return arrays


def expected_shapes(n: Node) -> dict[str, tuple[int, ...]]:
    """Shape of every integer parameter of a node (the weights-file contract)."""
    if n.kind == "conv":
        w = (n.out_ch, n.in_ch // n.groups, n.kernel, n.kernel)
        ch = (n.out_ch,)
        base = {"mult": ch, "bias": ch, "shift": ch}
        if n.op == "shift":
            return {"sign": w, "exp": w, "exp_max": (), **base}
        return {"weight": w, **base}
    if n.kind == "add":
        return {"mult_a": (), "mult_b": (), "shift": ()}
    if n.kind == "gap":
        return {"mult": (), "shift": ()}
    return {"weight": (n.out_ch, n.in_ch), "bias": (n.out_ch,)}


def value_ranges(n: Node, exp_max: int) -> dict[str, tuple[int, int]]:
    """Inclusive [lo, hi] of every integer field of a node that has a fixed range (docs/integer-semantics.md).

    ``exp_max`` is E (``quantization.shift_exp_max``). The biases have no fixed range: they are checked through the
    proven requant sum (:func:`check_int64_sums`).
    """
    m = (1 << MULT_BITS) - 1  # |M| < 2**15: a signed 16-bit DSP operand
    if n.kind == "conv":
        base = {"mult": (-m, m), "shift": (1, MAX_SHIFT)}
        if n.op == "conv":
            return {"weight": (-CONV_W_MAX, CONV_W_MAX), **base}
        if n.op == "adder":
            return {"weight": (ADDER_W_MIN, ADDER_W_MAX), **base}
        return {"sign": (-1, 1), "exp": (0, exp_max), "exp_max": (exp_max, exp_max), **base}
    if n.kind == "add":  # both input scales are positive, so are their multipliers
        return {"mult_a": (0, m), "mult_b": (0, m), "shift": (1, MAX_SHIFT)}
    if n.kind == "gap":
        return {"mult": (0, m), "shift": (1, MAX_SHIFT)}
    return {"weight": (-CONV_W_MAX, CONV_W_MAX)}


def _check_range(path, fld: str, v: np.ndarray, lo: int, hi: int) -> None:
    if v.size and (v.min() < lo or v.max() > hi):
        bad = v.min() if v.min() < lo else v.max()
        where = np.unravel_index(int(np.argmin(v) if v.min() < lo else np.argmax(v)), v.shape) if v.ndim else ()
        at = f" at index {tuple(int(i) for i in where)}" if where else ""
        want = f"{lo}" if lo == hi else f"[{lo}, {hi}]"
        raise ModelFileError(path, fld, f"values must lie in {want}, found {bad}{at}")


INT64_MAX = (1 << 63) - 1


def check_int64_sums(nodes: list[Node], params: dict[str, dict[str, np.ndarray]], path=None) -> None:
    """Every implementation computes ``acc * M + B + 2**(S-1)`` (and the classifier's ``acc + bias``) in int64: refuse
    biases for which the proven bound of that sum does not fit. Python integers, so the check itself cannot wrap;
    the add and pooling sums are bounded by the ranges of :func:`value_ranges` alone."""
    by_name = {n.name: n for n in nodes}
    for n in nodes:
        if n.kind not in ("conv", "fc"):
            continue
        p = params[n.name]
        in_range = input_range(n, by_name)
        bias = max(abs(int(b)) for b in p["bias"].ravel())
        if n.kind == "conv":
            acc_lo, acc_hi = layer_bounds(n, p, in_range)
            mult = max(abs(int(m)) for m in p["mult"].ravel())
            big = max(-acc_lo, acc_hi) * mult + bias + (1 << (int(p["shift"].max()) - 1))
            what = "the requant sum acc * M + B + 2^(S-1)"
        else:
            mn, mx = product_bounds(p["weight"], *in_range)
            big = max(-int(mn.min()), int(mx.max())) + bias
            what = "the logit sum x . w + bias"
        if big > INT64_MAX:
            raise ModelFileError(path, f"weights[int/{n.name}/bias]",
                                 f"{what} of node {n.name} can reach {big} in magnitude, beyond int64 (every "
                                 "implementation's width): |bias| too large")


def integer_model_from_arrays(nodes: list[Node], arrays: dict[str, np.ndarray], exp_max: int,
                              path: Path | None = None) -> IntegerModel:
    """Rebuild and check the integer model: every node's fields present, with the right shapes, integer types and
    the documented ranges (docs/integer-semantics.md); errors name the weights file, the node and the field."""
    params: dict[str, dict[str, np.ndarray]] = {}
    for n in nodes:
        p = {}
        ranges = value_ranges(n, exp_max)
        for k, shape in expected_shapes(n).items():
            key = f"int/{n.name}/{k}"
            if key not in arrays:
                raise ModelFileError(path, f"weights[{key}]", f"missing from the weights file (node {n.name})")
            v = np.asarray(arrays[key])
            if v.shape != shape:
                raise ModelFileError(path, f"weights[{key}]", f"expected shape {shape}, got {v.shape}")
            if not np.issubdtype(v.dtype, np.integer) or (v.dtype.kind == "u" and v.itemsize >= 8):
                raise ModelFileError(path, f"weights[{key}]", f"expected a signed integer array, got {v.dtype}")
            if k in ranges:
                _check_range(path, f"weights[{key}]", v, *ranges[k])
            p[k] = v
        params[n.name] = p
    check_int64_sums(nodes, params, path)
    scales = {}
    for k in ("meta/input_scale", "meta/logit_scale"):
        if k not in arrays:
            raise ModelFileError(path, f"weights[{k}]", "missing from the weights file")
        v = np.asarray(arrays[k])
        if v.shape != () or not np.issubdtype(v.dtype, np.floating) or not (np.isfinite(v) and v > 0):
            raise ModelFileError(path, f"weights[{k}]", f"expected a finite positive float scalar, got {v!r}")
        scales[k] = float(v)
    return IntegerModel(nodes, params, scales["meta/input_scale"], scales["meta/logit_scale"])


def load_integer_model(mf: ModelFile) -> IntegerModel:
    """Integer model of a model file (sha256-checked sidecar, ranges checked against the model's quantization)."""
    return integer_model_from_arrays(mf.nodes, load_weights(mf), int(mf.quantization["shift_exp_max"]),
                                     mf.weights_path())


def float_state(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The float state stored in the weights file, as numpy arrays by state_dict key (empty when only the integer
    model was saved); writable copies, so that ``torch.from_numpy`` can wrap them."""
    return {k[len("float/"):]: np.array(v) for k, v in arrays.items() if k.startswith("float/")}
