"""The trainer's opt-in options of the proxy benchmark's noise study: the weight average (EMA) and a batch-order seed
apart from the initialisation. Neither changes a default training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import ALL_OPS_ARCH
from nash.frontend.core.graph import lower
from nash.frontend.data import Splits
from nash.frontend.models.hybrid_net import HybridNet
from nash.frontend.train.trainer import TrainConfig, train_model


def _run(**kw) -> tuple[dict, dict]:
    torch.manual_seed(0)
    net = HybridNet(lower(ALL_OPS_ARCH), eta=None)
    g = np.random.default_rng(0)
    x = g.random((60, 3, 11, 11), dtype=np.float32)
    y = g.integers(0, 7, 60).astype(np.int64)
    cfg = TrainConfig(epochs=2, batch_size=16, qat=False, device="cpu", progress=False, **kw)
    res = train_model(net, Splits(x[:44], y[:44], x[44:], y[44:], 7, "random"), cfg)
    return res, {k: v.clone() for k, v in net.state_dict().items()}


def test_ema_leaves_training_unchanged_and_tracks_the_weights():
    plain, plain_state = _run()
    averaged, averaged_state = _run(ema_decay=0.9)
    # recording the average changes nothing of the training: same losses, same final weights, same accuracy
    assert [h["loss"] for h in averaged["history"]] == [h["loss"] for h in plain["history"]]
    assert averaged["float_acc"] == plain["float_acc"] and "ema_acc" not in plain
    assert all(torch.equal(plain_state[k], averaged_state[k]) for k in plain_state)  # net restored after the EMA
    assert 0.0 <= averaged["ema_acc"] <= 100.0
    # a vanishing decay keeps only the last step's weights, so the averaged-weights evaluation (BN re-estimated
    # for them) gives the final accuracy exactly
    last, _ = _run(ema_decay=1e-12)
    assert last["ema_acc"] == pytest.approx(plain["float_acc"])


def test_order_seed_changes_only_the_batch_order():
    base, _ = _run()
    same, _ = _run(order_seed=0)  # equal to the training seed: the default order
    other, _ = _run(order_seed=7)
    assert [h["loss"] for h in same["history"]] == [h["loss"] for h in base["history"]]
    assert [h["loss"] for h in other["history"]] != [h["loss"] for h in base["history"]]


def test_ema_needs_float_training_and_a_decay_in_0_1():
    with pytest.raises(ValueError, match="ema_decay"):
        _run(ema_decay=1.5)
    x, y = np.zeros((8, 3, 11, 11), dtype=np.float32), np.zeros(8, dtype=np.int64)
    cfg = TrainConfig(epochs=1, batch_size=8, qat=True, device="cpu", progress=False, ema_decay=0.9)
    with pytest.raises(ValueError, match="qat=False"):
        train_model(HybridNet(lower(ALL_OPS_ARCH), eta=None), Splits(x, y, x, y, 7, "zeros"), cfg)
