"""Coarse-to-fine vs exhaustive accelerator search on architectures of the 32x32 (CIFAR) space (the hybrid vs
multiplication-only comparison moved to ``benchmarks/accel_perf.py``).

    .venv/bin/python benchmarks/accel_search.py [--n 20] [--board kv260] [--seed 0] [--seeded] [--out FILE]

The architectures are sampled with a small sampler of the NASA-F table (method.md), written here so that the benchmark
does not depend on the search-space module: per stage a width and depth, per block an op type, kernel {3, 5} and
expansion; ReLU, no SE; stem 3x3 conv stride 1; head 1x1 conv to {1792, 1984}, global pooling, FC to 100 classes.
For every architecture both searches run on the same model context; the exhaustive search gets no hint from the
coarse-to-fine result unless ``--seeded`` (its pruning is exact either way). Both run at ``--batch`` images per task
(default: the largest of ``search.BATCH_CHOICES``, the batch `nash accel` searches at); the coarse-to-fine seconds
include the batch choice that follows it in `nash accel` (``search.choose_batch``). Figures: quality ratio
(coarse-to-fine FPS / exhaustive FPS at that batch), evaluation ratio (exhaustive / coarse-to-fine evaluations),
seconds per architecture.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time

from nash.frontend.accel.model import resources_dict
from nash.frontend.accel.search import (
    choose_batch,
    coarse_to_fine,
    exhaustive,
    make_context,
    performance,
    top_batch,
)
from nash.frontend.core.atomic_io import atomic_write_text
from nash.frontend.core.graph import lower

# NASA-F search space for 32x32 inputs (method.md): (widths, depths, expands, stride)
STAGES = [
    ((16, 24), (1, 2), (1,), 1),
    ((24, 32), (3, 4, 5), (4, 5, 6), 2),
    ((32, 40), (3, 4, 5, 6), (4, 5, 6), 2),
    ((64, 72), (3, 4, 5, 6), (4, 5, 6), 2),
    ((112, 120, 128), (3, 4, 5, 6, 7, 8), (4, 5, 6), 1),
    ((192, 200, 208, 216), (3, 4, 5, 6, 7, 8), (6,), 2),
    ((216, 224), (1, 2), (6,), 1),
]
STEM_WIDTHS = (16, 24)
HEAD_WIDTHS = (1792, 1984)


def sample_arch(rng: random.Random, ops: tuple[str, ...] = ("conv", "shift", "adder"),
                depth_scale: float = 1.0) -> dict:
    """One architecture of the 32x32 space. ``depth_scale`` < 1 picks from the smaller depths only."""
    stages = []
    for widths, depths, expands, stride in STAGES:
        ds = depths[: max(1, round(len(depths) * depth_scale))]
        blocks = [{"op": rng.choice(ops), "kernel": rng.choice((3, 5)), "expand": rng.choice(expands)}
                  for _ in range(rng.choice(ds))]
        stages.append({"width": rng.choice(widths), "stride": stride, "blocks": blocks})
    return {"input_channels": 3, "input_size": 32, "num_classes": 100,
            "stem": {"op": "conv", "width": rng.choice(STEM_WIDTHS), "kernel": 3, "stride": 1},
            "stages": stages, "head": {"width": rng.choice(HEAD_WIDTHS)}}


def compare(arch: dict, board: str, seeded: bool, batch: int = 1) -> dict:
    nodes = lower(arch)
    ctx = make_context(nodes, board)
    cpu0 = time.process_time()  # CPU seconds beside the wall-clock ones: the 2 cores are shared, the load varies
    c2f = coarse_to_fine(ctx, batch=batch)
    t0 = time.perf_counter()
    chosen = choose_batch(ctx, c2f.design)[0].batch if c2f.design else None
    choice_s = time.perf_counter() - t0
    c2f.seconds += choice_s
    c2f_cpu = time.process_time() - cpu0
    ub = c2f.design.period * (1 + 1e-9) if (seeded and c2f.design) else float("inf")
    ex = exhaustive(ctx, upper_bound=ub, batch=batch)
    row = {"layers": len(nodes), "macs": sum(n.macs for n in nodes), "batch": batch, "chosen_batch": chosen,
           "batch_choice_seconds": round(choice_s, 4),
           "ops": {o: sum(1 for n in nodes if n.kind == "conv" and n.op == o) for o in ("conv", "shift", "adder")},
           "space_size": c2f.space_size}
    for name, r in (("c2f", c2f), ("exhaustive", ex)):
        if r.design is None:
            row[name] = {"feasible": False, "evaluations": r.evaluations, "seconds": r.seconds}
            continue
        p = performance(ctx, r.design)
        row[name] = {"feasible": True, "fps": p["fps"], "period_cycles": p["period_cycles"],
                     "evaluations": r.evaluations, "engine_evaluations": r.engine_evaluations,
                     "design_evaluations": r.design_evaluations, "seconds": r.seconds,
                     "resources": resources_dict(r.design.res)}
    row["c2f"]["cpu_seconds"] = c2f_cpu
    if row["c2f"]["feasible"] and row["exhaustive"]["feasible"]:
        row["quality"] = row["c2f"]["fps"] / row["exhaustive"]["fps"]
        row["eval_ratio"] = row["exhaustive"]["evaluations"] / row["c2f"]["evaluations"]
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--board", default="kv260")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeded", action="store_true", help="seed the exhaustive search with the c2f period")
    ap.add_argument("--batch", type=int, default=top_batch(), help="images per task of both searches")
    ap.add_argument("--out", default="benchmarks/results/accel_search.json")
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    rows = []
    t0 = time.perf_counter()
    for i in range(args.n):
        arch = sample_arch(rng)
        row = compare(arch, args.board, args.seeded, args.batch)
        row["index"] = i
        rows.append(row)
        c, e = row["c2f"], row["exhaustive"]
        print(f"[{i:2d}] layers={row['layers']:3d} c2f fps={c.get('fps', 0):9.1f} evals={c['evaluations']:8d} "
              f"{c['seconds']:.3f}s | exhaustive fps={e.get('fps', 0):9.1f} evals={e['evaluations']:10d} "
              f"{e['seconds']:.1f}s | quality={row.get('quality', float('nan')):.4f}", flush=True)
    ok = [r for r in rows if "quality" in r]
    q = [r["quality"] for r in ok]
    er = [r["eval_ratio"] for r in ok]
    sec = [r["c2f"]["seconds"] for r in rows]
    summary = {
        "architectures": len(rows), "compared": len(ok), "batch": args.batch,
        "batch_choice_seconds_mean": statistics.fmean(r["batch_choice_seconds"] for r in rows),
        "quality_min": min(q), "quality_mean": statistics.fmean(q), "quality_target": 0.99,
        "eval_ratio_min": min(er), "eval_ratio_median": statistics.median(er), "eval_ratio_target": 50,
        "engine_eval_ratio_min": min(r["exhaustive"]["engine_evaluations"] / r["c2f"]["engine_evaluations"]
                                     for r in ok),
        "space_over_c2f_evals_min": min(r["space_size"] / r["c2f"]["evaluations"] for r in ok),
        "time_ratio_median": statistics.median(r["exhaustive"]["seconds"] / r["c2f"]["seconds"] for r in ok),
        "c2f_seconds_mean": statistics.fmean(sec), "c2f_seconds_max": max(sec), "seconds_target": 1.0,
        "c2f_cpu_seconds_mean": statistics.fmean(r["c2f"]["cpu_seconds"] for r in rows),
        "exhaustive_seconds_mean": statistics.fmean(r["exhaustive"]["seconds"] for r in rows),
    }
    print(json.dumps(summary, indent=2))
    targets = [
        {"name": "quality min (c2f FPS / exhaustive FPS)", "value": summary["quality_min"], "target": ">= 0.99",
         "met": summary["quality_min"] >= 0.99},
        {"name": "evaluations exhaustive / c2f, median", "value": summary["eval_ratio_median"], "target": ">= 50",
         "met": summary["eval_ratio_median"] >= 50},
        {"name": "c2f seconds per architecture, mean", "value": summary["c2f_seconds_mean"], "target": "< 1",
         "met": summary["c2f_seconds_mean"] < 1.0},
    ]
    for t in targets:
        print(f"target {t['name']}: {t['value']:.4g} (target {t['target']}) {'met' if t['met'] else 'NOT met'}")
    doc = {"benchmark": "accel_search", "board": args.board, "seed": args.seed, "seeded": args.seeded,
           "machine": f"2 shared CPU cores, load average at start {os.getloadavg()[0]:.2f}",
           "seconds_total": time.perf_counter() - t0, "summary": summary, "targets": targets, "rows": rows}
    atomic_write_text(args.out, json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
