"""Render and synthesize every engine's PE array at several Tm x Tn, and the requant lane, for the cost-table fit.

:func:`measure` returns the measurements ``frontend/accel/synth_fit.py`` fits; :func:`calibrate` does both and
returns the calibrated table and the report (``nash accel-calibrate --yosys``, ``benchmarks/calibrate_yosys.py``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from nash.codegen.rtl.pe_arrays import PEArrayConfig, render_pe_array
from nash.codegen.rtl.requant_lane import RequantLaneConfig, render_requant_lane
from nash.codegen.rtl.yosys_synth import synthesize, tool_source, yosys_version
from nash.frontend.accel.cost_table import CostTable
from nash.frontend.accel.synth_fit import check_shapes, fit_synthesis
from nash.frontend.core.errors import ToolMissingError
from nash.frontend.core.op_registry import PE_ENGINES

# Shapes per engine: square, tall and wide, so that the per-PE and per-tree-node columns of the fit are independent.
DEFAULT_SIZES: tuple[tuple[int, int], ...] = ((2, 2), (4, 4), (16, 4), (4, 16), (8, 8), (16, 16), (8, 32))
DEFAULT_LANES: tuple[tuple[int, int], ...] = ((16, 32), (24, 40), (32, 48))  # (ACC_W, SUM_W)
RESOURCE_KEYS = ("lut", "ff", "dsp", "carry8")

Progress = Callable[[str], None]


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """``"2x2,8x8"`` -> [(2, 2), (8, 8)]; ValueError naming the bad item."""
    out = []
    for item in (s.strip() for s in text.split(",") if s.strip()):
        parts = item.lower().split("x")
        if len(parts) != 2 or not all(p.isdigit() and int(p) >= 1 for p in parts):
            raise ValueError(f"{item!r}: expected TMxTN with integers >= 1, e.g. 8x8")
        out.append((int(parts[0]), int(parts[1])))
    if not out:
        raise ValueError("expected a comma-separated list of TMxTN, e.g. 2x2,8x8")
    return out


def measure(work_dir: str | os.PathLike, sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES,
            engines: Sequence[str] = PE_ENGINES, lanes: Sequence[tuple[int, int]] = DEFAULT_LANES,
            progress: Progress | None = None) -> tuple[list[dict], str]:
    """Synthesize each engine at each size and each requant lane; returns (measurements, Yosys version)."""
    version = yosys_version()
    if version is None:
        raise ToolMissingError("yosys not on PATH: sudo apt-get install -y yosys (or `make system-deps`)")
    check_shapes([{"engine": e, "tm": tm, "tn": tn} for e in engines for tm, tn in sizes])
    work = Path(work_dir)
    jobs: list[tuple[str, dict, Callable[[], Path], str]] = []
    for e in engines:
        for tm, tn in sizes:
            cfg = PEArrayConfig(e, tm, tn)
            jobs.append((f"{e} {tm}x{tn}", {"unit": "pe_array", **cfg.as_dict()},
                         lambda e=e, tm=tm, tn=tn: render_pe_array(e, tm, tn, work / "src")["verilog"], cfg.name))
    for acc, total in lanes:
        lane = RequantLaneConfig(acc, total)
        jobs.append((f"requant lane ACC_W {acc} SUM_W {total}",
                     {"unit": "requant_lane", "acc_bits": acc, "sum_bits": total},
                     lambda lane=lane: render_requant_lane(lane, work / "src"), lane.name))
    out = []
    for i, (label, meta, render, top) in enumerate(jobs, 1):
        res = synthesize(render(), top, work / "synth")
        r = {k: res.resources[k] for k in RESOURCE_KEYS}
        out.append({**meta, "resources": r, "cells": res.resources["cells"], "seconds": round(res.seconds, 2)})
        if progress:
            progress(f"[{i}/{len(jobs)}] {label}: LUT {r['lut']} FF {r['ff']} DSP {r['dsp']} CARRY8 {r['carry8']:g} "
                     f"({res.seconds:.1f} s)")
    return out, version


def calibrate(table: CostTable, work_dir: str | os.PathLike, sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES,
              lanes: Sequence[tuple[int, int]] = DEFAULT_LANES,
              progress: Progress | None = None) -> tuple[CostTable, dict]:
    """Measure and fit: the calibrated table and the report (with the measurements and the tool version)."""
    meas, version = measure(work_dir, sizes, PE_ENGINES, lanes, progress)
    new, report = fit_synthesis(table, meas, tool_source(version))
    report = {"tool": version, "sizes": [f"{tm}x{tn}" for tm, tn in sizes], "measurements": meas, **report}
    return new, report
