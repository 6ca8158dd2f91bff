"""Is the trainability score a property of the network, or noise? A float-rounding-level perturbation test.

The same network, initialisation and mini-batch are evaluated twice: once in the default memory layout and once in
channels-last, which changes only the order of floating-point operations. A score that measures the network keeps
the ranking of a group of networks under that change (Spearman rho near 1); a chaotic one does not. Run on draws of
the cifar32 space (deep, wide networks; Gaussian inputs and random labels as without CIFAR files) for the first
design (3 SGD steps at lr 0.05, momentum 0.9) and the current one (1 step at lr 0.01), at the batch the proxy uses
there (4 images). Writes benchmarks/results/trainability_stability.json.

    .venv/bin/python benchmarks/trainability_stability.py [--archs 8] [--draws 7 8]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import torch
from nash.frontend.core.atomic_io import atomic_write_text
from nash.frontend.nas.proxies import ours
from nash.frontend.nas.search_space import build_model, get_space, sample
from scipy.stats import spearmanr

VARIANTS = {"3 steps, lr 0.05 (first design)": (3, 0.05), "1 step, lr 0.01 (current)": (1, 0.01)}


def trainability(arch: dict, steps: int, lr: float, channels_last: bool) -> float:
    """``ours.trainability`` with the memory layout as the only change (same init, batch and optimiser)."""
    x, y = ours.mini_batch(arch, None, 0, ours.default_batch(arch))
    torch.manual_seed(0)
    net = build_model(arch)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    return ours.loss_decrease(net, x, y, steps, lr)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--archs", type=int, default=8)
    ap.add_argument("--draws", type=int, nargs="+", default=[7, 8])
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "trainability_stability.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    res: dict = {"space": "cifar32", "archs_per_draw": args.archs,
                 "batch": ours.default_batch({"input_size": get_space("cifar32").input_size}), "variants": {}}
    for name, (steps, lr) in VARIANTS.items():
        rows = []
        for draw in args.draws:
            rng = random.Random(draw)
            archs = [sample(get_space("cifar32"), rng) for _ in range(args.archs)]
            t = time.perf_counter()
            a = [trainability(g, steps, lr, False) for g in archs]
            dt = (time.perf_counter() - t) / len(archs)
            b = [trainability(g, steps, lr, True) for g in archs]
            rho = float(spearmanr(a, b).statistic)
            rows.append({"draw": draw, "spearman_rho": rho, "default_layout": a, "channels_last": b,
                         "s_per_arch": dt})
            print(f"{name:34s} draw {draw}: rho {rho:+.2f}  ({dt:.2f} s/arch)", flush=True)
        res["variants"][name] = {"steps": steps, "lr": lr, "draws": rows}
    atomic_write_text(args.out, json.dumps(res, indent=1))
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
