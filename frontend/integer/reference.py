"""Numpy integer reference of every operator the hardware runs (no torch import).

Semantics are specified in ``docs/integer-semantics.md``; every other implementation (torch fake-quant eval path,
HLS C++ C model, Verilog PE arrays) is tested bit for bit against this module. Tensors are NCHW; accumulators are
computed in int64 and their real width is proven by :mod:`nash.frontend.integer.bounds`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from nash.frontend.core.graph import Node
from nash.frontend.core.op_registry import op_spec
from nash.frontend.core.quant_params import ACT_MAX, ACT_MIN, requantize, rounding_right_shift
from numpy.lib.stride_tricks import sliding_window_view

# Elements of the |x - w| broadcast held at once by the adder reference (bounds its memory to ~256 MiB).
_ADDER_CHUNK_ELEMS = 1 << 25


def patches(x: np.ndarray, kernel: int, stride: int, padding: int, groups: int) -> np.ndarray:
    """Zero-padded sliding windows: [N, C, H, W] -> [N, G, OH*OW, (C/G)*k*k] int64 (window order c, i, j)."""
    x = np.asarray(x, dtype=np.int64)
    n, c, _, _ = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    win = sliding_window_view(xp, (kernel, kernel), axis=(2, 3))[:, :, ::stride, ::stride]
    oh, ow = win.shape[2], win.shape[3]
    win = win.reshape(n, groups, c // groups, oh, ow, kernel, kernel)
    return win.transpose(0, 1, 3, 4, 2, 5, 6).reshape(n, groups, oh * ow, (c // groups) * kernel * kernel)


def _grouped_weights(w: np.ndarray, groups: int) -> np.ndarray:
    """[M, C/G, k, k] -> [G, M/G, (C/G)*k*k] int64."""
    w = np.asarray(w, dtype=np.int64)
    return w.reshape(groups, w.shape[0] // groups, -1)


def _to_nchw(acc: np.ndarray, out_size: int) -> np.ndarray:
    """[N, G, L, M/G] -> [N, M, OH, OW]."""
    n, g, _, mg = acc.shape
    return acc.transpose(0, 1, 3, 2).reshape(n, g * mg, out_size, out_size)


def _out_size(x: np.ndarray, kernel: int, stride: int, padding: int) -> int:
    return (x.shape[2] + 2 * padding - kernel) // stride + 1


def conv_acc(x: np.ndarray, w: np.ndarray, stride: int = 1, padding: int = 0, groups: int = 1) -> np.ndarray:
    """acc[n,m,h,w] = sum_{c,i,j} x[n, c, h*s+i-p, w*s+j-p] * w[m,c,i,j]; padding contributes 0."""
    k = w.shape[-1]
    cols = patches(x, k, stride, padding, groups)
    acc = np.matmul(cols, _grouped_weights(w, groups).transpose(0, 2, 1)[None])
    return _to_nchw(acc, _out_size(x, k, stride, padding))


def shift_weights(sign: np.ndarray, exp: np.ndarray, exp_max: int) -> np.ndarray:
    """Integer weight of a shift layer: sign * 2**(E - e), i.e. the input left-shifted by (E - e), with the sign."""
    sign = np.asarray(sign, dtype=np.int64)
    exp = np.asarray(exp, dtype=np.int64)
    if np.any((exp < 0) | (exp > exp_max)) or np.any(np.abs(sign) > 1):
        raise ValueError(f"shift weights out of range: need sign in {{-1,0,1}} and exponent in [0, {exp_max}]")
    return sign * np.left_shift(np.int64(1), exp_max - exp)


def shift_acc(x: np.ndarray, sign: np.ndarray, exp: np.ndarray, exp_max: int, stride: int = 1, padding: int = 0,
              groups: int = 1) -> np.ndarray:
    """acc = sum sign * (x << (E - e)): exact, the 2**-E goes into the output scale."""
    return conv_acc(x, shift_weights(sign, exp, exp_max), stride, padding, groups)


def adder_acc(x: np.ndarray, w: np.ndarray, stride: int = 1, padding: int = 0, groups: int = 1) -> np.ndarray:
    """acc[n,m,h,w] = -sum_{c,i,j} |x[n, c, h*s+i-p, w*s+j-p] - w[m,c,i,j]|; a padded position gives -|w|."""
    k = w.shape[-1]
    cols = patches(x, k, stride, padding, groups)  # [N, G, L, K]
    wg = _grouped_weights(w, groups)  # [G, Mg, K]
    n, g, L, K = cols.shape
    mg = wg.shape[1]
    acc = np.empty((n, g, L, mg), dtype=np.int64)
    step = max(1, _ADDER_CHUNK_ELEMS // max(1, g * mg * K))
    for i in range(n):
        for l0 in range(0, L, step):
            blk = cols[i, :, l0:l0 + step, None, :] - wg[:, None, :, :]  # [G, l, Mg, K]
            acc[i, :, l0:l0 + step] = -np.abs(blk).sum(axis=-1)
    return _to_nchw(acc, _out_size(x, k, stride, padding))


def residual_add(a: np.ndarray, b: np.ndarray, mult_a: int, mult_b: int, shift: int) -> np.ndarray:
    """q = clamp((a*Ma + b*Mb + 2**(S-1)) >> S, -128, 127): both inputs rescaled to the output scale."""
    acc = np.asarray(a, dtype=np.int64) * int(mult_a) + np.asarray(b, dtype=np.int64) * int(mult_b)
    return np.clip(rounding_right_shift(acc, int(shift)), ACT_MIN, ACT_MAX).astype(np.int8)


def global_avg_pool(x: np.ndarray, mult: int, shift: int) -> np.ndarray:
    """[N, C, H, W] -> [N, C]: q = clamp((sum_hw x * M + 2**(S-1)) >> S, -128, 127), M/2**S ~= 1/(H*W)."""
    acc = np.asarray(x, dtype=np.int64).sum(axis=(2, 3))
    return np.clip(rounding_right_shift(acc * int(mult), int(shift)), ACT_MIN, ACT_MAX).astype(np.int8)


def fully_connected(x: np.ndarray, w: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """[N, C] x [M, C] -> int64 logits acc = x @ w.T + bias (bias in the accumulator's scale); no requant."""
    return np.asarray(x, dtype=np.int64) @ np.asarray(w, dtype=np.int64).T + np.asarray(bias, dtype=np.int64)


def layer_acc(node: Node, x: np.ndarray, p: Mapping[str, np.ndarray]) -> np.ndarray:
    """Accumulator of a conv-kind node: the numpy reference its op's spec names (conv_acc, shift_acc, adder_acc)."""
    try:
        spec = op_spec(node.op)
    except ValueError as e:
        raise ValueError(f"node {node.name}: {e}") from None
    return spec.resolve("numpy_acc")(x, *spec.weight_args(p), node.stride, node.padding, node.groups)


def run_node(node: Node, tensors: Mapping[str, np.ndarray], p: Mapping[str, np.ndarray]) -> np.ndarray:
    """Run one node on already computed tensors; returns int8 activations (int64 logits for fc)."""
    x = tensors[node.inputs[0]]
    if node.kind == "conv":
        return requantize(layer_acc(node, x, p), p["mult"], p["bias"], p["shift"], node.relu)
    if node.kind == "add":
        return residual_add(x, tensors[node.inputs[1]], int(p["mult_a"]), int(p["mult_b"]), int(p["shift"]))
    if node.kind == "gap":
        return global_avg_pool(x, int(p["mult"]), int(p["shift"]))
    if node.kind == "fc":
        return fully_connected(x, p["weight"], p["bias"])
    raise ValueError(f"node {node.name}: unknown kind {node.kind!r}")


def run_network(nodes: list[Node], params: Mapping[str, Mapping[str, np.ndarray]], q_input: np.ndarray,
                keep: bool = False) -> dict[str, np.ndarray] | np.ndarray:
    """Run the whole integer network on int8 input [N, C, H, W].

    Returns the int64 logits, or with ``keep=True`` every node's output by name (for first-mismatch reports).
    """
    tensors: dict[str, np.ndarray] = {"input": np.asarray(q_input)}
    if tensors["input"].dtype != np.int8:
        raise TypeError(f"integer network input must be int8, got {tensors['input'].dtype}")
    for node in nodes:
        tensors[node.name] = run_node(node, tensors, params[node.name])
    return tensors if keep else tensors[nodes[-1].name]
