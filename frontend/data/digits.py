"""The embedded default dataset: scikit-learn's 1797 labelled 8x8 handwritten digits (ships with the package).

Images (0..16) are scaled to [0, 1] and upsampled to ``size`` x ``size`` with bilinear interpolation
(align_corners=False convention); the train/val split is stratified and seeded.
"""

from __future__ import annotations

import numpy as np
from nash.frontend.data import DatasetError, Splits

DEFAULT_SIZE = 16


def bilinear_resize(x: np.ndarray, size: int) -> np.ndarray:
    """[N, C, H, W] -> [N, C, size, size], bilinear, half-pixel centres, edge clamped."""
    n, c, h, w = x.shape

    def coords(src: int):
        pos = (np.arange(size) + 0.5) * src / size - 0.5
        pos = np.clip(pos, 0, src - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, src - 1)
        return lo, hi, (pos - lo).astype(np.float32)

    r0, r1, fr = coords(h)
    c0, c1, fc = coords(w)
    rows = x[:, :, r0, :] * (1 - fr)[:, None] + x[:, :, r1, :] * fr[:, None]
    return (rows[:, :, :, c0] * (1 - fc) + rows[:, :, :, c1] * fc).astype(np.float32)


def stratified_split(y: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, val) with the same class proportions, reproducible from ``seed``."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    rng = np.random.default_rng(seed)
    tr, va = [], []
    for cls in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == cls))
        k = max(1, int(round(len(idx) * val_fraction)))
        va.append(idx[:k])
        tr.append(idx[k:])
    return rng.permutation(np.concatenate(tr)), rng.permutation(np.concatenate(va))


def check_digits(root: str | None = None) -> None:
    """Digits ship with scikit-learn: nothing to check (``root`` is unused)."""


def load_digits(root: str | None = None, size: int | None = None, seed: int = 0, val_fraction: float = 0.2) -> Splits:
    """Digits as 1-channel ``size`` x ``size`` images (default 16), 10 classes."""
    from sklearn.datasets import load_digits as sk_load

    size = size or DEFAULT_SIZE
    if size < 8:
        raise DatasetError(f"digits: images are 8x8, so the model's input_size must be >= 8, got {size}")
    d = sk_load()
    x = (d.images.astype(np.float32) / 16.0)[:, None]
    if size != 8:
        x = bilinear_resize(x, size)
    y = d.target.astype(np.int64)
    tr, va = stratified_split(y, val_fraction, seed)
    return Splits(x[tr], y[tr], x[va], y[va], 10, "digits")
