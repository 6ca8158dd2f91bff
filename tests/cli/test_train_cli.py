"""`nash train` end to end on digits: writes the model + weights with three accuracies; integer == fake-quant."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import REPO
from nash.frontend.core.model_file import load_model
from nash.frontend.data import load_dataset
from nash.frontend.integer.weights_io import load_integer_model
from nash.frontend.train.trainer import integer_accuracy

from nash.cli import main as cli

EXAMPLE = str(REPO / "examples" / "tiny_hybrid.json")


def _train(tmp_path, epochs, extra=()):
    r = CliRunner().invoke(cli, ["train", EXAMPLE, "--dataset", "digits", "--epochs", str(epochs), "--seed", "1",
                                 "--out", str(tmp_path), *extra], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r, load_model(tmp_path / "model.json")


def test_train_writes_model_with_three_accuracies(tmp_path):
    r, mf = _train(tmp_path, 3)
    acc = mf.provenance("train")["accuracy"]
    assert set(acc) == {"float", "fake_quant", "integer"}
    assert abs(acc["integer"] - acc["fake_quant"]) <= 0.5
    assert acc["integer"] > 30.0  # far above chance (10%) after 3 epochs
    # the stored integer model reproduces the reported integer accuracy independently
    splits = load_dataset("digits", size=16, seed=1)
    assert integer_accuracy(load_integer_model(mf), splits.x_val, splits.y_val) == pytest.approx(acc["integer"])
    assert mf.provenance("train")["split_seed"] == 1 and "integer reference" in r.output
    assert not (tmp_path / "train_checkpoint.pt").exists()


def test_train_rejects_dataset_mismatch(tmp_path):
    d = json.loads(Path(EXAMPLE).read_text())
    d["architecture"]["num_classes"] = 7
    d["weights"] = None
    p = tmp_path / "m.json"
    p.write_text(json.dumps(d))
    r = CliRunner().invoke(cli, ["train", str(p), "--epochs", "1", "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "architecture.num_classes" in r.output


@pytest.mark.slow
def test_full_training_reaches_90_percent(tmp_path):
    """12 epochs on digits: fake-quant above 90 %, integer within 0.5 points (wall time is a benchmark's business,
    not a test's: it failed at 658 s on a loaded 2-core machine)."""
    _, mf = _train(tmp_path, 12)
    acc = mf.provenance("train")["accuracy"]
    assert acc["fake_quant"] > 90.0 and abs(acc["integer"] - acc["fake_quant"]) <= 0.5
    assert np.isfinite(acc["float"])


def test_finetune_starts_from_the_stored_float_state(tmp_path):
    """--finetune loads the example's float state; what it writes back has the same keys, shapes and dtypes."""
    before = np.load(REPO / "examples" / "tiny_hybrid.weights.npz")
    _, mf = _train(tmp_path, 1, ["--finetune"])
    after = np.load(mf.weights_path())
    keys = sorted(k for k in before.files if k.startswith("float/"))
    assert keys and keys == sorted(k for k in after.files if k.startswith("float/"))
    for k in keys:
        assert (after[k].shape, after[k].dtype) == (before[k].shape, before[k].dtype), k
