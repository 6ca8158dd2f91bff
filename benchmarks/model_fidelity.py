"""Fidelity of the accelerator model: its cycles against the cycles derived from the generated code.

    nice .venv/bin/python benchmarks/model_fidelity.py [--digits 10] [--cifar 10] [--seed 0] [--out FILE]

For every network the benchmark runs what ``nash accel`` + ``nash csim`` run: the coarse-to-fine accelerator search on
the KV260 (uncalibrated PE timing, the default cost table), codegen from the resulting accelerator section, a g++ csim
build with the NASH_CYCLES counters and one random image (the counts do not depend on the data; csim also checks it
bit-exactly). It then compares, per layer and per network (the schedule period), the model's cycles with the
code-derived ones (``codegen/csim/cycles.py``; docs/hls-codegen.md, "Code-derived cycle count").

Networks:

* ``tiny_hybrid``: the architecture of examples/tiny_hybrid.json;
* ``demo``: the architecture ``make demo`` (seed 0, digits) selected on 2026-12-01 (its accuracy search and
  fine-tuning need the supernet, minutes of training; the cycle counts depend only on the architecture and the
  accelerator, so the architecture is recorded here: DEMO_ARCH);
* ``digits-i`` / ``cifar32-i``: architectures drawn with ``search_space.sample`` from the digits and cifar32 spaces
  (``random.Random(seed)``); cifar32 draws use the smallest depth of every stage (``--cifar-depth min``, the
  default) so that a csim build and run of each takes seconds on 2 shared cores, not minutes.

Weights: a HybridNet with default initialisation after one observation pass, converted to the integer model (cycle
counts do not depend on weight values). Output: ``benchmarks/results/model_fidelity.json`` with per network the
per-layer table, period, FPS (model, model without the DDR-latency term, code-derived), resources against the board,
and a ``targets`` list (printed).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# `make demo` (nash.demo, seed 0) on 2026-12-01: build/demo/accel/model.json's architecture.
DEMO_ARCH = {
    "input_channels": 1, "input_size": 16, "num_classes": 10,
    "stem": {"op": "conv", "kernel": 3, "stride": 1, "width": 8},
    "stages": [
        {"width": 16, "stride": 1, "blocks": [{"op": "conv", "kernel": 5, "expand": 3}]},
        {"width": 24, "stride": 2, "blocks": [{"op": "conv", "kernel": 5, "expand": 4},
                                              {"op": "conv", "kernel": 3, "expand": 2},
                                              {"op": "shift", "kernel": 5, "expand": 2}]},
        {"width": 40, "stride": 2, "blocks": [{"op": "adder", "kernel": 5, "expand": 4},
                                              {"op": "conv", "kernel": 5, "expand": 2},
                                              {"op": "adder", "kernel": 3, "expand": 4}]},
    ],
    "head": {"op": "conv", "width": 48},
}
NETWORK_TOL, LAYER_TOL = 0.10, 0.25  # issue 12: every network within 10 %, every layer within 25 %
LAYER_COLUMNS = ["name", "engine", "model_cycles", "code_cycles", "model_over_code"]
RATIO = LAYER_COLUMNS.index("model_over_code")


def networks(n_digits: int, n_cifar: int, seed: int, cifar_depth: str) -> list[tuple[str, str, dict]]:
    """(name, space, architecture) of every network of the benchmark."""
    from nash.frontend.nas.search_space import get_space, sample

    tiny = json.loads((ROOT / "examples" / "tiny_hybrid.json").read_text())["architecture"]
    out = [("tiny_hybrid", "example", tiny), ("demo", "digits", DEMO_ARCH)]
    rng = random.Random(seed)
    digits = get_space("digits")
    out += [(f"digits-{i}", "digits", sample(digits, rng)) for i in range(n_digits)]
    cifar = get_space("cifar32")
    if cifar_depth == "min":
        cifar = dataclasses.replace(cifar, stages=tuple(dataclasses.replace(s, depths=(min(s.depths),))
                                                        for s in cifar.stages))
    out += [(f"cifar32-{i}", "cifar32", sample(cifar, rng)) for i in range(n_cifar)]
    return out


def integer_weights(arch: dict):
    """The integer model of a default-initialised HybridNet after one observation pass (values do not matter)."""
    import torch
    from nash.frontend.core.graph import lower
    from nash.frontend.models.convert import integer_model
    from nash.frontend.models.hybrid_net import HybridNet

    torch.manual_seed(0)
    net = HybridNet(lower(arch))
    net.train()
    with torch.no_grad():
        net(torch.rand(4, arch["input_channels"], arch["input_size"], arch["input_size"]), "observe")
    net.eval()
    return integer_model(net)


def model_without_latency(ctx, design) -> dict:
    """FPS and period of the same design under the model with the DDR round trip set to 0 (the model before the
    latency term)."""
    from nash.frontend.accel.model import AccelContext, Configs, engine_of
    from nash.frontend.accel.schedule import build_schedule

    board = ctx.board
    b0 = dataclasses.replace(board, ddr_latency_cycles=0)
    ctx0 = AccelContext.build(ctx.nodes, b0, ctx.table, ctx.pe)
    cycles = {}
    for e, em in ctx0.engines.items():
        lat, _ = em.layer_cycles(Configs.from_rows([design.rows[e]]), design.batch)
        cycles.update({n.name: float(c) for n, c in zip(em.layers, lat[0], strict=True)})
    cycles.update({n.name: float(c) for n, c in zip(ctx0.misc.layers, ctx0.misc.layer_cycles(design.batch),
                                                    strict=True)})
    s = build_schedule(ctx.nodes, {n.name: engine_of(n) for n in ctx.nodes}, cycles, ctx.table["cycles.step_overhead"])
    return {"fps": design.batch * board.clock_mhz * 1e6 / s.period_cycles, "period_cycles": s.period_cycles}


def run_one(name: str, space: str, arch: dict, work: Path, max_batch: int | None = None) -> dict:
    from nash.codegen.csim.run import run_csim
    from nash.frontend.accel.board import load_board
    from nash.frontend.accel.calibration import PeTiming
    from nash.frontend.accel.cost_table import load_cost_table
    from nash.frontend.accel.model import AccelContext
    from nash.frontend.accel.search import performance, search
    from nash.frontend.accel.section import build_section
    from nash.frontend.core.graph import lower
    from nash.frontend.core.model_file import new_model, save_model, update_sections
    from nash.frontend.integer.weights_io import pack

    t0 = time.perf_counter()
    nodes = lower(arch)
    # uncalibrated PE timing and the shipped cost table: the figures must not depend on what a local run left behind
    ctx = AccelContext.build(nodes, load_board("kv260"), load_cost_table(None), PeTiming())
    result = search(ctx, "coarse-to-fine", max_batch)
    perf = performance(ctx, result.design)
    section = build_section(ctx, result, perf)
    no_lat = model_without_latency(ctx, result.design)
    mf = new_model(name, arch, search_provenance={"dataset": "random"})
    update_sections(mf, "train", weights=pack(integer_weights(arch)))
    update_sections(mf, "accel", accelerator=section)
    d = work / name
    model_path = save_model(mf, d / "model.json")
    # one full batch (the code-derived count of a layer is its longest task; a batch of B images is priced)
    rep = run_csim(model_path, result.design.batch, d / "csim").report
    cyc = rep["cycles"]
    layers = [[k, v["engine"], v["model_cycles"], v["code_cycles"], v["model_over_code"]]
              for k, v in cyc["layers"].items()]
    board = ctx.board
    used = section["resources"]
    return {
        "name": name, "space": space, "layers": len(nodes), "macs": int(sum(n.macs for n in nodes)),
        "batch": result.design.batch,
        "csim_mismatches": rep["mismatches"],
        "engines": {e: (None if c is None else {k: c[k] for k in ("tm", "tn", "dw_lanes", "tr", "requant_lanes")})
                    for e, c in section["engines"].items() if e != "misc"},
        "model_period_cycles": cyc["model_period_cycles"], "code_period_cycles": cyc["period_cycles"],
        "model_over_code": cyc["model_over_code"],
        "fps": {"model": round(perf["fps"], 2),
                "model_without_latency": None if no_lat["fps"] is None else round(no_lat["fps"], 2),
                "code_derived": cyc["fps"]},
        "resources": {"used": used, "usable": board.budget,
                      "fits": all(used[r] <= board.budget[r] for r in board.budget)},
        "per_layer": layers,  # rows of LAYER_COLUMNS
        "seconds": round(time.perf_counter() - t0, 2),
    }


def targets(results: list[dict]) -> list[dict]:
    worst_net = max(abs(r["model_over_code"] - 1) for r in results)
    worst_layer = max(abs(layer[RATIO] - 1) for r in results for layer in r["per_layer"])
    demo = next(r for r in results if r["name"] == "demo")  # at the search's batch
    demo_ratio = demo["fps"]["code_derived"] / demo["fps"]["model"]
    return [
        {"name": "every network: |model / code period - 1| (max)", "value": round(worst_net, 4),
         "target": NETWORK_TOL, "met": worst_net <= NETWORK_TOL},
        {"name": "every layer: |model / code cycles - 1| (max)", "value": round(worst_layer, 4),
         "target": LAYER_TOL, "met": worst_layer <= LAYER_TOL},
        {"name": "demo model: |code-derived FPS / model FPS - 1|", "value": round(abs(demo_ratio - 1), 4),
         "target": NETWORK_TOL, "met": abs(demo_ratio - 1) <= NETWORK_TOL},
    ]


def _dump(doc: dict) -> str:
    """Indented JSON with every list of plain values on one line (one line per layer row)."""
    scalar = r'(?:"[^"\n]*"|-?[0-9][0-9.eE+-]*|null|true|false)'
    flat = re.compile(r"\[\s*(" + scalar + r"(?:,\s*" + scalar + r")*)\s*\]")
    return flat.sub(lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", json.dumps(doc, indent=1))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--digits", type=int, default=10, help="searched architectures of the digits space")
    ap.add_argument("--cifar", type=int, default=10, help="searched architectures of the cifar32 space")
    ap.add_argument("--cifar-depth", choices=("min", "full"), default="min")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", default=str(ROOT / "build" / "model_fidelity"), help="model files and csim builds")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "model_fidelity.json"))
    a = ap.parse_args(argv)
    os.environ.setdefault("NASH_BUILD_CACHE", str(Path(a.work) / "build_cache"))  # rebuilt only when sources change
    from nash.frontend.core.atomic_io import atomic_write_text

    t0 = time.perf_counter()
    results = []
    # every network at the search's batch (B > 1 where it pays), the first two also at one image per task
    runs = [(n, s, arch, None) for n, s, arch in networks(a.digits, a.cifar, a.seed, a.cifar_depth)]
    runs += [(f"{n}@batch1", s, arch, 1) for n, s, arch, _ in runs[:2]]
    for name, space, arch, max_batch in runs:
        r = run_one(name, space, arch, Path(a.work), max_batch)
        worst = max(r["per_layer"], key=lambda x: abs(x[RATIO] - 1))
        print(f"{name:12s} B {r['batch']} {r['layers']:3d} layers  period model/code {r['model_over_code']:.3f}  "
              f"FPS model "
              f"{r['fps']['model']:9.1f} (no latency term {r['fps']['model_without_latency']}) code "
              f"{r['fps']['code_derived']:9.1f}  worst layer {worst[0]} {worst[RATIO]:.3f}  "
              f"fits {r['resources']['fits']}  ({r['seconds']:.0f} s)", flush=True)
        results.append(r)
    tg = targets(results)
    layer_ratios = sorted(layer[RATIO] for r in results for layer in r["per_layer"])
    doc = {
        "benchmark": "model_fidelity", "board": "kv260", "date": time.strftime("%Y-%m-%d"),
        "command": "python benchmarks/model_fidelity.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "networks": len(results),
        "summary": {
            "network_model_over_code": {"min": min(r["model_over_code"] for r in results),
                                        "max": max(r["model_over_code"] for r in results)},
            "layer_model_over_code": {"min": layer_ratios[0], "median": layer_ratios[len(layer_ratios) // 2],
                                      "max": layer_ratios[-1], "layers": len(layer_ratios)},
            "designs_fitting_board": sum(r["resources"]["fits"] for r in results),
            "csim_mismatching_images": sum(r["csim_mismatches"] for r in results),
        },
        "targets": tg, "per_layer_columns": LAYER_COLUMNS, "results": results,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, _dump(doc) + "\n")
    for t in tg:
        print(f"target {t['name']}: {t['value']} (target {t['target']}) {'met' if t['met'] else 'NOT met'}")
    print(f"wrote {out} ({doc['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
