"""What a Tm x Tn PE array is made of, in the units the cost table prices: the one description of the array that both
the accelerator model (``model.EngineModel.resources``) and the synthesis fit (``synth_fit``) use.

A row of the array (one output m) is Tn PEs feeding a registered adder tree (``integer.bounds.adder_tree_levels``,
the tree the Verilog PE arrays build); each tree node is as wide as the sum of its leaves, so an adder costs per bit
of its width (one LUT and one carry bit, its register one FF). The Tn activation registers are shared by the rows:

    R = tm tn x <engine>.pe_R + tm x tree_bits(tn) x tree.R_per_bit + tn x array.column_R

(DSPs: only the conv PEs, ``conv.pe_dsp`` each.)
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

import numpy as np
from nash.frontend.core.op_registry import engine_spec
from nash.frontend.core.quant_params import DEFAULT_SHIFT_EXP_MAX
from nash.frontend.integer.bounds import adder_tree_bits

TERMS = ("pe", "tree_bit", "column")  # the priced units of one array


@lru_cache(maxsize=4096)
def tree_bits(engine: str, tn: int, exp_max: int = DEFAULT_SHIFT_EXP_MAX) -> int:
    """Summed node width of one output row's adder tree of an engine's PE array (0 for tn = 1)."""
    return adder_tree_bits(engine_spec(engine).term_range(exp_max), int(tn))


def array_counts(engine: str, tm: int, tn: int, exp_max: int = DEFAULT_SHIFT_EXP_MAX) -> dict[str, int]:
    """How many of each unit in :data:`TERMS` a Tm x Tn array of ``engine`` holds: PEs, tree bits, input columns.

    >>> array_counts("conv", 2, 4)  # two rows of a 4-term tree: 17 + 17 + 18 bits each
    {'pe': 8, 'tree_bit': 104, 'column': 4}
    """
    return {"pe": int(tm) * int(tn), "tree_bit": int(tm) * tree_bits(engine, int(tn), exp_max), "column": int(tn)}


def cost_keys(engine: str, res: str, fabric: bool = False) -> dict[str, str]:
    """The cost-table entry that prices each unit of :data:`TERMS` for resource ``res`` (lut, ff, carry8, dsp).

    Only the PEs use DSPs (the tree and the columns have no ``dsp`` entry). ``fabric``: the conv PEs on LUT
    multipliers (``conv.pe_lut_fabric`` ...; no DSP), measured with ``synth_xilinx -nodsp``.
    """
    if fabric:
        if engine != "conv":
            raise ValueError(f"fabric: only the conv engine has a DSP multiplier to replace, not {engine!r}")
        pe = f"conv.pe_{res}_fabric"
    else:
        cost = engine_spec(engine).cost  # the op registry names the per-PE entries it prices
        pe = {"lut": cost.lut, "ff": cost.ff, "dsp": cost.dsp}.get(res) or f"{engine}.pe_{res}"
    if res == "dsp":
        return {} if fabric or engine_spec(engine).cost.kind != "dsp" else {"pe": pe}
    return {"pe": pe, "tree_bit": f"tree.{res}_per_bit", "column": f"array.column_{res}"}


def array_price(values: Mapping[str, float], engine: str, tm, tn, res: str, fabric: bool = False,
                exp_max: int = DEFAULT_SHIFT_EXP_MAX):
    """``res`` of Tm x Tn arrays of ``engine`` priced by the table ``values`` (ints or numpy arrays of tm, tn):
    the formula in the module docstring."""
    tm, tn = np.asarray(tm, dtype=np.int64), np.asarray(tn, dtype=np.int64)
    bits = np.vectorize(lambda t: tree_bits(engine, int(t), exp_max), otypes=[np.int64])(tn)
    counts = {"pe": tm * tn, "tree_bit": tm * bits, "column": tn}
    return sum((counts[u] * values[key] for u, key in cost_keys(engine, res, fabric).items()),
               np.zeros(np.broadcast(tm, tn).shape))
