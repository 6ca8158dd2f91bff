"""``nash search --stage accuracy --supernet DIR``: evolution on inherited-weight accuracy; best.json carries the
weights exported from the supernet."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from click.testing import CliRunner
from nash.frontend.core.model_file import load_model, load_weights
from nash.frontend.data import load_dataset
from nash.frontend.integer.weights_io import load_integer_model
from nash.frontend.nas.search_space import get_space, sample
from nash.frontend.train.supernet.training import load_checkpoint, supernet_from_checkpoint
from nash.frontend.train.trainer import integer_accuracy

from nash.cli import main


def _run(args):
    return CliRunner().invoke(main, [str(a) for a in args], prog_name="nash")


@pytest.fixture(scope="module")
def supernet_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("sn")
    rng = random.Random(0)
    (d / "top_k.json").write_text(json.dumps([{"architecture": sample(get_space("digits"), rng)} for _ in range(3)]))
    r = _run(["supernet", d / "top_k.json", "--dataset", "digits", "--epochs", "1", "--batch-size", "256",
              "--n-random", "0", "--float-fraction", "0", "--seed", "1", "--no-eval", "--out", d / "out"])
    assert r.exit_code == 0, r.output
    return d / "out"


def test_accuracy_stage_writes_best_with_exported_weights(supernet_dir, tmp_path):
    r = _run(["search", "--stage", "accuracy", "--supernet", supernet_dir, "--hw-cost", "macs", "--population", "3",
              "--generations", "1", "--mutations", "1", "--crossovers", "1", "--out", tmp_path])
    assert r.exit_code == 0, r.output
    mf = load_model(tmp_path / "best.json")
    hist = json.loads((tmp_path / "history.json").read_text())
    assert len(hist["archive"]) >= 4  # 3 initial + at least one child
    best = max((a for a in hist["archive"] if a["accuracy"] is not None), key=lambda a: a["accuracy"])
    assert mf.architecture == best["arch"]
    assert mf.provenance("search")["metric_value"] == best["accuracy"]
    # the weights are the supernet's slices (the layer weights; BN statistics were recalibrated)
    net = supernet_from_checkpoint(load_checkpoint(supernet_dir))
    sub = net.subnet(mf.architecture)
    arrays = load_weights(mf)
    for k, v in sub.state_dict().items():
        if ".layer." in k or k.startswith("units.fc"):
            assert np.array_equal(arrays[f"float/{k}"], v.numpy()), k
    # the recorded integer accuracy is what the stored integer model scores on the supernet's validation split
    acc = mf.provenance("train")["accuracy"]
    assert mf.provenance("train")["split_seed"] == 1
    splits = load_dataset("digits", size=16, seed=1)
    assert integer_accuracy(load_integer_model(mf), splits.x_val, splits.y_val) == pytest.approx(acc["integer"])
    assert abs(acc["integer"] - best["accuracy"]) < 1e-9  # the same recalibration and evaluation
    assert (tmp_path / "pareto.csv").read_text().startswith("rank,inherited_acc")


def _one_line(r, *needles):
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])


def test_accuracy_stage_bad_inputs(tmp_path):
    supernet_dir = tmp_path / "sn"  # the checks run before the checkpoint is read
    supernet_dir.mkdir()
    (supernet_dir / "supernet.json").write_text(json.dumps({"dataset": "digits", "split_seed": 0, "candidates": []}))
    _one_line(_run(["search", "--stage", "accuracy", "--out", tmp_path / "o"]), "--supernet")
    _one_line(_run(["search", "--supernet", supernet_dir, "--out", tmp_path / "o"]), "--supernet", "--stage accuracy")
    _one_line(_run(["search", "--stage", "accuracy", "--supernet", tmp_path, "--out", tmp_path / "o"]),
              "supernet.json", "not found")
    _one_line(_run(["search", "--stage", "accuracy", "--supernet", supernet_dir, "--dataset", "cifar10",
                    "--out", tmp_path / "o"]), "--dataset", "trained on digits")
    _one_line(_run(["search", "--stage", "accuracy", "--supernet", supernet_dir, "--out", tmp_path / "o"]),
              "supernet.json", "no 'candidates'")
    assert not (tmp_path / "o").exists()
