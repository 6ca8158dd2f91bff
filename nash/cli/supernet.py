"""``nash supernet``: train a weight-sharing supernet over the candidates of ``nash search``'s ``top_k.json``.

Runs in one process, or data-parallel under ``torchrun --nproc_per_node N -m nash supernet ...`` (docs/supernet.md).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import click

from nash.frontend.data import READERS


def read_candidates(path: Path) -> list[dict]:
    """The architectures of a ``top_k.json`` (a list of entries with ``architecture``; bare architecture dicts are
    accepted too); one-line errors naming the file and the entry."""
    from nash.frontend.core.errors import UserInputError
    from nash.frontend.core.json_file import read_json

    doc = read_json(path, what="top_k.json of 'nash search'")
    if not isinstance(doc, list) or not doc:
        raise UserInputError(f"{path}: expected a non-empty list of candidates (the top_k.json of 'nash search'), "
                             f"got {type(doc).__name__}")
    archs = []
    for i, entry in enumerate(doc):
        arch = entry.get("architecture", entry) if isinstance(entry, dict) else None
        if not isinstance(arch, dict) or "stages" not in arch:
            raise UserInputError(f"{path}: entry [{i}]: expected an object with an 'architecture' field")
        archs.append(arch)
    return archs


def check_fits(archs: list[dict], splits, path: Path) -> None:
    """Input shape and classes of the candidates (shared by all, checked by the span) against the dataset."""
    from nash.frontend.core.errors import UserInputError

    bad = splits.architecture_mismatch(archs[0])
    if bad:
        fld, have, want = bad
        raise UserInputError(f"{path}: field '[0].architecture.{fld}' is {have!r} but dataset {splits.name} has {want}")


def _finite(ctx, param, value):
    """Click callback: NaN and infinities pass click's ranges; refuse them with the option's name."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"expected a finite number, got {value!r}")
    return value


@click.command()
@click.argument("topk", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dataset", type=click.Choice(sorted(READERS)), default="digits", show_default=True)
@click.option("--data-root", type=click.Path(file_okay=False), default=None, help="Folder of the dataset files.")
@click.option("--epochs", type=click.IntRange(1), default=20, show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True,
              help="Global batch (split across the processes of a torchrun launch).")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=0.05, show_default=True, callback=_finite)
@click.option("--n-random", type=click.IntRange(0), default=2, show_default=True,
              help="Random sub-networks per step besides the largest and the smallest (sandwich rule).")
@click.option("--float-fraction", type=click.FloatRange(0, 1), default=0.3, show_default=True, callback=_finite,
              help="Share of epochs in observe mode (float, range calibration) before fake-quant training.")
@click.option("--kd-temperature", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              callback=_finite,
              help="Temperature T of the in-place distillation from the largest sub-network (loss KL * T^2).")
@click.option("--hybrid-start", type=click.FloatRange(0, 1), default=0.2, show_default=True, callback=_finite,
              help="Progressive schedule: share of the uniform shift/adder probability in the first epoch (1: "
                   "uniform from the start).")
@click.option("--hybrid-ramp", type=click.FloatRange(0, 1), default=0.5, show_default=True, callback=_finite,
              help="Progressive schedule: share of the epochs after which shift/adder reach the uniform probability.")
@click.option("--sample", type=click.Choice(["span", "candidates"]), default="span", show_default=True,
              help="Where the random sub-networks of each step come from: uniform over the candidates' span, or the "
                   "candidates themselves.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda")
@click.option("--resume", is_flag=True, help="Continue from OUT/supernet.pt.")
@click.option("--no-eval", is_flag=True, help="Skip the inherited-weight accuracy of each candidate at the end.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
def supernet(topk, dataset, data_root, epochs, batch_size, lr, n_random, float_fraction, kd_temperature, hybrid_start,
             hybrid_ramp, sample, seed, device, resume, no_eval, out):
    """Train a weight-sharing supernet over the candidates in TOPK.json (sandwich rule, in-place distillation,
    progressive shift/adder schedule, fake-quant); write OUT/supernet.pt and OUT/supernet.json (each candidate's
    inherited-weight accuracy after BN recalibration)."""
    from nash.frontend.core.atomic_io import atomic_write_text
    from nash.frontend.data import load_dataset
    from nash.frontend.train import distributed
    from nash.frontend.train.supernet.space import span_of
    from nash.frontend.train.supernet.training import (
        CHECKPOINT,
        SupernetConfig,
        check_config,
        inherited_accuracy,
        train_supernet,
    )

    if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
        from nash.frontend.core.errors import UserInputError

        raise UserInputError(f"option '--device': expected auto, cpu or cuda, got {device!r}")
    archs = read_candidates(topk)
    span_of(archs, str(topk))  # one skeleton, every candidate valid: fails before anything is written
    splits = load_dataset(dataset, root=data_root, size=archs[0]["input_size"], seed=seed)
    check_fits(archs, splits, topk)
    cfg = SupernetConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, n_random=n_random,
                         float_fraction=float_fraction, kd_temperature=kd_temperature, hybrid_start=hybrid_start,
                         hybrid_ramp=hybrid_ramp, sample=sample, device=device)
    check_config(cfg, len(splits.x_train), int(os.environ.get("WORLD_SIZE", "1")))
    ctx = distributed.init_from_env(device)
    out.mkdir(parents=True, exist_ok=True)
    if not resume and ctx.main:
        (out / CHECKPOINT).unlink(missing_ok=True)
    distributed.barrier(ctx)
    if ctx.main:
        click.echo(f"supernet over {len(archs)} candidates on {dataset}: {len(splits.x_train)} train / "
                   f"{len(splits.x_val)} val images, {epochs} epochs, {ctx.world} process(es), seed {seed}")
    res = train_supernet(archs, splits, cfg, out, resume=resume)
    if ctx.main:
        summary = {"topk": str(topk), "dataset": dataset, "split_seed": seed, "world_size": ctx.world,
                   "config": cfg.run_settings(), "epochs": epochs, "space": res["space"].to_dict(),
                   "history": res["history"], "candidates": []}
        from tqdm import tqdm

        for i, a in enumerate(tqdm(archs, desc="inherited accuracy", unit="net", disable=no_eval)):
            acc = None if no_eval else inherited_accuracy(res["net"], a, splits, "qat", cfg.bn_batches)
            summary["candidates"].append({"index": i, "inherited_acc": acc, "architecture": a})
            if acc is not None:
                click.echo(f"candidate {i}: inherited accuracy (integer, after BN recalibration) {acc:.2f}%")
        atomic_write_text(out / "supernet.json", json.dumps(summary, indent=1))
        click.echo(f"wrote {out / CHECKPOINT} and {out / 'supernet.json'}")
    distributed.shutdown(ctx)


def accuracy_stage(supernet_dir: Path, dataset: str, data_root, search_cfg: dict, hw_cost: str, board: str,
                   constraints, out: Path, workers: int = 1, scheduler: str | None = None,
                   resume: bool = False) -> None:
    """``nash search --stage accuracy --supernet DIR``: evolution on inherited-weight accuracy with the hardware
    cost; writes OUT/best.json (weights exported from the supernet), OUT/pareto.csv, OUT/history.json and the
    per-generation OUT/accuracy_checkpoint.json (``resume`` continues from it). The accuracies are measured in
    ``workers`` local processes or on the workers of the Dask ``scheduler``."""
    from nash.frontend.core.errors import UserInputError
    from nash.frontend.core.json_file import read_json
    from nash.frontend.data import load_dataset
    from nash.frontend.nas.accuracy_search import (
        AccuracySearchConfig,
        SupernetSource,
        export_best,
        run_accuracy_search,
        write_results,
    )
    from nash.frontend.nas.evolution import make_cost
    from nash.frontend.train.supernet.training import CHECKPOINT, load_checkpoint, supernet_from_checkpoint

    if supernet_dir is None:
        raise UserInputError("option '--supernet': --stage accuracy needs the folder written by 'nash supernet'")
    summary = read_json(supernet_dir / "supernet.json", what="supernet summary (written by 'nash supernet')")
    if not isinstance(summary, dict) or "dataset" not in summary or "split_seed" not in summary:
        raise UserInputError(f"{supernet_dir / 'supernet.json'}: expected the summary of 'nash supernet' "
                             "(fields 'dataset', 'split_seed')")
    if summary["dataset"] != dataset:
        raise UserInputError(f"option '--dataset': the supernet in {supernet_dir} was trained on "
                             f"{summary['dataset']}, not {dataset}")
    if hw_cost == "accel":
        from nash.frontend.accel.board import load_board

        load_board(board)
    candidates = [c["architecture"] for c in summary.get("candidates") or [] if isinstance(c, dict)
                  and isinstance(c.get("architecture"), dict)]
    if not candidates:
        raise UserInputError(f"{supernet_dir / 'supernet.json'}: no 'candidates' (the supernet's top-K)")
    net = supernet_from_checkpoint(load_checkpoint(supernet_dir))
    splits = load_dataset(dataset, root=data_root, size=net.space.skeleton["input_size"],
                          seed=int(summary["split_seed"]))
    cfg = AccuracySearchConfig(constraints=constraints, **search_cfg)
    source = SupernetSource(str((supernet_dir / CHECKPOINT).resolve()), dataset,
                            None if data_root is None else str(Path(data_root).resolve()), int(summary["split_seed"]))
    res = run_accuracy_search(net, candidates, splits, make_cost(hw_cost, board), cfg, out=out, resume=resume,
                              source=source, workers=workers, scheduler=scheduler)
    write_results(res, cfg, out)
    best = res["best"]
    if best is None:
        from nash.frontend.core.errors import CheckFailedError

        raise CheckFailedError(f"no evaluated sub-network satisfies the constraints ({len(res['archive'])} tried); "
                               f"see {out / 'history.json'}")
    prov = {"tool": "nash search --stage accuracy", "dataset": dataset, "board": board if hw_cost == "accel" else None,
            "seed": cfg.seed, "metric": "inherited_accuracy", "metric_value": best["accuracy"],
            "metric_group": "sub-networks of the supernet evaluated by the accuracy search",
            "hardware": {k: v for k, v in best["hw"].items() if isinstance(v, int | float | bool | str)},
            "search": {"stage": "accuracy", "supernet": str(supernet_dir), "evaluated": len(res["archive"]),
                       "population": cfg.population, "generations": cfg.generations}}
    path = export_best(net, best, splits, dataset, int(summary["split_seed"]), prov, cfg.bn_batches, out)
    click.echo(f"evaluated {len(res['archive'])} sub-networks; best inherited accuracy {best['accuracy']:.2f}%; "
               f"Pareto front {len(res['pareto'])}; wrote {path}")
