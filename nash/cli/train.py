"""``nash train`` and ``nash validate``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from nash.frontend.data import READERS


def build_net(mf):
    """Torch network of a model file with its quantization settings."""
    from nash.frontend.models.hybrid_net import HybridNet

    q = mf.quantization
    return HybridNet(mf.nodes, shift_mode=q["shift_mode"], exp_max=q["shift_exp_max"], eta=q["adder_eta"])


def check_dataset_fits(mf, splits) -> None:
    """The architecture's input shape and class count must match the dataset."""
    from nash.frontend.core.model_file import ModelFileError

    bad = splits.architecture_mismatch(mf.architecture)
    if bad:
        fld, have, want = bad
        raise ModelFileError(mf.path, f"architecture.{fld}", f"is {have} but dataset {splits.name} has {want}")


@click.command()
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dataset", type=click.Choice(sorted(READERS)), default="digits", show_default=True)
@click.option("--data-root", type=click.Path(file_okay=False), default=None, help="Folder of the dataset files.")
@click.option("--epochs", type=click.IntRange(1), default=15, show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=0.05, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--float-fraction", type=click.FloatRange(0, 1), default=0.4, show_default=True,
              help="Share of epochs trained in float (with range calibration) before QAT.")
@click.option("--no-qat", is_flag=True, help="Float training only (no integer model is written).")
@click.option("--finetune", is_flag=True, help="Start from the float state in the model's weights file.")
@click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
def train(model, dataset, data_root, epochs, batch_size, lr, seed, float_fraction, no_qat, finetune, device, out):
    """Train MODEL.json with QAT, convert it to the integer model and write OUT/model.json (+ weights).

    Reports float, fake-quant and integer-reference accuracy on the validation split; an interrupted run resumes from
    OUT/train_checkpoint.pt. Data-parallel under ``torchrun --nproc_per_node N -m nash train ...`` (--batch-size is
    the global batch; rank 0 writes the files).
    """
    import torch

    from nash.frontend.core.model_file import load_model, load_weights, save_model, update_sections
    from nash.frontend.data import load_dataset
    from nash.frontend.integer.weights_io import float_state, pack
    from nash.frontend.train import distributed
    from nash.frontend.train.trainer import TrainConfig, check_batch, train_model, train_provenance

    mf = load_model(model)
    splits = load_dataset(dataset, root=data_root, size=mf.architecture["input_size"], seed=seed)
    check_dataset_fits(mf, splits)
    check_batch(batch_size, len(splits.x_train), int(os.environ.get("WORLD_SIZE", "1")))
    torch.manual_seed(seed)
    net = build_net(mf)
    if finetune:
        net.load_state_dict({k: torch.from_numpy(v) for k, v in float_state(load_weights(mf)).items()})
    out.mkdir(parents=True, exist_ok=True)
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, qat=not no_qat,
                      float_fraction=float_fraction, device=device, checkpoint=str(out / "train_checkpoint.pt"))
    ctx = distributed.init_from_env(device)
    if ctx.main:
        click.echo(f"training {mf.name} on {dataset}: {len(splits.x_train)} train / {len(splits.x_val)} val images, "
                   f"{epochs} epochs, {ctx.world} process(es), seed {seed}")
    res = train_model(net, splits, cfg)
    distributed.shutdown(ctx)
    if not ctx.main:
        return
    prov = train_provenance(dataset, seed, res)
    acc = prov["accuracy"]
    # Without QAT only the float state is stored (enough for --finetune; the hardware flow needs the integer model).
    state = {k: v.detach().cpu().numpy() for k, v in net.state_dict().items()}
    arrays = pack(res["integer_model"], state) if cfg.qat else {f"float/{k}": v for k, v in state.items()}
    update_sections(mf, "train", weights=arrays, provenance=prov)
    path = save_model(mf, out / "model.json")
    Path(cfg.checkpoint).unlink(missing_ok=True)
    click.echo(f"accuracy (val): float {acc['float']:.2f}%" + (
        f", fake-quant {acc['fake_quant']:.2f}%, integer reference {acc['integer']:.2f}%" if cfg.qat else ""))
    click.echo(f"wrote {path}")


@click.command()
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
def validate(model):
    """Check MODEL.json (schema, architecture, accelerator section against the network, weights sha256, shapes and
    ranges); print a summary."""
    from nash.frontend.accel.section import validate_section
    from nash.frontend.core.graph import op_counts
    from nash.frontend.core.model_file import load_model
    from nash.frontend.integer.weights_io import load_integer_model

    mf = load_model(model)
    summary = {"name": mf.name, "layers": len(mf.nodes), "ops": op_counts(mf.nodes)}
    if mf.data.get("accelerator"):
        validate_section(mf.data["accelerator"], mf.nodes, mf.path)
        summary["accelerator"] = f"ok ({mf.data['accelerator']['board']})"
    if mf.data.get("weights"):
        load_integer_model(mf)
        summary["weights"] = "ok (sha256 and shapes match)"
    else:
        summary["weights"] = "none"
    click.echo(json.dumps(summary, indent=2))
