"""Render and synthesize every engine's PE array at several Tm x Tn, the conv array without DSPs, the depthwise lanes
and the requant lane, for the cost-table fit.

:func:`measure` returns the measurements ``frontend/accel/synth_fit.py`` fits; :func:`calibrate` does both and
returns the calibrated table and the report (``nash accel-calibrate --yosys``, ``benchmarks/calibrate_yosys.py``).
``parts`` picks what is synthesized (:data:`PARTS`), so a benchmark can re-measure only some and re-use the rest.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from nash.codegen.rtl.dw_lanes import DwLaneConfig, render_dw_lane
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
# conv on LUT multipliers (synth_xilinx -nodsp): enough shapes for its own per-PE column (tree and columns are shared)
DEFAULT_FABRIC_SIZES: tuple[tuple[int, int], ...] = ((2, 2), (4, 4), (8, 4), (4, 8), (8, 8))
PARTS = ("arrays", "fabric", "dw_lanes", "requant")  # what measure() can synthesize
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


def parse_parts(text: str) -> list[str]:
    """``"fabric,dw_lanes"`` -> ["fabric", "dw_lanes"]; ValueError naming the bad item."""
    out = [p.strip() for p in text.split(",") if p.strip()]
    bad = [p for p in out if p not in PARTS]
    if bad or not out:
        raise ValueError(f"{', '.join(bad) or text!r}: expected a comma-separated list of {', '.join(PARTS)}")
    return out


def part_of(measurement: dict) -> str:
    """Which of :data:`PARTS` a measurement belongs to (to re-use an earlier run's measurements of the others)."""
    unit = measurement.get("unit")
    if unit == "pe_array":
        return "fabric" if measurement.get("fabric") else "arrays"
    return {"dw_lane": "dw_lanes", "requant_lane": "requant"}[unit]


Job = tuple[str, dict, Callable[[], Path], str, bool]  # label, measurement fields, render, top module, -nodsp


def _jobs(work: Path, sizes, engines, lanes, fabric_sizes, parts) -> list[Job]:
    jobs: list[Job] = []
    if "arrays" in parts:
        for e in engines:
            for tm, tn in sizes:
                cfg = PEArrayConfig(e, tm, tn)
                jobs.append((f"{e} {tm}x{tn}", {"unit": "pe_array", **cfg.as_dict()},
                             lambda e=e, tm=tm, tn=tn: render_pe_array(e, tm, tn, work / "src")["verilog"], cfg.name,
                             False))
    if "fabric" in parts:
        for tm, tn in fabric_sizes:
            cfg = PEArrayConfig("conv", tm, tn)
            jobs.append((f"conv {tm}x{tn} without DSPs", {"unit": "pe_array", **cfg.as_dict(), "fabric": True},
                         lambda tm=tm, tn=tn: render_pe_array("conv", tm, tn, work / "src")["verilog"], cfg.name,
                         True))
    if "dw_lanes" in parts:
        lane_cfgs = [DwLaneConfig(e) for e in engines] + [DwLaneConfig("conv", use_dsp=False)] * ("conv" in engines)
        for cfg in lane_cfgs:
            fab = not cfg.use_dsp
            jobs.append((f"{cfg.engine} depthwise lane{' without DSPs' if fab else ''}",
                         {"unit": "dw_lane", "engine": cfg.engine, "acc_bits": cfg.acc_bits, "exp_max": cfg.exp_max,
                          "fabric": fab},
                         lambda cfg=cfg: render_dw_lane(cfg, work / "src"), cfg.name, fab))
    if "requant" in parts:
        for acc, total in lanes:
            lane = RequantLaneConfig(acc, total)
            jobs.append((f"requant lane ACC_W {acc} SUM_W {total}",
                         {"unit": "requant_lane", "acc_bits": acc, "sum_bits": total},
                         lambda lane=lane: render_requant_lane(lane, work / "src"), lane.name, False))
    return jobs


def measure(work_dir: str | os.PathLike, sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES,
            engines: Sequence[str] = PE_ENGINES, lanes: Sequence[tuple[int, int]] = DEFAULT_LANES,
            progress: Progress | None = None, fabric_sizes: Sequence[tuple[int, int]] = DEFAULT_FABRIC_SIZES,
            parts: Sequence[str] = PARTS) -> tuple[list[dict], str]:
    """Synthesize the ``parts``: each engine at each size, conv without DSPs at ``fabric_sizes``, one depthwise lane
    per engine (and conv's without DSPs), each requant lane; returns (measurements, Yosys version)."""
    version = yosys_version()
    if version is None:
        raise ToolMissingError("yosys not on PATH: sudo apt-get install -y yosys (or `make system-deps`)")
    if "arrays" in parts:
        check_shapes([{"engine": e, "tm": tm, "tn": tn} for e in engines for tm, tn in sizes])
    work = Path(work_dir)
    jobs = _jobs(work, sizes, engines, lanes, fabric_sizes, parts)
    out = []
    for i, (label, meta, render, top, nodsp) in enumerate(jobs, 1):
        res = synthesize(render(), top, work / ("synth_nodsp" if nodsp else "synth"), nodsp=nodsp)
        r = {k: res.resources[k] for k in RESOURCE_KEYS}
        out.append({**meta, "resources": r, "cells": res.resources["cells"], "seconds": round(res.seconds, 2)})
        if progress:
            progress(f"[{i}/{len(jobs)}] {label}: LUT {r['lut']} FF {r['ff']} DSP {r['dsp']} CARRY8 {r['carry8']:g} "
                     f"({res.seconds:.1f} s)")
    return out, version


def calibrate(table: CostTable, work_dir: str | os.PathLike, sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES,
              lanes: Sequence[tuple[int, int]] = DEFAULT_LANES, progress: Progress | None = None,
              parts: Sequence[str] = PARTS, reuse: Sequence[dict] = ()) -> tuple[CostTable, dict]:
    """Measure the ``parts`` and fit them together with ``reuse`` (measurements of an earlier run, e.g. the PE
    arrays when only the lanes are re-synthesized): the calibrated table and the report (with every measurement, the
    tool version, and which ones were re-used)."""
    meas, version = measure(work_dir, sizes, PE_ENGINES, lanes, progress, parts=parts)
    every = [*meas, *({**m, "reused": True} for m in reuse)]
    new, report = fit_synthesis(table, every, tool_source(version))
    report = {"tool": version, "sizes": [f"{tm}x{tn}" for tm, tn in sizes], "parts": list(parts),
              "measurements": every, **report}
    return new, report
