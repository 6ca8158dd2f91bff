"""The search's fast path (memoised band geometry and buffer parts, batched evaluation) gives every configuration
exactly the cycles, tiles, resources and buffers of the straightforward per-configuration computation."""

import random

import numpy as np
import pytest
from nash.frontend.accel import buffers as B
from nash.frontend.accel import model as M
from nash.frontend.accel import search as S
from nash.frontend.core.graph import lower


def _arch(seed: int) -> dict:
    """A three-op network over several map sizes (32, 16, 8, 4), with depthwise layers of kernel 3 and 5."""
    rng = random.Random(seed)
    stages = []
    for width, stride, depth in ((16, 1, 1), (24, 2, 2), (40, 2, 3), (64, 2, 2), (96, 1, 2)):
        blocks = [{"op": rng.choice(("conv", "shift", "adder")), "kernel": rng.choice((3, 5)),
                   "expand": rng.choice((1, 4, 6))} for _ in range(depth)]
        stages.append({"width": width, "stride": stride, "blocks": blocks})
    return {"input_channels": 3, "input_size": 32, "num_classes": 10,
            "stem": {"op": "conv", "width": 16, "kernel": 3, "stride": 1}, "stages": stages, "head": {"width": 256}}


def _straight_buffers(layers, tiles, tm, tn, dw, rq, *args, memo=None, **kw):
    """buffers.engine_buffers with nothing kept between calls (``memo`` ignored)."""
    return B.engine_buffers(layers, tiles, tm, tn, dw, rq, *args, **kw)


@pytest.mark.parametrize("seed", range(3))
def test_fast_path_equals_per_configuration_computation(seed, monkeypatch):
    ctx = S.make_context(lower(_arch(seed)), "kv260")
    rng = random.Random(100 + seed)
    ev = S.Evaluator(ctx)
    picks = {}
    for e, em in ctx.engines.items():
        space = S.full_space(em, ctx.board)
        rows = rng.sample(space, 60)
        ev.evaluate(e, rng.sample(space, 40))  # warm caches with other (partly overlapping) configurations
        picks[e] = (rows, ev.evaluate(e, rows), [em.engine_buffers(r) for r in rows])
    # the straightforward computation: a fresh model per configuration, no geometry or buffer memo
    monkeypatch.setattr(B, "_bands", B._bands.__wrapped__)
    monkeypatch.setattr(M, "engine_buffers", _straight_buffers)
    for e, (rows, fast, bufs) in picks.items():
        for k, row in enumerate(rows):
            ref_ctx = S.make_context(lower(_arch(seed)), "kv260")
            em = ref_ctx.engines[e]
            one = M.Configs.from_rows([row])
            lat, tiles = em.layer_cycles(one)
            assert np.array_equal(fast.lat[k], lat[0]), (e, row)
            assert np.array_equal(fast.tiles[k], tiles[0]), (e, row)
            assert np.array_equal(fast.res[k], em.resources(one)[0]), (e, row)
            assert bufs[k] == em.engine_buffers(row), (e, row)


def test_engine_buffers_memo_is_transparent():
    """The same buffers with a shared memo (filled by other shapes and requant lanes) as without one."""
    layers = [n for n in lower(_arch(0)) if n.kind == "conv"]
    tiles = {n.name: min(8, n.out_size) for n in layers}
    rng = random.Random(7)
    memo: dict = {}
    for _ in range(200):
        tm, tn = rng.choice(S.TM_CHOICES), rng.choice(S.TN_CHOICES)
        dw, rq, mem = rng.choice(S.DW_CHOICES), rng.choice(S.RQ_CHOICES), rng.choice(("bram", "uram"))
        assert B.engine_buffers(layers, tiles, tm, tn, dw, rq, acc_mem=mem, memo=memo) == \
            B.engine_buffers(layers, tiles, tm, tn, dw, rq, acc_mem=mem)
