"""The calibratable cost table of the accelerator model: per-PE, per-buffer and fixed costs, each with its source.

The shipped table is ``frontend/accel/cost_table.json``; a user table (same format, e.g. written by
``nash accel-calibrate``) can be given instead. A user table may hold only some entries: the others come from the
shipped table. The ``vivado_scale.<unit>.<resource>`` entries (1 unless a Vivado report calibrated them) multiply
that unit's modelled resources. Format::

    {"format": "nash-accel-cost-table", "version": 1,
     "entries": {"<name>": {"value": <number>, "source": "<where the number comes from>"}, ...}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from nash.frontend.core.atomic_io import atomic_write_text
from nash.frontend.core.errors import UserInputError
from nash.frontend.core.json_file import read_json
from nash.frontend.core.op_registry import MISC_ENGINE, PE_ENGINES

DEFAULT_TABLE = Path(__file__).resolve().parent / "cost_table.json"
FORMAT = "nash-accel-cost-table"
# Entries of earlier tables that no model term reads any more (DSP packing is implemented nowhere; the layer overhead
# became the explicit loop-nest terms; the depthwise lanes are priced per engine, <engine>.dw_lane_*; the adder tree
# per bit of its width, tree.*_per_bit, also in the csynth calibration): a user table
# written before (nash accel-calibrate writes every entry) still loads, its values for these are ignored.
RETIRED_ENTRIES = frozenset({"conv.pe_dsp_packed", "conv.pe_lut_packed_extra", "cycles.layer_overhead",
                             "dw.lane_lut", "dw.lane_ff", "tree.adder_lut", "tree.adder_ff", "tree.adder_carry8"})


# Per unit and resource, the factor a Vivado measurement found between the routed design and this table's prediction
# (``vivado_scale.<unit>.<resource>``, 1 by default): the model multiplies each unit's resources by it.
SCALE_UNITS = (*PE_ENGINES, MISC_ENGINE)
SCALE_RESOURCES = ("dsp", "lut", "ff", "bram", "uram")  # the model's resource order (bram counted in 18K halves)


def scale_key(unit: str, resource: str) -> str:
    """The cost-table entry of one unit's Vivado scale factor for one resource."""
    return f"vivado_scale.{unit}.{resource}"


class CostTableError(UserInputError):
    """A malformed cost table; the message names the file and entry."""


@dataclass(frozen=True)
class CostTable:
    """Entry name -> value, plus the source of every value and the file(s) it came from."""

    values: dict[str, float]
    sources: dict[str, str]
    path: str

    def __getitem__(self, key: str) -> float:
        return self.values[key]

    def to_json(self) -> dict:
        return {"format": FORMAT, "version": 1,
                "entries": {k: {"value": self.values[k], "source": self.sources[k]} for k in sorted(self.values)}}


def unit_scale(table: CostTable, unit: str) -> np.ndarray:
    """The Vivado scale factors of ``unit`` (an engine or the misc unit) in the model's resource order."""
    return np.array([table[scale_key(unit, r)] for r in SCALE_RESOURCES])


def _read(path: Path) -> dict:
    data = read_json(path, CostTableError, "cost table")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CostTableError(f"{path}: field 'format': expected \"{FORMAT}\"")
    entries = data.get("entries")
    if not isinstance(entries, dict):
        raise CostTableError(f"{path}: field 'entries': expected an object of {{name: {{value, source}}}}")
    for k, e in entries.items():
        v = e.get("value") if isinstance(e, dict) else None
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
            raise CostTableError(f"{path}: field 'entries.{k}.value': expected a number >= 0, got {v!r}")
        if not isinstance(e.get("source"), str) or not e["source"]:
            raise CostTableError(f"{path}: field 'entries.{k}.source': expected a non-empty string naming the source")
    return entries


def load_cost_table(path: str | Path | None = None) -> CostTable:
    """The shipped table, overlaid with the entries of ``path`` when given (unknown entry names are an error)."""
    base = _read(DEFAULT_TABLE)
    values = {k: float(e["value"]) for k, e in base.items()}
    sources = {k: e["source"] for k, e in base.items()}
    where = str(DEFAULT_TABLE)
    if path is not None:
        p = Path(path)
        for k, e in _read(p).items():
            if k in RETIRED_ENTRIES:
                continue
            if k not in values:
                raise CostTableError(f"{p}: field 'entries.{k}': unknown entry; known: {', '.join(sorted(values))}")
            values[k], sources[k] = float(e["value"]), e["source"]
        where = str(p)
    return CostTable(values, sources, where)


def save_cost_table(table: CostTable, path: str | Path) -> Path:
    """Write ``table`` (all entries) atomically."""
    atomic_write_text(path, json.dumps(table.to_json(), indent=2) + "\n")
    return Path(path)
