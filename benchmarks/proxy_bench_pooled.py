"""Pool several proxy-benchmark draws: per-draw and pooled Kendall tau, and paired bootstraps of tau differences.

Reads ``proxy_bench.json`` files written by ``nash proxy-bench`` (each holds every architecture's accuracy and base
scores), recomputes the group metrics (``nash``, ``ours``) on the pooled group, and bootstraps the difference of two
proxies' tau with the same resamples for both (paired), per draw and pooled, for each ``--pairs A:B`` (default
ours:nash and trainability:ours). Per draw (one dataset each) it checks issue 17's targets, tau(ours) >= 0.5,
tau(ours) >= tau(nash) + 0.15 and a noise ceiling >= 0.8 (and, for draws with 4+ training seeds, the measured
split-half ceiling of the k-seed mean >= 0.8), and writes them as a ``targets`` list of
``{"name", "value", "target", "met"}``. Writes benchmarks/results/proxy_bench_pooled.json.

    .venv/bin/python benchmarks/proxy_bench_pooled.py RUN1/proxy_bench.json RUN2/proxy_bench.json ...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from nash.frontend.core.atomic_io import atomic_write_text
from nash.frontend.nas.proxies import GROUP_METRICS, combine_group
from nash.frontend.nas.proxy_bench import kendall, paired_bootstrap


def _scores(results: list[dict], name: str) -> np.ndarray:
    """A proxy's scores over a group; group metrics are re-ranked within this group from the base scores."""
    base = [{k: float(v) for k, v in r.get("base_scores", r["scores"]).items()} for r in results]
    vals = combine_group(name, base) if name in GROUP_METRICS else [b[name] for b in base]
    return np.asarray(vals, dtype=np.float64)


def paired_difference(results: list[dict], a: str, b: str, n_boot: int = 1000, seed: int = 0) -> dict:
    """tau(a) - tau(b) with a percentile 95% interval; both taus use the same architecture resamples."""
    acc = np.array([r["val_acc"] for r in results])
    sa, sb = _scores(results, a), _scores(results, b)

    def diff(xa, xb, y):
        return kendall(xa, y) - kendall(xb, y)

    res = paired_bootstrap((sa, sb, acc), diff, n_boot, seed)
    return {"difference": diff(sa, sb, acc),
            "ci": [float(res.confidence_interval.low), float(res.confidence_interval.high)],
            "fraction_positive": float(np.mean(res.bootstrap_distribution > 0))}


def draw_label(d: dict) -> str:
    """dataset name, with the data folder's name for CIFAR-format files (generated datasets), and the epochs (one
    dataset may be benchmarked at two budgets)."""
    root = d.get("data_root")
    name = f"{d['dataset']}:{Path(root).name}" if root else d["dataset"]
    return f"{name} e{d['epochs']}"


def targets(draw: dict) -> list[dict]:
    """Issue 17's targets for one dataset's draw."""
    tau, ceiling = draw["kendall_tau"], (draw.get("noise_ceiling") or {}).get("kendall_tau")
    name = draw["label"]
    rows = [(f"{name}: tau(ours)", tau["ours"], ">= 0.5", tau["ours"] >= 0.5),
            (f"{name}: tau(ours) - tau(nash)", tau["ours"] - tau["nash"], ">= 0.15", tau["ours"] - tau["nash"] >= 0.15),
            (f"{name}: noise ceiling (tau between training seeds)", ceiling, ">= 0.8",
             ceiling is not None and ceiling >= 0.8)]
    half = (draw.get("noise_ceiling") or {}).get("split_half")
    if half:  # 4+ seeds: the measured ceiling of the mean-of-k ground truth as well
        rows.append((f"{name}: ground-truth ceiling (mean of {half['k']} seeds vs mean of {half['k']}, measured)",
                     half["kendall_tau"], ">= 0.8", half["kendall_tau"] >= 0.8))
    return [{"name": n, "value": v, "target": t, "met": bool(m)} for n, v, t, m in rows]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "proxy_bench_pooled.json")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--pairs", nargs="+", default=["ours:nash", "ours:trainability"])
    args = ap.parse_args()
    pairs = [tuple(p.split(":")) for p in args.pairs]
    draws = [json.loads(p.read_text()) for p in args.runs]
    versions = {d["proxy_version"] for d in draws}
    if len(versions) != 1:
        raise SystemExit(f"the runs were scored with different proxy versions {sorted(versions)}; re-score them")
    names = list(draws[0]["proxies"])
    report: dict = {"proxy_version": versions.pop(), "draws": [], "pooled": {}}
    pooled: list[dict] = []
    for path, d in zip(args.runs, draws, strict=True):
        res = d["results"]
        pooled += res
        acc = [r["val_acc"] for r in res]
        report["draws"].append({
            "file": str(path), "label": draw_label(d), "seed": d["seed"], "archs": d["archs"],
            "epochs": d["epochs"], "input": d.get("input"), "train": d.get("train"),
            "noise_ceiling": d.get("noise_ceiling"), "accuracy": d.get("accuracy"),
            "kendall_tau": {n: kendall(_scores(res, n), acc) for n in names},
            "tau_ci": {n: d["proxies"][n]["tau_ci"] for n in names},
            "top10_hit_rate": {n: d["proxies"][n].get("top10_hit_rate") for n in names},
            **{f"{a}_minus_{b}": paired_difference(res, a, b, args.bootstrap) for a, b in pairs}})
    acc = [r["val_acc"] for r in pooled]
    report["pooled"] = {"archs": len(pooled), "kendall_tau": {n: kendall(_scores(pooled, n), acc) for n in names},
                        **{f"{a}_minus_{b}": paired_difference(pooled, a, b, args.bootstrap) for a, b in pairs}}
    report["targets"] = [t for dr in report["draws"] for t in targets(dr)]
    atomic_write_text(args.out, json.dumps(report, indent=1))
    print(f"{'proxy':13s}" + "".join(f" {dr['label'][-12:]:>12s}" for dr in report["draws"]) + "  pooled")
    for n in sorted(names, key=lambda n: -report["pooled"]["kendall_tau"][n]):
        row = "".join(f" {dr['kendall_tau'][n]:12.3f}" for dr in report["draws"])
        print(f"{n:13s}{row} {report['pooled']['kendall_tau'][n]:7.3f}")
    for a, b in pairs:
        for dr in report["draws"] + [{"label": "pooled", **report["pooled"]}]:
            p = dr[f"{a}_minus_{b}"]
            print(f"{a} - {b} ({dr['label']}): {p['difference']:+.3f} [{p['ci'][0]:+.3f}, {p['ci'][1]:+.3f}], "
                  f"positive in {100 * p['fraction_positive']:.1f}% of resamples")
    for t in report["targets"]:
        v = "n/a" if t["value"] is None else f"{t['value']:.3f}"
        print(f"{t['name']}: {v} (target {t['target']}) {'met' if t['met'] else 'NOT met'}")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
