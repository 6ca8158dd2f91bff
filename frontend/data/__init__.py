"""Dataset readers. Nothing is downloaded: digits ships with scikit-learn, the others read user-provided files."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from nash.frontend.core.errors import UserInputError

# name -> (module in this package, function(root, size, seed, val_fraction) -> Splits, function(root) -> None that
# checks the files without decoding every image)
READERS = {
    "digits": ("digits", "load_digits", "check_digits"),
    "cifar10": ("cifar", "load_cifar10", "check_cifar10"),
    "cifar100": ("cifar", "load_cifar100", "check_cifar100"),
    "tiny-imagenet": ("tiny_imagenet", "load_tiny_imagenet", "check_tiny_imagenet"),
}


class DatasetError(UserInputError):
    """A missing or malformed dataset folder or file; the message names the path and the expected layout (exit 2)."""


def data_folder(name: str, root: str | None, expected: str) -> Path:
    """``root`` as an existing folder, or :class:`DatasetError` naming it and ``expected`` (the layout to pass)."""
    if root is None:
        raise DatasetError(f"{name}: no data folder given; pass --data-root pointing at {expected}; nothing is "
                           "downloaded")
    r = Path(root)
    if not r.is_dir():
        what = "is not a folder" if r.exists() else "does not exist"
        raise DatasetError(f"{name}: data folder {r} {what}; expected {expected}")
    return r


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

    def architecture_mismatch(self, arch: dict) -> tuple[str, object, int] | None:
        """The first of the architecture's input_channels / input_size / num_classes that differs from this dataset,
        as (field, the architecture's value, the dataset's), or None when the architecture fits."""
        for fld, want in (("input_channels", self.channels), ("input_size", self.size),
                          ("num_classes", self.num_classes)):
            if arch.get(fld) != want:
                return fld, arch.get(fld), want
        return None


def _reader(name: str, which: int):
    if name not in READERS:
        raise DatasetError(f"unknown dataset {name!r}; expected one of {sorted(READERS)}")
    module = importlib.import_module(f"{__name__}.{READERS[name][0]}")
    return getattr(module, READERS[name][which])


def load_dataset(name: str, root: str | None = None, size: int | None = None, seed: int = 0,
                 val_fraction: float = 0.2) -> Splits:
    """Load a dataset by name (see READERS). ``root`` is the folder of the user's files (unused for digits).

    Raises :class:`DatasetError` for a missing or malformed folder or file."""
    return _reader(name, 1)(root=root, size=size, seed=seed, val_fraction=val_fraction)


def check_dataset(name: str, root: str | None = None) -> None:
    """Raise :class:`DatasetError` unless ``root`` holds the dataset's files in the expected layout.

    Cheaper than :func:`load_dataset` (images are listed, not decoded): commands call it before they write anything
    or start worker processes, so a bad ``--data-root`` ends in one line instead of a failure in a worker."""
    _reader(name, 2)(root)
