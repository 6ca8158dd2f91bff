"""The static cross-image schedule: dependencies, engine exclusivity and the period, checked by simulating images."""

import pytest
from nash.frontend.accel.model import engine_of
from nash.frontend.accel.schedule import (
    ScheduleError,
    Task,
    build_schedule,
    check_schedule,
    pipelined_schedule,
    sequential_schedule,
    steps_from_json,
    steps_to_json,
)
from nash.frontend.accel.search import coarse_to_fine, layer_cycles, make_context, performance
from nash.frontend.core.graph import lower

ARCH = {"input_channels": 3, "input_size": 32, "num_classes": 100,
        "stem": {"op": "conv", "width": 16, "kernel": 3, "stride": 1},
        "stages": [{"width": 16, "stride": 1, "blocks": [{"op": "shift", "kernel": 3, "expand": 1}]},
                   {"width": 24, "stride": 2, "blocks": [{"op": "adder", "kernel": 3, "expand": 4},
                                                         {"op": "shift", "kernel": 5, "expand": 4},
                                                         {"op": "conv", "kernel": 3, "expand": 4}]}],
        "head": {"width": 128}}


def _simulate(nodes, steps, cycles, overhead, n_images):
    """Run the schedule period by period and return (layer, image) -> (engine, start, end) in cycles."""
    step_len = [max(cycles[t.layer] for t in s) + overhead for s in steps]
    period = sum(step_len)
    max_d = max(t.offset for s in steps for t in s)
    runs = {}
    for p in range(n_images + max_d):
        t0 = p * period
        for s, step in enumerate(steps):
            for t in step:
                img = p - t.offset
                if 0 <= img < n_images:
                    runs[(t.layer, img)] = (t.engine, t0, t0 + cycles[t.layer])
            t0 += step_len[s]
    return runs, period


def test_schedule_respects_dependencies_and_exclusivity():
    nodes = lower(ARCH)
    ctx = make_context(nodes, "kv260")
    r = coarse_to_fine(ctx)
    cyc = layer_cycles(ctx, r.design)
    sched = build_schedule(nodes, {n.name: engine_of(n) for n in nodes}, cyc, ctx.table["cycles.step_overhead"])
    check_schedule(nodes, sched.steps, {n.name: engine_of(n) for n in nodes})
    runs, period = _simulate(nodes, sched.steps, cyc, ctx.table["cycles.step_overhead"], n_images=5)
    assert len(runs) == 5 * len(nodes)
    for n in nodes:  # no task before its input is produced
        for img in range(5):
            for i in n.inputs:
                if i != "input":
                    assert runs[(i, img)][2] <= runs[(n.name, img)][1], (n.name, i, img)
    by_engine = {}
    for (layer, img), (eng, a, b) in runs.items():
        by_engine.setdefault(eng, []).append((a, b, layer, img))
    for eng, iv in by_engine.items():  # one task at a time per engine
        iv.sort()
        for (_, b0, *_), (a1, *_) in zip(iv, iv[1:], strict=False):
            assert b0 <= a1, eng
    for step in sched.steps:  # tasks of one step: different engines, different images
        assert len({t.engine for t in step}) == len(step)
        assert len({t.offset for t in step}) == len(step)
    # steady state: one image per period; the search's period is the schedule's
    assert period == pytest.approx(r.design.period)
    assert period == pytest.approx(sched.period_cycles)
    p = performance(ctx, r.design)
    assert p["fps"] == pytest.approx(ctx.board.clock_mhz * 1e6 / period)
    # per-image latency: first task start to last task end of image 0
    lat0 = max(b for (layer, img), (_, _, b) in runs.items() if img == 0)
    assert sched.latency_cycles == pytest.approx(lat0)


def test_period_lower_bounds():
    nodes = lower(ARCH)
    ctx = make_context(nodes, "kv260")
    r = coarse_to_fine(ctx)
    cyc = layer_cycles(ctx, r.design)
    busy = {}
    for n in nodes:
        busy[engine_of(n)] = busy.get(engine_of(n), 0) + cyc[n.name]
    assert r.design.period >= max(busy.values())  # an engine cannot do more than one period of work per period


def test_check_schedule_rejects_violations():
    nodes = lower(ARCH)
    eng = {n.name: engine_of(n) for n in nodes}
    seq = [[Task(eng[n.name], n.name, 0)] for n in nodes]
    check_schedule(nodes, seq, eng)  # image by image is valid
    with pytest.raises(ScheduleError, match="does not run after its input"):
        check_schedule(nodes, seq[::-1], eng)
    two = [seq[0] + [Task(eng[nodes[0].name], nodes[1].name, 1)]] + seq[2:]
    with pytest.raises(ScheduleError, match="has two tasks|expected"):
        check_schedule(nodes, two, eng)
    with pytest.raises(ScheduleError, match="never scheduled"):
        check_schedule(nodes, seq[:-1], eng)


def test_check_schedule_rejects_bad_task_fields():
    """Model-file tasks can hold anything: each bad field is a ScheduleError naming it, not a TypeError."""
    nodes = lower(ARCH)
    eng = {n.name: engine_of(n) for n in nodes}
    first = nodes[0].name
    seq = sequential_schedule(nodes, eng)
    for bad, match in ((Task("dsp", first, 0), "unknown engine 'dsp'"), (Task(["conv"], first, 0), "unknown engine"),
                       (Task("conv", ["stem"], 0), "unknown layer"), (Task("conv", first, "0"), "image offset '0'"),
                       (Task("conv", first, True), "image offset True"), (Task("conv", first, -1), "image offset -1")):
        with pytest.raises(ScheduleError, match=match):
            check_schedule(nodes, [[bad], *seq[1:]])


def test_steps_json_form_and_fallback_builders():
    nodes = lower(ARCH)
    eng = {n.name: engine_of(n) for n in nodes}
    steps = pipelined_schedule(nodes, eng)
    check_schedule(nodes, steps, eng, distinct_images=False)
    assert len(steps) == max(list(eng.values()).count(e) for e in set(eng.values()))
    assert steps_from_json(steps_to_json(steps)) == steps
    assert steps_to_json([[Task("shift", "s0b0", 2)]]) == [[{"engine": "shift", "layer": "s0b0", "image": 2}]]
    seq = sequential_schedule(nodes, eng)
    check_schedule(nodes, seq, eng)
    assert [t.layer for s in seq for t in s] == [n.name for n in nodes] and {t.offset for s in seq for t in s} == {0}
