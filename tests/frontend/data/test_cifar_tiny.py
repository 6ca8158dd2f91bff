"""CIFAR-10/100 and Tiny-ImageNet readers on small files generated in the real formats (no downloads)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from nash.frontend.data import DatasetError, load_dataset


def _write_batch(path, data, labels, key):
    with open(path, "wb") as f:
        pickle.dump({b"batch_label": b"x", key: list(map(int, labels)), b"data": data}, f)


def _images(rng, n):
    return rng.integers(0, 256, (n, 3072), dtype=np.uint8)


def test_cifar10_batches(tmp_path):
    rng = np.random.default_rng(0)
    d = tmp_path / "cifar-10-batches-py"
    d.mkdir()
    parts = []
    for i in range(1, 6):
        x, y = _images(rng, 4), rng.integers(0, 10, 4)
        _write_batch(d / f"data_batch_{i}", x, y, b"labels")
        parts.append((x, y))
    xt, yt = _images(rng, 3), np.array([0, 9, 5])
    _write_batch(d / "test_batch", xt, yt, b"labels")
    s = load_dataset("cifar10", root=str(tmp_path))  # the parent folder works too
    assert s.x_train.shape == (20, 3, 32, 32) and s.x_val.shape == (3, 3, 32, 32)
    assert s.x_train.dtype == np.float32 and s.num_classes == 10 and s.channels == 3 and s.size == 32
    # channel-major layout: pixel (c, r, col) is data[c*1024 + r*32 + col] / 255
    x0 = parts[0][0][1]
    assert s.x_train[1, 2, 3, 4] == pytest.approx(x0[2 * 1024 + 3 * 32 + 4] / 255.0)
    assert s.y_train.tolist() == np.concatenate([p[1] for p in parts]).tolist()
    assert s.y_val.tolist() == [0, 9, 5]
    small = load_dataset("cifar10", root=str(d), size=16)
    assert small.x_train.shape == (20, 3, 16, 16)


def test_cifar100_fine_labels_and_errors(tmp_path):
    rng = np.random.default_rng(1)
    d = tmp_path / "cifar-100-python"
    d.mkdir()
    _write_batch(d / "train", _images(rng, 5), [0, 99, 3, 4, 50], b"fine_labels")
    with pytest.raises(DatasetError, match="test"):
        load_dataset("cifar100", root=str(d))
    _write_batch(d / "test", _images(rng, 2), [7, 8], b"fine_labels")
    s = load_dataset("cifar100", root=str(d))
    assert s.num_classes == 100 and s.y_train.tolist() == [0, 99, 3, 4, 50]
    _write_batch(d / "test", _images(rng, 2), [7, 8], b"labels")  # wrong key for CIFAR-100
    with pytest.raises(DatasetError, match="fine_labels"):
        load_dataset("cifar100", root=str(d))
    with pytest.raises(DatasetError, match="data_batch_1"):
        load_dataset("cifar10", root=str(tmp_path / "nowhere"))
    with pytest.raises(DatasetError, match="--data-root"):
        load_dataset("cifar10")


def test_tiny_imagenet_layout(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(2)
    r = tmp_path / "tiny-imagenet-200"
    wnids = ["n01443537", "n01629819", "n01641577"]
    (r / "val" / "images").mkdir(parents=True)
    (r / "wnids.txt").write_text("\n".join(wnids) + "\n")
    train_px = {}
    for w in wnids:
        d = r / "train" / w / "images"
        d.mkdir(parents=True)
        for i in range(2):
            a = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
            Image.fromarray(a).save(d / f"{w}_{i}.png")  # lossless, so pixels can be checked
            train_px[(w, i)] = a
    Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8), mode="L").save(r / "train" / wnids[0] /
                                                                                    "images" / "grey.JPEG")
    lines = []
    for i, w in enumerate([wnids[2], wnids[0]]):
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(r / "val" / "images" / f"val_{i}.JPEG")
        lines.append(f"val_{i}.JPEG\t{w}\t0\t0\t63\t63")
    (r / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    s = load_dataset("tiny-imagenet", root=str(tmp_path))
    assert s.num_classes == 3 and s.x_train.shape == (7, 3, 64, 64) and s.x_val.shape == (2, 3, 64, 64)
    assert s.y_train.tolist() == [0, 0, 0, 1, 1, 2, 2] and s.y_val.tolist() == [2, 0]
    # sorted file order: grey.JPEG, n01443537_0.png, n01443537_1.png for class 0
    assert np.allclose(s.x_train[1], train_px[(wnids[0], 0)].transpose(2, 0, 1) / 255.0)
    assert np.allclose(s.x_train[0][0], s.x_train[0][1])  # grey converted to RGB
    assert load_dataset("tiny-imagenet", root=str(r), size=32).x_val.shape == (2, 3, 32, 32)
    (r / "val" / "val_annotations.txt").write_text("val_0.JPEG\tn99999999\t0\t0\t1\t1\n")
    with pytest.raises(DatasetError, match="n99999999"):
        load_dataset("tiny-imagenet", root=str(r))
    (r / "val" / "val_annotations.txt").unlink()
    with pytest.raises(DatasetError, match="val_annotations.txt"):
        load_dataset("tiny-imagenet", root=str(r))
    with pytest.raises(DatasetError, match="wnids.txt"):
        load_dataset("tiny-imagenet", root=str(tmp_path / "empty"))
