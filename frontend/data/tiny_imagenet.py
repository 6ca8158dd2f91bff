"""Tiny-ImageNet reader for the standard extracted folder layout (nothing is downloaded; images decoded with Pillow).

``root`` is ``tiny-imagenet-200`` or a folder containing it::

    wnids.txt                                  # one WordNet id per line: the 200 classes, in label order
    train/<wnid>/images/*.JPEG                 # 500 training images per class
    val/images/*.JPEG
    val/val_annotations.txt                    # tab-separated: file name, wnid, x0, y0, x1, y1

The official validation set is the validation split (its test set has no labels; ``val_fraction`` is not used).
Images are 64x64 RGB (grey images are converted to RGB), scaled to [0, 1]; ``size`` resizes bilinearly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from nash.frontend.data import Splits
from nash.frontend.data.digits import bilinear_resize

SUB = "tiny-imagenet-200"


def _root(root: str | None) -> Path:
    if root is None:
        raise FileNotFoundError("tiny-imagenet: no data folder given; pass --data-root pointing at the extracted "
                                f"'{SUB}' folder (wnids.txt, train/, val/); nothing is downloaded")
    r = Path(root)
    if not (r / "wnids.txt").exists() and (r / SUB / "wnids.txt").exists():
        r = r / SUB
    if not (r / "wnids.txt").exists():
        raise FileNotFoundError(f"missing Tiny-ImageNet class list {r / 'wnids.txt'}")
    return r


def _image(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            a = np.asarray(im.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f"{path}: cannot decode image ({e})") from e
    return a.transpose(2, 0, 1)


def _stack(paths: list[Path], size: int) -> np.ndarray:
    if not paths:
        return np.zeros((0, 3, size, size), np.float32)
    imgs = [_image(p) for p in paths]
    shapes = {i.shape for i in imgs}
    if len(shapes) != 1:
        raise ValueError(f"Tiny-ImageNet images must share one size, got {sorted(shapes)}")
    x = np.stack(imgs).astype(np.float32) / 255.0
    return bilinear_resize(x, size) if x.shape[-1] != size or x.shape[-2] != size else x


def load_tiny_imagenet(root: str | None = None, size: int | None = None, seed: int = 0,
                       val_fraction: float = 0.2) -> Splits:
    """Tiny-ImageNet (200 classes) from the standard folder layout."""
    r = _root(root)
    wnids = [w.strip() for w in (r / "wnids.txt").read_text().splitlines() if w.strip()]
    if not wnids:
        raise ValueError(f"{r / 'wnids.txt'}: expected one WordNet id per line, got an empty file")
    label = {w: i for i, w in enumerate(wnids)}
    tr_paths, tr_y = [], []
    for w in wnids:
        d = r / "train" / w / "images"
        if not d.is_dir():
            raise FileNotFoundError(f"missing Tiny-ImageNet training folder {d}")
        files = sorted(p for p in d.iterdir() if p.suffix.lower() in (".jpeg", ".jpg", ".png"))
        tr_paths += files
        tr_y += [label[w]] * len(files)
    ann = r / "val" / "val_annotations.txt"
    if not ann.exists():
        raise FileNotFoundError(f"missing Tiny-ImageNet validation labels {ann}")
    va_paths, va_y = [], []
    for ln, line in enumerate(ann.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) < 2:
            raise ValueError(f"{ann}:{ln}: expected 'file<TAB>wnid[<TAB>bbox]', got {line!r}")
        if parts[1] not in label:
            raise ValueError(f"{ann}:{ln}: wnid {parts[1]!r} is not in wnids.txt")
        p = r / "val" / "images" / parts[0]
        if not p.exists():
            raise FileNotFoundError(f"missing Tiny-ImageNet validation image {p} (listed in {ann}:{ln})")
        va_paths.append(p)
        va_y.append(label[parts[1]])
    size = size or 64
    return Splits(_stack(tr_paths, size), np.asarray(tr_y, np.int64), _stack(va_paths, size),
                  np.asarray(va_y, np.int64), len(wnids), "tiny-imagenet")
