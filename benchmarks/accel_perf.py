"""Accelerator performance: hybrid (conv/shift/adder) vs the multiplication-only (conv) baseline, on fixed seeded sets
of CIFAR-100-sized (cifar32, 100 classes) and Tiny-ImageNet-sized (tiny64, 200 classes) architectures.

Fair baseline (issue 13, item 3): the baseline is found by the project's own accelerator search (coarse-to-fine, the
same mode and therefore the same effort as for the hybrid) in the same engine space, for the same architecture with
every block's op set to conv (``nash search --ops conv`` restricts the NAS space the same way). So each pair has the
same layers and the same operation budget; only the op types and the engines they run on differ. The best design of
each seeded set is reported as well.

Per design: FPS, GOPS (2 x MACs x FPS), DSP/LUT/FF/BRAM/URAM utilisation of the board, and per layer its roofline
position: operational intensity (ops per DDR byte read: int8 input and weights once; the output leaves on the
separate AXI write channel), attained GOPS, the engine's
compute roof (2 x its PEs x clock) and memory roof (its port's bytes/cycle x clock x intensity), bound = whichever roof
is lower, busy = attained / compute roof, and its walk (``reuse``, ``images`` per pass as the section records them;
``rereads_by_choice``: reuse would fit but the model priced re-reading faster, docs/accelerator-model.md) and its
``slowest_process`` (of model.PROCESSES, in a full pass); per design ``cycles_by_slowest_process``, the share of its PE
layers' cycles by that process (printed for each set's best designs).
Plots: docs/figures/accel_perf_roofline.png and docs/figures/accel_perf_utilisation.png. The targets of issue 13
are printed and stored as a ``targets`` list.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/accel_perf.py [--n 8] [--seed 0] [--board kv260]
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from nash.frontend.accel.model import PROCESSES, Configs, config_dict, engine_of, resources_dict  # noqa: E402
from nash.frontend.accel.search import (  # noqa: E402
    choose_batch,
    coarse_to_fine,
    layer_cycles,
    make_context,
    performance,
    top_batch,
)
from nash.frontend.core.atomic_io import atomic_write_text  # noqa: E402
from nash.frontend.core.graph import lower  # noqa: E402
from nash.frontend.nas.search_space import sample, space_for_dataset  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "accel_perf.json"
FIGURES = ROOT / "docs" / "figures"
SETS = (("cifar100", "cifar32"), ("tiny-imagenet", "tiny64"))
LARGE_SHARE = 0.8  # "large layers": the largest layers that together hold 80 % of the network's MACs
SYNTH_SOURCES = ("yosys", "csynth", "vivado")


def conv_twin(arch: dict) -> dict:
    """The same architecture with every block on conv (stem and head are conv already)."""
    twin = copy.deepcopy(arch)
    for st in twin["stages"]:
        for b in st["blocks"]:
            b["op"] = "conv"
    return twin


def layer_rows(ctx, design, nodes) -> list[dict]:
    """Per conv-kind layer: engine, MACs, cycles, roofline position and busy fraction."""
    f = ctx.board.clock_mhz * 1e6
    cyc = layer_cycles(ctx, design)
    walks = {e: em.walks(design.rows[e], design.batch) for e, em in ctx.engines.items()}  # as the section records
    rule = {e: em.engine_buffers(design.rows[e]).reuse for e, em in ctx.engines.items()}
    index = {n.name: (e, i) for e, em in ctx.engines.items() for i, n in enumerate(em.layers)}
    rows = []
    for n in nodes:
        if n.kind != "conv":
            continue
        e = engine_of(n)
        tm, tn, dw = design.rows[e][:3]
        pes = dw if n.depthwise else tm * tn
        ops = 2.0 * n.macs * design.batch  # a task serves the batch's images
        weights = n.out_ch * (n.in_ch // n.groups) * n.kernel**2
        # read once per image / per task; the output goes out on the AXI write channel
        nbytes = design.batch * n.in_ch * n.in_size**2 + weights
        oi = ops / nbytes
        compute_roof = 2.0 * pes * f / 1e9
        memory_roof = ctx.bw * f * oi / 1e9
        attained = ops / (cyc[n.name] / f) / 1e9
        rows.append({"layer": n.name, "role": n.role, "engine": e, "op": n.op, "kernel": n.kernel,
                     "depthwise": n.depthwise, "macs": n.macs * design.batch, "cycles": cyc[n.name], "pes": pes,
                     "intensity_ops_per_byte": round(oi, 3), "attained_gops": round(attained, 3),
                     "compute_roof_gops": round(compute_roof, 3), "memory_roof_gops": round(memory_roof, 3),
                     "bound": "compute" if compute_roof <= memory_roof else "memory",
                     "busy": round(attained / compute_roof, 4), "reuse": walks[e][0][n.name],
                     "images": walks[e][1][n.name], "rereads_by_choice": rule[e][n.name] and not walks[e][0][n.name],
                     "slowest_process": slowest_process(ctx, design, *index[n.name], walks[e])})
    return rows


def slowest_process(ctx, design, engine: str, i: int, walk) -> str:
    """The process of the layer's DATAFLOW region (model.PROCESSES) that takes longest in a full pass of its walk."""
    em, row = ctx.engines[engine], design.rows[engine]
    node = em.layers[i]
    c = Configs.from_rows([row])
    lat, ii = em.pe_timing(c.tm, c.tn)
    procs = em.task_processes(i, min(int(row[3]), node.out_size), c.tm, c.tn, np.maximum(c.dw, 1), c.rq,
                              np.array([walk[0][node.name]]), lat, ii, walk[1][node.name])
    return PROCESSES[int(np.argmax([float(np.asarray(cyc).reshape(-1)[0]) for cyc, _ in procs]))]


def process_shares(rows: list[dict]) -> dict[str, float]:
    """Share of the PE layers' cycles by the process that is the slowest in each layer (what binds inside tasks)."""
    total = sum(r["cycles"] for r in rows)
    return {p: round(sum(r["cycles"] for r in rows if r["slowest_process"] == p) / total, 4) for p in PROCESSES
            if total and any(r["slowest_process"] == p for r in rows)}


def busy(rows: list[dict]) -> float:
    """MACs done / MAC slots offered (PEs x cycles) over ``rows``."""
    slots = sum(r["pes"] * r["cycles"] for r in rows)
    return sum(r["macs"] for r in rows) / slots if slots else 0.0


def large_layers(rows: list[dict]) -> list[dict]:
    total, acc, out = sum(r["macs"] for r in rows), 0, []
    for r in sorted(rows, key=lambda r: -r["macs"]):
        if acc >= LARGE_SHARE * total:
            break
        out.append(r)
        acc += r["macs"]
    return out


def evaluate(arch: dict, board: str, max_batch: int | None = None) -> dict:
    nodes = lower(arch)
    ctx = make_context(nodes, board)
    t0 = time.perf_counter()
    res = coarse_to_fine(ctx, batch=top_batch(max_batch))  # as `search`: at the largest batch, then the best B
    if res.design is None:
        return {"feasible": False, "evaluations": res.evaluations}
    res.design, evals = choose_batch(ctx, res.design, max_batch)  # the images per task of the highest FPS
    res.evaluations += evals
    res.seconds = time.perf_counter() - t0
    p = performance(ctx, res.design)
    rows = layer_rows(ctx, res.design, nodes)
    r = resources_dict(res.design.res)
    tot = ctx.board.resources
    std_k13 = [x for x in rows if x["engine"] == "conv" and not x["depthwise"] and x["kernel"] in (1, 3)]
    budget = ctx.board.budget
    share = {k: r[k] / budget[k] for k in ("dsp", "lut", "ff", "bram", "uram") if budget[k]}
    fullest = max(share, key=share.get)
    membound = sum(1 for x in rows if x["bound"] == "memory")
    limit = (f"{fullest} ({100 * share[fullest]:.0f} % of the usable budget)" if share[fullest] >= 0.9 else
             f"port bandwidth: {membound} of {len(rows)} layers memory-bound; fullest resource {fullest} "
             f"({100 * share[fullest]:.0f} % of the usable budget)")
    return {"feasible": True, "fps": p["fps"], "gops": p["gops"], "latency_ms": p["latency_ms"], "batch": p["batch"],
            "peak_gops": p["peak_gops"], "board_peak_gops": p["board_peak_gops"], "macs": sum(n.macs for n in nodes),
            "ops": {o: sum(1 for n in nodes if n.kind == "conv" and n.op == o) for o in ("conv", "shift", "adder")},
            "resources": r, "utilisation": {k: round(r[k] / tot[k], 4) if tot[k] else 0.0 for k in r},
            "budget_share": {k: round(v, 4) for k, v in share.items()}, "limited_by": limit,
            "engines": {e: config_dict(v) for e, v in res.design.rows.items()},
            "evaluations": res.evaluations, "search_seconds": round(res.seconds, 3),
            "busy_large_layers": round(busy(large_layers(rows)), 4),
            "dsp_busy_3x3_pointwise": round(busy(std_k13), 4) if std_k13 else None,
            "memory_bound_layers": membound,
            "cycles_by_slowest_process": process_shares(rows),
            "rereading_layers": sum(x["rereads_by_choice"] for x in rows),  # reuse possible, re-reading priced faster
            "layers": rows}


def run_set(dataset: str, space_name: str, n: int, seed: int, board: str) -> dict:
    space = space_for_dataset(dataset)
    rng = random.Random(f"{seed}-{space_name}")
    pairs = []
    for i in range(n):
        arch = sample(space, rng)
        h, c = evaluate(arch, board), evaluate(conv_twin(arch), board)
        ratio = h["fps"] / c["fps"] if h["feasible"] and c["feasible"] else None
        pairs.append({"index": i, "architecture": arch, "hybrid": h, "conv_only": c, "fps_ratio": ratio})
        print(f"  {dataset} #{i}: hybrid {h.get('fps', 0):.0f} FPS {h.get('gops', 0):.0f} GOPS | conv-only "
              f"{c.get('fps', 0):.0f} FPS {c.get('gops', 0):.0f} GOPS | ratio {ratio or 0:.2f}", flush=True)
    ok = [p for p in pairs if p["fps_ratio"] is not None]

    def med(side, key):
        v = [p[side][key] for p in ok if p[side].get(key) is not None]
        return statistics.median(v) if v else None

    best = {side: max(ok, key=lambda p, s=side: p[s]["fps"])["index"] if ok else None
            for side in ("hybrid", "conv_only")}
    return {"dataset": dataset, "space": space_name, "num_classes": space.num_classes, "n": n, "pairs": pairs,
            "median": {side: {k: med(side, k) for k in ("fps", "gops", "latency_ms", "batch", "busy_large_layers",
                                                "dsp_busy_3x3_pointwise")}
                       for side in ("hybrid", "conv_only")},
            "median_utilisation": {side: {k: statistics.median(p[side]["utilisation"][k] for p in ok)
                                          for k in ("dsp", "lut", "ff", "bram", "uram")} for side in ("hybrid",
                                                                                                       "conv_only")}
            if ok else {},
            "fps_ratio_median": statistics.median(p["fps_ratio"] for p in ok) if ok else None,
            "fps_ratio_min": min(p["fps_ratio"] for p in ok) if ok else None,
            "rereading_layers": {side: sum(p[side]["rereading_layers"] for p in ok)
                                 for side in ("hybrid", "conv_only")},
            "best_index": best}


def synthesis_share() -> tuple[float, list[str]]:
    """Share of the priced PE / tree / lane entries of the cost table whose source is a synthesis report."""
    from nash.frontend.accel.cost_table import load_cost_table

    t = load_cost_table()
    keys = [k for k in t.values if k.split(".")[0] in ("conv", "shift", "adder", "tree", "array", "requant")
            and "packed" not in k]
    measured = [k for k in keys if t.sources[k].lower().startswith(SYNTH_SOURCES)]
    return len(measured) / len(keys), sorted(set(keys) - set(measured))


def targets(sets: dict) -> list[dict]:
    c = sets["cifar100"]
    share, missing = synthesis_share()
    rows = [
        ("conv-only baseline GOPS on the CIFAR-100 set (median)", c["median"]["conv_only"]["gops"], 250.0),
        ("conv-only DSP busy on 3x3/pointwise layers (median)", c["median"]["conv_only"]["dsp_busy_3x3_pointwise"],
         0.5),
        ("hybrid / conv-only FPS at the same architecture and ops (median, CIFAR-100)", c["fps_ratio_median"], 2.0),
        ("hybrid engines' peak busy on the large layers (median, CIFAR-100)",
         c["median"]["hybrid"]["busy_large_layers"], 0.6),
        ("cost-table PE/tree/lane entries from synthesis (share)", share, 1.0),
    ]
    out = [{"name": n, "value": None if v is None else round(float(v), 4), "target": t,
            "met": v is not None and v >= t} for n, v, t in rows]
    out[-1]["not_from_synthesis"] = missing
    return out


def plots(sets: dict) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    FIGURES.mkdir(parents=True, exist_ok=True)
    c = sets["cifar100"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True)
    for ax, side in zip(axes, ("hybrid", "conv_only"), strict=True):
        p = c["pairs"][c["best_index"][side]][side]
        colours = {"conv": "tab:blue", "shift": "tab:orange", "adder": "tab:green"}
        for e, col in colours.items():
            rows = [r for r in p["layers"] if r["engine"] == e]
            if not rows:
                continue
            ax.scatter([r["intensity_ops_per_byte"] for r in rows], [r["attained_gops"] for r in rows], s=14,
                       c=col, label=f"{e} layers", alpha=0.8)
            roof = max(r["compute_roof_gops"] for r in rows if not r["depthwise"]) if any(
                not r["depthwise"] for r in rows) else None
            if roof:
                ax.axhline(roof, color=col, lw=1, ls="--")
        xs = sorted({r["intensity_ops_per_byte"] for r in p["layers"]})
        slope = p["layers"][0]["memory_roof_gops"] / p["layers"][0]["intensity_ops_per_byte"]
        ax.plot([xs[0], xs[-1]], [slope * xs[0], slope * xs[-1]], color="grey", lw=1, label="port bandwidth roof")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("operational intensity (ops / DDR byte read)")
        ax.set_title(f"{side.replace('_', '-')}: {p['fps']:.0f} FPS, {p['gops']:.0f} GOPS")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("attained GOPS per layer (dashed: array compute roofs)")
    fig.suptitle("Per-layer roofline, best design of the CIFAR-100 set (KV260 model)")
    fig.tight_layout()
    roof_path = FIGURES / "accel_perf_roofline.png"
    fig.savefig(roof_path, dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 4))
    keys = ("dsp", "lut", "ff", "bram", "uram")
    width = 0.2
    for i, (name, s) in enumerate(sets.items()):
        for j, side in enumerate(("hybrid", "conv_only")):
            u = s["median_utilisation"][side]
            off = (2 * i + j - 1.5) * width
            ax.bar([k + off for k in range(len(keys))], [u[k] for k in keys], width,
                   label=f"{name} {side.replace('_', '-')}")
    ax.set_xticks(range(len(keys)), [k.upper() for k in keys])
    ax.set_ylabel("share of the board (median design)")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8)
    ax.set_title("Board utilisation, hybrid vs conv-only (KV260 model)")
    fig.tight_layout()
    util_path = FIGURES / "accel_perf_utilisation.png"
    fig.savefig(util_path, dpi=110)
    plt.close(fig)
    return {"roofline": str(roof_path.relative_to(ROOT)), "utilisation": str(util_path.relative_to(ROOT))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=8, help="architectures per set")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--board", default="kv260")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--no-plots", action="store_true")
    args = ap.parse_args()
    t0 = time.monotonic()
    sets = {}
    for dataset, space_name in SETS:
        print(f"{dataset} ({space_name}):", flush=True)
        sets[dataset] = run_set(dataset, space_name, args.n, args.seed, args.board)
    result = {"benchmark": "accel_perf", "board": args.board, "seed": args.seed, "n": args.n,
              "search": "coarse-to-fine, the same for both sides", "sets": sets, "targets": targets(sets)}
    if not args.no_plots:
        result["plots"] = plots(sets)
    result["wall_s"] = round(time.monotonic() - t0, 1)
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    for name, s in sets.items():
        m = s["median"]
        print(f"{name}: median hybrid {m['hybrid']['fps']:.0f} FPS {m['hybrid']['gops']:.0f} GOPS, conv-only "
              f"{m['conv_only']['fps']:.0f} FPS {m['conv_only']['gops']:.0f} GOPS; FPS ratio median "
              f"{s['fps_ratio_median']:.2f} (min {s['fps_ratio_min']:.2f}); layers re-reading by choice: hybrid "
              f"{s['rereading_layers']['hybrid']}, conv-only {s['rereading_layers']['conv_only']}")
        for side in ("hybrid", "conv_only"):  # what binds inside the best design's layer tasks
            best = s["pairs"][s["best_index"][side]][side]
            shares = ", ".join(f"{k} {100 * v:.0f} %" for k, v in sorted(best["cycles_by_slowest_process"].items(),
                                                                        key=lambda kv: -kv[1]))
            print(f"  best {side} design #{s['best_index'][side]}: cycles by slowest process: {shares}")
    for t in result["targets"]:
        print(f"target {t['name']}: {t['value']} (target >= {t['target']}): {'met' if t['met'] else 'NOT met'}")
    print(f"wrote {args.out} ({result['wall_s']} s)")


if __name__ == "__main__":
    main()
