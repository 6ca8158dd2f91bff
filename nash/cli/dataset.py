"""``nash dataset generate``: procedural 32x32 RGB datasets in the CIFAR-10 python-pickle format."""

from __future__ import annotations

import click

from nash.frontend.data.synthetic import KINDS


@click.group()
def dataset() -> None:
    """Dataset tools (nothing is ever downloaded)."""


@dataset.command()
@click.option("--kind", type=click.Choice(sorted(KINDS)), required=True,
              help="What the label depends on: textures (orientation x frequency), counts (1-10 objects), "
                   "colour-form (shape x warm/cool colour). 10 balanced classes each.")
@click.option("--seed", type=int, default=0, show_default=True, help="Fixes every draw: same seed, same bytes.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Folder that receives cifar-10-batches-py/ (pass it to --data-root with --dataset cifar10).")
@click.option("--train", type=click.IntRange(min=5), default=5000, show_default=True,
              help="Training images (split over data_batch_1..5).")
@click.option("--test", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Test images (test_batch; the validation split of the CIFAR reader).")
@click.option("--difficulty", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Multiplies the pixel-noise sigma (same images otherwise; 1 gives the bytes of earlier versions). "
                   "Larger values spread networks' accuracies on easy kinds (docs/datasets.md).")
@click.option("--force", is_flag=True, help="Replace an existing cifar-10-batches-py folder.")
def generate(kind: str, seed: int, out_dir: str, train: int, test: int, difficulty: float, force: bool) -> None:
    """Write a procedural dataset as OUT/cifar-10-batches-py (CIFAR-10 python-pickle layout).

    Read it with ``--dataset cifar10 --data-root OUT`` in every command; images are 32x32 RGB and are resized to a
    search space's input size like real CIFAR files."""
    from nash.frontend.data.synthetic import write_dataset

    folder = write_dataset(out_dir, kind, seed, train=train, test=test, force=force, difficulty=difficulty)
    hard = f", difficulty {difficulty:g}" if difficulty != 1.0 else ""
    click.echo(f"{kind} (seed {seed}{hard}): {train} train + {test} test images, 10 classes -> {folder}")
