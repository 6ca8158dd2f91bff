"""The sidecar weights file: integer model (what the hardware runs) plus the float state (to keep training).

Keys of the ``.npz``: ``int/<node>/<field>`` integer parameters per graph node, ``meta/input_scale`` and
``meta/logit_scale`` (float64 scalars), and ``float/<state_dict key>`` for the torch model's parameters and buffers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from nash.frontend.core.graph import Node
from nash.frontend.core.model_file import ModelFile, ModelFileError, load_weights
from nash.frontend.core.quant_params import ADDER_W_MAX, ADDER_W_MIN, CONV_W_MAX, MAX_SHIFT
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


def _check_range(path, fld: str, v: np.ndarray, lo: int, hi: int) -> None:
    if v.size and (v.min() < lo or v.max() > hi):
        raise ModelFileError(path, fld, f"values must lie in [{lo}, {hi}], found [{v.min()}, {v.max()}]")


def integer_model_from_arrays(nodes: list[Node], arrays: dict[str, np.ndarray],
                              path: Path | None = None) -> IntegerModel:
    """Rebuild and check the integer model: every node's fields present, with the right shapes and ranges."""
    params: dict[str, dict[str, np.ndarray]] = {}
    for n in nodes:
        p = {}
        for k, shape in expected_shapes(n).items():
            key = f"int/{n.name}/{k}"
            if key not in arrays:
                raise ModelFileError(path, f"weights[{key}]", f"missing from the weights file (node {n.name})")
            v = np.asarray(arrays[key])
            if v.shape != shape:
                raise ModelFileError(path, f"weights[{key}]", f"expected shape {shape}, got {v.shape}")
            if not np.issubdtype(v.dtype, np.integer):
                raise ModelFileError(path, f"weights[{key}]", f"expected an integer array, got {v.dtype}")
            p[k] = v
        if "shift" in p:
            _check_range(path, f"weights[int/{n.name}/shift]", p["shift"], 1, MAX_SHIFT)
        if n.kind == "conv" and n.op == "conv" or n.kind == "fc":
            _check_range(path, f"weights[int/{n.name}/weight]", p["weight"], -CONV_W_MAX - 1, CONV_W_MAX)
        if n.kind == "conv" and n.op == "adder":
            _check_range(path, f"weights[int/{n.name}/weight]", p["weight"], ADDER_W_MIN, ADDER_W_MAX)
        if n.kind == "conv" and n.op == "shift":
            _check_range(path, f"weights[int/{n.name}/sign]", p["sign"], -1, 1)
            _check_range(path, f"weights[int/{n.name}/exp]", p["exp"], 0, int(p["exp_max"]))
        params[n.name] = p
    for k in ("meta/input_scale", "meta/logit_scale"):
        if k not in arrays:
            raise ModelFileError(path, f"weights[{k}]", "missing from the weights file")
    return IntegerModel(nodes, params, float(arrays["meta/input_scale"]), float(arrays["meta/logit_scale"]))


def load_integer_model(mf: ModelFile) -> IntegerModel:
    """Integer model of a model file (sha256-checked sidecar)."""
    return integer_model_from_arrays(mf.nodes, load_weights(mf), mf.weights_path())


def float_state(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The float state stored in the weights file, as numpy arrays by state_dict key (empty when only the integer
    model was saved); writable copies, so that ``torch.from_numpy`` can wrap them."""
    return {k[len("float/"):]: np.array(v) for k, v in arrays.items() if k.startswith("float/")}
