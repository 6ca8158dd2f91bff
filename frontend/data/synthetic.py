"""Procedurally generated 32x32 RGB image datasets, written in the CIFAR-10 python-pickle format.

They give the benchmarks datasets with known, different structure besides digits, without a download, and the same
reader (``--dataset cifar10 --data-root DIR``) serves them and a user's real CIFAR files. Every kind has 10 balanced
classes; a seed fixes every draw (same seed, same bytes).

Kinds (what the label depends on, and what is random nuisance):

- ``textures``: an oriented sinusoidal grating; label = orientation (5 directions, 36 degrees apart) x spatial
  frequency band (2); nuisance: phase, the two colours, contrast, a random occluding disc, pixel noise.
- ``counts``: label = the number of objects (1..10), small discs and squares placed without touching; nuisance:
  object colour, size and shape, background colour and gradient, pixel noise.
- ``colour-form``: one large object; label = shape (disc, square, triangle, cross, ring) x colour family (warm or
  cool hue); nuisance: size, position, exact hue and brightness, grey distractor blobs, background, pixel noise.
"""

from __future__ import annotations

import math
import os
import pickle
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from nash.frontend.core.errors import UserInputError

SIZE = 32
CLASSES = 10
FOLDER = "cifar-10-batches-py"  # the layout the CIFAR-10 reader expects (nash.frontend.data.cifar)
TRAIN_BATCHES = 5

_YY, _XX = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64) + 0.5


def _noise(img: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    return img + rng.normal(0.0, sigma, img.shape)


def _paint(img: np.ndarray, mask: np.ndarray, colour: np.ndarray) -> None:
    img[:, mask] = colour[:, None]


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    """One HSV colour (h in [0, 1)) as RGB in [0, 1]."""
    i = int(h * 6.0) % 6
    f = h * 6.0 - int(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    return np.array([(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i])


def _textures(label: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    orient, band = divmod(label, 2)
    theta = orient * np.pi / 5 + rng.uniform(-np.pi / 40, np.pi / 40)
    cycles = rng.uniform(2.0, 3.5) if band == 0 else rng.uniform(5.0, 7.0)  # cycles across the image
    phase = rng.uniform(0, 2 * np.pi)
    g = np.sin(2 * np.pi * cycles * (_XX * np.cos(theta) + _YY * np.sin(theta)) / SIZE + phase)
    c1, c2 = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
    while np.abs(c1 - c2).max() < 0.3:  # a visible grating
        c2 = rng.uniform(0, 1, 3)
    contrast = rng.uniform(0.5, 1.0)
    img = c1[:, None, None] + (c2 - c1)[:, None, None] * (0.5 + 0.5 * contrast * g)[None]
    if rng.random() < 0.5:  # an occluder hides part of the texture
        cy, cx, r = rng.uniform(4, 28), rng.uniform(4, 28), rng.uniform(3, 7)
        _paint(img, (_YY - cy) ** 2 + (_XX - cx) ** 2 < r * r, rng.uniform(0, 1, 3))
    return img, 0.06


def _counts(label: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    n = label + 1
    bg = rng.uniform(0, 1, 3)
    ramp = rng.uniform(-0.2, 0.2) * (_XX - SIZE / 2) / SIZE + rng.uniform(-0.2, 0.2) * (_YY - SIZE / 2) / SIZE
    img = bg[:, None, None] + ramp[None]
    placed: list[tuple[float, float, float]] = []
    while len(placed) < n:  # rejection sampling with restarts: objects never touch, so the count is unambiguous
        for _ in range(200):
            r = rng.uniform(1.5, 2.8)
            cy, cx = rng.uniform(r + 1, SIZE - r - 1, 2)
            if all((cy - y) ** 2 + (cx - x) ** 2 > (r + q + 1.5) ** 2 for y, x, q in placed):
                placed.append((cy, cx, r))
                break
        else:
            placed.clear()
    for cy, cx, r in placed:
        colour = rng.uniform(0, 1, 3)
        while np.abs(colour - bg).max() < 0.35:  # visible against the background
            colour = rng.uniform(0, 1, 3)
        if rng.random() < 0.5:
            mask = (_YY - cy) ** 2 + (_XX - cx) ** 2 < r * r
        else:
            mask = (np.abs(_YY - cy) < r * 0.9) & (np.abs(_XX - cx) < r * 0.9)
        _paint(img, mask, colour)
    return img, 0.04


def _shape_mask(shape: int, cy: float, cx: float, r: float) -> np.ndarray:
    dy, dx = _YY - cy, _XX - cx
    dist = np.sqrt(dy * dy + dx * dx)
    if shape == 0:  # disc
        return dist < r
    if shape == 1:  # square
        return (np.abs(dy) < r * 0.8) & (np.abs(dx) < r * 0.8)
    if shape == 2:  # upward triangle
        return (dy < r * 0.6) & (dy > -r) & (np.abs(dx) < (dy + r) * 0.6)
    if shape == 3:  # cross
        inside = (np.abs(dy) < r) & (np.abs(dx) < r)
        return inside & ((np.abs(dy) < r * 0.3) | (np.abs(dx) < r * 0.3))
    return (dist < r) & (dist > r * 0.55)  # ring


def _colour_form(label: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    shape, family = divmod(label, 2)
    img = np.full((3, SIZE, SIZE), rng.uniform(0.2, 0.8)) + rng.uniform(-0.08, 0.08, (3, 1, 1))  # greyish
    for _ in range(2):  # low-saturation distractors
        cy, cx, r = rng.uniform(3, 29), rng.uniform(3, 29), rng.uniform(2, 4)
        _paint(img, (_YY - cy) ** 2 + (_XX - cx) ** 2 < r * r, np.full(3, rng.uniform(0, 1)))
    hue = rng.uniform(0.0, 1 / 6) if family == 0 else rng.uniform(0.5, 0.72)  # warm: red-yellow, cool: cyan-blue
    colour = _hsv(hue, rng.uniform(0.6, 1.0), rng.uniform(0.6, 1.0))
    r = rng.uniform(6, 11)
    cy, cx = rng.uniform(r, SIZE - r, 2)
    _paint(img, _shape_mask(shape, cy, cx, r), colour)
    return img, 0.05


# Each kind draws one clean image and returns it with its pixel-noise sigma; the noise is drawn last, by ``generate``.
KINDS: dict[str, Callable[[int, np.random.Generator], tuple[np.ndarray, float]]] = {
    "textures": _textures, "counts": _counts, "colour-form": _colour_form,
}
LABEL_NAMES = {
    "textures": [f"orient{o * 36}_{'low' if b == 0 else 'high'}" for o in range(5) for b in range(2)],
    "counts": [f"{n}_objects" for n in range(1, 11)],
    "colour-form": [f"{s}_{f}" for s in ("disc", "square", "triangle", "cross", "ring") for f in ("warm", "cool")],
}


def generate(kind: str, n: int, seed: int, difficulty: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images of ``kind`` as uint8 [n, 3, 32, 32] and int64 labels, classes balanced (round robin, shuffled).

    ``difficulty`` multiplies the kind's pixel-noise sigma. The random draws stay the same, so difficulty 1 gives the
    bytes of earlier versions and another difficulty changes only the noise amplitude of the same images."""
    if kind not in KINDS:
        raise UserInputError(f"option '--kind': unknown dataset kind {kind!r}; expected one of {sorted(KINDS)}")
    if not (math.isfinite(difficulty) and difficulty >= 0):
        raise UserInputError(f"option '--difficulty': expected a finite number >= 0, got {difficulty}")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % CLASSES)
    draw = KINDS[kind]

    def one(y: int) -> np.ndarray:
        img, sigma = draw(y, rng)
        return _noise(img, rng, sigma * difficulty)

    images = np.stack([one(int(y)) for y in labels]) if n else np.zeros((0, 3, SIZE, SIZE))
    return np.clip(np.rint(images * 255.0), 0, 255).astype(np.uint8), labels.astype(np.int64)


def _batch(images: np.ndarray, labels: np.ndarray, name: str) -> dict:
    return {b"batch_label": name.encode(), b"labels": [int(y) for y in labels],
            b"data": images.reshape(len(images), -1),
            b"filenames": [f"{name.replace(' ', '_')}_{i:05d}.png".encode() for i in range(len(images))]}


def write_dataset(out: str | os.PathLike, kind: str, seed: int, train: int = 5000, test: int = 1000,
                  force: bool = False, difficulty: float = 1.0) -> Path:
    """Generate ``kind`` and write ``out/cifar-10-batches-py/`` (``data_batch_1..5``, ``test_batch``,
    ``batches.meta``); returns that folder. The folder appears complete or not at all (written beside, renamed).

    Train and test images come from independent streams of one seed, so ``test`` does not change the train set."""
    if train < TRAIN_BATCHES or test < 1:
        raise UserInputError(f"options '--train'/'--test': need train >= {TRAIN_BATCHES} (one image per batch file) "
                             f"and test >= 1, got {train} and {test}")
    target = Path(out) / FOLDER
    if target.exists() and not force:
        raise UserInputError(f"{target} exists; pass --force to replace it")
    ss = np.random.SeedSequence(seed)
    s_train, s_test = (int(s.generate_state(1)[0]) for s in ss.spawn(2))
    x_tr, y_tr = generate(kind, train, s_train, difficulty)
    x_te, y_te = generate(kind, test, s_test, difficulty)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{FOLDER}.", dir=target.parent))
    try:
        bounds = np.linspace(0, train, TRAIN_BATCHES + 1).astype(int)
        files = {f"data_batch_{i + 1}": _batch(x_tr[a:b], y_tr[a:b], f"training batch {i + 1} of {TRAIN_BATCHES}")
                 for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))}
        files["test_batch"] = _batch(x_te, y_te, "testing batch 1 of 1")
        files["batches.meta"] = {b"label_names": [s.encode() for s in LABEL_NAMES[kind]],
                                 b"num_cases_per_batch": int(bounds[1] - bounds[0]), b"num_vis": 3 * SIZE * SIZE,
                                 b"nash_kind": kind.encode(), b"nash_seed": int(seed),
                                 **({b"nash_difficulty": float(difficulty)} if difficulty != 1.0 else {})}
        for name, d in files.items():
            with open(tmp / name, "wb") as f:
                pickle.dump(d, f, protocol=2)  # the protocol of the published CIFAR files
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
