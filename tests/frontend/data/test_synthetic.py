"""The procedural datasets: CIFAR-10 pickle layout read by the project's reader, determinism, balance, errors."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from click.testing import CliRunner
from nash.frontend.core.errors import UserInputError
from nash.frontend.data import load_dataset
from nash.frontend.data.synthetic import FOLDER, KINDS, _shape_mask, generate, write_dataset

from nash.cli import main


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_written_files_are_cifar10_batches_the_reader_loads(tmp_path, kind):
    folder = write_dataset(tmp_path, kind, seed=5, train=50, test=20)
    assert folder == tmp_path / FOLDER
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"])
    with open(folder / "data_batch_1", "rb") as f:
        d = pickle.load(f, encoding="bytes")
    assert d[b"data"].dtype == np.uint8 and d[b"data"].shape == (10, 3072)
    assert isinstance(d[b"labels"], list)  # as in the published files
    s = load_dataset("cifar10", str(tmp_path), size=32)
    assert s.x_train.shape == (50, 3, 32, 32) and s.x_val.shape == (20, 3, 32, 32) and s.num_classes == 10
    assert np.bincount(s.y_train, minlength=10).tolist() == [5] * 10  # balanced
    # the reader's channel-major decoding gives back the generated images
    x, _ = generate(kind, 50, np.random.SeedSequence(5).spawn(2)[0].generate_state(1)[0])
    assert np.array_equal(np.rint(s.x_train * 255).astype(np.uint8), x)


def test_same_seed_same_bytes_other_seed_other_images(tmp_path):
    a = write_dataset(tmp_path / "a", "textures", seed=1, train=20, test=10)
    b = write_dataset(tmp_path / "b", "textures", seed=1, train=20, test=10)
    c = write_dataset(tmp_path / "c", "textures", seed=2, train=20, test=10)
    assert (a / "data_batch_3").read_bytes() == (b / "data_batch_3").read_bytes()
    assert (a / "data_batch_3").read_bytes() != (c / "data_batch_3").read_bytes()


def test_the_test_size_does_not_change_the_training_images(tmp_path):
    a = write_dataset(tmp_path / "a", "counts", seed=4, train=20, test=5)
    b = write_dataset(tmp_path / "b", "counts", seed=4, train=20, test=30)
    assert (a / "data_batch_1").read_bytes() == (b / "data_batch_1").read_bytes()


def test_shape_masks_by_hand():
    """Hand-checked pixels of the colour-form shapes centred at (16, 16) with radius 8 (pixel centres at +0.5)."""
    disc, square, tri, cross, ring = (_shape_mask(s, 16.0, 16.0, 8.0) for s in range(5))
    c = (15, 15)  # pixel centre (15.5, 15.5): inside every filled shape, inside the ring's hole
    assert disc[c] and square[c] and tri[c] and cross[c] and not ring[c]
    assert ring[15, 21]  # 5.5 px from the centre: between 0.55 r = 4.4 and r = 8
    # radius 10: pixel (8, 8) has its centre 7.5 px from the centre in y and x, 10.6 px away: outside the disc,
    # inside the square's 0.8 r = 8 half-side
    assert not _shape_mask(0, 16.0, 16.0, 10.0)[8, 8] and _shape_mask(1, 16.0, 16.0, 10.0)[8, 8]
    assert not cross[10, 10] and cross[10, 15]  # off the arms / on the vertical arm
    # upward triangle, rows with dy in (-r, 0.6 r) and |dx| < 0.6 (dy + r): (9, 9) has dy = dx = -6.5 (half-width
    # 0.9), (20, 9) has dy = 4.5, dx = -6.5 (half-width 7.5)
    assert not tri[9, 9] and tri[20, 9]


def test_counts_label_is_the_number_of_objects(monkeypatch):
    """The painted objects of a ``counts`` image never touch: their union has exactly label + 1 4-connected regions."""
    from nash.frontend.data import synthetic

    masks: list[np.ndarray] = []
    paint = synthetic._paint
    monkeypatch.setattr(synthetic, "_paint", lambda img, m, c: (masks.append(m), paint(img, m, c)))
    rng = np.random.default_rng(0)
    for label in range(10):
        masks.clear()
        synthetic._counts(label, rng)
        assert len(masks) == label + 1 and _components(np.logical_or.reduce(masks)) == label + 1, label


def _components(mask: np.ndarray) -> int:
    seen = np.zeros_like(mask)
    n = 0
    for y, x in zip(*np.nonzero(mask), strict=True):
        if seen[y, x]:
            continue
        n += 1
        stack = [(y, x)]
        seen[y, x] = True
        while stack:
            cy, cx = stack.pop()
            for ny, nx in ((cy + 1, cx), (cy - 1, cx), (cy, cx + 1), (cy, cx - 1)):
                if 0 <= ny < mask.shape[0] and 0 <= nx < mask.shape[1] and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
    return n


def test_existing_folder_needs_force_and_bad_kind_is_one_line(tmp_path):
    write_dataset(tmp_path, "counts", seed=0, train=10, test=2)
    with pytest.raises(UserInputError, match="exists; pass --force"):
        write_dataset(tmp_path, "counts", seed=0, train=10, test=2)
    write_dataset(tmp_path, "counts", seed=1, train=10, test=2, force=True)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folder left behind
    r = CliRunner().invoke(main, ["dataset", "generate", "--kind", "stripes", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "--kind" in r.output and len(r.output.strip().splitlines()) == 1
    r = CliRunner().invoke(main, ["dataset", "generate", "--kind", "counts", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "--force" in r.output
    assert not (tmp_path / "x").exists()


# sha256 (first 16 hex digits) of generate(kind, 30, 3)'s images and labels, computed with the generator as it was
# before the difficulty knob existed (commit f69005b): the default must keep regenerating old files identically
_BEFORE_DIFFICULTY = {"textures": "f90f7f1215aeba2a", "counts": "6ba25729717c638f", "colour-form": "b7158967d95662ee"}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_default_difficulty_gives_the_bytes_of_earlier_versions(kind):
    import hashlib

    x, y = generate(kind, 30, 3)
    assert hashlib.sha256(x.tobytes() + y.tobytes()).hexdigest()[:16] == _BEFORE_DIFFICULTY[kind]


@pytest.mark.parametrize("kind, sigma", [("textures", 0.06), ("counts", 0.04), ("colour-form", 0.05)])
def test_difficulty_scales_only_the_pixel_noise(kind, sigma):
    """The same draws at difficulty 3: the images differ from difficulty 1 by twice the noise, sigma (D - 1)."""
    x1, y1 = generate(kind, 40, 9)
    x3, y3 = generate(kind, 40, 9, difficulty=3.0)
    assert np.array_equal(y1, y3)
    inside = (x1 > 0) & (x1 < 255) & (x3 > 0) & (x3 < 255)  # neither clipped
    diff = (x3.astype(np.float64) - x1)[inside] / 255.0
    assert abs(diff.mean()) < 0.01 and diff.std() == pytest.approx(2 * sigma, rel=0.1)
    x0, _ = generate(kind, 40, 9, difficulty=0.0)  # no noise: the clean images, still valid
    assert x0.dtype == np.uint8 and not np.array_equal(x0, x1)


def test_bad_difficulty_is_one_line_and_writes_nothing(tmp_path):
    with pytest.raises(UserInputError, match="--difficulty"):
        generate("textures", 10, 0, difficulty=float("nan"))
    r = CliRunner().invoke(main, ["dataset", "generate", "--kind", "textures", "--difficulty", "-1",
                                  "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "--difficulty" in r.output and not (tmp_path / "x").exists()
    r = CliRunner().invoke(main, ["dataset", "generate", "--kind", "textures", "--difficulty", "2", "--train", "10",
                                  "--test", "2", "--out", str(tmp_path / "y")])
    assert r.exit_code == 0 and "difficulty 2" in r.output
    with open(tmp_path / "y" / FOLDER / "batches.meta", "rb") as f:
        assert pickle.load(f, encoding="bytes")[b"nash_difficulty"] == 2.0
