"""Cost-table entries fitted to synthesis results of the Verilog PE arrays, depthwise lanes and requant lanes.

Input: measurements, one dict per synthesized module (written by ``codegen/rtl/yosys_calibrate.py``)::

    {"unit": "pe_array", "engine": "conv", "tm": 8, "tn": 8, "exp_max": 7, "fabric": false,
     "resources": {"lut": ..., "ff": ..., "dsp": ..., "carry8": ...}}
    {"unit": "dw_lane", "engine": "shift", "acc_bits": 32, "exp_max": 7, "fabric": false, "resources": {...}}
    {"unit": "requant_lane", "acc_bits": 24, "sum_bits": 40, "resources": {...}}

One non-negative least-squares fit per resource, over every array of every engine at once, of the formula the
accelerator model prices (``accel/array_cost.py``; the csynth calibration subtracts the same tree and column shares):
``R = pe_e x tm tn + bit x tm x tree_bits(tn) + column x tn``, where ``tree_bits`` is the summed width of one row's
tree nodes (an adder costs per bit of its width) and ``column`` the activation registers shared by the rows. This
gives ``<engine>.pe_*``, ``tree.*_per_bit`` and ``array.column_*``; conv arrays synthesized without DSPs
(``fabric``) are a fourth PE column of the same fit (``conv.pe_*_fabric``), sharing the tree and column costs.

The depthwise-lane entries ``<engine>.dw_lane_*`` are one lane's measured counts (input registers, the op, the
accumulator) at ACC_BITS 32; the requant lane entries the lane's counts at the reference widths. Entries whose
current source is a csynth or Vivado report are kept: those tools' figures take precedence over an open tool's.
"""

from __future__ import annotations

import numpy as np
from nash.frontend.accel.array_cost import array_counts, array_price, cost_keys
from nash.frontend.accel.cost_table import CostTable
from nash.frontend.core.errors import UserInputError
from nash.frontend.core.op_registry import PE_ENGINES, engine_spec
from scipy.optimize import nnls

RESOURCES = ("lut", "ff", "carry8", "dsp")
PRECEDENCE = ("csynth", "vivado")  # sources that a synthesis fit never replaces
REFERENCE_LANE = (24, 40)  # (ACC_W, SUM_W) of the requant entries: mid-range of the proven widths (16-32 bits)
DW_LANE_ACC_BITS = 32  # the model's accumulator width (accel/model.py ACC_BITS)
FABRIC = "conv_fabric"  # the fit's name of the conv PE on LUT multipliers


class SynthFitError(UserInputError):
    """Measurements that cannot determine the fit (too few array shapes, a missing engine)."""


def _column(r: dict) -> str:
    """The PE column of a measured array: its engine, or conv on LUT multipliers."""
    return FABRIC if r.get("fabric") else r["engine"]


def _features(rows: list[dict], kinds: list[str]) -> tuple[np.ndarray, list[str]]:
    names = [f"pe:{k}" for k in kinds] + ["tree_bit", "column"]
    x = np.zeros((len(rows), len(names)))
    for i, r in enumerate(rows):
        n = array_counts(r["engine"], r["tm"], r["tn"], r.get("exp_max", 7))
        x[i, kinds.index(_column(r))] = n["pe"]
        x[i, len(kinds):] = (n["tree_bit"], n["column"])
    return x, names


def _kinds(rows: list[dict]) -> list[str]:
    return [k for k in (*PE_ENGINES, FABRIC) if any(_column(r) == k for r in rows)]


def _nnls(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative least squares on columns scaled to unit norm (the PE and tree columns differ by 10-100x)."""
    scale = np.linalg.norm(x, axis=0)
    scale[scale == 0] = 1.0
    coef, _ = nnls(x / scale, y)
    return coef / scale


def check_shapes(rows: list[dict]) -> None:
    """SynthFitError unless the array shapes (``engine``, ``tm``, ``tn`` per row) determine the fit's costs; runs
    before any synthesis, so that a bad ``--sizes`` fails at once."""
    kinds = _kinds(rows)
    x, names = _features(rows, kinds)
    if np.linalg.matrix_rank(x) < len(names):
        raise SynthFitError(f"synthesis fit: the {len(rows)} array shapes do not determine the {len(names)} "
                            f"costs ({', '.join(names)}); synthesize more shapes per engine (--sizes)")


def fit_arrays(rows: list[dict]) -> dict:
    """One fit's coefficients and per-array residuals: {"coef": {res: {name: value}}, "residuals": [...]}.

    The engines' arrays are fitted together; conv arrays without DSPs (``fabric``) then get their own per-PE cost on
    top of the tree and column costs that fit found, so that their large LUT counts do not pull the shared costs of
    the arrays the model prices.
    """
    main = [r for r in rows if not r.get("fabric")]
    fabric = [r for r in rows if r.get("fabric")]
    check_shapes(main)
    x, names = _features(main, _kinds(main))
    xf = _features(fabric, [FABRIC])[0] if fabric else None
    coef, fitted = {}, {}
    for res in RESOURCES:
        c = _nnls(x, np.array([float(r["resources"][res]) for r in main]))
        coef[res] = {n: float(v) for n, v in zip(names, c, strict=True)}
        fitted[res] = x @ c
        if xf is not None:  # least squares of the PE cost alone, the shared costs fixed
            shared = xf[:, 1:] @ np.array([coef[res]["tree_bit"], coef[res]["column"]])
            yf = np.array([float(r["resources"][res]) for r in fabric])
            coef[res][f"pe:{FABRIC}"] = pe = max(0.0, float(xf[:, 0] @ (yf - shared) / (xf[:, 0] @ xf[:, 0])))
            fitted[res] = np.concatenate([fitted[res], xf[:, 0] * pe + shared])
        coef[res] = {n: round(v, 4) for n, v in coef[res].items()}
    if fabric:
        names = [*names, f"pe:{FABRIC}"]
    rows = main + fabric
    residuals = []
    for i, r in enumerate(rows):
        entry = {"engine": r["engine"], "tm": r["tm"], "tn": r["tn"], "fabric": bool(r.get("fabric"))}
        for res in RESOURCES:
            meas, fit = float(r["resources"][res]), float(fitted[res][i])
            entry[res] = {"measured": meas, "fitted": round(fit, 1),
                          "rel_error": round((fit - meas) / meas, 4) if meas else (0.0 if abs(fit) < 0.5 else None)}
        residuals.append(entry)
    return {"features": names, "coef": coef, "residuals": residuals,
            "max_abs_rel_error": {res: max((abs(e[res]["rel_error"]) for e in residuals
                                            if e[res]["rel_error"] is not None), default=0.0) for res in RESOURCES}}


def table_ratio(table: CostTable, rows: list[dict]) -> list[dict]:
    """Per array: synthesis / the table's price of the PE array (LUT, FF, DSP), with the model's formula
    (:func:`~nash.frontend.accel.array_cost.array_price`)."""
    out = []
    for r in rows:
        fab = bool(r.get("fabric"))
        entry = {"engine": r["engine"], "tm": r["tm"], "tn": r["tn"], "fabric": fab}
        for res in ("lut", "ff", "dsp"):
            try:
                price = float(array_price(table.values, r["engine"], r["tm"], r["tn"], res, fab, r.get("exp_max", 7)))
            except KeyError:  # a table from before the entry existed (e.g. the fabric conv PE)
                price = None
            meas = float(r["resources"][res])
            entry[res] = {"table": None if price is None else round(price, 1), "synthesis": meas,
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
    dw = [m for m in measurements if m.get("unit") == "dw_lane"]
    if not arrays:
        raise SynthFitError("synthesis fit: no PE-array measurements")
    per_bit = fit_arrays(arrays)
    shapes = {k: sorted({f"{r['tm']}x{r['tn']}" for r in arrays if _column(r) == k}, key=_shape_key)
              for k in (*PE_ENGINES, FABRIC)}
    used = [shapes[e] for e in PE_ENGINES if shapes[e]]
    where = (f"every engine at {', '.join(used[0])}" if all(s == used[0] for s in used)
             else "; ".join(f"{e} {', '.join(shapes[e])}" for e in PE_ENGINES if shapes[e]))
    if shapes[FABRIC]:
        where += f"; conv without DSPs (synth_xilinx -nodsp) at {', '.join(shapes[FABRIC])}"
    fit = f"{source}: per-bit fit of tm tn x pe + tm tree_bits(tn) x bit + tn x column over {where}"
    new: dict[str, tuple[float, str]] = {}
    for kind in _kinds(arrays):
        engine, fab = ("conv", True) if kind == FABRIC else (kind, False)
        for res in RESOURCES:
            key = cost_keys(engine, res, fab).get("pe")
            if key is not None:
                new[key] = (per_bit["coef"][res][f"pe:{kind}"], fit)
    for res in ("lut", "ff", "carry8"):
        new[f"tree.{res}_per_bit"] = (per_bit["coef"][res]["tree_bit"], fit)
        new[f"array.column_{res}"] = (per_bit["coef"][res]["column"], fit)
    for m in dw:
        if m.get("acc_bits", DW_LANE_ACC_BITS) != DW_LANE_ACC_BITS:
            continue
        suffix = "_fabric" if m.get("fabric") else ""
        for res in ("lut", "ff") + (("dsp",) if engine_spec(m["engine"]).cost.kind == "dsp" and not suffix else ()):
            new[f"{m['engine']}.dw_lane_{res}{suffix}"] = (
                float(m["resources"][res]), f"{source}: one {m['engine']} depthwise lane (op + {DW_LANE_ACC_BITS}-bit "
                f"accumulator{', -nodsp' if suffix else ''}; codegen/rtl/dw_lanes.py)")
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
    report = {"source": source, "fit_per_bit": per_bit,
              "table_vs_synthesis": {"before": table_ratio(table, arrays)},
              "dw_lanes": dw, "requant_lanes": lanes, "changes": changes, "kept": kept}
    out = CostTable(values, sources, table.path)
    report["table_vs_synthesis"]["after"] = table_ratio(out, arrays)
    return out, report


def _shape_key(s: str) -> tuple[int, int]:
    tm, tn = s.split("x")
    return int(tm) * int(tn), int(tm)
