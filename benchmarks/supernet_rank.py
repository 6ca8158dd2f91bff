"""Does a supernet over the zero-shot pre-identified hybrids rank them better than one over the whole space?

The NASH claim (issue 16, method.md "Lineage"): pre-identifying promising hybrids with the zero-shot metric before
supernet training means fewer, more similar sub-networks share the weights, with fewer gradient conflicts than
NASA-F's supernet over the full space. Protocol, per dataset:

1. A zero-shot evolutionary search (``evolution.run_search``, the code of ``nash search``; accelerator cost on the
   kv260, no constraints) gives the pre-identified set, its top-K.
2. ``--subnets`` sub-networks are drawn from the top-K with ``random.Random(seed)``; each is trained stand-alone
   (QAT, the ``nash train`` trainer) and its integer accuracy recorded (cached per architecture: reruns are cheap).
3. Two supernets with the same budget (epochs, batch, sandwich size, learning rate, seed): ``preidentified`` over
   the span of the top-K (what ``nash supernet top_k.json`` trains) and ``full_space`` over the span of the whole
   search space. Each is trained one epoch per call, so an interrupted run resumes from the last epoch's checkpoint;
   its cost is the process CPU time of those calls (one torch thread: core-seconds).
4. Each drawn sub-network's inherited-weight integer accuracy after BN recalibration, in both supernets; Kendall tau
   against the stand-alone accuracies with a 95 % percentile bootstrap interval over the sub-networks, and a paired
   bootstrap of the difference tau(preidentified) - tau(full_space).

Sizes are small on purpose (2 shared CPU cores): the digits space at 16x16, a few epochs. The second dataset is a
folder in the CIFAR-10 python-pickle format (``nash dataset generate``), read at 16x16 and subsampled.

    nice -n 10 .venv/bin/python benchmarks/supernet_rank.py --cifar-root DIR --cifar-name NAME

Writes benchmarks/results/supernet_rank.json (one section per dataset, each with ``preidentified`` and
``full_space``: ``kendall_tau``, ``ci``, ``subnets``, ``core_hours``); the work folder (default
build/supernet_rank) holds the caches and checkpoints.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from nash.frontend.core.atomic_io import atomic_write_text
from nash.frontend.core.executor import make_executor
from nash.frontend.data import Splits, load_dataset
from nash.frontend.nas.evolution import SearchConfig, make_cost, run_search
from nash.frontend.nas.proxy_bench import _proxy_batch, arch_hash, bootstrap_ci, kendall, paired_bootstrap
from nash.frontend.nas.search_space import SpaceConfig, build_model, get_space, sample
from nash.frontend.train.supernet.space import BlockSpan, StageSpan, SuperSpace, skeleton_of, span_of
from nash.frontend.train.supernet.training import CHECKPOINT, SupernetConfig, inherited_accuracy, train_supernet
from nash.frontend.train.trainer import TrainConfig, train_model

ROOT = Path(__file__).resolve().parent.parent
RESULT = ROOT / "benchmarks" / "results" / "supernet_rank.json"
SIZE = 16  # input resolution of every dataset here (the digits space's)
VARIANTS = ("preidentified", "full_space", "preidentified_candidates")


def full_span(sp: SpaceConfig) -> SuperSpace:
    """The span of a whole search space: every width, depth, op, kernel and expansion at every position."""
    ops = tuple(sorted(sp.ops, key=lambda o: (o != "conv", o)))  # conv first, as span_of orders them
    stages = tuple(StageSpan(st.widths, st.depths, st.stride,
                             tuple(BlockSpan(ops, st.kernels, st.expands) for _ in range(max(st.depths))))
                   for st in sp.stages)
    return SuperSpace(skeleton_of(sample(sp, random.Random(0))), sp.stem_widths, stages, sp.head_widths)


def subsample(splits: Splits, n_train: int, n_val: int, seed: int) -> Splits:
    """The first ``n_train`` / ``n_val`` images of a seeded permutation of each split (all when fewer)."""
    rng = np.random.default_rng(seed)
    tr = rng.permutation(len(splits.x_train))[:n_train]
    va = rng.permutation(len(splits.x_val))[:n_val]
    return Splits(splits.x_train[tr], splits.y_train[tr], splits.x_val[va], splits.y_val[va], splits.num_classes,
                  splits.name)


def _read(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _write(path: Path, doc) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(doc, indent=1))


# ---- 1. the pre-identified set ---------------------------------------------------------------------------------------
def preidentify(sp: SpaceConfig, splits: Splits, args, work: Path) -> tuple[list[dict], float]:
    """The zero-shot search's top-K architectures and the CPU seconds the search took (cached)."""
    done = _read(work / "search_cost.json")
    if done is not None and (work / "search" / "top_k.json").is_file():
        top = json.loads((work / "search" / "top_k.json").read_text())
        return [e["architecture"] for e in top], done["cpu_seconds"]
    cfg = SearchConfig(population=args.population, generations=args.generations, mutations=args.children,
                       crossovers=args.children, seed=args.seed, workers=1, top_k=args.top_k)
    t0 = time.process_time()
    run_search(sp, cfg, make_cost("accel", "kv260"), work / "search", data=_proxy_batch(splits, args.seed),
               resume=True, provenance={"tool": "benchmarks/supernet_rank.py"})
    cpu = time.process_time() - t0
    _write(work / "search_cost.json", {"cpu_seconds": cpu, "config": asdict(cfg) | {"constraints": None}})
    top = json.loads((work / "search" / "top_k.json").read_text())
    return [e["architecture"] for e in top], cpu


# ---- 2. stand-alone training (cached per architecture) ---------------------------------------------------------------
def _standalone_job(job: tuple) -> dict:
    """Worker: QAT training of one architecture; its float / fake-quant / integer accuracy and CPU seconds."""
    arch, splits, epochs, seed = job
    torch.set_num_threads(1)
    t0 = time.process_time()
    cfg = TrainConfig(epochs=epochs, seed=seed, progress=False, device="cpu")
    res = train_model(build_model(arch), splits, cfg)
    return {"arch": arch, "float_acc": res["float_acc"], "qat_acc": res["qat_acc"], "int_acc": res["int_acc"],
            "epochs": epochs, "seed": seed, "cpu_seconds": time.process_time() - t0}


def standalone(archs: list[dict], splits: Splits, args, work: Path) -> list[dict]:
    cache = work / "standalone"
    path = {arch_hash(a): cache / f"{arch_hash(a)}_e{args.standalone_epochs}_s{args.seed}.json" for a in archs}
    todo = [a for a in archs if not path[arch_hash(a)].is_file()]
    if todo:
        with make_executor(args.workers, initializer=torch.set_num_threads, initargs=(1,)) as ex:
            for rec in ex.map(_standalone_job, [(a, splits, args.standalone_epochs, args.seed) for a in todo]):
                _write(path[arch_hash(rec["arch"])], rec)
                print(f"  stand-alone {arch_hash(rec['arch'])}: integer {rec['int_acc']:.2f}% "
                      f"({rec['cpu_seconds']:.0f} s)", flush=True)
    return [_read(path[arch_hash(a)]) for a in archs]


# ---- 3. the two supernets --------------------------------------------------------------------------------------------
def supernet_run(job: tuple) -> dict:
    """Worker: train one supernet (one epoch per call, resumable) and evaluate ``archs`` with inherited weights;
    returns the record (the span as a dict)."""
    name, top, space, splits, cfg, archs, work = job
    torch.set_num_threads(1)
    d = work / name
    d.mkdir(parents=True, exist_ok=True)
    cost = _read(d / "cost.json") or {"train_cpu_seconds": 0.0, "epochs_done": 0}
    if cost["epochs_done"] == 0:
        (d / CHECKPOINT).unlink(missing_ok=True)  # a stale checkpoint of which no cost was recorded
    res = None
    while cost["epochs_done"] < cfg.epochs:
        t0 = time.process_time()
        res = train_supernet(top, splits, cfg, d, resume=True, stop_after=1, space=space)
        cost = {"train_cpu_seconds": cost["train_cpu_seconds"] + time.process_time() - t0,
                "epochs_done": res["epoch"]}
        _write(d / "cost.json", cost)
        print(f"  {name}: epoch {res['epoch']}/{cfg.epochs}, loss largest "
              f"{res['history'][-1].get('loss_largest', float('nan')):.3f}", flush=True)
    evals = _read(d / "inherited.json")
    if evals is None or [e["hash"] for e in evals["subnets"]] != [arch_hash(a) for a in archs]:
        if res is None:
            res = train_supernet(top, splits, cfg, d, resume=True, stop_after=0, space=space)
        t0 = time.process_time()
        accs = [inherited_accuracy(res["net"], a, splits, "qat", cfg.bn_batches) for a in archs]
        evals = {"subnets": [{"hash": arch_hash(a), "inherited_int_acc": acc} for a, acc in zip(archs, accs,
                                                                                              strict=True)],
                 "eval_cpu_seconds": time.process_time() - t0, "history": res["history"]}
        _write(d / "inherited.json", evals)
    return {"space": space.to_dict(), "cost": cost, **evals}


# ---- 4. statistics ---------------------------------------------------------------------------------------------------
def rank_section(run: dict, alone: list[float], n_boot: int, seed: int) -> dict:
    inh = [s["inherited_int_acc"] for s in run["subnets"]]
    return {"kendall_tau": kendall(inh, alone), "ci": bootstrap_ci(inh, alone, kendall, n_boot, seed),
            "subnets": len(inh), "core_hours": run["cost"]["train_cpu_seconds"] / 3600.0,
            "eval_core_hours": run["eval_cpu_seconds"] / 3600.0,
            "span_subnetworks": SuperSpace.from_dict(run["space"]).size(), "inherited_int_acc": inh,
            "loss_largest_last_epoch": run["history"][-1].get("loss_largest")}


def tau_difference(pre: list[float], full: list[float], alone: list[float], n_boot: int, seed: int) -> dict:
    """tau(pre) - tau(full) with a paired bootstrap over the sub-networks (the same rows for both)."""
    def diff(a, b, c):
        return kendall(a, c) - kendall(b, c)

    ci = paired_bootstrap((pre, full, alone), diff, n_boot, seed).confidence_interval
    return {"value": diff(pre, full, alone), "ci": [float(ci.low), float(ci.high)]}


def run_dataset(name: str, splits: Splits, args, work: Path) -> dict:
    sp = get_space("digits").with_input(splits.channels, SIZE, splits.num_classes)
    t_start = time.time()
    print(f"[{name}] {len(splits.x_train)} train / {len(splits.x_val)} val images, {splits.channels}x{SIZE}x{SIZE}",
          flush=True)
    top, search_cpu = preidentify(sp, splits, args, work)
    archs = random.Random(args.seed).sample(top, min(args.subnets, len(top)))
    print(f"[{name}] top-{len(top)} pre-identified; {len(archs)} drawn; stand-alone training", flush=True)
    alone_recs = standalone(archs, splits, args, work)
    alone = [r["int_acc"] for r in alone_recs]
    cfg = SupernetConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                         n_random=args.n_random, device="cpu", progress=False)
    jobs = {"preidentified": (span_of(top), cfg), "full_space": (full_span(sp), cfg)}
    if args.candidates_variant:
        jobs["preidentified_candidates"] = (span_of(top), replace(cfg, sample="candidates"))
    print(f"[{name}] supernets: {', '.join(jobs)}", flush=True)
    with make_executor(min(args.workers, len(jobs)), initializer=torch.set_num_threads, initargs=(1,)) as ex:
        done = ex.map(supernet_run, [(k, top, space, splits, c, archs, work) for k, (space, c) in jobs.items()])
        runs = dict(zip(jobs, done, strict=True))
    sec = {k: rank_section(r, alone, args.bootstrap, args.seed) for k, r in runs.items()}
    for k in sec:
        if k != "full_space":
            sec[k]["search_core_hours"] = search_cpu / 3600.0
    full = sec["full_space"]
    compare = {}
    for k in [k for k in sec if k != "full_space"]:
        pre = sec[k]
        diff = tau_difference(pre["inherited_int_acc"], full["inherited_int_acc"], alone, args.bootstrap, args.seed)
        compare[k] = {"tau_difference": diff,
                      "cis_separate": bool(pre["ci"][0] > full["ci"][1] or full["ci"][0] > pre["ci"][1]),
                      "difference_ci_excludes_zero": bool(diff["ci"][0] > 0 or diff["ci"][1] < 0)}
    return {
        **sec,
        "versus_full_space": compare,
        "standalone": {"int_acc": alone, "float_acc": [r["float_acc"] for r in alone_recs],
                       "core_hours": sum(r["cpu_seconds"] for r in alone_recs) / 3600.0,
                       "epochs": args.standalone_epochs},
        "subnet_hashes": [arch_hash(a) for a in archs],
        "images": {"train": len(splits.x_train), "val": len(splits.x_val), "channels": splits.channels,
                   "size": SIZE},
        "wall_seconds_this_call": time.time() - t_start,
    }


def protocol(args) -> dict:
    return {"space": "digits (3 stages, 8..40 channels), conv/shift/adder", "input_size": SIZE,
            "zero_shot_search": {"population": args.population, "generations": args.generations,
                                 "mutations": args.children, "crossovers": args.children, "top_k": args.top_k,
                                 "hw_cost": "accel kv260", "metric": "default (nash search)"},
            "subnets": args.subnets,
            "standalone": {"epochs": args.standalone_epochs, "qat": True, "batch_size": 64, "lr": 0.05,
                           "accuracy": "integer reference, validation split"},
            "supernet": {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
                         "n_random": args.n_random, "float_fraction": 0.3,
                         "accuracy": "inherited weights, BN recalibrated (8 x 128 images), integer"},
            "bootstrap": {"resamples": args.bootstrap, "interval": "95 % percentile, over the sub-networks"},
            "cost": "process CPU time of this script with one torch thread (core-hours); the supernet's "
                    "core_hours is its training; eval_core_hours the inherited-accuracy evaluations",
            "seed": args.seed, "note": "small sizes for 2 shared CPU cores; one seed"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", default="digits,cifar", help="comma-separated: digits, cifar")
    ap.add_argument("--cifar-root", type=Path, default=None, help="folder in the CIFAR-10 python-pickle format")
    ap.add_argument("--cifar-name", default="textures", help="the section name of the --cifar-root dataset")
    ap.add_argument("--max-train", type=int, default=1500, help="training images of the cifar dataset")
    ap.add_argument("--max-val", type=int, default=500, help="validation images of the cifar dataset")
    ap.add_argument("--population", type=int, default=32)
    ap.add_argument("--generations", type=int, default=3)
    ap.add_argument("--children", type=int, default=16, help="mutations and crossovers per generation (each)")
    ap.add_argument("--top-k", type=int, default=16)
    ap.add_argument("--subnets", type=int, default=12)
    ap.add_argument("--standalone-epochs", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=10, help="supernet epochs (every supernet)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--n-random", type=int, default=1)
    ap.add_argument("--candidates-variant", action=argparse.BooleanOptionalAction, default=True,
                    help="also train a supernet that samples the top-K themselves (nash supernet --sample candidates)")
    ap.add_argument("--bootstrap", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1, help="processes for the stand-alone trainings")
    ap.add_argument("--work", type=Path, default=ROOT / "build" / "supernet_rank")
    ap.add_argument("--out", type=Path, default=RESULT)
    args = ap.parse_args()
    torch.set_num_threads(1)
    for ds in [d.strip() for d in args.datasets.split(",") if d.strip()]:
        if ds == "digits":
            name, splits = "digits", load_dataset("digits", size=SIZE, seed=args.seed)
        elif ds == "cifar":
            if args.cifar_root is None:
                raise SystemExit("--datasets cifar needs --cifar-root DIR (nash dataset generate --out DIR)")
            full = load_dataset("cifar10", root=str(args.cifar_root), size=SIZE, seed=args.seed)
            name, splits = args.cifar_name, subsample(full, args.max_train, args.max_val, args.seed)
        else:
            raise SystemExit(f"--datasets: unknown {ds!r}; expected digits or cifar")
        sec = run_dataset(name, splits, args, args.work / name)
        doc = _read(args.out) or {}  # read again: another dataset's run may have written its section meanwhile
        doc[name] = {"protocol": protocol(args), **sec}
        _write(args.out, doc)
        for k in [k for k in VARIANTS if k in sec]:
            s = sec[k]
            print(f"[{name}] {k:24s} tau {s['kendall_tau']:+.3f} [{s['ci'][0]:+.3f}, {s['ci'][1]:+.3f}] "
                  f"over {s['subnets']} subnets, {s['core_hours']:.4f} core-hours, span {s['span_subnetworks']:.3g}")
        for k, c in sec["versus_full_space"].items():
            d = c["tau_difference"]
            print(f"[{name}] {k} - full_space: tau difference {d['value']:+.3f} [{d['ci'][0]:+.3f}, "
                  f"{d['ci'][1]:+.3f}]; CIs separate: {c['cis_separate']}", flush=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
