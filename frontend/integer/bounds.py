"""Proven accumulator value bounds per layer (numpy only).

For a conv-kind layer with integer weights and inputs in ``[lo, hi]`` (``lo <= 0 <= hi``, so zero padding is inside
the range), each output is a sum over its window of independent terms; the extreme of each term is at ``x = lo`` or
``x = hi`` (for |x - w| also ``x = w`` when ``lo <= w <= hi``). Summing the per-term extremes gives a bound that no
input can exceed. Codegen uses :func:`accumulator_bits` to size accumulators (int32 unless the bound says otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from nash.frontend.core.graph import Node
from nash.frontend.core.op_registry import ADDER, CONV, op_spec
from nash.frontend.core.quant_params import ACT_MAX, ACT_MIN, clamp_range


def _per_output_terms(w: np.ndarray) -> np.ndarray:
    """[M, C/G, k, k] -> [M, K]."""
    return np.asarray(w, dtype=np.int64).reshape(w.shape[0], -1)


def _term_sums(spec, w: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Per output channel [min, max] of the sum of the op's terms (the spec's per-term bound, summed)."""
    tmin, tmax = spec.term_extremes(_per_output_terms(w), lo, hi)
    return tmin.sum(axis=1), tmax.sum(axis=1)


def product_bounds(w: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Per output channel [min, max] of sum_k x_k * w_k over x_k in [lo, hi]."""
    return _term_sums(CONV, w, lo, hi)


def adder_bounds(w: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Per output channel [min, max] of -sum_k |x_k - w_k| over x_k in [lo, hi]."""
    return _term_sums(ADDER, w, lo, hi)


def input_range(node: Node, nodes_by_name: Mapping[str, Node]) -> tuple[int, int]:
    """Value range of a node's first input tensor, from the producer's clamp (the network input is full int8)."""
    src = node.inputs[0]
    if src == "input":
        return ACT_MIN, ACT_MAX
    prod = nodes_by_name[src]
    return clamp_range(prod.relu) if prod.kind == "conv" else (ACT_MIN, ACT_MAX)


def layer_bounds(node: Node, p: Mapping[str, np.ndarray], in_range: tuple[int, int]) -> tuple[int, int]:
    """[min, max] of the accumulator of one node over all inputs in ``in_range`` (whole layer)."""
    lo, hi = in_range
    if node.kind == "conv":
        spec = op_spec(node.op)
        mn, mx = _term_sums(spec, spec.integer_weight(p), lo, hi)
        return int(mn.min()), int(mx.max())
    if node.kind == "fc":
        mn, mx = product_bounds(p["weight"], lo, hi)
        b = np.asarray(p["bias"], dtype=np.int64)
        return int((mn + b).min()), int((mx + b).max())
    if node.kind == "gap":
        n = node.in_size**2
        return n * lo, n * hi
    if node.kind == "add":
        ma, mb = int(p["mult_a"]), int(p["mult_b"])
        terms = [ma * ACT_MIN, ma * ACT_MAX]
        terms2 = [mb * ACT_MIN, mb * ACT_MAX]
        return min(terms) + min(terms2), max(terms) + max(terms2)
    raise ValueError(f"node {node.name}: unknown kind {node.kind!r}")


def signed_bits(lo: int, hi: int) -> int:
    """Smallest two's-complement width holding every integer in [lo, hi]."""
    bits = 1
    while not (-(1 << (bits - 1)) <= lo and hi <= (1 << (bits - 1)) - 1):
        bits += 1
    return bits


def adder_tree_levels(tn: int) -> list[list[tuple[int, int]]]:
    """Shape of the PE arrays' registered adder tree over ``tn`` terms: per level, per node, the leaf counts of its two
    inputs ``(a, b)`` (``b = 0``: an odd node passed through). Node i of a level adds nodes 2i and 2i+1 of the level
    below; ``tn = 1`` has no level."""
    nodes = [1] * int(tn)
    out = []
    while len(nodes) > 1:
        row = [(nodes[i], nodes[i + 1] if i + 1 < len(nodes) else 0) for i in range(0, len(nodes), 2)]
        out.append(row)
        nodes = [a + b for a, b in row]
    return out


def adder_tree_bits(term_range: tuple[int, int], tn: int) -> int:
    """Summed register width of one output row's adder tree: each node is exactly as wide as the sum of its leaves
    (terms in ``term_range``). This is what the tree costs per bit of LUT, FF and carry (docs/accelerator-model.md)."""
    lo, hi = term_range
    return sum(signed_bits((a + b) * lo, (a + b) * hi) for row in adder_tree_levels(tn) for a, b in row)


def accumulator_bits(node: Node, p: Mapping[str, np.ndarray], in_range: tuple[int, int]) -> int:
    """Proven accumulator width in bits for one node."""
    return signed_bits(*layer_bounds(node, p, in_range))


def network_bounds(nodes: list[Node], params: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, dict]:
    """Per node: accumulator [min, max], its width, and the width of the requant product acc*M + B."""
    by_name = {n.name: n for n in nodes}
    out = {}
    for node in nodes:
        p = params[node.name]
        lo, hi = layer_bounds(node, p, input_range(node, by_name))
        entry = {"acc_min": lo, "acc_max": hi, "acc_bits": signed_bits(lo, hi)}
        if node.kind in ("conv", "gap"):
            m = np.abs(np.asarray(p["mult"], dtype=np.int64)).max()
            b = np.abs(np.asarray(p.get("bias", 0), dtype=np.int64)).max()
            big = max(abs(lo), abs(hi)) * int(m) + int(b) + (1 << (int(np.max(p["shift"])) - 1))
            entry["product_bits"] = signed_bits(-big, big)
        out[node.name] = entry
    return out
