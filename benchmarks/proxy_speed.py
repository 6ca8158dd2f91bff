"""Proxy scoring speed: architectures scored per second per proxy, and the time of a 1000-candidate search.

For each space (digits 16x16, cifar32) it samples architectures with a fixed seed and times every proxy and the
accelerator model's hardware cost serially in one torch thread (per-core throughput), then times the search's
evaluation (process pool, one thread per worker: hardware cost + constraint check + scores) on the default metric and
on the NASH metric, and extrapolates to 1000 candidates. ``--full-search`` also runs a real search of the cifar32
space, population 100 and 10 generations of 90 children (1000 candidates), and records its wall time and CPU seconds
(main process and workers apart), with the hardware screen (the default: coarse-only accelerator search while
searching, the full price where the outputs need it). ``--compare-full-price`` also runs the same search with every
candidate fully priced (the search before the screen) and records whether the two give the same outputs.
Writes benchmarks/results/proxy_speed.json.

    .venv/bin/python benchmarks/proxy_speed.py [--archs-digits 16] [--archs-cifar 8] [--workers 2] [--full-search]
    .venv/bin/python benchmarks/proxy_speed.py --full-search-only   # the real search alone, other entries kept
    .venv/bin/python benchmarks/proxy_speed.py --full-search-only --generations 3 --compare-full-price
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import time
from pathlib import Path

import torch
from nash.frontend.accel.search import hardware_cost
from nash.frontend.core.atomic_io import atomic_write_text
from nash.frontend.nas.evolution import Constraints, Evaluator, SearchConfig, make_cost, run_search
from nash.frontend.nas.proxies import BASE_PROXIES, DEFAULT_METRIC, base_names, score_arch
from nash.frontend.nas.search_space import get_space, sample


def _archs(space: str, n: int) -> list[dict]:
    rng = random.Random(123)
    return [sample(get_space(space), rng) for _ in range(n)]


def per_proxy(archs: list[dict]) -> dict:
    torch.set_num_threads(1)
    score_arch(archs[0], ["zen"])  # warm-up
    out = {}
    for name in BASE_PROXIES:
        t = time.perf_counter()
        for a in archs:
            score_arch(a, [name])
        dt = time.perf_counter() - t
        out[name] = {"archs_per_s_one_core": len(archs) / dt, "s_per_arch": dt / len(archs)}
    t = time.perf_counter()
    for a in archs:
        hardware_cost(a, board="kv260")
    dt = time.perf_counter() - t
    out["hardware_cost"] = {"archs_per_s_one_core": len(archs) / dt, "s_per_arch": dt / len(archs)}
    return out


def pooled(archs: list[dict], metric: str, workers: int) -> dict:
    """The search's evaluation of a batch of children: accelerator cost, constraints and scores, in the pool."""
    with Evaluator(make_cost("accel"), Constraints(), base_names([metric]), 0, workers) as ev:
        ev(archs[:workers])  # start-up and imports outside the timing
        t = time.perf_counter()
        ev(archs)
        dt = time.perf_counter() - t
    rate = len(archs) / dt
    return {"metric": metric, "workers": workers, "archs_per_s": rate, "search_1000_candidates_s": 1000 / rate}


def _cpu_seconds() -> tuple[float, float]:
    """CPU seconds of this process and of its finished children (the search's worker pool, once it has shut down)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def outcome(s) -> dict:
    """What the search found: best architecture and its figures, the top 10, the Pareto front, the final
    population (keys), so that two runs of the same seed can be compared."""
    def item(v, r):
        return {"key": r["key"], "metric": v, "fps": r["hw"]["fps"], "price": r.get("price", "full")}

    ranked = s.ranked()
    return {"best": item(*ranked[0]), "top_k": [item(v, r) for v, r in ranked[: s.cfg.top_k]],
            "pareto": [item(v, r) for v, r in s.pareto()], "population": list(s.population),
            "population_best_metric": s.history[-1]["best"], "population_mean_metric": s.history[-1]["mean"]}


def same_outcome(a: dict, b: dict) -> dict:
    """Field by field: are two outcomes the same (FPS to 1e-9 relative)?"""
    def eq(x, y):
        return [(i["key"], i["metric"]) for i in x] == [(i["key"], i["metric"]) for i in y] and all(
            abs(i["fps"] - j["fps"]) <= 1e-9 * abs(j["fps"]) for i, j in zip(x, y, strict=True))

    return {"best": eq([a["best"]], [b["best"]]), "top_k": eq(a["top_k"], b["top_k"]),
            "pareto": eq(a["pareto"], b["pareto"]), "population": a["population"] == b["population"]}


def full_search(metric: str, workers: int, generations: int = 10, screen: bool = True) -> dict:
    """A real 1000-candidate search of the cifar32 space (Gaussian data, as without CIFAR files), timed end to end.
    Also its CPU seconds (main process + workers), which other jobs on the cores do not inflate: CPU / workers is the
    wall time free cores would need at perfect parallelism (a lower bound). ``screen``: the hardware screen (the
    search's default); False prices every candidate fully (the search before the screen)."""
    import tempfile

    cfg = SearchConfig(population=100, generations=generations, seed=0, metric=metric, workers=workers,
                       screen_hardware=screen)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        t, (m0, w0) = time.perf_counter(), _cpu_seconds()
        s = run_search(get_space("cifar32"), cfg, make_cost("accel"), Path(tmp), progress=True)
        dt, (m1, w1) = time.perf_counter() - t, _cpu_seconds()
    cpu = (m1 - m0) + (w1 - w0)
    n = len(s.archive) + len(s.rejected)
    out = {"space": "cifar32", "metric": metric, "workers": workers, "population": 100, "generations": generations,
           "hardware_screen": screen, "evaluated": len(s.archive), "rejected": len(s.rejected), "seconds": dt,
           "cpu_seconds": cpu, "cpu_seconds_main": m1 - m0, "cpu_seconds_workers": w1 - w0,
           "cpu_seconds_per_worker": cpu / workers, "load_average_at_start": load,
           "load_average_at_end": os.getloadavg()[0], "hardware_prices": s.price_summary(), "outcome": outcome(s)}
    if generations != 10:  # a timed share of the 1000 candidates: scaled per candidate, and marked as such
        out["share_of_1000"] = n / 1000
        out["extrapolated_1000"] = {"seconds": dt * 1000 / n, "cpu_seconds_per_worker": cpu / workers * 1000 / n}
    return out


def search_targets(f: dict) -> list[dict]:
    """Issue 17 item 5: the 1000-candidate cifar32 search with the default metric under 10 minutes on 2 cores."""
    x = f.get("extrapolated_1000", f)
    how = f"extrapolated from {f['evaluated'] + f['rejected']} candidates, " if "extrapolated_1000" in f else ""
    return [
        {"name": f"1000-candidate cifar32 search, wall seconds ({how}load average {f['load_average_at_start']:.1f} "
                 f"at start)", "value": x["seconds"], "target": "< 600", "met": x["seconds"] < 600},
        {"name": f"1000-candidate cifar32 search, CPU seconds / workers ({how}free cores at perfect parallelism: "
                 f"an estimate)", "value": x["cpu_seconds_per_worker"], "target": "< 600",
         "met": x["cpu_seconds_per_worker"] < 600},
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--archs-digits", type=int, default=16)
    ap.add_argument("--archs-cifar", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--full-search", action="store_true", help="also time a real 1000-candidate cifar32 search")
    ap.add_argument("--full-search-only", action="store_true",
                    help="only the real search; the other entries of an existing --out file are kept")
    ap.add_argument("--generations", type=int, default=10,
                    help="generations of the real search (fewer: a timed share of the 1000 candidates, extrapolated)")
    ap.add_argument("--full-price", action="store_true",
                    help="the real search with every candidate fully priced (no hardware screen: the search before)")
    ap.add_argument("--compare-full-price", action="store_true",
                    help="also run the real search fully priced and record whether it finds the same")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "proxy_speed.json"))
    args = ap.parse_args()
    res = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
                       "note": f"2 cores; load average at start: {os.getloadavg()[0]:.2f}"},
           "spaces": {}}
    if args.full_search_only and Path(args.out).exists():
        res = json.loads(Path(args.out).read_text())
        res["full_search_note"] = (f"full_search re-run alone (--full-search-only, {time.strftime('%Y-%m-%d')}, load "
                                   f"average {os.getloadavg()[0]:.2f} at start); the other entries are from the run "
                                   f"that 'machine' describes")
    spaces = () if args.full_search_only else (("digits", args.archs_digits), ("cifar32", args.archs_cifar))
    for space, n in spaces:
        archs = _archs(space, n)
        entry = {"archs": n, "per_proxy": per_proxy(archs), "search": []}
        for metric in dict.fromkeys([DEFAULT_METRIC, "nash"]):
            entry["search"].append(pooled(archs, metric, args.workers))
        res["spaces"][space] = entry
        print(f"== {space} ({n} architectures)")
        for name, v in entry["per_proxy"].items():
            print(f"  {name:13s} {v['archs_per_s_one_core']:8.2f} archs/s per core  ({v['s_per_arch']:.3f} s/arch)")
        for s in entry["search"]:
            print(f"  search scorer {s['metric']:5s} x{s['workers']} workers: {s['archs_per_s']:.2f} archs/s -> "
                  f"1000 candidates in {s['search_1000_candidates_s'] / 60:.1f} min")
    if args.full_search or args.full_search_only:
        res["full_search"] = f = full_search(DEFAULT_METRIC, args.workers, args.generations, not args.full_price)
        res["targets"] = search_targets(f)
        print(f"real search cifar32 {f['metric']}: {f['evaluated']} candidates in {f['seconds'] / 60:.1f} min "
              f"({f['cpu_seconds']:.0f} CPU s, {f['cpu_seconds_per_worker'] / 60:.1f} min per worker); prices: "
              f"{f['hardware_prices']['full']} full, {f['hardware_prices']['screen']} screen")
        if args.compare_full_price and not args.full_price:
            g = full_search(DEFAULT_METRIC, args.workers, args.generations, screen=False)
            res["full_search_full_price"] = g
            res["screen_comparison"] = same = same_outcome(f["outcome"], g["outcome"])
            print(f"fully priced: {g['cpu_seconds']:.0f} CPU s; same outcome with the screen: {same}")
        for t in res["targets"]:
            print(f"target {t['name']}: {t['value']:.0f} (target {t['target']}) {'met' if t['met'] else 'NOT met'}")
    atomic_write_text(args.out, json.dumps(res, indent=1))
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
