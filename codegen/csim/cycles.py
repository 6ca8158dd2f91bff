"""Code-derived cycle counts of a compiled project next to the accelerator model's prediction.

The C model counts, as its loops run, the cycles of each layer task under the HLS scheduling rules of
``hls_templates/src/nash_common.h`` (docs/hls-codegen.md, "Code-derived cycle count"). This module turns the per-layer
counts into per-step and per-period counts of the generated schedule (a step is a DATAFLOW region of independent
engines: its slowest engine) and sets them beside the accelerator section's ``layers.<name>.cycles`` and
``performance``. Nothing here uses the model's formulas.
"""

from __future__ import annotations

from nash.codegen.hls.plan import Plan


def set_pe_latencies(lib, plan: Plan, accelerator: dict | None) -> None:
    """Give each conv-kind layer's MAC loop the PE-array latency of its engine (``engines.<e>.pe_latency``); without
    a section the C default (2 + ceil(log2 tn), the uncalibrated formula) stays."""
    engines = (accelerator or {}).get("engines") or {}
    for i, layer in enumerate(lib.manifest["layers"]):
        cfg = engines.get(plan.engine_of.get(layer["name"], ""))
        if cfg and cfg.get("pe_latency"):
            lib.set_pe_latency(i, int(cfg["pe_latency"]))


def _ratio(model: float | None, code: float) -> float | None:
    return round(model / code, 4) if model is not None and code > 0 else None


def cycles_report(layer_cycles: dict[str, int], plan: Plan, accelerator: dict | None) -> dict:
    """Per layer, per step and per period: code-derived cycles, the model's cycles and the ratio model / code."""
    acc = accelerator or {}
    model_layers = acc.get("layers") or {}
    layers = {}
    for name, code in layer_cycles.items():
        model = (model_layers.get(name) or {}).get("cycles")
        layers[name] = {"engine": plan.engine_of.get(name), "code_cycles": code, "model_cycles": model,
                        "model_over_code": _ratio(model, code)}
    steps = []
    for step in plan.steps:
        tasks = {t.engine: t.layer for t in step}
        steps.append({"tasks": tasks, "code_cycles": max((layer_cycles[t.layer] for t in step), default=0)})
    period = sum(s["code_cycles"] for s in steps)
    perf = acc.get("performance") or {}
    code_fps = plan.batch * plan.clock_mhz * 1e6 / period if period else None  # a period moves a batch
    model_period, model_fps = perf.get("period_cycles"), perf.get("fps")
    return {
        "source": "csim loop counters (docs/hls-codegen.md, code-derived cycle count)",
        "clock_mhz": plan.clock_mhz, "batch": plan.batch,
        "layers": layers, "steps": steps,
        "period_cycles": period, "fps": round(code_fps, 2) if code_fps else None,
        "model_period_cycles": model_period, "model_fps": round(model_fps, 2) if model_fps else None,
        "model_over_code": _ratio(model_period, period),
    }


def summary_line(rep: dict) -> str:
    """One line: code-derived FPS at the section's clock vs the model's FPS."""
    line = f"code-derived: {rep['period_cycles']} cycles/period, {rep['fps']:.1f} FPS at {rep['clock_mhz']:g} MHz"
    if rep["model_fps"] is None:
        return line + " (no accelerator section: no model prediction to compare)"
    return line + (f" vs model {rep['model_period_cycles']} cycles, {rep['model_fps']:.1f} FPS "
                   f"(model/code {rep['model_over_code']:.3f})")
