"""Noise ceiling of the proxy benchmark against its training budget, its seeds and its data (issue 17, item 1).

Trains a small fixed set of architectures (the first K of a recorded draw: same space, sampling seed and data as a
``nash proxy-bench`` run, so the trainings are shared through the benchmark's cache) with S seeds at each budget,
and reports the Kendall tau between the seeds (the benchmark's noise ceiling) with its percentile bootstrap 95 %
interval, the same for the weight-average (EMA) accuracy every training also records, the split-half tau of the
mean of S/2 seeds when S >= 4 (measured) and of k-seed means (estimated), the accuracy range and the CPU seconds per
training. ``--order-study N`` also trains the first N architectures with the initialisation of seed 1 and the batch
order of seed 2, which splits the seed's effect into initialisation and batch order. Writes
benchmarks/results/proxy_ceiling.json (merged with what is already there, so budgets and datasets can be added one
run at a time).

    .venv/bin/python benchmarks/proxy_ceiling.py --data-root DATA/textures-0 --seed 5 --archs 12 \
        --budget 8:16:1500 --seeds 4 --order-study 6 --cache-dir CACHE
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from nash.frontend.core.atomic_io import atomic_write_text
from nash.frontend.nas.proxy_bench import (
    arch_hash,
    bench_space,
    kendall,
    mean_of_k_tau,
    noise_ceiling,
    sample_archs,
    seeds_for,
    train_all,
    train_seeds_for,
)

RESULT = Path(__file__).parent / "results" / "proxy_ceiling.json"


def parse_budget(text: str) -> tuple[int, int, int]:
    """'EPOCHS:SIZE:IMAGES' -> (epochs, input size, training images)."""
    try:
        epochs, size, images = (int(v) for v in text.split(":"))
    except ValueError:
        raise SystemExit(f"--budget {text!r}: expected EPOCHS:SIZE:IMAGES, e.g. 8:16:1500") from None
    return epochs, size, images


def _ceilings(acc: np.ndarray) -> dict:
    """Single-seed ceiling, measured split-half ceiling and estimated k-seed ceilings of [archs][seeds] accuracies."""
    c = noise_ceiling(acc)
    tau = c["kendall_tau"]
    return {"ceiling": c, "split_half": c["split_half"],
            "mean_of_k_estimate": {str(k): mean_of_k_tau(tau, k) for k in (2, 4, 8)} if tau is not None else None,
            "seeds_for_0.8_estimate": seeds_for(tau) if tau is not None else None,
            "accuracy": {"min": float(np.min(acc.mean(1))), "max": float(np.max(acc.mean(1))),
                         "std_of_means": float(np.std(acc.mean(1))),
                         # within-architecture (seed) and between-architecture variance: the one-seed reliability
                         # (intraclass correlation) is between / (between + within)
                         "seed_variance": float(np.mean(np.var(acc, 1, ddof=1))),
                         "icc": _icc(acc)}}


def _icc(acc: np.ndarray) -> float:
    """One-way intraclass correlation ICC(1): the share of one training's accuracy variance due to the architecture."""
    n, s = acc.shape
    ms_between = s * np.var(acc.mean(1), ddof=1)
    ms_within = np.sum((acc - acc.mean(1, keepdims=True)) ** 2) / (n * (s - 1))
    return float((ms_between - ms_within) / (ms_between + (s - 1) * ms_within))


def measure(data_root: str, seed: int, k: int, budget: tuple[int, int, int], cache: Path, space: str,
            n_seeds: int = 2, order_study: int = 0) -> dict:
    """Train the first ``k`` architectures of draw ``seed`` with ``n_seeds`` seeds at ``budget``; the ceilings and
    the cost."""
    epochs, size, images = budget
    archs = sample_archs(bench_space("cifar10", space, None, size), k, seed)
    before = len(list(cache.glob("*.json"))) if cache.exists() else 0
    t0, c0 = time.time(), time.process_time()
    seeds = train_seeds_for(seed, n_seeds)
    recs = train_all(archs, "cifar10", epochs, seeds, cache, data_root=data_root, train_images=images, progress=True)
    row = {"data": Path(data_root).name, "seed": seed, "archs": k, "epochs": epochs, "input_size": size,
           "train_images": recs[0][0]["train_images"], "train_seeds": seeds}
    acc = np.array([[r["val_acc"] for r in rs] for rs in recs])
    row.update(_ceilings(acc))
    row["acc_by_seed"] = acc.tolist()
    # the EMA of the weights, on the seeds whose trainings recorded it (earlier trainings did not), next to the
    # final weights on the same trainings
    with_ema = [j for j in range(n_seeds) if all("val_acc_ema" in rs[j] for rs in recs)]
    if len(with_ema) >= 2:
        ema = np.array([[rs[j]["val_acc_ema"] for j in with_ema] for rs in recs])
        row["ema"] = {"seeds": [seeds[j] for j in with_ema], "ema_decay": recs[0][with_ema[0]]["ema_decay"],
                      "final_weights": _ceilings(acc[:, with_ema]), "averaged_weights": _ceilings(ema),
                      "acc_by_seed": ema.tolist()}
    if order_study:
        # the first ``order_study`` architectures with the initialisation of seeds[0] and the batch order of
        # seeds[1]: against seeds[0] only the order differs, against seeds[1] only the initialisation
        n = order_study
        mixed = train_all(archs[:n], "cifar10", epochs, [seeds[0]], cache, data_root=data_root, train_images=images,
                          order_seeds=[seeds[1]])
        m = np.array([rs[0]["val_acc"] for rs in mixed])
        first = acc[:n]
        row["order_study"] = {
            "archs": n, "init_seed": seeds[0], "order_seed": seeds[1],
            "tau_same_init_other_order": kendall(m, first[:, 0]),
            "tau_other_init_same_order": kendall(m, first[:, 1]),
            "tau_both_differ": kendall(first[:, 0], first[:, 1]),
            "mean_abs_gap_same_init": float(np.mean(np.abs(m - first[:, 0]))),
            "mean_abs_gap_same_order": float(np.mean(np.abs(m - first[:, 1]))),
            "mean_abs_gap_both_differ": float(np.mean(np.abs(first[:, 0] - first[:, 1]))),
            "acc": m.tolist()}
    trained = len(list(cache.glob("*.json"))) - before
    # serial, in this process: CPU seconds per training of the ones trained by this call (cached records only hold
    # the wall seconds of the run that trained them, under whatever load it had)
    row.update({"trained_this_call": trained,
                "cpu_seconds_per_training": (time.process_time() - c0) / trained if trained else None,
                "wall_seconds_this_call": time.time() - t0, "hashes": [arch_hash(a) for a in archs]})
    return row


SEED_CHOICES = (2, 4, 6, 8)
TARGET = 0.8


def ground_truth_ceiling(row: dict, k: int) -> tuple[float | None, str]:
    """The ceiling of a k-seed mean ground truth from a row with 4 seeds: measured (split-half) for k = 2, estimated
    from the one-seed tau above."""
    if k == 2 and row.get("split_half"):
        return row["split_half"]["kendall_tau"], "measured"
    return mean_of_k_tau(row["ceiling"]["kendall_tau"], k), "estimate"


def choose_budget(dev: list[dict], difficulty: tuple[dict, float] | None = None) -> dict:
    """The round-3 rule of docs/search.md, applied to the development rows (4 seeds each, final weights, the EMA on
    the seeds that recorded it) and the textures row at the pilot's difficulty D* (2 seeds) with D*:

    - the averaged weights only if their one-seed tau beats the final weights' on the same trainings on every set;
    - the smallest k in SEED_CHOICES whose ground-truth ceiling (measured for k = 2, else estimated) is >= 0.8 on
      every set, else the largest;
    - D* for textures only if its one-seed tau beats D = 1's on the same architectures and first two seeds."""
    ema = all("ema" in r and r["ema"]["averaged_weights"]["ceiling"]["kendall_tau"]
              > r["ema"]["final_weights"]["ceiling"]["kendall_tau"] for r in dev)
    ceilings = {k: [ground_truth_ceiling(r, k)[0] for r in dev] for k in SEED_CHOICES}
    reach = [k for k in SEED_CHOICES if all(c is not None and c >= TARGET for c in ceilings[k])]
    out = {"weights": "ema" if ema else "final", "train_seeds": reach[0] if reach else SEED_CHOICES[-1],
           "reaches_target": bool(reach), "ceilings_by_k": {str(k): v for k, v in ceilings.items()},
           "textures_difficulty": 1.0}
    if difficulty:
        hard, d = difficulty
        base = next(r for r in dev if r["data"].startswith("textures"))
        base_tau = kendall(np.array(base["acc_by_seed"])[:, 0], np.array(base["acc_by_seed"])[:, 1])
        out["textures_difficulty"] = d if hard["ceiling"]["kendall_tau"] > base_tau else 1.0
        out["difficulty_taus"] = {"1": base_tau, str(d): hard["ceiling"]["kendall_tau"]}
    return out


def _key(row: dict) -> tuple:
    return (row["data"], row["seed"], row["archs"], row["epochs"], row["input_size"], row["train_images"],
            len(row.get("train_seeds", [0, 0])))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-root", required=True)
    ap.add_argument("--seed", type=int, required=True, help="sampling seed of the draw (first training seed)")
    ap.add_argument("--archs", type=int, default=12)
    ap.add_argument("--space", default="digits")
    ap.add_argument("--budget", action="append", required=True, help="EPOCHS:SIZE:IMAGES (repeatable)")
    ap.add_argument("--seeds", type=int, default=2, help="training seeds per architecture")
    ap.add_argument("--order-study", type=int, default=0, metavar="N",
                    help="also train the first N architectures with the init of seed 1 and the batch order of seed 2")
    ap.add_argument("--cache-dir", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=RESULT)
    args = ap.parse_args()
    report = json.loads(args.out.read_text()) if args.out.exists() else {"rows": []}
    for text in args.budget:
        row = measure(args.data_root, args.seed, args.archs, parse_budget(text), args.cache_dir / "train",
                      args.space, args.seeds, args.order_study)
        key = _key(row)
        old = [r for r in report["rows"] if _key(r) == key]
        if old and row["cpu_seconds_per_training"] is None:  # all cached: keep the cost measured when trained
            row["cpu_seconds_per_training"] = old[0]["cpu_seconds_per_training"]
        report["rows"] = [r for r in report["rows"] if _key(r) != key] + [row]
        atomic_write_text(args.out, json.dumps(report, indent=1))
        print(summary(row))


def summary(row: dict) -> str:
    """The row's figures in a few lines."""
    c, a = row["ceiling"], row["accuracy"]
    lines = [f"{row['data']} e{row['epochs']} {row['input_size']}px {row['train_images']} img, "
             f"{len(row['train_seeds'])} seeds: ceiling {c['kendall_tau']:.3f} [{c['tau_ci'][0]:.3f}, "
             f"{c['tau_ci'][1]:.3f}], acc {a['min']:.1f}-{a['max']:.1f} %, ICC {a['icc']:.3f}"]
    if row["split_half"]:
        h = row["split_half"]
        lines.append(f"  split-half (mean of {h['k']} vs mean of {h['k']}): {h['kendall_tau']:.3f} "
                     f"[{h['tau_ci'][0]:.3f}, {h['tau_ci'][1]:.3f}]")
    if row["mean_of_k_estimate"]:
        lines.append("  estimate, k-seed means: " + ", ".join(
            f"k={k} {v:.3f}" for k, v in row["mean_of_k_estimate"].items() if v is not None))
    if "ema" in row:
        f, e = row["ema"]["final_weights"]["ceiling"], row["ema"]["averaged_weights"]["ceiling"]
        lines.append(f"  same trainings, seeds {row['ema']['seeds']}: final weights {f['kendall_tau']:.3f}, "
                     f"EMA {e['kendall_tau']:.3f} [{e['tau_ci'][0]:.3f}, {e['tau_ci'][1]:.3f}]")
    if "order_study" in row:
        o = row["order_study"]
        lines.append(f"  tau same init/other order {o['tau_same_init_other_order']:.3f}, other init/same order "
                     f"{o['tau_other_init_same_order']:.3f}, both differ {o['tau_both_differ']:.3f}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
