"""The search's hardware screen: candidates priced cheaply while searching, fully where the outputs need it."""

from __future__ import annotations

import csv
import json
import random

import pytest
from nash.frontend.nas.evolution import (
    ACCEL_SCREEN_RATIO,
    Constraints,
    HardwareCost,
    SearchConfig,
    _eval_job,
    _full_price_job,
    make_cost,
    price_candidate,
    run_search,
)
from nash.frontend.nas.hw_screen import must_price
from nash.frontend.nas.search_space import arch_stats, get_space, sample

SMALL = {"population": 8, "mutations": 4, "crossovers": 4, "generations": 3, "workers": 1, "metric": "nash",
         "top_k": 3}


def fake_full(arch: dict) -> dict:
    """A stand-in accelerator model (the full price)."""
    s = arch_stats(arch)["per_op"]
    cycles = s["conv"]["ops"] / 64 + s["shift"]["ops"] / 96 + s["adder"]["ops"] / 128 + 1000
    return {"fps": 2.0e8 / cycles, "latency_ms": cycles / 2.0e5, "feasible": True}


def fake_screen(arch: dict) -> dict:
    """Its screen: a lower FPS, by a factor in [1, 1.5) that varies with the architecture (inside ratio 1.5)."""
    hw = fake_full(arch)
    f = 1.0 + (arch_stats(arch)["params"] % 97) / 194.0
    return {**hw, "fps": hw["fps"] / f, "latency_ms": hw["latency_ms"] * f}


def _cost(calls: list | None = None) -> HardwareCost:
    def full(arch):
        if calls is not None:
            calls.append(arch)
        return fake_full(arch)

    return HardwareCost("fake", full, "fps", maximize=True, screen=fake_screen, screen_ratio=1.5)


def _front(points: list[tuple[float, float]]) -> set[int]:
    """Brute-force Pareto set of (metric up, value up)."""
    return {i for i, (m, v) in enumerate(points)
            if not any(m2 >= m and v2 >= v and (m2 > m or v2 > v) for m2, v2 in points)}


def test_must_price_hand_worked():
    # metric 4..0; screen FPS (lower bounds) 10, 12, 30, 14, 100; ratio 2 (upper bounds 20, 24, 60, 28, 200)
    metric, lo, exact = [4.0, 3.0, 2.0, 1.0, 0.0], [10.0, 12.0, 30.0, 14.0, 100.0], [False] * 5
    # top_k 1: candidate 0; nobody surely dominates 1 (24 > 10), 2 (60 > 12) or 4; 3 (upper 28) is below 2's 30
    assert must_price(metric, lo, exact, 2.0, 1) == [0, 1, 2, 4]
    # once they are priced (full 11, 23, 31, -, 100), nothing else is needed: 3 stays dominated by 2
    assert must_price(metric, [11.0, 23.0, 31.0, 14.0, 100.0], [True, True, True, False, True], 2.0, 1) == []
    # a ratio of 1 (screen = full): only the front and the top_k
    assert must_price(metric, lo, exact, 1.0, 0) == [0, 1, 2, 4]
    assert must_price([1.0, 1.0], [5.0, 5.0], [False, False], 1.0, 0) == [0, 1]  # equal points: neither dominates
    # the current front first: candidate 1 (screen 9, up to 13.5) waits for candidate 0's full price; 15 settles it
    assert must_price([2.0, 1.0], [10.0, 9.0], [False, False], 1.5, 0) == [0]
    assert must_price([2.0, 1.0], [15.0, 9.0], [True, False], 1.5, 0) == []
    assert must_price([2.0, 1.0], [12.0, 9.0], [True, False], 1.5, 0) == [1]  # 12 < 13.5: it may be on the front
    with pytest.raises(ValueError, match="ratio"):
        must_price(metric, lo, exact, 0.5, 1)


def test_iterated_pricing_gives_the_front_of_the_full_prices():
    """Random candidates with full figures inside the screen's bound: pricing what must_price asks until it asks
    nothing gives exactly the brute-force front of the full figures (and the top_k), with part left unpriced."""
    rng = random.Random(0)
    left_unpriced = 0
    for _ in range(200):
        n = rng.randint(1, 40)
        metric = [float(rng.randint(0, 15)) for _ in range(n)]  # ties included
        full = [rng.uniform(1, 100) for _ in range(n)]
        lo = [f / rng.uniform(1.0, 1.4) for f in full]
        value, exact = list(lo), [False] * n
        while idx := must_price(metric, value, exact, 1.4, 3):
            for i in idx:
                value[i], exact[i] = full[i], True
        truth = _front(list(zip(metric, full, strict=True)))
        assert truth <= {i for i in range(n) if exact[i]}
        assert _front(list(zip(metric, value, strict=True))) == truth
        top = sorted(range(n), key=lambda i: (-metric[i], i))[:3]
        assert all(exact[i] for i in top)
        left_unpriced += n - sum(exact)
    assert left_unpriced > 0


def test_screened_search_equals_the_fully_priced_one(tmp_path):
    """Same seed with and without the screen: the same archive, population and rejections, the same best.json
    architecture, top_k.json and pareto.csv; the records say which price they carry; every front and top_k member
    has the full price, fewer full prices were computed than candidates."""
    sp = get_space("digits")
    calls: list = []
    screened = run_search(sp, SearchConfig(**SMALL, seed=3), _cost(calls), tmp_path / "s", progress=False)
    full = run_search(sp, SearchConfig(**SMALL, seed=3, screen_hardware=False), _cost(), tmp_path / "f",
                      progress=False)
    assert [r["key"] for r in screened.archive] == [r["key"] for r in full.archive]
    assert screened.population == full.population and screened.rejected == full.rejected
    for f in ("pareto.csv", "top_k.json"):
        assert (tmp_path / "s" / f).read_text() == (tmp_path / "f" / f).read_text(), f
    best = [json.loads((tmp_path / d / "best.json").read_text()) for d in ("s", "f")]
    assert best[0]["architecture"] == best[1]["architecture"]
    assert best[0]["provenance"]["search"]["hardware"] == best[1]["provenance"]["search"]["hardware"]

    prices = {r["key"]: r["price"] for r in screened.archive}
    assert set(prices.values()) == {"screen", "full"} and {r["price"] for r in full.archive} == {"full"}
    assert len(calls) == list(prices.values()).count("full") < len(screened.archive)
    front = [json.loads(r["architecture"]) for r in csv.DictReader((tmp_path / "s" / "pareto.csv").open())]
    by_key = {r["key"]: r for r in screened.archive}
    for _, rec in screened.pareto():  # a candidate that enters the front carries its full price, and the full figure
        assert rec["price"] == "full" and rec["hw"] == full.archive[full.index[rec["key"]]]["hw"]
    assert len(front) == len(screened.pareto())
    for _, rec in screened.ranked()[: SMALL["top_k"]]:
        assert by_key[rec["key"]]["price"] == "full"
    for rec in screened.archive:  # a screen-priced record holds the screen's figures
        if rec["price"] == "screen":
            assert rec["hw"]["fps"] == pytest.approx(fake_screen(rec["arch"])["fps"])
    prov = json.loads((tmp_path / "s" / "best.json").read_text())["provenance"]["search"]
    summary = prov["search"]["hardware_prices"]
    assert summary["full"] == len(calls) and summary["screen_bound_misses"] == []
    assert 1.0 <= summary["full_over_screen_max"] <= 1.5
    # the checkpoint keeps the prices: a resumed finished run prices nothing again
    again = run_search(sp, SearchConfig(**SMALL, seed=3), _cost(calls), tmp_path / "s", progress=False, resume=True)
    assert len(calls) == summary["full"] and [r["price"] for r in again.archive] == list(prices.values())


def test_constraints_the_screen_cannot_decide_get_the_full_price(tmp_path):
    """An FPS limit the screen misses, and any latency limit, are decided on the full price: the same candidates
    are rejected as with full prices everywhere, and a candidate whose screen FPS is below the limit but whose full
    FPS meets it enters the archive with its full price."""
    sp = get_space("digits")
    archs = [sample(sp, random.Random(s)) for s in range(40)]
    full_fps = sorted(fake_full(a)["fps"] for a in archs)
    min_fps = full_fps[len(full_fps) // 2]
    c = Constraints(min_fps=min_fps)
    assert c.need_full_price({"fps": min_fps * 0.99}) and not c.need_full_price({"fps": min_fps})
    assert Constraints(max_latency_ms=1.0).need_full_price({"fps": 1.0, "latency_ms": 0.1})
    assert not Constraints(max_macs=1.0).need_full_price({"fps": 1.0})
    border = next(a for a in archs if fake_screen(a)["fps"] < min_fps <= fake_full(a)["fps"])
    hw, price = price_candidate(border, _cost(), c, screen=True)
    assert price == "full" and hw == {**hw, **fake_full(border)} and c.violations(hw) == []
    hw, price = price_candidate(archs[0], _cost(), Constraints(), screen=True)
    assert price == "screen" and hw["fps"] == pytest.approx(fake_screen(archs[0])["fps"])
    screened = []
    lat_cost = HardwareCost("fake", fake_full, "fps", maximize=True,
                            screen=lambda a: screened.append(a) or fake_screen(a), screen_ratio=1.5)
    hw, price = price_candidate(archs[0], lat_cost, Constraints(max_latency_ms=1e9), screen=True)
    assert price == "full" and screened == []  # a latency limit: the screen is not computed at all
    for cons in (Constraints(min_fps=min_fps), Constraints(max_latency_ms=fake_full(archs[0])["latency_ms"])):
        cfg = {**SMALL, "generations": 2}
        s = run_search(sp, SearchConfig(**cfg, seed=1, constraints=cons), _cost(), tmp_path / "s", progress=False)
        f = run_search(sp, SearchConfig(**cfg, seed=1, constraints=cons, screen_hardware=False), _cost(),
                       tmp_path / "f", progress=False)
        assert s.rejected and s.rejected == f.rejected
        assert [r["key"] for r in s.archive] == [r["key"] for r in f.archive]


def test_worker_jobs_price_with_the_accelerator_screen():
    """The worker functions (as the process pool runs them): the accelerator cost's screen is the coarse accelerator
    search, the full price the coarse-to-fine one, and the full FPS lies in [screen, ACCEL_SCREEN_RATIO * screen]."""
    from nash.frontend.accel.search import hardware_cost

    sp = get_space("digits")
    spec = make_cost("accel").spec
    for seed in range(3):
        a = sample(sp, random.Random(seed))
        hw, price, bad, scores = _eval_job((a, None, spec, Constraints(), True, ["nn_degree"], 0, None))
        assert price == "screen" and bad == [] and set(scores) == {"nn_degree"}
        assert hw["fps"] == pytest.approx(hardware_cost(a, fast=True)["fps"])
        full = _full_price_job((a, spec))
        assert full["fps"] == pytest.approx(hardware_cost(a)["fps"])
        assert hw["fps"] <= full["fps"] <= ACCEL_SCREEN_RATIO * hw["fps"]
        _, price, _, _ = _eval_job((a, None, spec, Constraints(), False, ["nn_degree"], 0, None))
        assert price == "full"
        _, price, _, _ = _eval_job((a, None, spec, Constraints(min_fps=full["fps"]), True, ["nn_degree"], 0, None))
        assert price == "full"  # the screen's FPS is below this limit: only the full price can decide it


def test_latency_limit_reaches_the_accelerator_batch_choice():
    """A search's latency limit travels with the cost to the workers (its spec) and into the accelerator's batch
    choice: a network whose default design (largest FPS, a batch of several images) is slower than the limit gets
    the design within it, so the constraint does not reject what a smaller batch satisfies."""
    from nash.frontend.accel.search import hardware_cost

    a = sample(get_space("digits"), random.Random(1))
    free = hardware_cost(a)
    one = hardware_cost(a, max_batch=1)
    assert free["batch"] > 1 and one["latency_ms"] < free["latency_ms"]  # else the test says nothing
    limit = one["latency_ms"] * 1.001
    spec = make_cost("accel", max_latency_ms=limit).spec
    assert Constraints(max_latency_ms=limit).violations(free) != []  # the default design would be rejected
    full = _full_price_job((a, spec))
    assert full["latency_ms"] <= limit and Constraints(max_latency_ms=limit).violations(full) == []
    hw, price, bad, _ = _eval_job((a, None, spec, Constraints(max_latency_ms=limit), True, ["nn_degree"], 0, None))
    assert price == "full" and bad == [] and hw["latency_ms"] <= limit


def test_cli_no_hw_screen_prices_every_candidate_fully(tmp_path):
    """`nash search --no-hw-screen`: every archive record carries the full price (the default screens); with the MAC
    cost, which has no screen, the flag is refused in one line before OUT is written."""
    from click.testing import CliRunner

    from nash.cli import main

    args = ["search", "--population", "3", "--generations", "1", "--mutations", "1", "--crossovers", "1",
            "--metric", "nash", "--workers", "1", "--top-k", "2"]
    r = CliRunner().invoke(main, [*args, "--no-hw-screen", "--out", str(tmp_path / "full")])
    assert r.exit_code == 0, r.output
    ck = json.loads((tmp_path / "full" / "checkpoint.json").read_text())
    assert ck["config"]["screen_hardware"] is False
    assert {rec["price"] for rec in ck["archive"]} == {"full"} and len(ck["archive"]) >= 3
    bad = CliRunner().invoke(main, [*args, "--hw-cost", "macs", "--no-hw-screen", "--out", str(tmp_path / "m")])
    assert bad.exit_code == 2 and "--no-hw-screen needs --hw-cost accel" in bad.output, bad.output
    assert not (tmp_path / "m").exists()
