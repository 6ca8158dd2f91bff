"""Proxy benchmark: how well does each zero-shot proxy rank architectures by their trained accuracy?

``run_proxy_bench`` samples K architectures of a space with a seed, trains each for a fixed short budget with at least
two training seeds on a dataset (digits by default, float training, no QAT), scores each with every proxy and reports
Kendall tau and Spearman rho against the mean validation accuracy with bootstrap 95% intervals, the Kendall tau inside
the top 20 % by accuracy, the top-10 % hit rate, and the noise ceiling: the tau between the training seeds, the best
a proxy could be expected to reach against one training run.

Finished trainings are cached on disk (one JSON per architecture, seed, budget and data, written atomically), so an
interrupted run continues where it stopped and a rerun with more seeds trains only the new ones; proxy scores are
cached the same way. Trainings and scorings run through one executor (``nash.frontend.core.executor``): serial, local
worker processes, or the workers of a Dask cluster, with the same results.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from pathlib import Path

import numpy as np
from nash.frontend.core.atomic_io import atomic_write_bytes, atomic_write_text
from nash.frontend.core.executor import Executor, SerialExecutor, make_executor
from nash.frontend.nas.search_space import SpaceConfig, arch_key, arch_stats, get_space, sample
from tqdm import tqdm

BENCH_TRAIN = {"batch_size": 64, "lr": 0.05, "weight_decay": 5e-4, "label_smoothing": 0.1}
# Default budget: 8 epochs on the whole training split. On the generated datasets 3 epochs left the networks at
# 20-45 % (the benchmark measured how fast each converges); 8 epochs reach 60-99 % for about 19 CPU-s per training
# at 16x16, and the seed-to-seed ceiling did not rise further per CPU-second (docs/search.md, "Noise ceiling
# against the budget").
BENCH_EPOCHS = 8
# Default seeds per architecture and the weights whose accuracy is the ground truth, chosen by the round-3 rule
# (docs/search.md): 8 seeds (no smaller count reached a ceiling of 0.8 on both development sets, by the Spearman-Brown
# estimate), and the weight average, which ranked seeds more alike than the final weights on both.
BENCH_TRAIN_SEEDS = 8
ACCURACY_KEYS = {"averaged": "val_acc_ema", "final": "val_acc"}
BENCH_WEIGHTS = "averaged"


def arch_hash(arch: dict) -> str:
    return hashlib.sha1(arch_key(arch).encode()).hexdigest()[:16]


def sample_archs(space: SpaceConfig, k: int, seed: int) -> list[dict]:
    """K distinct architectures drawn from ``space`` with ``random.Random(seed)``."""
    rng = random.Random(seed)
    out, seen = [], set()
    for _ in range(100 * k):
        a = sample(space, rng)
        key = arch_key(a)
        if key not in seen:
            seen.add(key)
            out.append(a)
        if len(out) == k:
            break
    return out


# ---- space and data --------------------------------------------------------------------------------------------------
DATASET_CHANNELS = {"digits": 1}  # every other reader yields RGB images


def bench_space(dataset: str, space: str | None = None, ops=None, input_size: int | None = None) -> SpaceConfig:
    """The space the benchmark samples from, fitted to ``dataset``.

    Default: the dataset's space (digits, cifar32, tiny64). A named ``space`` keeps its stages and its input size but
    takes the dataset's channels and class count (as ``nash search`` does with the class count), so that e.g. the
    small digits space runs on 3-channel CIFAR-format files. ``input_size`` overrides the size; the images are
    resized (bilinear) to it.
    """
    from nash.frontend.nas.search_space import DATASET_CLASSES, space_for_dataset

    own = space_for_dataset(dataset, ops)
    sp = get_space(space, ops) if space else own
    size = input_size or sp.input_size
    return sp.with_input(DATASET_CHANNELS.get(dataset, 3), size, DATASET_CLASSES[dataset])


def data_tag(dataset: str, data_root: str | None, size: int, train_images: int | None) -> str:
    """Short id of the exact training data (dataset, folder, resolution, subset) for the training cache's names:
    two generated datasets read through the same reader must not share cached trainings."""
    root = str(Path(data_root).resolve()) if data_root else ""
    key = f"{dataset}|{root}|{size}|{train_images or 'all'}"
    return f"{dataset}_{hashlib.sha1(key.encode()).hexdigest()[:8]}"


def check_fit(splits, arch: dict, space_name: str) -> None:
    """One-line UserInputError when the (adapted) space does not fit the loaded dataset; raised before training."""
    from nash.frontend.core.errors import UserInputError

    bad = splits.architecture_mismatch(arch)
    if bad:
        fld, have, want = bad
        raise UserInputError(f"--space {space_name}: the architectures' {fld} is {have} but dataset {splits.name} "
                             f"has {want}")


# ---- training (cached) -----------------------------------------------------------------------------------------------
# Every benchmark training also records the accuracy of an exponential moving average of its weights (decay per
# optimizer step; about 50 steps, 2 epochs of 1500 images, of memory). It does not change the training or
# ``val_acc``; it lets the noise study compare both ground truths on the same trainings (docs/search.md).
BENCH_EMA_DECAY = 0.98


def _train_one(job: tuple) -> dict:
    """Worker: train one architecture with one seed and return its record (the caller caches it: a cluster's workers
    need not share this machine's disk). ``order_seed`` (None: the training seed) seeds the batch order only; the
    training seed seeds the initialisation."""
    arch, dataset, data_root, epochs, train_seed, device, train_images, order_seed = job
    import torch

    torch.set_num_threads(1)
    from nash.frontend.nas.search_space import build_model
    from nash.frontend.train.trainer import TrainConfig, train_model

    splits = _cached_splits(dataset, data_root, arch["input_size"], train_images)
    t0 = time.time()
    cfg = TrainConfig(epochs=epochs, qat=False, seed=train_seed, progress=False, device=device,
                      order_seed=order_seed, ema_decay=BENCH_EMA_DECAY, **BENCH_TRAIN)
    torch.manual_seed(train_seed)
    res = train_model(build_model(arch), splits, cfg)
    rec = {"arch": arch, "val_acc": float(res["float_acc"]), "val_acc_ema": float(res["ema_acc"]),
           "ema_decay": BENCH_EMA_DECAY, "epochs": epochs, "train_seed": train_seed,
           "dataset": dataset, "train_images": len(splits.x_train), "device": device,
           "train_seconds": time.time() - t0,
           "final_loss": res["history"][-1]["loss"] if res.get("history") else None}
    if order_seed is not None:
        rec["order_seed"] = order_seed
    return rec


_SPLITS: dict = {}


def _cached_splits(dataset: str, data_root, size: int, train_images: int | None = None):
    """The dataset at ``size`` x ``size``, its training split cut to the first ``train_images`` (the readers' splits
    are already shuffled), loaded once per process."""
    from nash.frontend.data import Splits, load_dataset

    key = (dataset, data_root, size, train_images)
    if key not in _SPLITS:
        sp = load_dataset(dataset, root=data_root, size=size, seed=0)
        if train_images and train_images < len(sp.x_train):
            sp = Splits(np.ascontiguousarray(sp.x_train[:train_images]), sp.y_train[:train_images], sp.x_val,
                        sp.y_val, sp.num_classes, sp.name)
        _SPLITS[key] = sp
    return _SPLITS[key]


def train_seeds_for(seed: int, n: int) -> list[int]:
    """The training seeds of a draw: ``seed``, ``seed + 1000``, ... (the first equals the draw seed, as before)."""
    return [seed + 1000 * i for i in range(n)]


def train_all(archs: list[dict], dataset: str, epochs: int, train_seeds: list[int], cache_dir: Path,
              executor: Executor | None = None, data_root: str | None = None, progress: bool = True,
              device: str = "cpu", train_images: int | None = None,
              order_seeds: list[int] | None = None, need: str = "val_acc") -> list[list[dict]]:
    """Train every architecture once per seed (cached in ``cache_dir``) on ``executor`` (default: serial); returns,
    in the order of ``archs``, the records of its seeds in the order of ``train_seeds``. With ``progress`` each
    accuracy is printed as it arrives. ``order_seeds`` (one per training seed) decouples the batch order from the
    initialisation (the noise study); by default both come from the training seed. A cached record without the
    accuracy ``need`` (trained before the weight average was recorded) is trained again: the training is seeded, so
    it reproduces its ``val_acc`` and adds the missing field."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    tag = data_tag(dataset, data_root, archs[0]["input_size"] if archs else 0, train_images)
    cells = [(i, j) for i in range(len(archs)) for j in range(len(train_seeds))]
    orders = order_seeds or [None] * len(train_seeds)
    names = [f"s{s}" if o is None or o == s else f"s{s}_o{o}" for s, o in zip(train_seeds, orders, strict=True)]
    paths = {(i, j): cache_dir / f"{tag}_e{epochs}_{names[j]}_{arch_hash(archs[i])}.json" for i, j in cells}
    records: list[list[dict | None]] = [[None] * len(train_seeds) for _ in archs]
    todo = []
    for i, j in cells:
        p = paths[i, j]
        if p.exists():
            try:
                rec = json.loads(p.read_text())
            except json.JSONDecodeError:
                p.unlink()
            else:
                if need in rec:
                    records[i][j] = rec
                    continue
        todo.append((i, j))
    jobs = [(archs[i], dataset, data_root, epochs, train_seeds[j], device, train_images, orders[j]) for i, j in todo]
    bar = tqdm(total=len(cells), initial=len(cells) - len(todo), desc="train", unit="run", disable=not progress)
    if jobs:
        for (i, j), rec in zip(todo, (executor or SerialExecutor()).map(_train_one, jobs), strict=True):
            atomic_write_text(paths[i, j], json.dumps(rec, indent=1))  # each as it arrives: a rerun continues here
            records[i][j] = rec
            if progress:
                order = "" if orders[j] is None else f" order {orders[j]}"
                bar.write(f"arch {i + 1:3d} {arch_hash(archs[i])} seed {train_seeds[j]}{order}: "
                          f"{rec['val_acc']:5.1f} % ({rec['train_seconds']:.0f} s)")
            bar.update()
    bar.close()
    return records  # type: ignore[return-value]


# ---- scoring (cached) ------------------------------------------------------------------------------------------------
def _score_one(job: tuple) -> dict:
    """Worker: the base proxy scores of one architecture."""
    arch, names, seed, batch = job
    import torch

    torch.set_num_threads(1)
    from nash.frontend.nas.proxies import score_arch

    return score_arch(arch, names, seed=seed, data=batch)


def score_all(archs: list[dict], names: list[str], seed: int, cache_dir: Path, batch: dict | None,
              executor: Executor | None = None, progress: bool = True) -> list[dict[str, float]]:
    """Per-architecture base proxy scores (cached per architecture, proxy version, score seed and data batch: the
    same architecture on another dataset, or on the same images at another difficulty, is scored again), computed
    on ``executor`` (default: serial)."""
    from nash.frontend.nas.proxies import PROXY_VERSION

    cache_dir.mkdir(parents=True, exist_ok=True)
    out: list[dict | None] = [None] * len(archs)
    todo = []
    data = "nodata" if batch is None else hashlib.sha1(
        np.ascontiguousarray(batch["x"]).tobytes() + np.ascontiguousarray(batch["y"]).tobytes()).hexdigest()[:8]
    for i, a in enumerate(archs):
        p = cache_dir / f"v{PROXY_VERSION}_s{seed}_{data}_{arch_hash(a)}.json"
        if p.exists():
            d = json.loads(p.read_text())
            if all(n in d["scores"] for n in names):
                out[i] = d["scores"]
                continue
        todo.append((i, p, (a, names, seed, batch)))
    bar = tqdm(total=len(archs), initial=len(archs) - len(todo), desc="score", unit="arch", disable=not progress)
    if todo:
        jobs = [job for _, _, job in todo]
        for (i, p, _), s in zip(todo, (executor or SerialExecutor()).map(_score_one, jobs), strict=True):
            atomic_write_text(p, json.dumps({"arch": archs[i], "seed": seed, "scores": s}, indent=1))
            out[i] = s
            bar.update()
    bar.close()
    return out  # type: ignore[return-value]


# ---- statistics ------------------------------------------------------------------------------------------------------
def _clean(x: np.ndarray) -> np.ndarray:
    """NaN / -inf scores rank as worst; +inf as best."""
    x = np.asarray(x, dtype=np.float64).copy()
    x[np.isnan(x)] = -np.inf
    finite = x[np.isfinite(x)]
    lo = (finite.min() - 1.0) if finite.size else 0.0
    hi = (finite.max() + 1.0) if finite.size else 0.0
    x[x == -np.inf] = lo
    x[x == np.inf] = hi
    return x


def kendall(x, y) -> float:
    from scipy.stats import kendalltau

    t = kendalltau(_clean(x), y).statistic
    return 0.0 if t is None or math.isnan(t) else float(t)


def spearman(x, y) -> float:
    from scipy.stats import spearmanr

    r = spearmanr(_clean(x), y).statistic
    return 0.0 if r is None or math.isnan(r) else float(r)


def paired_bootstrap(samples: tuple, stat, n_boot: int = 1000, seed: int = 0):
    """``scipy.stats.bootstrap`` of ``stat(*samples)`` resampling the architectures (the same rows of every sample),
    percentile method, 95%; returns scipy's result (``confidence_interval``, ``bootstrap_distribution``)."""
    import warnings

    from scipy.stats import bootstrap

    samples = tuple(np.asarray(s, dtype=np.float64) for s in samples)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # resamples with constant columns: the statistic counts as 0
        return bootstrap(samples, stat, n_resamples=n_boot, paired=True, vectorized=False, method="percentile",
                         confidence_level=0.95, rng=np.random.default_rng(seed))


def bootstrap_ci(x, y, stat, n_boot: int = 1000, seed: int = 0) -> list[float]:
    """Percentile 95% interval of ``stat(x, y)`` over resamples of the architectures."""
    ci = paired_bootstrap((x, y), stat, n_boot, seed).confidence_interval
    return [float(ci.low), float(ci.high)]


def top_k_tau(x, y, frac: float = 0.2) -> float:
    """Kendall tau among the top ``frac`` of architectures by true accuracy (how well the best are ordered)."""
    y = np.asarray(y, dtype=np.float64)
    k = max(3, int(round(frac * len(y))))
    idx = np.argsort(-y)[:k]
    return kendall(np.asarray(x)[idx], y[idx])


def top_hit_rate(x, y, frac: float = 0.1) -> float:
    """Share of the ``frac`` most accurate architectures that are also among the ``frac`` best by the proxy
    (k = max(1, round(frac * N)); proxy ties at the cut are broken by position, NaN / -inf rank worst)."""
    y = np.asarray(y, dtype=np.float64)
    k = max(1, int(round(frac * len(y))))
    best_true = set(np.argsort(-y, kind="stable")[:k].tolist())
    best_proxy = set(np.argsort(-_clean(x), kind="stable")[:k].tolist())
    return len(best_true & best_proxy) / k


def noise_ceiling(acc_by_seed, n_boot: int = 1000, seed: int = 0) -> dict:
    """How well the ground truth ranks itself: Kendall tau between the accuracies of two training seeds (the mean
    over seed pairs when there are more), with a percentile bootstrap 95% interval over the architectures.

    ``acc_by_seed``: [architectures][seeds]. A proxy cannot be expected to beat this tau against one training run;
    the benchmark's ground truth is the mean over seeds, whose own reliability is higher: ``split_half`` measures it
    for the mean of half the seeds (4 seeds or more, :func:`split_half_ceiling`), and ``mean_of_seeds_estimate``
    estimates it for the mean of all of them (:func:`mean_of_k_tau`, an extrapolation)."""
    a = np.asarray(acc_by_seed, dtype=np.float64)
    n_seeds = a.shape[1]
    if n_seeds < 2:
        return {"seeds": n_seeds, "kendall_tau": None, "tau_ci": None}
    pairs = [(i, j) for i in range(n_seeds) for j in range(i + 1, n_seeds)]

    def mean_pair_tau(*cols):
        return float(np.mean([kendall(cols[i], cols[j]) for i, j in pairs]))

    cols = tuple(a[:, j] for j in range(n_seeds))
    ci = paired_bootstrap(cols, mean_pair_tau, n_boot, seed).confidence_interval
    diffs = np.abs(a[:, :, None] - a[:, None, :])[:, [i for i, _ in pairs], [j for _, j in pairs]]
    tau = mean_pair_tau(*cols)
    return {"seeds": n_seeds, "kendall_tau": tau, "tau_ci": [float(ci.low), float(ci.high)],
            "spearman_rho": float(np.mean([spearman(a[:, i], a[:, j]) for i, j in pairs])),
            "mean_abs_seed_difference": float(diffs.mean()), "max_abs_seed_difference": float(diffs.max()),
            "split_half": split_half_ceiling(a, n_boot, seed), "mean_of_seeds_estimate": mean_of_k_tau(tau, n_seeds)}


def split_half_ceiling(acc_by_seed, n_boot: int = 1000, seed: int = 0) -> dict | None:
    """How well a ground truth that is the mean of k seeds ranks itself, measured: with 2k >= 4 seeds per
    architecture, the Kendall tau between the means of two disjoint halves of k seeds, averaged over the ways of
    splitting the first 2k seeds in two (3 for k = 2), with a percentile bootstrap 95% interval over the
    architectures. ``None`` with fewer than 4 seeds."""
    from itertools import combinations

    a = np.asarray(acc_by_seed, dtype=np.float64)
    k = a.shape[1] // 2
    if k < 2:
        return None
    seeds = range(2 * k)
    splits = [(h, tuple(j for j in seeds if j not in h)) for h in combinations(seeds, k) if 0 in h]

    def mean_split_tau(*cols):
        m = np.stack(cols, 1)
        return float(np.mean([kendall(m[:, list(h)].mean(1), m[:, list(g)].mean(1)) for h, g in splits]))

    cols = tuple(a[:, j] for j in seeds)
    ci = paired_bootstrap(cols, mean_split_tau, n_boot, seed).confidence_interval
    return {"k": k, "splits": len(splits), "kendall_tau": mean_split_tau(*cols),
            "tau_ci": [float(ci.low), float(ci.high)]}


def mean_of_k_tau(tau: float, k: float) -> float | None:
    """Estimate, not a measurement: the Kendall tau between two independent k-seed mean accuracies, from the
    one-seed tau between seeds. Assumes bivariate-normal accuracies (Greiner: r = sin(pi tau / 2)) and independent
    seed noise (Spearman-Brown: r_k = k r / (1 + (k - 1) r)). ``None`` when the one-seed tau is not positive."""
    r = math.sin(math.pi * tau / 2)
    if r <= 0:
        return None
    return 2 / math.pi * math.asin(k * r / (1 + (k - 1) * r))


def seeds_for(tau: float, target: float = 0.8) -> float | None:
    """Estimate, the inverse of :func:`mean_of_k_tau`: how many seeds per architecture two independent k-seed means
    need to rank each other at Kendall tau ``target``, from the one-seed tau."""
    r, rt = math.sin(math.pi * tau / 2), math.sin(math.pi * target / 2)
    if r <= 0:
        return None
    return rt * (1 - r) / (r * (1 - rt))


def correlation_table(scores: dict[str, list[float]], acc: list[float], n_boot: int = 1000, seed: int = 0,
                      ceiling: float | None = None) -> dict[str, dict]:
    """Per proxy: Kendall tau, Spearman rho (bootstrap 95% intervals), top-20% tau, top-10% hit rate, the count
    of non-finite scores and, given the noise ceiling's tau, tau relative to it."""
    table = {}
    for name, s in scores.items():
        tau = kendall(s, acc)
        table[name] = {
            "kendall_tau": tau, "spearman_rho": spearman(s, acc),
            "tau_ci": bootstrap_ci(s, acc, kendall, n_boot, seed),
            "rho_ci": bootstrap_ci(s, acc, spearman, n_boot, seed),
            "top_k_tau": top_k_tau(s, acc),
            "top10_hit_rate": top_hit_rate(s, acc, 0.1),
            "tau_over_ceiling": (tau / ceiling) if ceiling else None,
            "nonfinite": int(np.sum(~np.isfinite(np.asarray(s, dtype=np.float64)))),
        }
    return table


def plot_bench(scores: dict[str, list[float]], acc: list[float], table: dict, path: Path) -> None:
    """Scatter plots: rank of each proxy's score vs trained accuracy."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import rankdata

    names = list(scores)
    cols = 4
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.8 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        ax.scatter(rankdata(_clean(scores[name])), acc, s=10)
        t = table[name]
        ax.set_title(f"{name}: tau={t['kendall_tau']:.2f} rho={t['spearman_rho']:.2f}", fontsize=9)
        ax.set_xlabel("proxy rank", fontsize=8)
        ax.set_ylabel("val acc (%)", fontsize=8)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def run_proxy_bench(dataset: str = "digits", archs: int = 40, epochs: int = BENCH_EPOCHS, seed: int = 0,
                    out: Path = Path("."),
                    space: str | None = None, ops=None, workers: int = 2, proxies: list[str] | None = None,
                    score_seed: int = 0, data_root: str | None = None, cache_dir: Path | None = None,
                    n_boot: int = 1000, progress: bool = True, train_only: bool = False,
                    scheduler: str | None = None, train_seeds: int = BENCH_TRAIN_SEEDS, device: str = "cpu",
                    input_size: int | None = None, train_images: int | None = None,
                    weights: str = BENCH_WEIGHTS) -> dict:
    """The whole benchmark; writes ``out/proxy_bench.json`` and ``out/proxy_bench.png`` and returns the report.

    Every architecture is trained with ``train_seeds`` seeds; the ground truth is the mean validation accuracy of
    the ``weights`` ("averaged": the EMA of the weights, "final") and the tau between seeds is the noise ceiling.
    Trainings and scorings run in ``workers`` local processes, or on the workers of the Dask scheduler at
    ``scheduler`` (``tcp://host:8786``) when given.
    """
    from nash.frontend.nas.proxies import GROUP_METRICS, PROXY_VERSION, base_names, combine_group

    sp = bench_space(dataset, space, ops, input_size)
    arch_list = sample_archs(sp, archs, seed)
    splits = _cached_splits(dataset, data_root, sp.input_size, train_images)
    check_fit(splits, arch_list[0], sp.name)  # before any worker starts: one line, nothing written
    out = Path(out)
    cache = Path(cache_dir) if cache_dir else out / "cache"
    seeds = train_seeds_for(seed, train_seeds)
    # One pool (or cluster connection) for both stages, made first: a bad --scheduler fails before OUT is touched.
    with make_executor(workers, scheduler) as executor:
        out.mkdir(parents=True, exist_ok=True)
        t0 = time.time()
        recs = train_all(arch_list, dataset, epochs, seeds, cache / "train", executor, data_root, progress, device,
                         train_images, need=ACCURACY_KEYS[weights])
        train_s = time.time() - t0
        if train_only:
            return {"records": recs}
        names = proxies or list(_default_proxies())
        batch = _proxy_batch(splits, seed=score_seed)
        t1 = time.time()
        base = score_all(arch_list, base_names(names), score_seed, cache / "scores", batch, executor, progress)
        score_s = time.time() - t1
    scores = {n: (combine_group(n, base) if n in GROUP_METRICS else [b[n] for b in base]) for n in names}
    acc_by_seed = [[r[ACCURACY_KEYS[weights]] for r in rs] for rs in recs]
    acc = [float(np.mean(a)) for a in acc_by_seed]
    ceiling = noise_ceiling(acc_by_seed, n_boot, seed)
    table = correlation_table(scores, acc, n_boot=n_boot, seed=seed, ceiling=ceiling["kendall_tau"])
    report = {
        "proxies": table, "noise_ceiling": ceiling, "archs": len(arch_list), "dataset": dataset,
        "data_root": str(data_root) if data_root else None, "space": sp.name,
        "input": [sp.input_channels, sp.input_size, sp.input_size], "ops": list(sp.ops),
        "epochs": epochs, "seed": seed, "train_seeds": seeds, "score_seed": score_seed,
        "proxy_version": PROXY_VERSION,
        "train": {"optimizer": "SGD nesterov, cosine", **BENCH_TRAIN, "qat": False, "device": device,
                  "train_images": len(splits.x_train), "val_images": len(splits.x_val)},
        "ground_truth": f"mean validation accuracy over the training seeds, {weights} weights", "weights": weights,
        "ema_decay": BENCH_EMA_DECAY if weights == "averaged" else None,
        "accuracy": {"mean": float(np.mean(acc)), "min": float(np.min(acc)), "max": float(np.max(acc)),
                     "std": float(np.std(acc))},
        "top_k_fraction": 0.2, "hit_rate_fraction": 0.1, "bootstrap": n_boot,
        "seconds": {"train_total": train_s,
                    "train_sum_per_run": float(sum(r["train_seconds"] for rs in recs for r in rs)),
                    "score": score_s},
        "results": [{"hash": arch_hash(a), "val_acc": acc[i], "val_acc_by_seed": acc_by_seed[i],
                     "final_weights_acc_by_seed": [r["val_acc"] for r in recs[i]],
                     "stats": _short_stats(a), "scores": {n: scores[n][i] for n in names},
                     "base_scores": base[i]}
                    for i, a in enumerate(arch_list)],
    }
    atomic_write_text(out / "proxy_bench.json", json.dumps(_finite(report), indent=1))
    plot_bench(scores, acc, table, out / "proxy_bench.png")
    return report


def _short_stats(arch: dict) -> dict:
    s = arch_stats(arch)
    return {"params": s["params"], "macs": s["macs"], **{f"{o}_ops": v["ops"] for o, v in s["per_op"].items()}}


def _finite(o):
    """JSON cannot hold inf/NaN: write them as strings."""
    if isinstance(o, float) and not math.isfinite(o):
        return str(o)
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_finite(v) for v in o]
    return o


def _proxy_batch(splits, seed: int, n: int = 64) -> dict:
    """A fixed labelled mini-batch of training images for the data-dependent proxies (NASWOT, trainability)."""
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(splits.x_train), size=min(n, len(splits.x_train)), replace=False)
    return {"x": np.ascontiguousarray(splits.x_train[idx]), "y": np.ascontiguousarray(splits.y_train[idx])}


def _default_proxies():
    from nash.frontend.nas.proxies import BENCH_PROXIES

    return BENCH_PROXIES
