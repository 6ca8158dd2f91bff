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
from nash.frontend.data import Splits
from nash.frontend.data.digits import bilinear_resize

_LAYOUT = {
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], "test_batch", b"labels", 10),
    "cifar100": ("cifar-100-python", ["train"], "test", b"fine_labels", 100),
}


def _folder(name: str, root: str | None) -> Path:
    sub, train_files, test_file, _, _ = _LAYOUT[name]
    if root is None:
        raise FileNotFoundError(f"{name}: no data folder given; pass --data-root pointing at the extracted '{sub}' "
                                f"folder (files {', '.join(train_files)}, {test_file}); nothing is downloaded")
    r = Path(root)
    for cand in (r, r / sub):
        if (cand / test_file).exists() or (cand / train_files[0]).exists():
            return cand
    return r


def _read_batch(path: Path, label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    if not path.exists():
        raise FileNotFoundError(f"missing CIFAR batch file {path}")
    try:
        with open(path, "rb") as f:
            d = pickle.load(f, encoding="bytes")
    except (pickle.UnpicklingError, EOFError, ValueError) as e:
        raise ValueError(f"{path}: not a CIFAR python-pickle batch ({e})") from e
    if not isinstance(d, dict) or b"data" not in d or label_key not in d:
        keys = sorted(d) if isinstance(d, dict) else type(d).__name__
        raise ValueError(f"{path}: expected a dict with keys b'data' and {label_key!r}, got {keys}")
    data = np.asarray(d[b"data"], dtype=np.uint8)
    labels = np.asarray(d[label_key], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise ValueError(f"{path}: field 'data': expected uint8 [N, 3072] with N labels, got {data.shape} and "
                         f"{len(labels)} labels")
    return data.reshape(-1, 3, 32, 32), labels


def _load(name: str, root: str | None, size: int | None) -> Splits:
    _, train_files, test_file, label_key, classes = _LAYOUT[name]
    folder = _folder(name, root)
    parts = [_read_batch(folder / f, label_key) for f in train_files]
    x_tr = np.concatenate([p[0] for p in parts])
    y_tr = np.concatenate([p[1] for p in parts])
    x_te, y_te = _read_batch(folder / test_file, label_key)
    for y, f in ((y_tr, train_files[0]), (y_te, test_file)):
        if len(y) and (y.min() < 0 or y.max() >= classes):
            raise ValueError(f"{folder / f}: labels must be in [0, {classes - 1}], got {y.min()}..{y.max()}")
    size = size or 32
    xs = []
    for x in (x_tr, x_te):
        x = x.astype(np.float32) / 255.0
        xs.append(bilinear_resize(x, size) if size != 32 else x)
    return Splits(xs[0], y_tr, xs[1], y_te, classes, name)


def load_cifar10(root: str | None = None, size: int | None = None, seed: int = 0, val_fraction: float = 0.2) -> Splits:
    """CIFAR-10 from its python-pickle batches; validation = the official test batch."""
    return _load("cifar10", root, size)


def load_cifar100(root: str | None = None, size: int | None = None, seed: int = 0,
                  val_fraction: float = 0.2) -> Splits:
    """CIFAR-100 (fine labels) from its python-pickle files; validation = the official test file."""
    return _load("cifar100", root, size)
