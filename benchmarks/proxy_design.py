"""Compare candidate designs of the ``ours`` metric on proxy-benchmark draws (development data only).

Reads ``proxy_bench.json`` files (each holds every architecture's mean accuracy and base scores) and reports, per
draw, the Kendall tau against the mean accuracy of each candidate: a rank aggregation of base signals (mean of
ranks, or AZ-NAS's sum of log ranks). Signals named ``*_gauss`` are the trainability pass's signals recomputed with
Gaussian inputs and random labels instead of the real mini-batch (cached in ``--gauss-cache``); a comma-separated
group of files of one draw (different ``--score-seed``) averages the signals over them ("xN").

Round 2 (issue 17, 2026-12-01 17:15 UTC): the candidate list ``CANDIDATES`` and the rule ``choose`` were written in
the commit that adds them, before any candidate of this list was scored on the development draws and before the
confirmation dataset existed (docs/search.md, "Rule for the second `ours`").

    .venv/bin/python benchmarks/proxy_design.py DIGITS.json TEXTURES_E3.json TEXTURES_E8.json --out REPORT.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from nash.frontend.core.atomic_io import atomic_write_text
from nash.frontend.nas.proxies.nash_metric import log_rank_sum, rank_sum
from nash.frontend.nas.proxy_bench import kendall, paired_bootstrap, top_hit_rate

# Signals the 1000-candidate cifar32 search can afford (issue 17 item 5: < 10 min on 2 cores; benchmarks/
# results/proxy_speed.json: ours takes 533 s, and zen 1.04 s, synflow 0.67 s, naswot 4.5 s, meco 4.6 s per network
# at 32x32 would each push it past 600 s). The trainability pass yields expressivity and progressivity for free.
AFFORDABLE = {"nn_degree", "params", "macs", "trainability", "expressivity", "progressivity",
              "trainability_gauss", "expressivity_gauss", "progressivity_gauss"}

# name -> (aggregation, signals); every signal counts "larger is better". The first entry is the current `ours`.
CANDIDATES = {
    "ours_v1 (nn_degree+trainability)": ("mean_rank", ("nn_degree", "trainability")),
    "trainability": ("mean_rank", ("trainability",)),
    "expressivity": ("mean_rank", ("expressivity",)),
    "trainability+expressivity": ("mean_rank", ("trainability", "expressivity")),
    "trainability+expressivity+progressivity": ("mean_rank", ("trainability", "expressivity", "progressivity")),
    "az_nas (t+e+p+macs, log-rank)": ("log_rank", ("trainability", "expressivity", "progressivity", "macs")),
    "t+e+p (log-rank)": ("log_rank", ("trainability", "expressivity", "progressivity")),
    "nn_degree+trainability+expressivity": ("mean_rank", ("nn_degree", "trainability", "expressivity")),
    "trainability+params": ("mean_rank", ("trainability", "params")),
    "nn_degree+trainability+params": ("mean_rank", ("nn_degree", "trainability", "params")),
    "trainability_gauss": ("mean_rank", ("trainability_gauss",)),
    "nn_degree+trainability_gauss": ("mean_rank", ("nn_degree", "trainability_gauss")),
    "nn_degree+trainability_gauss+expressivity_gauss": ("mean_rank",
                                                        ("nn_degree", "trainability_gauss", "expressivity_gauss")),
    "t+e+p gauss (log-rank)": ("log_rank", ("trainability_gauss", "expressivity_gauss", "progressivity_gauss")),
    # informational only (not affordable in the cifar32 search, so not eligible):
    "nn_degree+trainability+synflow": ("mean_rank", ("nn_degree", "trainability", "synflow")),
    "trainability+zen": ("mean_rank", ("trainability", "zen")),
    "nn_degree+trainability+naswot": ("mean_rank", ("nn_degree", "trainability", "naswot")),
}
CURRENT = "ours_v1 (nn_degree+trainability)"
SWITCH_MARGIN = 0.05  # the new default must beat the current one's mean tau by this much
TIE = 0.02  # within this of the best, fewer signals win


def eligible(name: str) -> bool:
    return set(CANDIDATES[name][1]) <= AFFORDABLE


def choose(mean_tau: dict[str, float]) -> dict:
    """The pre-registered rule: among the affordable candidates, the highest mean Kendall tau over the development
    draws; one within ``TIE`` of it with fewer signals wins. It replaces the current `ours` only if its mean tau is
    at least ``SWITCH_MARGIN`` above the current one's."""
    pool = {n: t for n, t in mean_tau.items() if n in CANDIDATES and eligible(n)}
    best = max(pool.values())
    near = [n for n, t in pool.items() if t >= best - TIE]
    pick = min(near, key=lambda n: (len(CANDIDATES[n][1]), -pool[n]))
    switch = pick != CURRENT and pool[pick] >= pool[CURRENT] + SWITCH_MARGIN
    return {"best": pick, "best_mean_tau": pool[pick], "current_mean_tau": pool[CURRENT], "switch": bool(switch),
            "default": pick if switch else CURRENT}


def aggregate(kind: str, columns: list[np.ndarray]) -> np.ndarray:
    """mean_rank: sum of rank/N; log_rank: sum of log(rank/N) (AZ-NAS), ranks ascending, -inf/NaN worst."""
    return np.asarray(log_rank_sum(*columns) if kind == "log_rank" else rank_sum(*columns))


def gauss_signals(draw: dict, cache: Path) -> list[dict[str, float]]:
    """Per architecture: the trainability pass on Gaussian inputs with random labels (score seed of the draw),
    as ``*_gauss`` keys; cached per architecture hash."""
    from nash.frontend.nas.proxies import PROXY_VERSION
    from nash.frontend.nas.proxies.ours import step_signals
    from nash.frontend.nas.proxy_bench import bench_space, sample_archs

    cache.mkdir(parents=True, exist_ok=True)
    space = bench_space(draw["dataset"], draw["space"] if draw["dataset"] != "digits" else None, None,
                        draw["input"][1])
    archs = sample_archs(space, draw["archs"], draw["seed"])
    out = []
    for a, r in zip(archs, draw["results"], strict=True):
        p = cache / f"v{PROXY_VERSION}_s{draw['score_seed']}_{r['hash']}_gauss.json"
        if not p.exists():
            s = step_signals(a, None, seed=draw["score_seed"])
            atomic_write_text(p, json.dumps({f"{k}_gauss": v for k, v in s.items()}))
        out.append(json.loads(p.read_text()))
    return out


def signal(draws: list[dict], gauss: list[list[dict]], name: str) -> np.ndarray:
    """A base signal of one draw, averaged over its score-seed files."""
    if name.endswith("_gauss"):
        cols = [np.array([float(g[name]) for g in gs]) for gs in gauss]
    else:
        cols = [np.array([float(r["base_scores"][name]) for r in d["results"]]) for d in draws]
    return np.mean(cols, axis=0)


def evaluate(draws: list[dict], gauss: list[list[dict]], n_boot: int = 500) -> dict:
    acc = np.array([r["val_acc"] for r in draws[0]["results"]])
    out = {}
    for cname, (kind, sigs) in CANDIDATES.items():
        s = aggregate(kind, [signal(draws, gauss, g) for g in sigs])
        ci = paired_bootstrap((s, acc), kendall, n_boot).confidence_interval
        out[cname] = {"kendall_tau": kendall(s, acc), "tau_ci": [float(ci.low), float(ci.high)],
                      "top10_hit_rate": top_hit_rate(s, acc), "eligible": eligible(cname)}
    out["nash (published)"] = {"kendall_tau": kendall([float(r["scores"]["nash"]) for r in draws[0]["results"]], acc)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("draws", nargs="+", help="proxy_bench.json of each development draw (comma-separated: score seeds)")
    ap.add_argument("--gauss-cache", type=Path, default=Path("proxy_design_cache"))
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    report: dict = {"draws": {}}
    for spec in args.draws:
        draws = [json.loads(Path(p).read_text()) for p in spec.split(",")]
        gauss = [gauss_signals(d, args.gauss_cache) for d in draws]
        report["draws"][spec] = evaluate(draws, gauss)
        c = draws[0]["noise_ceiling"]
        print(f"{spec}: {draws[0]['archs']} archs, {draws[0]['epochs']} epochs, ceiling {c['kendall_tau']:.3f}")
    names = list(CANDIDATES) + ["nash (published)"]
    mean = {n: float(np.mean([r[n]["kendall_tau"] for r in report["draws"].values()])) for n in names}
    report["mean_tau"] = mean
    report["choice"] = choose(mean)
    print(f"{'candidate':50s}" + "".join(f" {'draw ' + str(i):>7s}" for i in range(len(args.draws))) + "    mean")
    for n in sorted(names, key=lambda n: -mean[n]):
        row = "".join(f" {report['draws'][s][n]['kendall_tau']:7.3f}" for s in args.draws)
        print(f"{n + ('' if n not in CANDIDATES or eligible(n) else ' (n/a)'):50s}{row} {mean[n]:7.3f}")
    print(f"choice: {report['choice']}")
    if args.out:
        atomic_write_text(args.out, json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
