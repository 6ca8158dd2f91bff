"""Vivado report parsers, the timing gate and ``DIR/reports.json`` (measured next to the model's prediction).

Formats parsed (text reports of Vivado, UG835 ``report_utilization`` / ``report_timing_summary``, layout as described
in UG906 "Report Utilization" and "Report Timing Summary"):

* utilisation: the ``| Site Type | Used | Fixed | [Prohibited |] Available | Util% |`` tables; rows ``CLB LUTs``,
  ``CLB Registers`` (UltraScale+; ``Slice LUTs`` / ``Slice Registers`` on 7-series), ``Block RAM Tile`` (RAMB36
  equivalents, may be fractional), ``URAM``, ``DSPs``. Columns are found by their header, so reports with and without
  the ``Prohibited`` column (added in 2020.x) parse the same.
* hierarchical utilisation (``report_utilization -hierarchical``): the "Utilization by Hierarchy" table
  ``| Instance | Module | Total LUTs | Logic LUTs | LUTRAMs | SRLs | FFs | RAMB36 | RAMB18 | [URAM |] DSP Blocks |``,
  one row per instance, its depth given by two spaces of indentation per level in the Instance column (the first
  row is the whole design); cells may carry a percentage (``123(4.5%)``, ``-hierarchical_percentages``). The DSP
  column is found as the one whose header starts with ``DSP`` (``DSP48 Blocks`` on 7-series).
* the header of either: ``| Tool Version : Vivado v.2023.2 ...``, ``| Design : ...``, ``| Device : ...``.
* timing: the "Design Timing Summary" row (WNS, TNS, failing / total endpoints, WHS, THS, ...) and the "Clock
  Summary" table (name, waveform, period, frequency).

Vitis HLS ``csynth.xml`` is read by :func:`nash.frontend.accel.calibration.parse_csynth` (one parser for both uses).
"""

from __future__ import annotations

import re
from pathlib import Path

from nash.frontend.core.errors import CheckFailedError, UserInputError

RESOURCE_ROWS = {"lut": ("CLB LUTs", "Slice LUTs"), "ff": ("CLB Registers", "Slice Registers"),
                 "bram": ("Block RAM Tile",), "uram": ("URAM",), "dsp": ("DSPs",)}
OPTIONAL_ROWS = ("uram",)
TIMING_COLUMNS = ("wns_ns", "tns_ns", "tns_failing_endpoints", "tns_total_endpoints",
                  "whs_ns", "ths_ns", "ths_failing_endpoints", "ths_total_endpoints")
PL_CLOCK = "clk_pl_0"  # Vivado's name of the PS pl_clk0 clock in a zynq_ultra_ps_e design


class ReportError(UserInputError):
    """A report file that is missing or not in the expected format; the message names the file and what is missing."""


def _read(path: str | Path, what: str) -> str:
    p = Path(path)
    if not p.is_file():
        raise ReportError(f"{p}: {what} report not found")
    return p.read_text(errors="replace")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _number(text: str) -> float | None:
    t = text.strip().lstrip("<")
    try:
        return float(t)
    except ValueError:
        return None


def parse_utilization(path: str | Path) -> dict[str, dict[str, float | None]]:
    """{lut, ff, bram, uram, dsp} -> {"used", "available", "util_percent"} from a ``report_utilization`` file
    (URAM None where the device has none)."""
    text = _read(path, "utilization")
    out: dict[str, dict[str, float | None]] = {}
    used_col = avail_col = util_col = None
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        cells = _cells(line)
        if cells and cells[0] == "Site Type":
            used_col = cells.index("Used") if "Used" in cells else None
            avail_col = cells.index("Available") if "Available" in cells else None
            util_col = cells.index("Util%") if "Util%" in cells else None
            continue
        if used_col is None or not cells:
            continue
        name = cells[0].rstrip("*").strip()
        for key, names in RESOURCE_ROWS.items():
            if name in names and key not in out and len(cells) > max(used_col, avail_col or 0):
                out[key] = {"used": _number(cells[used_col]),
                            "available": _number(cells[avail_col]) if avail_col is not None else None,
                            "util_percent": _number(cells[util_col]) if util_col is not None else None}
    for key in OPTIONAL_ROWS:  # devices without UltraRAM have no URAM row
        out.setdefault(key, {"used": None, "available": None, "util_percent": None})
    missing = [RESOURCE_ROWS[k][0] for k in RESOURCE_ROWS
               if k not in OPTIONAL_ROWS and (k not in out or out[k]["used"] is None)]
    if missing:
        raise ReportError(f"{path}: utilization report has no {', '.join(repr(m) for m in missing)} row "
                          "(expected the tables of Vivado report_utilization)")
    return out


def parse_header(path: str | Path) -> dict[str, str | None]:
    """{"tool_version" ("2023.2"), "design", "device", "command"} from a Vivado report's header (None if absent)."""
    out: dict[str, str | None] = {"tool_version": None, "design": None, "device": None, "command": None}
    for line in _read(path, "Vivado").splitlines()[:40]:
        key, sep, val = line.lstrip("| ").partition(":")
        key, val = key.strip(), val.strip()
        if not sep:
            continue
        if key == "Tool Version":
            m = re.search(r"v\.?(\d{4}\.\d+(?:\.\d+)?)", val)
            out["tool_version"] = m.group(1) if m else val
        elif key in ("Design", "Device", "Command") and out[key.lower()] is None:
            out[key.lower()] = val
    return out


HIER_COLUMNS = {"lut": ("Total LUTs",), "ff": ("FFs",), "ramb36": ("RAMB36",), "ramb18": ("RAMB18",),
                "uram": ("URAM",)}


def _lead_number(text: str) -> float | None:
    m = re.match(r"\s*(\d+(?:\.\d+)?)", text)
    return float(m.group(1)) if m else None


def parse_hierarchical_utilization(path: str | Path) -> list[dict]:
    """Rows of a ``report_utilization -hierarchical`` file, in report order: {"instance", "module", "depth",
    "resources": {"dsp", "lut", "ff", "bram18", "uram"}} (BRAM as 18K halves: 2 x RAMB36 + RAMB18; URAM 0 where the
    device has no URAM column). The first row is the whole design."""
    text = _read(path, "hierarchical utilization")
    rows: list[dict] = []
    cols: dict[str, int] | None = None
    for line in text.splitlines():
        if not line.startswith("|"):
            if rows and not line.startswith("+"):
                break  # the table ended
            continue
        raw = line.strip().strip("|").split("|")
        cells = [c.strip() for c in raw]
        if cols is None:
            if cells[:2] == ["Instance", "Module"]:
                cols = {k: next((cells.index(n) for n in names if n in cells), -1) for k, names in HIER_COLUMNS.items()}
                cols["dsp"] = next((i for i, c in enumerate(cells) if c.startswith("DSP")), -1)
                absent = [HIER_COLUMNS[k][0] if k != "dsp" else "DSP Blocks" for k, i in cols.items()
                          if i < 0 and k != "uram"]
                if absent:
                    raise ReportError(f"{path}: 'Utilization by Hierarchy' table has no {', '.join(map(repr, absent))} "
                                      "column (expected the table of Vivado report_utilization -hierarchical)")
            continue
        if len(cells) < max(cols.values()) + 1:
            continue
        vals = {k: (_lead_number(cells[i]) if i >= 0 else 0.0) for k, i in cols.items()}
        if any(vals[k] is None for k in ("lut", "ff", "ramb36", "ramb18", "dsp")):
            raise ReportError(f"{path}: row {cells[0]!r}: expected numbers in the resource columns")
        depth = (len(raw[0]) - len(raw[0].lstrip(" ")) - 1) // 2
        rows.append({"instance": cells[0], "module": cells[1], "depth": max(0, depth),
                     "resources": {"dsp": vals["dsp"], "lut": vals["lut"], "ff": vals["ff"],
                                   "bram18": 2 * vals["ramb36"] + vals["ramb18"], "uram": vals["uram"] or 0.0}})
    if cols is None or not rows:
        raise ReportError(f"{path}: no 'Utilization by Hierarchy' table with Instance and Module columns (expected "
                          "the text of Vivado report_utilization -hierarchical)")
    return rows


def find_instance(rows: list[dict], names: tuple[str, ...], what: str, path: str | Path) -> dict | None:
    """The outermost row whose instance or module is one of the Vitis HLS names of ``names`` (a function ``f`` is
    instance ``f_U0`` in a DATAFLOW region, ``grp_f_fu_<n>`` as a called function, module ``[<prefix>_]f[_<n>]``;
    an m_axi adapter of bundle ``b`` is ``b_m_axi_U``, module ``[<prefix>_]b_m_axi``); None when no row matches.
    Two outermost matches are an error (the report cannot say which one is ``what``)."""
    alt = "|".join(re.escape(n) for n in names)
    inst_re = re.compile(rf"(?:.*_)?(?:{alt})(?:_U\d*|_fu_\d+)?")
    mod_re = re.compile(rf"(?:.*_)?(?:{alt})(?:_\d+)?")
    hits = [r for r in rows[1:] if inst_re.fullmatch(r["instance"]) or mod_re.fullmatch(r["module"])]
    if not hits:
        return None
    top = min(r["depth"] for r in hits)
    outer = [r for r in hits if r["depth"] == top]
    if len(outer) > 1:
        raise ReportError(f"{path}: {what}: {len(outer)} instances match ({', '.join(r['instance'] for r in outer)}); "
                          "expected one")
    return outer[0]


def _section(lines: list[str], title: str) -> int | None:
    for i, line in enumerate(lines):
        if line.strip() == f"| {title}":
            return i
    return None


def parse_timing_summary(path: str | Path) -> dict:
    """WNS/TNS/WHS/THS (ns, None where Vivado prints NA), endpoint counts and the clocks of a
    ``report_timing_summary`` file: {"wns_ns", ..., "clocks": [{"name", "period_ns", "frequency_mhz"}]}."""
    text = _read(path, "timing summary")
    lines = text.splitlines()
    start = _section(lines, "Design Timing Summary")
    row = None
    if start is not None:
        for j in range(start + 1, min(start + 15, len(lines))):
            if lines[j].split()[:2] == ["WNS(ns)", "TNS(ns)"]:
                row = next((x.split() for x in lines[j + 2:j + 5] if x.strip()), None)
                break
    if row is None or len(row) < len(TIMING_COLUMNS):
        raise ReportError(f"{path}: no 'Design Timing Summary' row with WNS ... THS (expected the text of Vivado "
                          "report_timing_summary)")
    out: dict = {}
    for key, val in zip(TIMING_COLUMNS, row[:len(TIMING_COLUMNS)], strict=True):
        num = _number(val)
        out[key] = (int(num) if num is not None and "endpoints" in key else num)
    clocks = []
    cs = _section(lines, "Clock Summary")
    if cs is not None:
        clock_re = re.compile(r"^\s*(\S+)\s+\{[^}]*\}\s+([-\d.]+)\s+([-\d.]+)")
        for line in lines[cs + 1:]:
            if line.startswith("| ") and clocks:
                break
            m = clock_re.match(line)
            if m:
                clocks.append({"name": m.group(1), "period_ns": float(m.group(2)),
                               "frequency_mhz": float(m.group(3))})
    out["clocks"] = clocks
    return out


def timing_problems(timing: dict) -> list[str]:
    """Why the timing gate fails (empty when it passes): negative or unreported WNS / WHS."""
    problems = []
    for key, what in (("wns_ns", "setup (WNS)"), ("whs_ns", "hold (WHS)")):
        v = timing.get(key)
        if v is None:
            problems.append(f"{what} not reported (NA: is the clock constrained?)")
        elif v < 0:
            problems.append(f"{what} slack {v:.3f} ns < 0")
    return problems


def timing_gate(timing: dict, allow_failure: bool, report: str | Path) -> str:
    """"passed", or "failed (allowed ...)" with ``allow_failure``; otherwise raise :class:`CheckFailedError`."""
    problems = timing_problems(timing)
    if not problems:
        return "passed"
    if allow_failure:
        return "failed (allowed by --allow-timing-failure): " + "; ".join(problems)
    raise CheckFailedError(f"timing not met: {'; '.join(problems)} (report: {report}); the bitstream is not "
                           "collected: lower the clock (nash accel --clock-mhz), try --strategy "
                           "impl=Performance_Explore, or pass --allow-timing-failure")


def pl_clock(timing: dict) -> dict | None:
    """The PL clock of the report (``clk_pl_0``, else the only clock)."""
    clocks = timing.get("clocks", [])
    named = [c for c in clocks if c["name"] == PL_CLOCK]
    return named[0] if named else (clocks[0] if len(clocks) == 1 else None)


def side_by_side(util: dict, timing: dict, section: dict | None, target_mhz: float) -> dict:
    """Measured utilisation and clock next to the accelerator section's prediction (None without a section)."""
    predicted = (section or {}).get("resources") or {}
    resources = {}
    for key, row in util.items():
        pred = predicted.get(key)
        used = row["used"]
        resources[key] = {**row, "predicted": pred,
                          "used_over_predicted": round(used / pred, 3) if pred and used is not None else None}
    clk = pl_clock(timing)
    wns = timing.get("wns_ns")
    period = clk["period_ns"] if clk else 1000.0 / target_mhz
    clock = {"target_mhz": target_mhz, "model_mhz": (section or {}).get("clock_mhz"),
             "reported_mhz": clk["frequency_mhz"] if clk else None, "reported_clock": clk["name"] if clk else None,
             "wns_ns": wns,
             # the clock the routed design would meet if the worst path alone limited it (an estimate)
             "fmax_estimate_mhz": round(1000.0 / (period - wns), 1) if wns is not None and period - wns > 0 else None}
    return {"resources": resources, "clock": clock}


def format_table(sbs: dict) -> list[str]:
    """The side-by-side table as printed lines."""
    lines = [f"{'resource':<9}{'used':>10}{'available':>11}{'predicted':>11}{'used/pred':>11}"]
    for key, r in sbs["resources"].items():
        def f(v):
            return "-" if v is None else (f"{v:g}" if isinstance(v, (int, float)) else str(v))
        lines.append(f"{key:<9}{f(r['used']):>10}{f(r['available']):>11}{f(r['predicted']):>11}"
                     f"{f(r['used_over_predicted']):>11}")
    c = sbs["clock"]
    lines.append(f"clock: target {c['target_mhz']:g} MHz (model {c['model_mhz']}), report {c['reported_mhz']} MHz, "
                 f"WNS {c['wns_ns']} ns, Fmax estimate {c['fmax_estimate_mhz']} MHz")
    return lines
