"""``nash train``'s trainer under DDP: 2 CPU processes (gloo) with the same global batch equal 1 process.

Tolerance: ddp_helpers.TOL (max |a - b| <= 1e-4 * (1 + max |a|) per tensor), for the reasons of test_supernet_ddp.py
(the sums run in another order; measured 6e-6). The run is one optimizer step in observe mode over a global batch of
35 images, so the shares are uneven (18 + 17: the loss scaling and the global BN counts matter), of a network with
all three op types (a second step already drifts to ~2e-4, docs/supernet.md); then the float BN recalibration that
every rank runs on the same images with per-process statistics. ``adder_eta`` is None (each rank's adaptive adder
scaling normalises its partial gradient, docs/supernet.md)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.distributed as tdist
import torch.multiprocessing as mp
from ddp_helpers import assert_states_close, init_gloo, one_thread, run_torchrun
from helpers import ALL_OPS_ARCH, REPO
from nash.frontend.core.graph import lower
from nash.frontend.data import Splits
from nash.frontend.models.hybrid_net import HybridNet
from nash.frontend.train.trainer import TrainConfig, train_model


def _setup():
    torch.manual_seed(0)
    net = HybridNet(lower(ALL_OPS_ARCH), eta=None)
    g = np.random.default_rng(0)
    x = g.random((48, 3, 11, 11), dtype=np.float32)
    y = g.integers(0, 7, 48).astype(np.int64)
    splits = Splits(x[:35], y[:35], x[35:], y[35:], 7, "random")
    cfg = TrainConfig(epochs=1, batch_size=35, qat=False, float_fraction=1.0, device="cpu", progress=False)
    return net, splits, cfg


def _worker(rank: int, world: int, store: str, out: str) -> None:
    init_gloo(rank, world, store)
    try:
        net, splits, cfg = _setup()
        res = train_model(net, splits, cfg)
        torch.save({"state": net.state_dict(), "history": res["history"]}, f"{out}.{rank}")
    finally:
        tdist.destroy_process_group()


def test_two_processes_equal_one(tmp_path):
    net, splits, cfg = _setup()
    init = {k: v.clone() for k, v in net.state_dict().items()}
    with one_thread():
        res = train_model(net, splits, cfg)
    one = net.state_dict()
    mp.spawn(_worker, args=(2, str(tmp_path / "store"), str(tmp_path / "two")), nprocs=2, join=True)
    for rank in (0, 1):
        two = torch.load(tmp_path / f"two.{rank}", weights_only=False)
        worst = assert_states_close(one, two["state"])
        print(f"rank {rank}: largest relative difference {worst:.2e}")
        assert two["history"][0]["loss"] == pytest.approx(res["history"][0]["loss"], rel=1e-4)
    # the steps did happen: a conv, a shift and an adder layer moved from their common initialisation
    moved = {k for k in init if ".layer." in k and not torch.equal(init[k], one[k])}
    assert {"units.stem.layer.weight", "units.s0b0_dw.layer.P", "units.s1b0_dw.layer.weight"} <= moved


@pytest.mark.slow  # 15-30 s: two torchrun processes start torch and train
def test_torchrun_train_cli_two_processes(tmp_path):
    """torchrun --nproc_per_node 2 -m nash train ...: rank 0 writes the model with its accuracies."""
    r = run_torchrun(["train", str(REPO / "examples" / "tiny_hybrid.json"), "--dataset", "digits", "--epochs", "1",
                      "--device", "cpu", "--out", str(tmp_path / "out")])
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads((tmp_path / "out" / "model.json").read_text())
    assert set(doc["provenance"]["train"]["accuracy"]) == {"float", "fake_quant", "integer"}
    assert r.stdout.count("wrote ") == 1 and "2 process(es)" in r.stdout
    assert not (tmp_path / "out" / "train_checkpoint.pt").exists()
