"""Noise ceiling of the proxy benchmark against its training budget (issue 17, item 1).

Trains a small fixed set of architectures (the first K of a recorded draw: same space, sampling seed and data as a
``nash proxy-bench`` run, so the trainings are shared through the benchmark's cache) with two seeds at each budget,
and reports the Kendall tau between the seeds with its percentile bootstrap 95 % interval, the accuracy range and
the CPU seconds per training. Writes benchmarks/results/proxy_ceiling.json (merged with what is already there, so
budgets and datasets can be added one run at a time).

    .venv/bin/python benchmarks/proxy_ceiling.py --data-root DATA/textures-0 --seed 5 --archs 12 \
        --budget 3:16:1000 --budget 8:16:1500 --cache-dir CACHE
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
from nash.frontend.core.atomic_io import atomic_write_text
from nash.frontend.nas.proxy_bench import (
    arch_hash,
    bench_space,
    noise_ceiling,
    sample_archs,
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


def seeds_for(tau: float, target: float = 0.8) -> float | None:
    """Extrapolation, not a measurement: how many training seeds the mean-accuracy ground truth needs so that two
    independent such means rank each other at Kendall tau ``target``, from the measured one-seed tau. Assumes
    bivariate-normal accuracies (Greiner: r = sin(pi tau / 2)) and independent seed noise (Spearman-Brown:
    r_k = k r / (1 + (k - 1) r))."""
    r, rt = math.sin(math.pi * tau / 2), math.sin(math.pi * target / 2)
    if r <= 0:
        return None
    return rt * (1 - r) / (r * (1 - rt))


def measure(data_root: str, seed: int, k: int, budget: tuple[int, int, int], cache: Path, space: str) -> dict:
    """Train the first ``k`` architectures of draw ``seed`` with 2 seeds at ``budget``; the ceiling and the cost."""
    epochs, size, images = budget
    archs = sample_archs(bench_space("cifar10", space, None, size), k, seed)
    before = len(list(cache.glob("*.json"))) if cache.exists() else 0
    t0, c0 = time.time(), time.process_time()
    recs = train_all(archs, "cifar10", epochs, train_seeds_for(seed, 2), cache, data_root=data_root,
                     train_images=images, progress=True)
    trained = len(list(cache.glob("*.json"))) - before
    acc = [[r["val_acc"] for r in rs] for rs in recs]
    c = noise_ceiling(acc)
    return {"data": Path(data_root).name, "seed": seed, "archs": k, "epochs": epochs, "input_size": size,
            "train_images": recs[0][0]["train_images"], "ceiling": c,
            "seeds_for_0.8_extrapolated": seeds_for(c["kendall_tau"]),
            "accuracy": {"min": float(np.min(np.mean(acc, 1))), "max": float(np.max(np.mean(acc, 1)))},
            # serial, in this process: CPU seconds per training of the ones trained by this call (cached records
            # only hold the wall seconds of the run that trained them, under whatever load it had)
            "trained_this_call": trained,
            "cpu_seconds_per_training": (time.process_time() - c0) / trained if trained else None,
            "wall_seconds_this_call": time.time() - t0,
            "hashes": [arch_hash(a) for a in archs], "acc_by_seed": acc}


def _key(row: dict) -> tuple:
    return row["data"], row["seed"], row["archs"], row["epochs"], row["input_size"], row["train_images"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-root", required=True)
    ap.add_argument("--seed", type=int, required=True, help="sampling seed of the draw (first training seed)")
    ap.add_argument("--archs", type=int, default=12)
    ap.add_argument("--space", default="digits")
    ap.add_argument("--budget", action="append", required=True, help="EPOCHS:SIZE:IMAGES (repeatable)")
    ap.add_argument("--cache-dir", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=RESULT)
    args = ap.parse_args()
    report = json.loads(args.out.read_text()) if args.out.exists() else {"rows": []}
    for text in args.budget:
        row = measure(args.data_root, args.seed, args.archs, parse_budget(text), args.cache_dir / "train",
                      args.space)
        key = _key(row)
        old = [r for r in report["rows"] if _key(r) == key]
        if old and row["cpu_seconds_per_training"] is None:  # all cached: keep the cost measured when trained
            row["cpu_seconds_per_training"] = old[0]["cpu_seconds_per_training"]
        report["rows"] = [r for r in report["rows"] if _key(r) != key] + [row]
        atomic_write_text(args.out, json.dumps(report, indent=1))
        c = row["ceiling"]
        print(f"{row['data']} e{row['epochs']} {row['input_size']}px {row['train_images']} img: ceiling "
              f"{c['kendall_tau']:.3f} [{c['tau_ci'][0]:.3f}, {c['tau_ci'][1]:.3f}], acc "
              f"{row['accuracy']['min']:.1f}-{row['accuracy']['max']:.1f} %")


if __name__ == "__main__":
    main()
