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
from nash.frontend.data import DatasetError, Splits, data_folder
from nash.frontend.data.digits import bilinear_resize

SUB = "tiny-imagenet-200"


EXPECTED = f"the extracted '{SUB}' folder (wnids.txt, train/<wnid>/images/, val/) or a folder that contains it"


def _root(root: str | None) -> Path:
    r = data_folder("tiny-imagenet", root, EXPECTED)
    if not (r / "wnids.txt").exists() and (r / SUB / "wnids.txt").exists():
        r = r / SUB
    if not (r / "wnids.txt").is_file():
        raise DatasetError(f"tiny-imagenet: missing class list {r / 'wnids.txt'}; expected {EXPECTED}")
    return r


def _text(path: Path) -> str:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"{path}: cannot read it as text ({type(e).__name__}: {e})") from None


def _image(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            a = np.asarray(im.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise DatasetError(f"{path}: cannot decode image ({e})") from None
    return a.transpose(2, 0, 1)


def _stack(paths: list[Path], size: int) -> np.ndarray:
    if not paths:
        return np.zeros((0, 3, size, size), np.float32)
    imgs = [_image(p) for p in paths]
    shapes = {i.shape for i in imgs}
    if len(shapes) != 1:
        raise DatasetError(f"tiny-imagenet: images must share one size, got {sorted(shapes)} (e.g. {paths[0]})")
    x = np.stack(imgs).astype(np.float32) / 255.0
    return bilinear_resize(x, size) if x.shape[-1] != size or x.shape[-2] != size else x


def _index(root: str | None) -> tuple[list[str], list[Path], list[int], list[Path], list[int]]:
    """(wnids, train image paths, their labels, validation image paths, their labels), every listed file present."""
    r = _root(root)
    wnids = [w.strip() for w in _text(r / "wnids.txt").splitlines() if w.strip()]
    if not wnids:
        raise DatasetError(f"{r / 'wnids.txt'}: expected one WordNet id per line, got an empty file")
    if len(set(wnids)) != len(wnids):
        dup = sorted({w for w in wnids if wnids.count(w) > 1})
        raise DatasetError(f"{r / 'wnids.txt'}: WordNet ids must be unique, {dup} repeat")
    label = {w: i for i, w in enumerate(wnids)}
    tr_paths, tr_y = [], []
    for w in wnids:
        d = r / "train" / w / "images"
        if not d.is_dir():
            raise DatasetError(f"tiny-imagenet: missing training folder {d} (class {w} of wnids.txt); expected "
                               f"{EXPECTED}")
        files = sorted(p for p in d.iterdir() if p.suffix.lower() in (".jpeg", ".jpg", ".png"))
        tr_paths += files
        tr_y += [label[w]] * len(files)
    ann = r / "val" / "val_annotations.txt"
    if not ann.is_file():
        raise DatasetError(f"tiny-imagenet: missing validation labels {ann}; expected {EXPECTED}")
    va_paths, va_y = [], []
    for ln, line in enumerate(_text(ann).splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) < 2:
            raise DatasetError(f"{ann}:{ln}: expected 'file<TAB>wnid[<TAB>bbox]', got {line!r}")
        if parts[1] not in label:
            raise DatasetError(f"{ann}:{ln}: wnid {parts[1]!r} is not in wnids.txt")
        p = r / "val" / "images" / parts[0]
        if not p.is_file():
            raise DatasetError(f"tiny-imagenet: missing validation image {p} (listed in {ann}:{ln})")
        va_paths.append(p)
        va_y.append(label[parts[1]])
    return wnids, tr_paths, tr_y, va_paths, va_y


def check_tiny_imagenet(root: str | None) -> None:
    """Raise :class:`DatasetError` unless ``root`` holds the Tiny-ImageNet layout (files listed, not decoded)."""
    _index(root)


def load_tiny_imagenet(root: str | None = None, size: int | None = None, seed: int = 0,
                       val_fraction: float = 0.2) -> Splits:
    """Tiny-ImageNet (200 classes) from the standard folder layout."""
    wnids, tr_paths, tr_y, va_paths, va_y = _index(root)
    size = size or 64
    return Splits(_stack(tr_paths, size), np.asarray(tr_y, np.int64), _stack(va_paths, size),
                  np.asarray(va_y, np.int64), len(wnids), "tiny-imagenet")
