"""The accuracy search: checkpoint / resume per generation, and the same result serially and in worker processes."""

from __future__ import annotations

import json
import random

import pytest
from nash.frontend.core.errors import UserInputError
from nash.frontend.data import Splits, load_dataset
from nash.frontend.nas import accuracy_search
from nash.frontend.nas.accuracy_search import (
    CHECKPOINT,
    AccuracySearchConfig,
    SupernetSource,
    run_accuracy_search,
)
from nash.frontend.nas.evolution import make_cost
from nash.frontend.nas.search_space import get_space, sample
from nash.frontend.train.supernet.training import (
    SupernetConfig,
    load_checkpoint,
    supernet_from_checkpoint,
    train_supernet,
)

SEED = 1
CFG = dict(population=2, generations=2, mutations=1, crossovers=1, seed=3, bn_batches=1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A digits supernet after one short epoch of fake-quant training (saved, as a worker would load it)."""
    d = tmp_path_factory.mktemp("sn")
    rng = random.Random(0)
    cands = [sample(get_space("digits"), rng) for _ in range(3)]
    splits = load_dataset("digits", size=16, seed=SEED)
    cfg = SupernetConfig(epochs=1, batch_size=64, n_random=0, float_fraction=0.0, seed=SEED, progress=False,
                         device="cpu")
    train_supernet(cands, _small(splits), cfg, d)  # two steps: enough to record activation ranges
    net = supernet_from_checkpoint(load_checkpoint(d))
    return net, cands, splits, SupernetSource(str(d / "supernet.pt"), "digits", None, SEED)


def _small(splits: Splits) -> Splits:
    """128 training and 64 validation images: the resume tests measure equality, not accuracy."""
    return Splits(splits.x_train[:128], splits.y_train[:128], splits.x_val[:64], splits.y_val[:64], 10, "digits")


def _search(trained, out, **kw):
    net, cands, splits, source = trained
    if kw.get("workers", 1) == 1 and not kw.pop("full", False):
        splits = _small(splits)
    cfg = AccuracySearchConfig(**{**CFG, **kw.pop("cfg", {})})
    return run_accuracy_search(net, cands, splits, make_cost("macs"), cfg, progress=False, out=out, source=source,
                               **kw)


def _canon(res: dict) -> str:
    return json.dumps({k: res[k] for k in ("archive", "history", "best", "pareto")}, sort_keys=True)


def test_resume_equals_uninterrupted(trained, tmp_path):
    full = _search(trained, tmp_path / "full")
    assert len(full["history"]) == 3 and full["history"][-1]["generation"] == 2
    assert len(full["archive"]) == 6  # 2 + 2 x (1 mutation + 1 crossover)
    assert all(r["accuracy"] is not None for r in full["archive"])  # no constraints: every record measured
    part = _search(trained, tmp_path / "part", stop_after=1)
    ck = json.loads((tmp_path / "part" / CHECKPOINT).read_text())
    assert ck["generation"] == 1 and len(part["history"]) == 2
    resumed = _search(trained, tmp_path / "part", resume=True)
    assert _canon(resumed) == _canon(full)


def test_kill_inside_a_generation_resumes_from_the_last_checkpoint(trained, tmp_path, monkeypatch):
    full = _search(trained, tmp_path / "full")
    calls = {"n": 0}
    real = accuracy_search.AccuracyEvaluator.__call__

    def dies_in_generation_2(self, archs):  # call 1: initial population, 2: generation 1, 3: generation 2
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(self, archs)

    monkeypatch.setattr(accuracy_search.AccuracyEvaluator, "__call__", dies_in_generation_2)
    with pytest.raises(KeyboardInterrupt):
        _search(trained, tmp_path / "killed")
    monkeypatch.undo()
    assert json.loads((tmp_path / "killed" / CHECKPOINT).read_text())["generation"] == 1
    assert _canon(_search(trained, tmp_path / "killed", resume=True)) == _canon(full)


def test_without_resume_the_old_checkpoint_is_discarded(trained, tmp_path):
    _search(trained, tmp_path, stop_after=0)
    (tmp_path / CHECKPOINT).write_text("{}")  # not a checkpoint: ignored (deleted) without --resume
    res = _search(trained, tmp_path, cfg={"generations": 1})
    assert len(res["history"]) == 2


def test_resume_refuses_other_settings(trained, tmp_path):
    _search(trained, tmp_path, stop_after=0)
    with pytest.raises(UserInputError, match=r"config\.mutations.*checkpoint has 1"):
        _search(trained, tmp_path, resume=True, cfg={"mutations": 3})
    (tmp_path / CHECKPOINT).write_text(json.dumps({"format": "other"}))
    with pytest.raises(UserInputError, match="not a checkpoint"):
        _search(trained, tmp_path, resume=True)


def test_local_processes_equal_serial(trained, tmp_path):
    # the workers load the supernet and the whole validation split from the files: so does the serial run here
    small = {"generations": 1, "crossovers": 0}
    serial = _search(trained, tmp_path / "serial", full=True, cfg=small)
    parallel = _search(trained, tmp_path / "local", workers=2, cfg=small)
    assert len(parallel["archive"]) == 3
    assert _canon(parallel) == _canon(serial)
