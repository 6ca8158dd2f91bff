"""Calibration inputs of the accelerator model.

1. PE-array timing (latency, II) per engine and array shape, from the cocotb measurements of the Verilog PE arrays
   (written by ``make sim`` / ``python -m nash.codegen.rtl.sim_runner calibrate``; where: :func:`calibration_path`)::

       {"source": "cocotb+icarus", "records": [{"engine": "conv", "tm": 8, "tn": 8, "latency": 5, "ii": 1}, ...]}

   When the file is absent the model uses the **uncalibrated default** latency = 2 + ceil(log2(tn)) cycles, II = 1
   (input register, term register, one register per adder-tree level).
2. Vitis HLS ``csynth.xml`` reports: :func:`parse_csynth` reads latency and resources; :func:`calibrate_from_csynth`
   turns reports of engines with a known PE-array shape into per-PE cost-table entries.
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from nash.frontend.accel.array_cost import array_counts, cost_keys
from nash.frontend.accel.cost_table import CostTable
from nash.frontend.core.errors import UserInputError
from nash.frontend.core.json_file import read_json
from nash.frontend.core.op_registry import PE_ENGINES

CALIBRATION_ENV = "NASH_CALIBRATION"
CALIBRATION_FILE = Path("nash-hls") / "calibration" / "pe_arrays.json"  # under the user cache folder


class CalibrationError(UserInputError):
    """A malformed calibration input; the message names the file and field."""


def default_pe_latency(tn: int) -> int:
    """Uncalibrated default pipeline latency of a Tn-wide PE array: 2 + ceil(log2(tn)) cycles."""
    return 2 + (int(tn) - 1).bit_length()


@dataclass
class PeTiming:
    """PE-array latency / II lookup: calibrated records when present, else the default formula."""

    records: list[dict] = field(default_factory=list)
    source: str = "default formula 2 + ceil(log2(tn)), II = 1 (uncalibrated)"
    path: str | None = None

    @property
    def calibrated(self) -> bool:
        return bool(self.records)

    def _nearest(self, engine: str, tm: int, tn: int) -> dict | None:
        recs = [r for r in self.records if r["engine"] == engine]
        if not recs:
            return None
        return min(recs, key=lambda r: (abs(math.log2(r["tn"]) - math.log2(tn)),
                                        abs(math.log2(r["tm"]) - math.log2(tm)), r["tn"], r["tm"]))

    def latency(self, engine: str, tm: int, tn: int) -> int:
        """Cycles from the PE array's inputs to its outputs. With records: the exact (tm, tn) record, else the nearest
        record (closest log2 tn, then log2 tm) adjusted by the difference in adder-tree depth."""
        r = self._nearest(engine, tm, tn)
        if r is None:
            return default_pe_latency(tn)
        return max(1, int(r["latency"]) + default_pe_latency(tn) - default_pe_latency(r["tn"]))

    def ii(self, engine: str, tm: int, tn: int) -> int:
        r = self._nearest(engine, tm, tn)
        return 1 if r is None else int(r["ii"])


def default_calibration_path() -> Path:
    """``$XDG_CACHE_HOME/nash-hls/calibration/pe_arrays.json``, with ``~/.cache`` when ``XDG_CACHE_HOME`` is unset or
    not absolute (the XDG base-directory rule, used on every platform): one file per user, whatever the cwd."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    cache = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    return cache / CALIBRATION_FILE


def default_cost_table_path() -> Path:
    """Where ``nash accel-calibrate --yosys`` writes the calibrated cost table without ``--out``: beside the PE
    calibration file (``~/.cache/nash-hls/calibration/cost_table.json``)."""
    return default_calibration_path().parent / "cost_table.json"


def calibration_path(path: str | os.PathLike | None = None) -> Path:
    """Where the PE-array calibration JSON is read and written: ``path`` (``--calibration`` / ``--out``), else
    ``$NASH_CALIBRATION``, else :func:`default_calibration_path`."""
    if path:
        return Path(path)
    env = os.environ.get(CALIBRATION_ENV)
    return Path(env) if env else default_calibration_path()


def load_pe_timing(path: str | os.PathLike | None = None) -> PeTiming:
    """The PE timing from the calibration file when it exists, else the uncalibrated default."""
    p = calibration_path(path)
    if not p.is_file():
        if path is not None:
            raise CalibrationError(f"{p}: PE calibration file not found")
        return PeTiming()
    data = read_json(p, CalibrationError, "PE calibration file")
    recs = data.get("records") if isinstance(data, dict) else None
    if not isinstance(recs, list) or not recs:
        raise CalibrationError(f"{p}: field 'records': expected a non-empty list of "
                               "{engine, tm, tn, latency, ii}")
    out = []
    for i, r in enumerate(recs):
        if not isinstance(r, dict) or r.get("engine") not in PE_ENGINES:
            raise CalibrationError(f"{p}: field 'records[{i}].engine': expected one of {list(PE_ENGINES)}")
        for k in ("tm", "tn", "latency", "ii"):
            v = r.get(k)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise CalibrationError(f"{p}: field 'records[{i}].{k}': expected an integer >= 1, got {v!r}")
        out.append({k: r[k] for k in ("engine", "tm", "tn", "latency", "ii")})
    return PeTiming(out, f"{data.get('source', 'unknown')} ({len(out)} records, {p})", str(p))


# ---- Vitis HLS csynth.xml ----------------------------------------------------------------------------------------
def _int(root: ET.Element, xpath: str, where: str) -> int:
    el = root.find(xpath)
    if el is None or el.text is None:
        raise CalibrationError(f"{where}: element '{xpath}' missing")
    txt = el.text.strip()
    if txt in ("-", "undef", ""):
        return 0
    try:
        return int(float(txt))
    except ValueError:
        raise CalibrationError(f"{where}: element '{xpath}': expected a number, got {txt!r}") from None


def parse_csynth(path: str | os.PathLike) -> dict:
    """Latency, II and resources of one Vitis HLS ``csynth.xml`` report.

    Returns {"top", "part", "clock_ns", "latency_best", "latency_worst", "ii", "resources": {"bram18", "dsp", "ff",
    "lut", "uram"}, "available": {...}}.
    """
    p = Path(path)
    try:
        root = ET.parse(p).getroot()
    except FileNotFoundError:
        raise CalibrationError(f"{p}: csynth report not found") from None
    except ET.ParseError as e:
        raise CalibrationError(f"{p}: not valid XML ({e})") from None
    where = str(p)
    perf = "PerformanceEstimates/SummaryOfOverallLatency"
    res = "AreaEstimates/Resources"
    avail = "AreaEstimates/AvailableResources"
    ii_el = root.find(f"{perf}/Interval-min")
    clock = root.find("PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod")
    out = {
        "top": (root.findtext("RTLDesignHierarchy/TopModule/ModuleName")
                or root.findtext("UserAssignments/TopModelName") or "").strip(),
        "part": (root.findtext("UserAssignments/Part") or "").strip(),
        "clock_ns": float(clock.text) if clock is not None and clock.text else None,
        "latency_best": _int(root, f"{perf}/Best-caseLatency", where),
        "latency_worst": _int(root, f"{perf}/Worst-caseLatency", where),
        "ii": _int(root, f"{perf}/Interval-min", where) if ii_el is not None else None,
        "resources": {k.lower(): _int(root, f"{res}/{tag}", where)
                      for k, tag in (("bram18", "BRAM_18K"), ("dsp", "DSP"), ("ff", "FF"), ("lut", "LUT"))},
        "available": {},
    }
    out["resources"]["uram"] = _int(root, f"{res}/URAM", where) if root.find(f"{res}/URAM") is not None else 0
    if root.find(avail) is not None:
        out["available"] = {k: _int(root, f"{avail}/{tag}", where) for k, tag in
                            (("bram18", "BRAM_18K"), ("dsp", "DSP"), ("ff", "FF"), ("lut", "LUT"))}
    return out


def _shared_price(values: dict[str, float], engine: str, tm: int, tn: int, res: str) -> float:
    """``res`` of a Tm x Tn array's parts other than its PEs (tree bits, input columns), priced by ``values``."""
    counts = array_counts(engine, tm, tn)
    return sum(counts[unit] * values[key] for unit, key in cost_keys(engine, res).items() if unit != "pe")


def calibrate_from_csynth(table: CostTable, reports: list[tuple[str, int, int, dict]]) -> tuple[CostTable, list[str]]:
    """Update per-PE entries of ``table`` from csynth reports of PE arrays.

    ``reports``: (engine, tm, tn, parsed report). Per engine the per-PE LUT and FF (and DSP for conv) become the
    report's totals, less the array's shared parts as the model prices them (the per-bit adder tree and the input
    columns: :func:`~nash.frontend.accel.array_cost.array_counts`), divided by tm x tn and averaged over that engine's
    reports. Returns the new table and a list of changes.
    """
    values, sources = dict(table.values), dict(table.sources)
    changes = []
    by_engine: dict[str, list[tuple[int, int, dict, str]]] = {}
    for engine, tm, tn, rep in reports:
        if engine not in PE_ENGINES:
            raise CalibrationError(f"engine {engine!r}: expected one of {list(PE_ENGINES)}")
        by_engine.setdefault(engine, []).append((tm, tn, rep, rep.get("_path", "csynth.xml")))
    for engine, rows in by_engine.items():
        keys = [("lut", f"{engine}.pe_lut"), ("ff", f"{engine}.pe_ff")]
        if engine == "conv":
            keys.append(("dsp", "conv.pe_dsp"))
        for res, key in keys:
            per_pe = [max(0.0, rep["resources"][res] - _shared_price(values, engine, tm, tn, res)) / (tm * tn)
                      for tm, tn, rep, _ in rows]
            v = round(sum(per_pe) / len(per_pe), 3)
            files = ", ".join(sorted({f for *_, f in rows}))
            changes.append(f"{key}: {values[key]} -> {v}")
            values[key], sources[key] = v, f"csynth calibration: {res} / (tm x tn) from {files}"
    return CostTable(values, sources, table.path), changes
