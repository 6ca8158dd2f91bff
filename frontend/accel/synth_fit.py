"""Cost-table entries fitted to synthesis results of the Verilog PE arrays and the requant lane.

Input: measurements, one dict per synthesized module (written by ``codegen/rtl/yosys_calibrate.py``)::

    {"unit": "pe_array", "engine": "conv", "tm": 8, "tn": 8, "exp_max": 7,
     "resources": {"lut": ..., "ff": ..., "dsp": ..., "carry8": ...}}
    {"unit": "requant_lane", "acc_bits": 24, "sum_bits": 40, "resources": {...}}

Two non-negative least-squares fits per resource, over every array of every engine at once:

* **model formula** (the interface the accelerator model prices today, ``accel/model.py``): ``R = pe_e x tm tn +
  node x tm (tn - 1)``: one per-PE cost per engine and one per-tree-node cost shared by the engines. These give
  ``<engine>.pe_*`` and ``tree.adder_*``.
* **per bit**: ``R = pe_e x tm tn + bit x tm x tree_bits(tn) + lane x tn + c``, where ``tree_bits`` is the summed
  width of one row's tree nodes (``integer.bounds.adder_tree_bits``; an adder costs one LUT and one carry bit per bit
  of its width, its register one FF per bit) and ``lane`` the input registers shared by the rows. This gives
  ``tree.*_per_bit``: narrow adder-engine trees cost less per node than conv/shift ones, which a per-node constant
  cannot say.

The requant lane entries are the lane's measured counts at the reference widths. Entries whose current source is a
csynth or Vivado report are kept: those tools' figures take precedence over an open tool's.
"""

from __future__ import annotations

import numpy as np
from nash.frontend.accel.cost_table import CostTable
from nash.frontend.core.errors import UserInputError
from nash.frontend.core.op_registry import PE_ENGINES, engine_spec
from nash.frontend.integer.bounds import adder_tree_bits
from scipy.optimize import nnls

RESOURCES = ("lut", "ff", "carry8", "dsp")
PRECEDENCE = ("csynth", "vivado")  # sources that a synthesis fit never replaces
REFERENCE_LANE = (24, 40)  # (ACC_W, SUM_W) of the requant entries: mid-range of the proven widths (16-32 bits)


class SynthFitError(UserInputError):
    """Measurements that cannot determine the fit (too few array shapes, a missing engine)."""


def tree_bits(engine: str, tn: int, exp_max: int = 7) -> int:
    """Summed node width of one output row's adder tree of an engine's PE array."""
    return adder_tree_bits(engine_spec(engine).term_range(exp_max), tn)


def _features(rows: list[dict], engines: list[str], per_bit: bool) -> tuple[np.ndarray, list[str]]:
    names = [f"pe:{e}" for e in engines] + (["tree_bit", "lane", "const"] if per_bit else ["tree_node"])
    x = np.zeros((len(rows), len(names)))
    for i, r in enumerate(rows):
        tm, tn = r["tm"], r["tn"]
        x[i, engines.index(r["engine"])] = tm * tn
        if per_bit:
            x[i, len(engines):] = (tm * tree_bits(r["engine"], tn, r.get("exp_max", 7)), tn, 1.0)
        else:
            x[i, len(engines)] = tm * (tn - 1)
    return x, names


def _nnls(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative least squares on columns scaled to unit norm (the PE and tree columns differ by 10-100x)."""
    scale = np.linalg.norm(x, axis=0)
    scale[scale == 0] = 1.0
    coef, _ = nnls(x / scale, y)
    return coef / scale


def check_shapes(rows: list[dict]) -> None:
    """SynthFitError unless the array shapes (``engine``, ``tm``, ``tn`` per row) determine both fits' costs; runs
    before any synthesis, so that a bad ``--sizes`` fails at once."""
    engines = [e for e in PE_ENGINES if any(r["engine"] == e for r in rows)]
    for per_bit in (False, True):
        x, names = _features(rows, engines, per_bit)
        if np.linalg.matrix_rank(x) < len(names):
            raise SynthFitError(f"synthesis fit: the {len(rows)} array shapes do not determine the {len(names)} "
                                f"costs ({', '.join(names)}); synthesize more shapes per engine (--sizes)")


def fit_arrays(rows: list[dict], per_bit: bool) -> dict:
    """Both fits' coefficients and per-array residuals: {"coef": {res: {name: value}}, "residuals": [...]}."""
    check_shapes(rows)
    engines = [e for e in PE_ENGINES if any(r["engine"] == e for r in rows)]
    x, names = _features(rows, engines, per_bit)
    coef, fitted = {}, {}
    for res in RESOURCES:
        y = np.array([float(r["resources"][res]) for r in rows])
        c = _nnls(x, y)
        coef[res] = {n: round(float(v), 4) for n, v in zip(names, c, strict=True)}
        fitted[res] = x @ c
    residuals = []
    for i, r in enumerate(rows):
        entry = {"engine": r["engine"], "tm": r["tm"], "tn": r["tn"]}
        for res in RESOURCES:
            meas, fit = float(r["resources"][res]), float(fitted[res][i])
            entry[res] = {"measured": meas, "fitted": round(fit, 1),
                          "rel_error": round((fit - meas) / meas, 4) if meas else (0.0 if abs(fit) < 0.5 else None)}
        residuals.append(entry)
    return {"features": names, "coef": coef, "residuals": residuals,
            "max_abs_rel_error": {res: max((abs(e[res]["rel_error"]) for e in residuals
                                            if e[res]["rel_error"] is not None), default=0.0) for res in RESOURCES}}


def table_ratio(table: CostTable, rows: list[dict]) -> list[dict]:
    """Per array: synthesis / the table's model-formula price of the PE array (LUT, FF, DSP)."""
    out = []
    for r in rows:
        e, pes, nodes = r["engine"], r["tm"] * r["tn"], r["tm"] * (r["tn"] - 1)
        entry = {"engine": e, "tm": r["tm"], "tn": r["tn"]}
        for res in ("lut", "ff", "dsp"):
            key = f"{e}.pe_{res}"
            price = pes * table.values.get(key, 0.0) + (nodes * table.values[f"tree.adder_{res}"] if res != "dsp"
                                                        else 0.0)
            meas = float(r["resources"][res])
            entry[res] = {"table": round(price, 1), "synthesis": meas,
                          "synthesis_over_table": round(meas / price, 3) if price else None}
        out.append(entry)
    return out


def fit_synthesis(table: CostTable, measurements: list[dict], source: str) -> tuple[CostTable, dict]:
    """The table with the synthesis-fitted entries, and the fit report (coefficients, residuals, ratios, changes).

    ``source`` names the tool and version (e.g. ``"yosys 0.23 synth_xilinx -family xcup"``); each entry's source
    says which fit and which shapes it comes from.
    """
    arrays = [m for m in measurements if m.get("unit") == "pe_array"]
    lanes = [m for m in measurements if m.get("unit") == "requant_lane"]
    if not arrays:
        raise SynthFitError("synthesis fit: no PE-array measurements")
    formula, per_bit = fit_arrays(arrays, per_bit=False), fit_arrays(arrays, per_bit=True)
    shapes = {e: sorted({f"{r['tm']}x{r['tn']}" for r in arrays if r["engine"] == e}, key=_shape_key)
              for e in PE_ENGINES}
    used = [s for s in shapes.values() if s]
    where = (f"every engine at {', '.join(used[0])}" if all(s == used[0] for s in used)
             else "; ".join(f"{e} {', '.join(s)}" for e, s in shapes.items() if s))
    new: dict[str, tuple[float, str]] = {}
    for e in PE_ENGINES:
        if not shapes[e]:
            continue
        for res in ("lut", "ff", "carry8") + (("dsp",) if engine_spec(e).cost.kind == "dsp" else ()):
            new[f"{e}.pe_{res}"] = (formula["coef"][res][f"pe:{e}"],
                                    f"{source}: per-PE fit of tm tn x pe + tm (tn-1) x node over {where}")
    for res in ("lut", "ff", "carry8"):
        new[f"tree.adder_{res}"] = (formula["coef"][res]["tree_node"],
                                    f"{source}: per-node fit (shared by the engines) over {where}")
        new[f"tree.{res}_per_bit"] = (per_bit["coef"][res]["tree_bit"],
                                      f"{source}: per bit of a tree node's width, fit over {where}")
    if lanes:
        acc, total = REFERENCE_LANE
        ref = min(lanes, key=lambda m: abs(m["acc_bits"] - acc) + abs(m["sum_bits"] - total))
        for res in RESOURCES:
            new[f"requant.lane_{res}"] = (float(ref["resources"][res]),
                                          f"{source}: one lane at ACC_W {ref['acc_bits']}, SUM_W {ref['sum_bits']} "
                                          "(codegen/rtl/requant_lane.py)")
    values, sources = dict(table.values), dict(table.sources)
    changes, kept = [], []
    for key, (v, src) in new.items():
        if key not in values:
            raise SynthFitError(f"synthesis fit: entry {key!r} is not in the cost table")
        if sources[key].lower().startswith(PRECEDENCE):
            kept.append({"entry": key, "value": values[key], "source": sources[key], "synthesis": v})
            continue
        old = values[key]
        changes.append({"entry": key, "old": old, "new": round(v, 4),
                        "new_over_old": round(v / old, 3) if old else None})
        values[key], sources[key] = round(v, 4), src
    report = {"source": source, "fit_model_formula": formula, "fit_per_bit": per_bit,
              "table_vs_synthesis": {"before": table_ratio(table, arrays)},
              "requant_lanes": lanes, "changes": changes, "kept": kept}
    out = CostTable(values, sources, table.path)
    report["table_vs_synthesis"]["after"] = table_ratio(out, arrays)
    return out, report


def _shape_key(s: str) -> tuple[int, int]:
    tm, tn = s.split("x")
    return int(tm) * int(tn), int(tm)
