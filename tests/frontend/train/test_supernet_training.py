"""Supernet training on tiny configurations (CPU): sandwich sampling, BN recalibration, resume equality."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from nash.frontend.core.errors import UserInputError
from nash.frontend.data import Splits
from nash.frontend.models.convert import integer_model
from nash.frontend.nas.search_space import get_space, sample
from nash.frontend.train.supernet.net import SuperNet
from nash.frontend.train.supernet.space import (
    BlockSpan,
    StageSpan,
    SuperSpace,
    hybrid_share,
    op_probabilities,
    sandwich,
    span_of,
)
from nash.frontend.train.supernet.training import (
    SupernetConfig,
    check_config,
    inherited_accuracy,
    load_checkpoint,
    step_archs,
    supernet_from_checkpoint,
    train_supernet,
)
from nash.frontend.train.trainer import accuracy, calibration_batches, integer_accuracy, recalibrate_bn


def _candidates(n=4, seed=0):
    sp = get_space("digits")
    rng = random.Random(seed)
    return [sample(sp, rng) for _ in range(n)]


def _splits(n=48, seed=0):
    g = np.random.default_rng(seed)
    x = g.random((n, 1, 16, 16), dtype=np.float32)
    y = g.integers(0, 10, n).astype(np.int64)
    return Splits(x[: n * 3 // 4], y[: n * 3 // 4], x[n * 3 // 4:], y[n * 3 // 4:], 10, "random")


def _cfg(**kw):
    base = dict(epochs=3, batch_size=12, n_random=1, float_fraction=0.34, bn_batches=1, device="cpu",
                progress=False)
    return SupernetConfig(**{**base, **kw})


def _dims(a):
    return (a["stem"]["width"], a["head"]["width"],
            [(s["width"], [(b["kernel"], b["expand"]) for b in s["blocks"]]) for s in a["stages"]])


def test_sandwich_draws_the_largest_and_the_smallest():
    cands = _candidates(6)
    space = span_of(cands)
    rng = random.Random(0)
    archs = sandwich(space, rng, 1.0, 2)
    assert len(archs) == 4
    largest, smallest = archs[0], archs[1]
    # independent maxima / minima over the candidates themselves
    assert largest["stem"]["width"] == max(c["stem"]["width"] for c in cands)
    assert smallest["head"]["width"] == min(c["head"]["width"] for c in cands)
    for si in range(3):
        stages = [c["stages"][si] for c in cands]
        assert largest["stages"][si]["width"] == max(s["width"] for s in stages)
        assert len(largest["stages"][si]["blocks"]) == max(len(s["blocks"]) for s in stages)
        assert smallest["stages"][si]["width"] == min(s["width"] for s in stages)
        assert len(smallest["stages"][si]["blocks"]) == min(len(s["blocks"]) for s in stages)
        for bi, b in enumerate(largest["stages"][si]["blocks"]):
            present = [s["blocks"][bi] for s in stages if len(s["blocks"]) > bi]
            assert b["kernel"] == max(p["kernel"] for p in present)
            assert b["expand"] == max(p["expand"] for p in present)
            assert b["op"] in {p["op"] for p in present}
    # every random draw lies in the span and is neither forced to the largest nor to the smallest
    for a in archs[2:]:
        space.check(a)
    many = [_dims(space.random(rng, 1.0)) for _ in range(30)]
    assert len({str(d) for d in many}) > 1


def test_candidate_sampling_draws_the_random_ones_among_the_candidates():
    cands = _candidates(5)
    space = span_of(cands)
    keys = {str(c) for c in cands}
    rng = random.Random(0)
    drawn = [step_archs(space, cands, rng, 1.0, _cfg(n_random=2, sample="candidates")) for _ in range(40)]
    assert all(len(d) == 4 for d in drawn)
    assert all(str(a) in keys for d in drawn for a in d[2:])
    assert len({str(a) for d in drawn for a in d[2:]}) == 5  # every candidate comes up in 80 draws
    assert all(_dims(d[0]) == _dims(space.largest()) and _dims(d[1]) == _dims(space.smallest()) for d in drawn)
    # the span mode is the plain sandwich (same RNG stream)
    assert step_archs(space, cands, random.Random(1), 0.5, _cfg(n_random=2)) == sandwich(space, random.Random(1),
                                                                                          0.5, 2)
    with pytest.raises(UserInputError, match="option '--sample'"):
        check_config(_cfg(sample="all"), 36, 1)


def test_span_size_counts_the_sub_architectures():
    # hand count: stem 2 x head 1 x stage (widths 2 x [depth 1: 2 ops x 1 kernel x 2 expands = 4,
    # depth 2: 4 x (1 op x 2 kernels x 1 expand) = 8])
    blocks = (BlockSpan(("conv", "adder"), (3,), (2, 4)), BlockSpan(("conv",), (3, 5), (2,)))
    space = SuperSpace({}, (8, 12), (StageSpan((16, 24), (1, 2), 1, blocks),), (48,))
    assert space.size() == 2 * 1 * 2 * (4 + 4 * 2)


def test_progressive_schedule():
    assert hybrid_share(0, 10, start=0.2, ramp_fraction=0.5) == pytest.approx(0.2)
    assert hybrid_share(5, 10, start=0.2, ramp_fraction=0.5) == 1.0
    assert hybrid_share(9, 10) == 1.0
    p = op_probabilities(("conv", "adder", "shift"), 1.0)
    assert p == pytest.approx({"conv": 1 / 3, "adder": 1 / 3, "shift": 1 / 3})
    p = op_probabilities(("conv", "adder"), 0.2)
    assert p == pytest.approx({"conv": 0.9, "adder": 0.1})
    assert op_probabilities(("adder", "shift"), 0.2) == {"adder": 0.5, "shift": 0.5}
    # the draws follow it: at share 0 conv wherever it competes, at share 1 the others too
    space = span_of(_candidates(6))
    mixed = [(si, bi) for si, st in enumerate(space.stages) for bi, b in enumerate(st.blocks)
             if "conv" in b.ops and len(b.ops) > 1]
    assert mixed  # the seed-0 candidates mix op types
    rng = random.Random(0)
    at0 = [space.draw_ops(rng, 0.0) for _ in range(50)]
    at1 = [space.draw_ops(rng, 1.0) for _ in range(50)]
    assert all(d[si][bi] == "conv" for d in at0 for si, bi in mixed)
    assert any(d[si][bi] != "conv" for d in at1 for si, bi in mixed)


def test_bn_recalibration_changes_the_statistics():
    torch.manual_seed(0)
    net = SuperNet(span_of(_candidates()))
    sub = net.subnet(net.space.smallest())
    bn = sub.units["stem"].bn
    assert torch.equal(bn.running_mean, torch.zeros_like(bn.running_mean))  # never trained
    x = _splits().x_train
    recalibrate_bn(sub, calibration_batches(x, 2, 8), 2, "float")
    # the new statistics are those of the stem's BN input on those 16 images (cumulative average of 2 batches)
    xs = torch.cat(list(calibration_batches(x, 2, 8)))
    with torch.no_grad():
        pre = sub.units["stem"].layer(xs)
    assert torch.allclose(bn.running_mean, pre.mean(dim=(0, 2, 3)), atol=1e-5)
    assert not torch.equal(bn.running_mean, torch.zeros_like(bn.running_mean))
    assert not sub.training


def test_resume_after_interruption_equals_uninterrupted(tmp_path):
    cands, splits, cfg = _candidates(), _splits(), _cfg()
    full = train_supernet(cands, splits, cfg, tmp_path / "a")
    part = train_supernet(cands, splits, cfg, tmp_path / "b", stop_after=1)
    assert part["epoch"] == 1 and load_checkpoint(tmp_path / "b")["epoch"] == 1
    with pytest.raises(UserInputError, match="supernet.pt: checkpoint was written with other settings"):
        train_supernet(cands, splits, _cfg(epochs=4), tmp_path / "b", resume=True)
    rest = train_supernet(cands, splits, cfg, tmp_path / "b", resume=True)
    assert rest["epoch"] == 3
    assert rest["history"] == full["history"]
    a, b = full["net"].state_dict(), rest["net"].state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # the modes: observe warm-up, then qat
    assert [h["mode"] for h in full["history"]] == ["observe", "qat", "qat"]


def test_training_changes_weights_and_inherited_subnets_convert(tmp_path):
    cands, splits = _candidates(), _splits()
    res = train_supernet(cands, splits, _cfg(epochs=2, float_fraction=0.5), tmp_path)
    net = supernet_from_checkpoint(load_checkpoint(tmp_path))
    for k, v in res["net"].state_dict().items():
        assert torch.equal(v, net.state_dict()[k])
    for a in cands:
        acc = inherited_accuracy(net, a, splits, "qat", bn_batches=1)
        assert 0.0 <= acc <= 100.0
        # the inherited sub-network converts to the integer model, which agrees with its exact qat evaluation
        sub = net.subnet(a)
        recalibrate_bn(sub, calibration_batches(splits.x_train, 1, 16), 1, "qat")
        assert integer_accuracy(integer_model(sub), splits.x_val, splits.y_val) == accuracy(
            sub, splits.x_val, splits.y_val, "qat")


def test_training_over_a_given_space(tmp_path):
    cands, splits, cfg = _candidates(), _splits(), _cfg(epochs=1)
    wide = span_of(_candidates(8, seed=1) + cands)
    assert wide.size() > span_of(cands).size()
    res = train_supernet(cands, splits, cfg, tmp_path, space=wide)
    assert res["space"] == wide and load_checkpoint(tmp_path)["space"] == wide.to_dict()
    with pytest.raises(UserInputError, match="other settings or candidates"):
        train_supernet(cands, splits, cfg, tmp_path, resume=True)  # without space=: the candidates' own span
