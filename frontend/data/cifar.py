"""CIFAR-10 / CIFAR-100 readers for the standard python-pickle batch files (nothing is downloaded).

``root`` is the extracted ``cifar-10-batches-py`` folder (files ``data_batch_1`` .. ``data_batch_5``, ``test_batch``)
or ``cifar-100-python`` (files ``train``, ``test``), or a folder that contains one of them. Each file is a pickled
dict with ``b"data"`` (uint8 [N, 3072], channel-major 3x32x32) and ``b"labels"`` (CIFAR-10) or ``b"fine_labels"``
(CIFAR-100). The official test batch is the validation split (``val_fraction`` is not used: the benchmarks' split is
kept); images are scaled to [0, 1] and resized bilinearly when ``size`` differs from 32.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
from nash.frontend.data import DatasetError, Splits, data_folder
from nash.frontend.data.digits import bilinear_resize

_LAYOUT = {
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], "test_batch", b"labels", 10),
    "cifar100": ("cifar-100-python", ["train"], "test", b"fine_labels", 100),
}


def _expected(name: str) -> str:
    sub, train_files, test_file, _, _ = _LAYOUT[name]
    return f"the extracted '{sub}' folder (files {', '.join(train_files)}, {test_file}) or a folder that contains it"


def _folder(name: str, root: str | None) -> Path:
    sub, train_files, test_file, _, _ = _LAYOUT[name]
    r = data_folder(name, root, _expected(name))
    for cand in (r, r / sub):
        if (cand / test_file).exists() or (cand / train_files[0]).exists():
            return cand
    raise DatasetError(f"{name}: {r} holds no CIFAR batch files; expected {_expected(name)}")


def _read_batch(name: str, path: Path, label_key: bytes, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """One batch file as uint8 images [N, 3, 32, 32] and int64 labels in [0, classes)."""
    if not path.is_file():
        raise DatasetError(f"{name}: missing CIFAR batch file {path}; expected {_expected(name)}")
    try:
        with open(path, "rb") as f:
            d = pickle.load(f, encoding="bytes")
    except Exception as e:  # unpickling a truncated or foreign file can raise almost anything
        raise DatasetError(f"{path}: not a CIFAR python-pickle batch ({type(e).__name__}: {e})") from None
    if not isinstance(d, dict) or b"data" not in d or label_key not in d:
        keys = sorted(map(repr, d)) if isinstance(d, dict) else type(d).__name__
        raise DatasetError(f"{path}: expected a dict with keys b'data' and {label_key!r}, got {keys}")
    data, labels = np.asarray(d[b"data"]), np.asarray(d[label_key])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DatasetError(f"{path}: field b'data': expected uint8 [N, 3072] (N images of 3x32x32), got "
                           f"{data.dtype} {list(data.shape)}")
    if labels.ndim != 1 or len(labels) != len(data) or (len(labels) and labels.dtype.kind not in "iu"):
        raise DatasetError(f"{path}: field {label_key!r}: expected {len(data)} integer labels (one per image), got "
                           f"{labels.dtype} {list(labels.shape)}")
    labels = labels.astype(np.int64)
    if len(labels) and (labels.min() < 0 or labels.max() >= classes):
        raise DatasetError(f"{path}: field {label_key!r}: labels must be in [0, {classes - 1}], got "
                           f"{labels.min()}..{labels.max()}")
    return data.reshape(-1, 3, 32, 32), labels


def _read_all(name: str, root: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train images, train labels, test images, test labels), every file checked."""
    _, train_files, test_file, label_key, classes = _LAYOUT[name]
    folder = _folder(name, root)
    parts = [_read_batch(name, folder / f, label_key, classes) for f in [*train_files, test_file]]
    x_tr = np.concatenate([p[0] for p in parts[:-1]])
    y_tr = np.concatenate([p[1] for p in parts[:-1]])
    return x_tr, y_tr, parts[-1][0], parts[-1][1]


def _load(name: str, root: str | None, size: int | None) -> Splits:
    classes = _LAYOUT[name][4]
    x_tr, y_tr, x_te, y_te = _read_all(name, root)
    size = size or 32
    xs = []
    for x in (x_tr, x_te):
        x = x.astype(np.float32) / 255.0
        xs.append(bilinear_resize(x, size) if size != 32 else x)
    return Splits(xs[0], y_tr, xs[1], y_te, classes, name)


def check_cifar10(root: str | None) -> None:
    """Raise :class:`DatasetError` unless ``root`` holds readable CIFAR-10 batches (reading them is cheap)."""
    _read_all("cifar10", root)


def check_cifar100(root: str | None) -> None:
    """Raise :class:`DatasetError` unless ``root`` holds readable CIFAR-100 files."""
    _read_all("cifar100", root)


def load_cifar10(root: str | None = None, size: int | None = None, seed: int = 0, val_fraction: float = 0.2) -> Splits:
    """CIFAR-10 from its python-pickle batches; validation = the official test batch."""
    return _load("cifar10", root, size)


def load_cifar100(root: str | None = None, size: int | None = None, seed: int = 0,
                  val_fraction: float = 0.2) -> Splits:
    """CIFAR-100 (fine labels) from its python-pickle files; validation = the official test file."""
    return _load("cifar100", root, size)
