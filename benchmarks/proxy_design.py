"""Compare candidate designs of the ``ours`` metric on proxy-benchmark draws (development data only).

Reads ``proxy_bench.json`` files of one draw scored with different ``--score-seed`` values (same architectures, same
trainings), and reports, per draw, the Kendall tau against the mean accuracy of each candidate: a rank aggregation
of base signals (mean of ranks, or AZ-NAS's sum of log ranks), with the signals taken from one score seed or averaged
over several. The candidate list is fixed in ``CANDIDATES`` (written before the results were looked at); the choice
and the confirmation rule are in docs/search.md.

    .venv/bin/python benchmarks/proxy_design.py DRAW_A_seed0.json,DRAW_A_seed1.json DRAW_B_seed0.json,...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from nash.frontend.nas.proxies.nash_metric import log_rank_sum, rank_sum
from nash.frontend.nas.proxy_bench import kendall, paired_bootstrap, top_hit_rate

# name -> (aggregation, signals); every signal counts "larger is better"
CANDIDATES = {
    "trainability": ("mean_rank", ("trainability",)),
    "ours_v1 (nn_degree+trainability)": ("mean_rank", ("nn_degree", "trainability")),
    "trainability+expressivity": ("mean_rank", ("trainability", "expressivity")),
    "trainability+expressivity+progressivity": ("mean_rank", ("trainability", "expressivity", "progressivity")),
    "trainability+expressivity+params": ("mean_rank", ("trainability", "expressivity", "params")),
    "trainability+params": ("mean_rank", ("trainability", "params")),
    "az_like (t+e+p+params, log-rank)": ("log_rank", ("trainability", "expressivity", "progressivity", "params")),
    "t+e+p (log-rank)": ("log_rank", ("trainability", "expressivity", "progressivity")),
}


def aggregate(kind: str, columns: list[np.ndarray]) -> np.ndarray:
    """mean_rank: sum of rank/N; log_rank: sum of log(rank/N) (AZ-NAS), ranks ascending, -inf/NaN worst."""
    return np.asarray(log_rank_sum(*columns) if kind == "log_rank" else rank_sum(*columns))


def signal(draws: list[dict], name: str, repeats: int) -> np.ndarray:
    """A base signal averaged over the first ``repeats`` score seeds of one draw."""
    cols = [np.array([float(r["base_scores"][name]) for r in d["results"]]) for d in draws[:repeats]]
    return np.mean(cols, axis=0)


def evaluate(draws: list[dict], n_boot: int = 500) -> dict:
    acc = np.array([r["val_acc"] for r in draws[0]["results"]])
    out = {}
    for repeats in range(1, len(draws) + 1):
        for cname, (kind, sigs) in CANDIDATES.items():
            s = aggregate(kind, [signal(draws, g, repeats) for g in sigs])
            ci = paired_bootstrap((s, acc), kendall, n_boot).confidence_interval
            out[f"{cname} x{repeats}"] = {"kendall_tau": kendall(s, acc), "tau_ci": [float(ci.low), float(ci.high)],
                                          "top10_hit_rate": top_hit_rate(s, acc)}
    out["nash (published)"] = {"kendall_tau": kendall([float(r["scores"]["nash"]) for r in draws[0]["results"]], acc)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("draws", nargs="+", help="comma-separated proxy_bench.json files of one draw (score seeds)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    report = {}
    for spec in args.draws:
        draws = [json.loads(Path(p).read_text()) for p in spec.split(",")]
        report[spec] = res = evaluate(draws)
        c = draws[0]["noise_ceiling"]
        print(f"{spec}: {draws[0]['archs']} archs, ceiling {c['kendall_tau']:.3f}")
        for k, v in sorted(res.items(), key=lambda kv: -kv[1]["kendall_tau"]):
            print(f"  {k:48s} {v['kendall_tau']:6.3f}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
