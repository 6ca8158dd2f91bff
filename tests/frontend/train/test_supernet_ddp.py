"""DDP with 2 CPU processes (gloo) and the same global batch equals 1 process.

Tolerance: max |a - b| / (1 + max |a|) <= 1e-4 per tensor (ddp_helpers.TOL; measured 7.5e-6): the sums run in another
order (per-rank partial sums, all-reduced BN statistics). The check is one optimizer step of a full sandwich
(largest, smallest, one random sub-network, all three op types) in observe mode. Over many steps the two runs drift
apart further (docs/supernet.md: adder outputs carry a large common offset, so float32 noise is ~1e-5 relative, SGD
on a tiny batch amplifies it, and in qat mode a noise-level difference can flip an int8 rounding), so a longer run is
no sharper test of the data parallelism."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
import torch.distributed as tdist
import torch.multiprocessing as mp
from ddp_helpers import assert_states_close, init_gloo, one_thread, run_torchrun
from nash.frontend.data import Splits
from nash.frontend.nas.search_space import get_space, sample
from nash.frontend.train.supernet.net import SuperNet
from nash.frontend.train.supernet.space import span_of
from nash.frontend.train.supernet.training import SupernetConfig, train_supernet


def _setup():
    rng = random.Random(0)
    cands = [sample(get_space("digits"), rng) for _ in range(4)]
    g = np.random.default_rng(0)
    x = g.random((48, 1, 16, 16), dtype=np.float32)
    y = g.integers(0, 10, 48).astype(np.int64)
    splits = Splits(x[:36], y[:36], x[36:], y[36:], 10, "random")
    # adder_eta None: the adaptive adder gradient scaling normalises each rank's partial gradient (documented)
    cfg = SupernetConfig(epochs=1, batch_size=36, n_random=1, float_fraction=1.0, device="cpu", progress=False,
                         adder_eta=None)
    return cands, splits, cfg


def _worker(rank: int, world: int, store: str, out: str) -> None:
    init_gloo(rank, world, store)
    try:
        cands, splits, cfg = _setup()
        train_supernet(cands, splits, cfg, out)
    finally:
        tdist.destroy_process_group()


def test_two_processes_equal_one(tmp_path):
    cands, splits, cfg = _setup()
    assert any(b["op"] == "adder" for c in cands for s in c["stages"] for b in s["blocks"])
    with one_thread():
        one = train_supernet(cands, splits, cfg, tmp_path / "one")["net"].state_dict()
    mp.spawn(_worker, args=(2, str(tmp_path / "store"), str(tmp_path / "two")), nprocs=2, join=True)
    two = torch.load(tmp_path / "two" / "supernet.pt", weights_only=False)["model"]
    assert_states_close(one, two)
    # the step did happen in both: the weights moved from their common initialisation
    torch.manual_seed(cfg.seed)
    init = SuperNet(span_of(cands), eta=None).state_dict()
    moved = [k for k in init if k.endswith("layer.weight") and not torch.equal(init[k], two[k])]
    assert "units.stem__conv.layer.weight" in moved and any("__adder" in k for k in moved)


@pytest.mark.slow  # 15-30 s: two torchrun processes start torch, train and evaluate
def test_torchrun_cli_two_processes(tmp_path):
    """The launch users run: torchrun --nproc_per_node 2 -m nash supernet ... (gloo on CPU)."""
    rng = random.Random(0)
    topk = tmp_path / "top_k.json"
    topk.write_text(json.dumps([{"architecture": sample(get_space("digits"), rng)} for _ in range(2)]))
    r = run_torchrun(["supernet", str(topk), "--dataset", "digits", "--epochs", "1", "--batch-size", "256",
                      "--n-random", "0", "--device", "cpu", "--out", str(tmp_path / "out")])
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads((tmp_path / "out" / "supernet.json").read_text())
    assert summary["world_size"] == 2 and len(summary["candidates"]) == 2
    assert torch.load(tmp_path / "out" / "supernet.pt", weights_only=False)["epoch"] == 1
