"""Cost-table entries from the Vivado utilisation of a routed design (``nash accel-calibrate --vivado``).

What one built design can calibrate, and what not:

* A hierarchical report (``report_utilization -hierarchical``) tells the units apart: per engine its HLS instance
  plus its bundle's m_axi adapter, the misc unit likewise, and the rest of the design (s_axilite control, the
  schedule loop, interconnect, SmartConnects, reset). Per unit and resource the measured count over the table's
  prediction for that design becomes ``vivado_scale.<unit>.<resource>``, which the model multiplies into the unit's
  resources (``accel/model.py``). One design cannot say which of a unit's terms (PEs, tree, control, buffers) is
  off, so the factor scales the unit as a whole; applying it to other shapes assumes the error carries over
  proportionally. The rest of the design sets ``shell.lut`` / ``shell.ff`` directly (the model's shell has no DSP,
  BRAM or URAM term; any found there is reported, not calibrated).
* A flat report (``report_utilization``; ``reports.json`` without a hierarchical report) only has totals: one factor
  per resource, measured total over predicted total, applied to every unit and to the shell alike.

A resource the model predicts as 0 for a unit cannot be scaled; it is listed, not calibrated. The factors are
measured against the other entries of the table they are written into; the prediction is computed with every
factor at 1, so a re-calibration replaces them rather than compounding. Every written entry's source names the tool
version, the report file, the design and the instances (``"vivado 2023.2 report_utilization -hierarchical: ..."``;
the ``vivado`` prefix is what the precedence rule of the Yosys fit keys on).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from nash.frontend.accel.board import load_board
from nash.frontend.accel.calibration import CalibrationError, PeTiming
from nash.frontend.accel.cost_table import SCALE_RESOURCES, SCALE_UNITS, CostTable, scale_key
from nash.frontend.accel.model import AccelContext, Configs, config_row, shell_resources
from nash.frontend.core.graph import Node
from nash.frontend.core.op_registry import MISC_ENGINE, PE_ENGINES

SHELL = "shell"
SHELL_ENTRIES = {"lut": "shell.lut", "ff": "shell.ff"}  # the shell's only cost-table terms
UNIT_NAMES = {"bram": "BRAM18"}  # how the resources are named in the messages (bram counted in 18K halves)


@dataclass
class Measurement:
    """Measured resources (``SCALE_RESOURCES`` keys, BRAM in 18K halves) of one routed design."""

    total: dict[str, float]
    report: str  # the report file
    tool_version: str
    design: str
    units: dict[str, dict[str, float]] | None = None  # unit -> resources; None for a flat report
    instances: dict[str, str] = field(default_factory=dict)  # unit -> the instances counted for it
    notes: list[str] = field(default_factory=list)  # what the reader saw but the calibration does not use

    @property
    def hierarchical(self) -> bool:
        return self.units is not None


def unscaled(table: CostTable) -> CostTable:
    """``table`` with every Vivado scale factor at 1 (what a new measurement is compared with)."""
    values = dict(table.values)
    for u in SCALE_UNITS:
        for r in SCALE_RESOURCES:
            values[scale_key(u, r)] = 1.0
    return CostTable(values, dict(table.sources), table.path)


def engine_row(section: dict, engine: str) -> tuple:
    """An engine's configuration row (tm, tn, dw, tile, requant lanes, accumulator memory code) from the accelerator
    section."""
    return config_row(section["engines"][engine])


def predicted_units(nodes: list[Node], section: dict, table: CostTable) -> dict[str, np.ndarray]:
    """The unscaled prediction of ``table`` for the design of ``section``: unit (the engines the network uses, misc,
    shell) -> resources in ``SCALE_RESOURCES`` order."""
    base = unscaled(table)
    ctx = AccelContext.build(nodes, load_board(section["board"]), base, PeTiming())
    out = {e: em.resources(Configs.from_rows([engine_row(section, e)]))[0] for e, em in ctx.engines.items()}
    out[MISC_ENGINE] = ctx.misc.resources()
    out[SHELL] = shell_resources(base)
    return out


def _vec(d: dict[str, float]) -> np.ndarray:
    return np.array([float(d[r]) for r in SCALE_RESOURCES])


def _name(r: str) -> str:
    return UNIT_NAMES.get(r, r.upper())


def calibrate_from_vivado(table: CostTable, meas: Measurement, predicted: dict[str, np.ndarray],
                          model_name: str) -> tuple[CostTable, list[str], list[str]]:
    """The table with the scale factors (and shell entries) ``meas`` determines; returns (table, changes, notes)."""
    values, sources = dict(table.values), dict(table.sources)
    changes: list[str] = []
    notes = list(meas.notes)
    kind = "report_utilization -hierarchical" if meas.hierarchical else "report_utilization"
    origin = f"of design {meas.design} (model {model_name}; {meas.report})"
    units = [u for u in predicted if u != SHELL]

    def put(key: str, value: float, src: str) -> None:
        changes.append(f"{key}: {values[key]:g} -> {value:g}")
        values[key], sources[key] = value, src

    if meas.units is not None:
        missing = [u for u in units if u not in meas.units]
        if missing:
            raise CalibrationError(f"{meas.report}: no instance of the {', '.join(missing)} unit(s) the model has")
        for u in units:
            m, p = _vec(meas.units[u]), predicted[u]
            for i, r in enumerate(SCALE_RESOURCES):
                if p[i] > 0:
                    put(scale_key(u, r), m[i] / p[i],
                        f"vivado {meas.tool_version} {kind}: {u} = {meas.instances.get(u, u)} {origin}: measured "
                        f"{m[i]:g} / predicted {p[i]:g} {_name(r)}")
                elif m[i] > 0:
                    notes.append(f"{u} {_name(r)}: not calibrated: the model predicts 0, the report {m[i]:g} "
                                 "(no term to scale)")
        rest = _vec(meas.total) - sum(_vec(meas.units[u]) for u in units)
        for i, r in enumerate(SCALE_RESOURCES):
            if r in SHELL_ENTRIES:
                if rest[i] < 0:
                    raise CalibrationError(f"{meas.report}: the units' {_name(r)} ({meas.total[r] - rest[i]:g}) "
                                           f"exceed the design total ({meas.total[r]:g})")
                put(SHELL_ENTRIES[r], float(rest[i]),
                    f"vivado {meas.tool_version} {kind}: design total less the units ({', '.join(units)}) "
                    f"{origin}: {_name(r)}")
            elif rest[i] > 0:
                notes.append(f"{SHELL} {_name(r)}: not calibrated: {rest[i]:g} outside the units, and the model's "
                             f"shell has no {_name(r)} term")
    else:
        total_pred = sum(predicted.values())
        m = _vec(meas.total)
        for i, r in enumerate(SCALE_RESOURCES):
            if total_pred[i] <= 0:
                if m[i] > 0:
                    notes.append(f"design {_name(r)}: not calibrated: the model predicts 0, the report {m[i]:g}")
                continue
            ratio = m[i] / total_pred[i]
            src = (f"vivado {meas.tool_version} {kind} (flat: the units are not told apart, one factor for the "
                   f"whole design) {origin}: measured {m[i]:g} / predicted {total_pred[i]:g} {_name(r)}")
            for u in units:
                if predicted[u][i] > 0:
                    put(scale_key(u, r), ratio, src)
            if r in SHELL_ENTRIES:
                put(SHELL_ENTRIES[r], float(predicted[SHELL][i] * ratio), src + f" x shell.{r}")
    return CostTable(values, sources, table.path), changes, notes


def model_units(section: dict) -> list[str]:
    """The units the model prices separately for a section: the engines it configures, then the misc unit."""
    return [e for e in PE_ENGINES if section["engines"].get(e)] + [MISC_ENGINE]
