"""``nash search`` (evolutionary zero-shot co-search) and ``nash proxy-bench`` (proxy ranking benchmark)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from nash.frontend.data import READERS
from nash.frontend.nas.proxy_bench import ACCURACY_KEYS, BENCH_EPOCHS, BENCH_TRAIN_SEEDS, BENCH_WEIGHTS
from nash.frontend.nas.search_space import SPACES

DEFAULT_WORKERS = min(2, os.cpu_count() or 1)

scheduler_option = click.option(
    "--scheduler", default=None, metavar="tcp://HOST:PORT",
    help="Run the parallel work on the workers of this Dask scheduler instead of --workers local processes "
         "(needs pip install \"nash-hls[distributed]\"; docs/executor.md).")


def _ops(value: str) -> tuple[str, ...]:
    from nash.frontend.core.op_registry import OP_NAMES

    ops = tuple(o.strip() for o in value.split(",") if o.strip())
    bad = [o for o in ops if o not in OP_NAMES]
    if not ops or bad or len(set(ops)) != len(ops):
        raise click.BadParameter(f"expected a comma-separated subset of {','.join(OP_NAMES)}, got {value!r}",
                                 param_hint="--ops")
    return ops


def _proxy_names() -> list[str]:
    from nash.frontend.nas.proxies import BASE_PROXIES, GROUP_METRICS

    return sorted(set(BASE_PROXIES) | set(GROUP_METRICS))


def _tau_with_ci(t: dict) -> str:
    """A Kendall tau with its 95 % interval, as the proxy-bench summary prints it."""
    return f"{t['kendall_tau']:.3f} [{t['tau_ci'][0]:.3f}, {t['tau_ci'][1]:.3f}]"


def _load_splits(dataset: str, data_root: str | None, size: int):
    """The dataset for data-dependent proxies; ``None`` (Gaussian inputs) when a user dataset is named without
    ``--data-root``. A ``--data-root`` that is given must hold the dataset (else DatasetError: one line, exit 2)."""
    from nash.frontend.data import load_dataset

    if data_root is None and dataset != "digits":
        click.echo(f"notice: no --data-root for {dataset}; data-dependent proxies use Gaussian inputs", err=True)
        return None
    return load_dataset(dataset, root=data_root, size=size, seed=0)


@click.command()
@click.option("--dataset", type=click.Choice(sorted(READERS)), default="digits", show_default=True)
@click.option("--data-root", type=click.Path(file_okay=False), default=None, help="Folder of the dataset files.")
@click.option("--space", type=click.Choice(sorted(SPACES)), default=None,
              help="Search space (default: the dataset's: digits, cifar32 or tiny64).")
@click.option("--ops", default="conv,shift,adder", show_default=True,
              help="Allowed op types per block, e.g. conv,adder or conv (multiplication-only baseline).")
@click.option("--metric", default=None, help="Zero-shot metric (default: the best on the proxy benchmark).")
@click.option("--population", type=click.IntRange(2), default=100, show_default=True)
@click.option("--generations", type=click.IntRange(0), default=20, show_default=True)
@click.option("--mutations", type=click.IntRange(0), default=45, show_default=True)
@click.option("--crossovers", type=click.IntRange(0), default=45, show_default=True)
@click.option("--mutation-prob", type=click.FloatRange(0, 1), default=0.2, show_default=True)
@click.option("--hw-cost", "hw_cost", type=click.Choice(["accel", "macs"]), default="accel", show_default=True,
              help="Hardware cost: the accelerator model (FPS; best.json gets the accelerator section) or MACs per "
                   "op type.")
@click.option("--board", default="kv260", show_default=True)
@click.option("--hw-screen/--no-hw-screen", "hw_screen", default=True, show_default=True,
              help="With --hw-cost accel: price candidates with the accelerator search's coarse stage while "
                   "searching and fully only where best.json, top_k.json and the Pareto front need it (same outputs, "
                   "docs/search.md); --no-hw-screen prices every candidate fully (slower).")
@click.option("--min-fps", type=float, default=None, help="Constraint (needs --hw-cost accel).")
@click.option("--max-latency-ms", type=float, default=None, help="Constraint (needs --hw-cost accel).")
@click.option("--max-macs", type=float, default=None, help="Constraint on multiply-like operations per image.")
@click.option("--max-params", type=float, default=None, help="Constraint on parameters.")
@click.option("--top-k", type=click.IntRange(1), default=10, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--workers", type=click.IntRange(1), default=DEFAULT_WORKERS, show_default=True)
@scheduler_option
@click.option("--resume", is_flag=True,
              help="Continue from OUT/checkpoint.json (--stage accuracy: OUT/accuracy_checkpoint.json).")
@click.option("--stage", type=click.Choice(["zero-shot", "accuracy"]), default="zero-shot", show_default=True,
              help="zero-shot: the proxy search; accuracy: evolution on a supernet's inherited-weight accuracy "
                   "(needs --supernet; docs/supernet.md).")
@click.option("--supernet", "supernet_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder written by 'nash supernet' (for --stage accuracy).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
def search(dataset, data_root, space, ops, metric, population, generations, mutations, crossovers, mutation_prob,
           hw_cost, board, hw_screen, min_fps, max_latency_ms, max_macs, max_params, top_k, seed, workers, scheduler,
           resume, stage, supernet_dir, out):
    """Evolutionary zero-shot search of hybrid conv/shift/adder networks under hardware constraints.

    Writes OUT/best.json (model file, provenance with scores and hardware metrics), OUT/top_k.json, OUT/pareto.csv,
    OUT/pareto.png and a per-generation OUT/checkpoint.json (continue with --resume).
    """
    from nash.frontend.nas.evolution import Constraints, SearchConfig, make_cost, run_search
    from nash.frontend.nas.proxies import DEFAULT_METRIC
    from nash.frontend.nas.search_space import get_space, space_for_dataset

    if hw_cost == "macs" and (min_fps is not None or max_latency_ms is not None):
        raise click.BadParameter("--min-fps / --max-latency-ms need --hw-cost accel", param_hint="--hw-cost")
    if hw_cost == "macs" and not hw_screen:
        raise click.BadParameter("--no-hw-screen needs --hw-cost accel (the MAC count has no screen)",
                                 param_hint="--hw-screen")
    if stage == "accuracy":
        from nash.cli.supernet import accuracy_stage

        return accuracy_stage(supernet_dir, dataset, data_root,
                              {"population": population, "generations": generations, "mutations": mutations,
                               "crossovers": crossovers, "mutation_prob": mutation_prob, "seed": seed},
                              hw_cost, board, Constraints(min_fps, max_latency_ms, max_macs, max_params), out,
                              workers=workers, scheduler=scheduler, resume=resume)
    if supernet_dir is not None:
        raise click.BadParameter("--supernet is for --stage accuracy", param_hint="--supernet")
    op_set = _ops(ops)
    metric = metric or DEFAULT_METRIC
    if metric not in _proxy_names():
        raise click.BadParameter(f"unknown metric {metric!r}; expected one of {_proxy_names()}", param_hint="--metric")
    if hw_cost == "accel":
        from nash.frontend.accel.board import load_board

        load_board(board)  # a bad --board fails here (BoardError), not in a worker after OUT is written
    sp = space_for_dataset(dataset, op_set)
    if space:
        base = get_space(space, op_set)
        sp = base.with_input(base.input_channels, base.input_size, sp.num_classes)
    splits = _load_splits(dataset, data_root, sp.input_size)
    data = None
    if splits is not None:
        if splits.channels != sp.input_channels or splits.size != sp.input_size:
            raise click.BadParameter(f"dataset {dataset} is {splits.channels}x{splits.size}x{splits.size} but space "
                                     f"{sp.name} expects {sp.input_channels}x{sp.input_size}x{sp.input_size}",
                                     param_hint="--space")
        from nash.frontend.nas.proxy_bench import _proxy_batch

        data = _proxy_batch(splits, seed)
    cfg = SearchConfig(population=population, mutations=mutations, crossovers=crossovers, mutation_prob=mutation_prob,
                       generations=generations, seed=seed, metric=metric, workers=workers, scheduler=scheduler,
                       top_k=top_k, constraints=Constraints(min_fps, max_latency_ms, max_macs, max_params),
                       screen_hardware=hw_screen)
    cost = make_cost(hw_cost, board, max_latency_ms if hw_cost == "accel" else None)
    prov = {"dataset": dataset, "board": board if hw_cost == "accel" else None, "tool": "nash search"}
    s = run_search(sp, cfg, cost, out, data=data, resume=resume, provenance=prov)
    best_v, best = s.ranked()[0]
    hw = best["hw"]
    hw_txt = ", ".join(f"{k}={hw[k]:.4g}" for k in ("fps", "latency_ms", "macs", "params") if k in hw)
    click.echo(f"evaluated {len(s.archive)} candidates ({len(s.rejected)} rejected by constraints); "
               f"best {metric}={best_v:.4f} ({hw_txt}); Pareto front {len(s.pareto())} -> {out}")


@click.command("proxy-bench")
@click.option("--dataset", type=click.Choice(sorted(READERS)), default="digits", show_default=True)
@click.option("--data-root", type=click.Path(file_okay=False), default=None,
              help="Folder of the dataset files (e.g. CIFAR-format files written by 'nash dataset generate').")
@click.option("--space", type=click.Choice(sorted(SPACES)), default=None,
              help="Search space to sample (default: the dataset's: digits, cifar32 or tiny64). A named space keeps "
                   "its stages and input size and takes the dataset's channels and classes.")
@click.option("--input-size", type=click.IntRange(8), default=None,
              help="Input resolution R of the sampled networks (default: the space's, 16 for digits, 32 for cifar32, "
                   "64 for tiny64). The images are resized (bilinear) to R x R.")
@click.option("--ops", default="conv,shift,adder", show_default=True)
@click.option("--archs", type=click.IntRange(3), default=40, show_default=True)
@click.option("--epochs", type=click.IntRange(1), default=BENCH_EPOCHS, show_default=True,
              help="Training epochs per run (the default is the documented budget, docs/search.md).")
@click.option("--train-seeds", type=click.IntRange(1), default=BENCH_TRAIN_SEEDS, show_default=True,
              help="Trainings per architecture (seeds SEED, SEED+1000, ...): the ground truth is their mean accuracy "
                   "and their tau is the noise ceiling (needs >= 2); with >= 4 the ceiling of a k-seed mean is "
                   "measured too (split-half). Cached: raising it trains only the new seeds.")
@click.option("--weights", type=click.Choice(sorted(ACCURACY_KEYS)), default=BENCH_WEIGHTS, show_default=True,
              help="Whose accuracy is the ground truth: the weights' moving average (decay 0.98 per step) or the "
                   "final weights (docs/search.md, round 3).")
@click.option("--train-images", type=click.IntRange(1), default=None,
              help="Train on the first N images of the training split (default: all).")
@click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="cpu", show_default=True,
              help="Where the trainings run (auto: cuda when present); proxies are scored on the CPU.")
@click.option("--seed", type=int, default=0, show_default=True, help="Sampling seed and first training seed.")
@click.option("--score-seed", type=int, default=0, show_default=True, help="Seed of the proxies' random draws.")
@click.option("--proxies", default=None, help="Comma-separated proxy names (default: all).")
@click.option("--workers", type=click.IntRange(1), default=DEFAULT_WORKERS, show_default=True)
@scheduler_option
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where finished trainings and scores are cached (default OUT/cache); reruns continue from it.")
@click.option("--bootstrap", type=click.IntRange(10), default=1000, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
def proxy_bench(dataset, data_root, space, input_size, ops, archs, epochs, train_seeds, weights, train_images, device,
                seed, score_seed, proxies, workers, scheduler, cache_dir, bootstrap, out):
    """Train K sampled architectures briefly (each with several seeds) and correlate every zero-shot proxy with
    their mean accuracy.

    Writes OUT/proxy_bench.json (Kendall tau, Spearman rho with bootstrap 95% intervals, top-20% tau, top-10% hit
    rate per proxy, and the noise ceiling: the tau between training seeds) and OUT/proxy_bench.png. Trainings are
    cached, so an interrupted run continues; each accuracy is printed as it arrives.
    """
    from nash.frontend.core.errors import UserInputError
    from nash.frontend.data import check_dataset
    from nash.frontend.nas.proxy_bench import run_proxy_bench

    check_dataset(dataset, data_root)  # here, before OUT is created and worker processes load it
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UserInputError("--device cuda: no CUDA device is available to torch here; use --device cpu")
    names = None
    if proxies:
        names = [p.strip() for p in proxies.split(",") if p.strip()]
        bad = [p for p in names if p not in _proxy_names()]
        if bad:
            raise click.BadParameter(f"unknown proxies {bad}; expected names from {_proxy_names()}",
                                     param_hint="--proxies")
    rep = run_proxy_bench(dataset=dataset, archs=archs, epochs=epochs, seed=seed, out=out, space=space,
                          ops=_ops(ops), workers=workers, proxies=names, score_seed=score_seed, data_root=data_root,
                          cache_dir=cache_dir, n_boot=bootstrap, scheduler=scheduler, train_seeds=train_seeds,
                          device=device, input_size=input_size, train_images=train_images, weights=weights)
    c = rep["noise_ceiling"]
    click.echo(f"{rep['archs']} architectures ({rep['space']} space, input {'x'.join(map(str, rep['input']))}), "
               f"mean accuracy over {c['seeds']} seeds {rep['accuracy']['min']:.1f}..{rep['accuracy']['max']:.1f}%")
    if c["kendall_tau"] is not None:
        click.echo(f"noise ceiling (tau between seeds): {_tau_with_ci(c)}")
        if c["split_half"]:
            h = c["split_half"]
            click.echo(f"ground truth's own ceiling (mean of {h['k']} seeds vs mean of {h['k']}, measured): "
                       f"{_tau_with_ci(h)}")
        if c["mean_of_seeds_estimate"] is not None:
            click.echo(f"estimate for the mean of all {c['seeds']} seeds vs another such mean: "
                       f"{c['mean_of_seeds_estimate']:.3f} (extrapolated, docs/search.md)")
    click.echo(f"{'proxy':12s} {'tau':>6s} {'tau 95% CI':>16s} {'/ceil':>6s} {'rho':>6s} {'top-k tau':>9s} "
               f"{'top10%hit':>9s}")
    for name, t in sorted(rep["proxies"].items(), key=lambda kv: -kv[1]["kendall_tau"]):
        lo, hi = t["tau_ci"]
        rel = f"{t['tau_over_ceiling']:6.2f}" if t["tau_over_ceiling"] is not None else f"{'-':>6s}"
        click.echo(f"{name:12s} {t['kendall_tau']:6.3f} [{lo:6.3f}, {hi:6.3f}] {rel} {t['spearman_rho']:6.3f} "
                   f"{t['top_k_tau']:9.3f} {t['top10_hit_rate']:9.2f}")
