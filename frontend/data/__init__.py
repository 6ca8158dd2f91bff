"""Dataset readers. Nothing is downloaded: digits ships with scikit-learn, the others read user-provided files."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np

# name -> (module in this package, function(root, size, seed, val_fraction) -> Splits)
READERS = {
    "digits": ("digits", "load_digits"),
    "cifar10": ("cifar", "load_cifar10"),
    "cifar100": ("cifar", "load_cifar100"),
    "tiny-imagenet": ("tiny_imagenet", "load_tiny_imagenet"),
}


@dataclass
class Splits:
    """float32 images [N, C, H, W] scaled to [0, 1] and int64 labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    num_classes: int
    name: str

    @property
    def channels(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def size(self) -> int:
        return int(self.x_train.shape[2])


def load_dataset(name: str, root: str | None = None, size: int | None = None, seed: int = 0,
                 val_fraction: float = 0.2) -> Splits:
    """Load a dataset by name (see READERS). ``root`` is the folder of the user's files (unused for digits)."""
    if name not in READERS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {sorted(READERS)}")
    mod, fn = READERS[name]
    module = importlib.import_module(f"{__name__}.{mod}")
    return getattr(module, fn)(root=root, size=size, seed=seed, val_fraction=val_fraction)
