"""Coarse-to-fine accelerator search, the exact (exhaustive) reference search, and the NAS hardware cost.

Design space per PE engine (conv / shift / adder, for the engines the network uses): array shape tm x tn in
``TM_CHOICES`` x ``TN_CHOICES``, depthwise lanes in ``DW_CHOICES``, tile side in ``TILES``
(capped at the engine's largest map), requant lanes in ``RQ_CHOICES``, the array's and the depthwise lanes'
accumulators each in BRAM or URAM (``buffers.ACC_MEM_CODES``). Objective: the
schedule period (throughput = clock / period) under the board's usable resources; ties go to the smaller design.

* Coarse: a grid of PE-array shapes with balanced depthwise lanes and default buffers per engine; the joint choice
  over engines (which fixes the DSP/LUT/BRAM split) is enumerated exactly over the per-engine Pareto sets.
* Fine: a joint descent around the best coarse design: per round, the exact best combination of the engines'
  (Pareto-pruned) neighbourhoods; small neighbourhoods first, a wide one only where a small one gives nothing.
* Exhaustive: evaluates every engine configuration of the space, then a branch and bound over the joint choice whose
  bounds are exact lower bounds (sorted-alignment period with the best possible duration of each unassigned engine;
  resources with the smallest possible use), so it returns the optimum of the whole space.
* Batch (design level): the images per task B in ``BATCH_CHOICES`` (up to a user's cap). :func:`search` and
  :func:`hardware_cost` run the search above at the largest allowed B (one weight tile then serves the most images,
  which moves the best engine balance), then :func:`choose_batch` prices every other allowed B with the engines found
  (the buffers, so the resources, do not depend on B); the B of the highest FPS = B x clock / period wins, ties to
  the smaller B (shorter latency). Each search alone runs at one given B (default 1).
"""

from __future__ import annotations

import functools
import itertools
import math
import time
from dataclasses import dataclass, field

import numpy as np
from nash.frontend.accel.board import Board, load_board
from nash.frontend.accel.calibration import PeTiming, load_pe_timing
from nash.frontend.accel.cost_table import CostTable, load_cost_table
from nash.frontend.accel.model import AccelContext, Configs, EngineModel, budget_vector, resources_dict
from nash.frontend.accel.schedule import period_from_sorted
from nash.frontend.core.errors import UserInputError
from nash.frontend.core.graph import Node, lower

TM_CHOICES = (4, 8, 12, 16, 24, 32, 48, 64)
TN_CHOICES = (4, 8, 12, 16, 24, 32, 48, 64)
DW_CHOICES = (4, 8, 16, 32, 64)
RQ_CHOICES = (2, 4, 8, 16)
BATCH_CHOICES = (1, 2, 4, 8)  # images per task (the accelerator section's batch)
COARSE_SHAPES = (4, 8, 16, 32, 64)
COARSE_TILES, COARSE_RQ = (4, 8, 16), 8
FINE_ROUNDS = 9  # rounds of the fine stage, small and wide ones together
# Array shapes within two grid steps of the current one (at its buffers): with row-band buffers (whose reuse depends
# on tn) the best conv design can trade half the array width for twice the depthwise lanes, two steps away.
SHAPE_RADIUS = 2


class AccelSearchError(UserInputError):
    """The network does not fit the board (or the search was asked something impossible)."""


@dataclass
class Cands:
    """Evaluated configurations of one engine."""

    engine: str
    cfgs: Configs
    lat: np.ndarray  # [n, L] cycles per layer (engine's layer order)
    tiles: np.ndarray  # [n, L] tile side used per layer
    res: np.ndarray  # [n, 5]
    srt: np.ndarray  # [n, L] durations sorted descending

    def take(self, idx) -> Cands:
        return Cands(self.engine, self.cfgs.take(idx), self.lat[idx], self.tiles[idx], self.res[idx], self.srt[idx])


@dataclass
class Design:
    """One complete accelerator design: a configuration per PE engine and its predicted period and resources."""

    rows: dict[str, tuple]  # engine -> config row (tm, tn, dw, tile, rq, acc_mem code)
    lat: dict[str, np.ndarray]  # engine -> cycles per layer
    tiles: dict[str, np.ndarray]
    period: float
    res: np.ndarray  # total incl. misc + shell
    batch: int = 1  # images per task: the pipeline advances this many images per period


@dataclass
class SearchResult:
    design: Design | None
    evaluations: int  # engine-configuration evaluations + complete-design evaluations
    engine_evaluations: int
    design_evaluations: int
    seconds: float
    mode: str
    space_size: int
    notes: list[str] = field(default_factory=list)

    @property
    def feasible(self) -> bool:
        return self.design is not None


def _cycles(em: EngineModel, rows: list[tuple], batch: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`EngineModel.layer_cycles` of configuration rows at ``batch`` images per task, computed once per row
    without its accumulator memory code (the last field): where the accumulators live changes the resources, not the
    loops, the buffers' depths or the images per pass (the search offers up to four codes per shape;
    tests/frontend/accel/test_search.py checks the equality)."""
    keys = {k: i for i, k in enumerate(dict.fromkeys(r[:-1] for r in rows))}
    lat, tiles = em.layer_cycles(Configs.from_rows([(*k, 0) for k in keys]), batch)
    idx = np.array([keys[r[:-1]] for r in rows], dtype=np.int64)
    return lat[idx], tiles[idx]


class Evaluator:
    """Evaluates engine configurations (with a cache, so each distinct one is counted once)."""

    def __init__(self, ctx: AccelContext, batch: int = 1):
        self.ctx, self.batch = ctx, int(batch)
        self.cache: dict[str, dict[tuple, tuple]] = {e: {} for e in ctx.engines}
        self.engine_evals = 0
        self.design_evals = 0

    def evaluate(self, engine: str, rows: list[tuple]) -> Cands:
        em: EngineModel = self.ctx.engines[engine]
        cache = self.cache[engine]
        rows = list(dict.fromkeys(rows))
        new = [r for r in rows if r not in cache]
        if new:
            c = Configs.from_rows(new)
            lat, tiles = _cycles(em, new, self.batch)
            res = em.resources(c)
            for i, r in enumerate(new):
                cache[r] = (lat[i], tiles[i], res[i])
            self.engine_evals += len(new)
        c = Configs.from_rows(rows)
        lat = np.array([cache[r][0] for r in rows])
        tiles = np.array([cache[r][1] for r in rows])
        res = np.array([cache[r][2] for r in rows])
        return Cands(engine, c, lat, tiles, res, -np.sort(-lat, axis=1))

    def evaluate_all(self, engine: str, rows: list[tuple]) -> Cands:
        """Uncached bulk evaluation (the exhaustive search)."""
        em = self.ctx.engines[engine]
        c = Configs.from_rows(rows)
        lat, tiles = _cycles(em, rows, self.batch)
        self.engine_evals += len(rows)
        return Cands(engine, c, lat, tiles, em.resources(c), -np.sort(-lat, axis=1))


# ---- the space --------------------------------------------------------------------------------------------------
def tile_choices(em: EngineModel) -> list[int]:
    """Buffer tile sides of an engine: TILES capped at its largest map (only the largest map without spatial
    tiling, :data:`model.SPATIAL_TILES`)."""
    rmax = int(em.R.max())
    return sorted({min(t, rmax) for t in em.tile_sides()})


def _dw_choices(em: EngineModel) -> tuple[int, ...]:
    return DW_CHOICES if em.has_dw else (0,)


def _memories(em: EngineModel, board: Board) -> tuple[int, ...]:
    """The accumulator memory codes (``buffers.ACC_MEM_CODES``) that differ for an engine on a board: both in BRAM
    (0); where the board has URAM, both in URAM (1), and with depthwise layers the array's in URAM and the lanes' in
    BRAM (2) or the reverse (3) (an engine without depthwise lanes has no ``acc_dw``: 2 and 3 would repeat 1 and 0)."""
    if board.resources["uram"] <= 0:
        return (0,)
    return (0, 1, 2, 3) if em.has_dw else (0, 1)


def full_space(em: EngineModel, board: Board) -> list[tuple]:
    """Every configuration of one engine."""
    return list(itertools.product(TM_CHOICES, TN_CHOICES, _dw_choices(em), tile_choices(em), RQ_CHOICES,
                                  _memories(em, board)))


def space_size(ctx: AccelContext) -> int:
    """The number of designs of the whole space (the product of :func:`full_space`'s lengths, without listing it)."""
    return math.prod(len(TM_CHOICES) * len(TN_CHOICES) * len(_dw_choices(em)) * len(tile_choices(em))
                     * len(RQ_CHOICES) * len(_memories(em, ctx.board)) for em in ctx.engines.values())


def _balanced_dw(em: EngineModel, tm: int, tn: int) -> int:
    """Depthwise lanes that give the depthwise layers the array's share of the engine's work (coarse balance)."""
    if not em.has_dw:
        return 0
    dw_work = sum(n.macs for n in em.dws)
    std_work = max(1, sum(n.macs for n in em.std))
    want = tm * tn * dw_work / std_work
    return min(DW_CHOICES, key=lambda d: abs(math.log2(d) - math.log2(max(want, 1e-9))))


def coarse_space(em: EngineModel, mems: tuple[int, ...] = (0,)) -> list[tuple]:
    """Array shapes on a power-of-two grid with balanced depthwise lanes, small / medium / large tiles, the
    accumulators in each memory code of ``mems`` (with one bank per lane they decide whether BRAM or URAM runs out)."""
    tiles = sorted({min(t, int(em.R.max())) for t in COARSE_TILES if t in em.tile_sides()}) or tile_choices(em)
    return [(tm, tn, _balanced_dw(em, tm, tn), t, min(COARSE_RQ, tm), m)
            for tm in COARSE_SHAPES for tn in COARSE_SHAPES for t in tiles for m in mems]


def _neighbours(choices: tuple[int, ...], v: int, radius: int = 1) -> list[int]:
    if v not in choices:
        return [v]
    i = choices.index(v)
    return list(choices[max(0, i - radius): i + radius + 1])


# ---- joint evaluation -------------------------------------------------------------------------------------------
def _score(res: np.ndarray, budget: np.ndarray) -> np.ndarray:
    """Tie-break between designs of equal period: the fraction of the budget used, summed over resources."""
    return (res / np.maximum(budget, 1.0)).sum(axis=-1)


def pareto(c: Cands, exact: bool = False) -> Cands:
    """Configurations not dominated by another. Default (coarse stage): in (summed cycles, longest layer, resources),
    a heuristic reduction, since the period also depends on the other sorted durations. ``exact=True`` (fine stage):
    in (every sorted layer duration, resources); a configuration dominated there can never give a shorter period or
    a feasible design that its dominator does not, so the pruning loses nothing."""
    key = np.concatenate([c.srt, c.res] if exact else [c.srt.sum(axis=1, keepdims=True), c.srt[:, :1], c.res],
                         axis=1)
    return c.take(np.sort(_undominated(key, head=key.shape[1] - c.res.shape[1])))


def _undominated(key: np.ndarray, block: int = 128, head: int = 0) -> np.ndarray:
    """Rows of ``key`` that no earlier row (in order of row sum, ties by index) weakly dominates.

    Equal to the sequential filter "keep a row unless a kept row is <= it everywhere": a row dominated by an earlier
    dropped row is also dominated by the earlier kept row that dropped it (transitivity). Vectorised in blocks of
    rows against every earlier row. ``head``: the first ``head`` columns are compared once per distinct value of
    them (the cycles, which rows that differ only in their accumulator memories share), the rest per row.
    """
    order = np.argsort(key.sum(axis=1), kind="stable")
    k = key[order]
    n = len(k)
    if head:
        distinct, inv = np.unique(k[:, :head], axis=0, return_inverse=True)
        inv = inv.ravel()
        le_head = np.ones((len(distinct), len(distinct)), dtype=bool)  # [a, b]: distinct head b <= head a
        for col in distinct.T:
            le_head &= col[None, :] <= col[:, None]
    cols = np.ascontiguousarray(k[:, head:].T)  # one contiguous row per criterion
    dropped = np.zeros(n, dtype=bool)
    pos = np.arange(n)
    for b0 in range(0, n, block):
        b1 = min(n, b0 + block)
        le = pos[None, :b1] < pos[b0:b1, None]  # [i, j]: row j is earlier than row i ...
        if head:
            le &= le_head[inv[b0:b1]][:, inv[:b1]]
        for col in cols:
            le &= col[None, :b1] <= col[b0:b1, None]  # ... and <= it in every criterion
        dropped[b0:b1] = le.any(axis=1)
    return order[~dropped]


def _misc_vec(ctx: AccelContext, batch: int = 1) -> np.ndarray:
    v = ctx.misc.layer_cycles(batch)
    return -np.sort(-v) if len(v) else np.zeros(0)


def best_joint(ev: Evaluator, cands: dict[str, Cands], k: int) -> list[tuple[float, dict[str, int]]]:
    """The ``k`` best feasible combinations (period, {engine: index}) over the product of ``cands``."""
    ctx = ev.ctx
    names = list(cands)
    budget = budget_vector(ctx.board)
    fixed = ctx.fixed_resources
    misc = _misc_vec(ctx, ev.batch)
    shape = [len(cands[e].cfgs) for e in names]
    vecs, res = [], fixed.copy()
    for i, e in enumerate(names):
        expand = [1] * len(names)
        expand[i] = shape[i]
        vecs.append(cands[e].srt.reshape(*expand, -1))
        res = res + cands[e].res.reshape(*expand, 5)
    period = period_from_sorted([*vecs, misc.reshape(*([1] * len(names)), -1)], ctx.table["cycles.step_overhead"])
    period = np.broadcast_to(period, shape)
    feas = np.all(res <= budget + 1e-9, axis=-1)
    ev.design_evals += int(np.prod(shape))
    score = np.where(feas, period, np.inf)
    flat = score.ravel()
    tie = np.broadcast_to(_score(res, budget), shape).ravel()
    order = np.lexsort((tie, flat))[:k]
    out = []
    for f in order:
        if not np.isfinite(flat[f]):
            break
        idx = np.unravel_index(f, shape)
        out.append((float(flat[f]), {e: int(idx[i]) for i, e in enumerate(names)}))
    return out


def _make_design(ev: Evaluator, chosen: dict[str, Cands]) -> Design:
    """A design from one configuration per engine (each ``Cands`` of length 1)."""
    ctx = ev.ctx
    vecs = [c.srt[0] for c in chosen.values()] + [_misc_vec(ctx, ev.batch)]
    period = float(period_from_sorted(vecs, ctx.table["cycles.step_overhead"]))
    res = ctx.fixed_resources + sum((c.res[0] for c in chosen.values()), np.zeros(5))
    return Design({e: c.cfgs.row(0) for e, c in chosen.items()}, {e: c.lat[0] for e, c in chosen.items()},
                  {e: c.tiles[0] for e, c in chosen.items()}, period, res, ev.batch)


def _neighbourhood(em: EngineModel, row: tuple, mems: tuple[int, ...], wide: bool = False) -> list[tuple]:
    """Configurations around ``row`` (tm, tn, dw, tile, rq, mem).

    Small: array shapes within one grid step x adjacent depthwise lanes x adjacent tile sides x every buffer memory;
    adjacent requant lanes x every tile and memory at the current shape; shapes within SHAPE_RADIUS steps (a conv
    design can trade half its array width for twice the depthwise lanes, two steps away) and every shape with about
    the same PE count (re-unrolling at equal budget), at the current tile, requant lanes and memory. ``wide`` adds
    every tile side and adjacent requant lanes to the one-step shapes, and every tile, adjacent requant lanes and
    memory to the equal-PE shapes (the moves that change a shape together with its buffers and drain rate)."""
    tm, tn, dw, tile, rq, u = row
    dws = _neighbours(DW_CHOICES, dw) if em.has_dw else [0]
    tiles = tile_choices(em)
    rqs = _neighbours(RQ_CHOICES, rq)
    near = list(itertools.product(_neighbours(TM_CHOICES, tm), _neighbours(TN_CHOICES, tn), dws,
                                  tiles if wide else _neighbours(tuple(tiles), tile), rqs if wide else [rq], mems))
    lanes = [(tm, tn, dw, t, q, m) for t in tiles for q in rqs for m in mems]
    far = [(a, b, d, tile, rq, u) for a in _neighbours(TM_CHOICES, tm, SHAPE_RADIUS)
           for b in _neighbours(TN_CHOICES, tn, SHAPE_RADIUS) for d in dws]
    shapes = [(a, b) for a in TM_CHOICES for b in TN_CHOICES if 0.6 <= a * b / (tm * tn) <= 1.5]
    same = [(a, b, d, tile, rq, u) for a, b in shapes for d in dws]
    if wide:
        same += [(a, b, dw, t, q, m) for a, b in shapes for t in tiles for q in rqs for m in mems]
    return near + lanes + far + same


def _fine(ev: Evaluator, design: dict[str, Cands]) -> dict[str, Cands]:
    """Joint neighbourhood descent: the exact best combination of the engines' (Pareto-pruned) neighbourhoods,
    repeated around the new design while the period improves. Rounds use the small neighbourhood; where it gives
    nothing, one round uses the wide one, and the descent stops only when that gives nothing too (or after
    FINE_ROUNDS rounds)."""
    ctx = ev.ctx
    cur = _make_design(ev, design).period
    wide = False
    for _ in range(FINE_ROUNDS):
        nb = {e: ev.evaluate(e, _neighbourhood(ctx.engines[e], d.cfgs.row(0), _memories(ctx.engines[e], ctx.board),
                                               wide))
              for e, d in design.items()}
        nb = {e: pareto(c, exact=True) for e, c in nb.items()}
        idx = joint_bnb(ev, nb, cur * (1 + 1e-9))
        new = math.inf
        if idx is not None:
            new_design = {e: nb[e].take(np.array([i])) for e, i in idx.items()}
            new = _make_design(ev, new_design).period
        if new < cur - 1e-9:
            design, cur, wide = new_design, new, False
        elif wide:
            break
        else:
            wide = True
    return design


def coarse_to_fine(ctx: AccelContext, fine: bool = True, batch: int = 1) -> SearchResult:
    """The coarse-to-fine search (``fine=False``: the coarse stage only, for fast NAS screening) at ``batch`` images
    per task. The coarse stage prices one image per task whatever the batch, the fine descent the batch: measured on
    the 8 seeded architectures of ``benchmarks/accel_search.py`` at B = 8, a coarse stage at B = 8 left one design 8 %
    short of the exhaustive optimum (quality min 0.921), the coarse stage at B = 1 none more than 0.7 % (0.993)."""
    t0 = time.perf_counter()
    ev = Evaluator(ctx)
    evb = ev if batch == 1 else Evaluator(ctx, batch)
    cands = {e: pareto(ev.evaluate(e, coarse_space(em, _memories(em, ctx.board)))) for e, em in ctx.engines.items()}
    first = joint_bnb(ev, cands)
    tops = [first] if first is not None else []
    best: Design | None = None
    for idx in tops:
        design = {e: evb.evaluate(e, [cands[e].cfgs.row(i)]) for e, i in idx.items()}
        if fine:
            design = _fine(evb, design)
        d = _make_design(evb, design)
        if best is None or d.period < best.period - 1e-9:
            best = d
    if best is None:  # no coarse point fits: try the smallest configurations before giving up
        best = _smallest_design(evb)
    evals = [ev] if evb is ev else [ev, evb]
    engine_evals, design_evals = sum(e.engine_evals for e in evals), sum(e.design_evals for e in evals)
    return SearchResult(best, engine_evals + design_evals, engine_evals, design_evals,
                        time.perf_counter() - t0, "coarse-to-fine" if fine else "coarse", space_size(ctx))


def _smallest_design(ev: Evaluator, check: bool = True) -> Design | None:
    ctx = ev.ctx
    budget = budget_vector(ctx.board)
    chosen = {}
    for e, em in ctx.engines.items():
        row = (TM_CHOICES[0], TN_CHOICES[0], DW_CHOICES[0] if em.has_dw else 0, tile_choices(em)[0],
               RQ_CHOICES[0], 0)
        chosen[e] = ev.evaluate(e, [row])
    d = _make_design(ev, chosen)
    return d if not check or np.all(d.res <= budget + 1e-9) else None


def joint_bnb(ev: Evaluator, cands: dict[str, Cands], upper_bound: float = math.inf) -> dict[str, int] | None:
    """Exact best combination (one configuration per engine) over ``cands`` by branch and bound.

    Bounds are exact: for a partial choice the period is bounded below by the sorted alignment with, for every engine
    not yet chosen, the elementwise minimum of its sorted durations, and the resources by the smallest use of those
    engines. An open engine's configurations whose own bound (beside the chosen engines and the best case of the other
    open ones) exceeds the best period so far are dropped before its level, so only designs that can still win are
    evaluated. Complete designs are evaluated vectorised over the last engine. Returns {engine: index} or None.
    """
    ctx = ev.ctx
    budget = budget_vector(ctx.board)
    fixed = ctx.fixed_resources
    misc = _misc_vec(ctx, ev.batch)
    ovh = ctx.table["cycles.step_overhead"]
    # engines with the most layers first: their choice tightens the period bound most; the last one is vectorised
    names = sorted(cands, key=lambda e: (-cands[e].lat.shape[1], len(cands[e].cfgs)))
    full = dict(cands)
    min_res = {e: full[e].res.min(axis=0) for e in names}
    keep = {}
    for e in names:  # drop configurations that cannot fit whatever the other engines take
        others = fixed + sum((min_res[o] for o in names if o != e), np.zeros(5))
        keep[e] = np.nonzero(np.all(full[e].res + others <= budget + 1e-9, axis=1))[0]
        full[e] = full[e].take(keep[e])
    if any(len(full[e].cfgs) == 0 for e in names):
        return None
    min_res = {e: full[e].res.min(axis=0) for e in names}
    best = [upper_bound, math.inf, None]  # period, tie score, {engine: index}

    def level(i: int, fixed_vecs: list[np.ndarray], res: np.ndarray, chosen: dict[str, int],
              allowed: dict[str, np.ndarray]) -> None:
        e, rest = names[i], names[i + 1:]
        # the configurations of the engines still open that fit beside the ones chosen (tightens both bounds)
        pool = {}
        for o in names[i:]:
            others = res + sum((min_res[x] for x in names[i:] if x != o), np.zeros(5))
            a = allowed[o]
            pool[o] = a[np.all(full[o].res[a] + others <= budget + 1e-9, axis=1)]
            if len(pool[o]) == 0:
                return
        if math.isfinite(best[0]):
            # ... and whose own period bound (beside the chosen ones and the best case of the other open engines)
            # does not already exceed the best period: a valid lower bound, so the pruning stays exact
            mins = {o: full[o].srt[pool[o]].min(axis=0)[None, :] for o in names[i:]}
            for o in rest:
                b = period_from_sorted([full[o].srt[pool[o]]] + [v[None, :] for v in fixed_vecs]
                                       + [mins[x] for x in names[i:] if x != o] + [misc[None, :]], ovh)
                pool[o] = pool[o][b <= best[0] + 1e-9]
                if len(pool[o]) == 0:
                    return
        c = full[e].take(pool[e])
        lbs = [full[o].srt[pool[o]].min(axis=0)[None, :] for o in rest]
        mres = [full[o].res[pool[o]].min(axis=0) for o in rest]
        period = period_from_sorted([c.srt] + [v[None, :] for v in fixed_vecs] + lbs + [misc[None, :]], ovh)
        tot = c.res + res + sum(mres, np.zeros(5))
        ok = np.all(tot <= budget + 1e-9, axis=1)
        if not rest:  # complete designs
            ev.design_evals += len(c.cfgs)
            sc = _score(tot, budget)
            key = np.where(ok, period, np.inf)
            j = int(np.lexsort((sc, key))[0])
            if key[j] < best[0] - 1e-9 or (key[j] <= best[0] + 1e-9 and sc[j] < best[1]):
                best[:] = [float(key[j]), float(sc[j]), {**chosen, e: int(pool[e][j])}]
            return
        idx = np.nonzero(ok & (period <= best[0] + 1e-9))[0]
        for j in idx[np.argsort(period[idx], kind="stable")]:
            if period[j] > best[0] + 1e-9:
                break
            level(i + 1, [*fixed_vecs, c.srt[j]], res + c.res[j], {**chosen, e: int(pool[e][j])},
                  {o: pool[o] for o in rest})

    level(0, [], fixed.copy(), {}, {o: np.arange(len(full[o].cfgs)) for o in names})
    if best[2] is None:
        return None
    return {e: int(keep[e][j]) for e, j in best[2].items()}


def exhaustive(ctx: AccelContext, upper_bound: float = math.inf, batch: int = 1) -> SearchResult:
    """Exact optimum over the whole space at ``batch`` images per task: every engine configuration is evaluated,
    then :func:`joint_bnb`. ``upper_bound``: a period known to be achievable, to prune earlier (the result is the same
    whenever it is >= the optimum; pass it slightly above an achieved period)."""
    t0 = time.perf_counter()
    ev = Evaluator(ctx, batch)
    full = {e: ev.evaluate_all(e, full_space(em, ctx.board)) for e, em in ctx.engines.items()}
    idx = joint_bnb(ev, full, upper_bound)
    design = None
    if idx is not None:
        design = _make_design(ev, {e: full[e].take(np.array([j])) for e, j in idx.items()})
    return SearchResult(design, ev.engine_evals + ev.design_evals, ev.engine_evals, ev.design_evals,
                        time.perf_counter() - t0, "exhaustive", space_size(ctx))


# ---- entry points -----------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=8)
def _board(board: str) -> Board:
    return load_board(board)


@functools.lru_cache(maxsize=4)
def _table(path: str | None) -> CostTable:
    return load_cost_table(path)


@functools.lru_cache(maxsize=4)
def _pe(path: str | None) -> PeTiming:
    return load_pe_timing(path)


def make_context(nodes: list[Node], board: str | Board = "kv260", cost_table: str | None = None,
                 calibration: str | None = None) -> AccelContext:
    """The model context for a lowered network on a board (name, path or :class:`Board`)."""
    b = board if isinstance(board, Board) else _board(str(board))
    return AccelContext.build(nodes, b, _table(cost_table), _pe(calibration))


def top_batch(max_batch: int | None = None) -> int:
    """The largest batch of ``BATCH_CHOICES`` within the cap (None: no cap): the one the search runs at."""
    return max(b for b in BATCH_CHOICES if max_batch is None or b <= max_batch)


def choose_batch(ctx: AccelContext, design: Design, max_batch: int | None = None,
                 max_latency_ms: float | None = None) -> tuple[Design, int]:
    """The design's engines at the batch of ``BATCH_CHOICES`` (at most ``max_batch``) with the highest FPS
    (B / period; ties to the smaller B), and the engine evaluations it took (one per engine and other B).
    ``max_latency_ms``: only batches whose latency (B images leave together) is within it; where none is, the batch
    of the lowest latency (the caller's constraint then rejects the design)."""
    found = {design.batch: design}
    evals = 0
    for b in BATCH_CHOICES:
        if b in found or (max_batch is not None and b > max_batch):
            continue
        ev = Evaluator(ctx, b)
        found[b] = _make_design(ev, {e: ev.evaluate(e, [row]) for e, row in design.rows.items()})
        evals += ev.engine_evals
    allowed = sorted(found)
    if max_latency_ms is not None:
        lat = {b: performance(ctx, found[b])["latency_ms"] for b in allowed}
        allowed = [b for b in allowed if lat[b] <= max_latency_ms] or [min(allowed, key=lambda b: (lat[b], b))]
    best = allowed[0]
    for b in allowed:
        if b / found[b].period > best / found[best].period * (1 + 1e-9):
            best = b
    return found[best], evals


def check_max_batch(max_batch: int | None) -> None:
    """Refuse a batch cap below 1 (one line naming the option, exit 2)."""
    if max_batch is not None and (isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1):
        raise AccelSearchError(f"--max-batch: expected an integer >= 1 (images per task), got {max_batch!r}")


def search(ctx: AccelContext, mode: str = "coarse-to-fine", max_batch: int | None = None) -> SearchResult:
    """Run one search; ``mode``: coarse-to-fine | coarse | exhaustive; then the batch (images per task) of the
    highest FPS up to ``max_batch`` (None: every choice of ``BATCH_CHOICES``; 1: today's one image per task). Raises
    :class:`AccelSearchError` when no design of the space fits the board."""
    check_max_batch(max_batch)
    if mode == "exhaustive":
        r = exhaustive(ctx, batch=top_batch(max_batch))
    elif mode in ("coarse-to-fine", "coarse"):
        r = coarse_to_fine(ctx, fine=mode == "coarse-to-fine", batch=top_batch(max_batch))
    else:
        raise AccelSearchError(f"unknown search mode {mode!r}; expected coarse-to-fine, coarse or exhaustive")
    if r.design is None:
        b = ctx.board
        small = _smallest_design(Evaluator(ctx), check=False)
        need = resources_dict(small.res) if small is not None else {}
        raise AccelSearchError(f"no accelerator design fits board {b.name} ({b.part}): usable resources {b.budget}, "
                               f"the smallest design of the space for this network needs {need}")
    t0 = time.perf_counter()
    r.design, evals = choose_batch(ctx, r.design, max_batch)
    r.engine_evaluations += evals
    r.evaluations += evals
    r.seconds += time.perf_counter() - t0
    return r


def performance(ctx: AccelContext, design: Design) -> dict:
    """FPS, latency, GOPS and peaks of a design (builds its schedule)."""
    from nash.frontend.accel.model import engine_of
    from nash.frontend.accel.schedule import build_schedule

    cycles = layer_cycles(ctx, design)
    sched = build_schedule(ctx.nodes, {n.name: engine_of(n) for n in ctx.nodes}, cycles,
                           ctx.table["cycles.step_overhead"])
    f = ctx.board.clock_mhz * 1e6
    fps = design.batch * f / sched.period_cycles  # B images leave per period
    ops = 2.0 * sum(n.macs for n in ctx.nodes)  # one multiply-equivalent + one add per MAC
    pes = sum(r[0] * r[1] + r[2] for r in design.rows.values()) + int(ctx.table["misc.lanes"])
    b = ctx.board.budget
    # latency: from the start of a batch's first task to the end of its last (every image of the batch waits for it)
    return {"fps": fps, "latency_ms": sched.latency_cycles / f * 1e3, "period_cycles": sched.period_cycles,
            "batch": design.batch,
            "gops": ops * fps / 1e9, "peak_gops": 2.0 * pes * f / 1e9,
            "board_peak_gops": 2.0 * b["dsp"] * f / 1e9, "ops_per_image": ops, "schedule": sched}


def layer_cycles(ctx: AccelContext, design: Design) -> dict[str, float]:
    """Layer name -> cycles on its engine under ``design``."""
    out = {}
    for e, em in ctx.engines.items():
        for n, c in zip(em.layers, design.lat[e], strict=True):
            out[n.name] = float(c)
    for n, c in zip(ctx.misc.layers, ctx.misc.layer_cycles(design.batch), strict=True):
        out[n.name] = float(c)
    return out


def hardware_cost(arch: dict, board: str = "kv260", fast: bool = False, max_batch: int | None = None,
                  max_latency_ms: float | None = None) -> dict:
    """The NAS hardware cost of an architecture: the coarse-to-fine accelerator search's best design.

    Returns {"fps", "latency_ms", "gops", "peak_gops", "resources": {dsp, lut, ff, bram, uram}, "feasible",
    "period_cycles", "batch", "evaluations", "seconds"}. ``fast=True`` runs the coarse stage only (about 10x fewer
    evaluations); ``max_batch`` caps the images per task and ``max_latency_ms`` keeps the batch within a latency
    (:func:`choose_batch`; a NAS latency constraint passes it, so that a batch too slow for it does not reject a
    network that meets it at a smaller batch; when the engines found at the top batch meet it at no batch, the search
    runs again at each smaller batch and the highest FPS within the limit is kept). A network that does not fit gives
    ``feasible: False``, fps 0 and latency inf (no exception).
    """
    t0 = time.perf_counter()
    check_max_batch(max_batch)
    ctx = make_context(lower(arch), board)
    r = coarse_to_fine(ctx, fine=not fast, batch=top_batch(max_batch))
    if r.design is None:
        return {"fps": 0.0, "latency_ms": math.inf, "gops": 0.0, "peak_gops": 0.0,
                "resources": {"dsp": 0, "lut": 0, "ff": 0, "bram": 0, "uram": 0}, "feasible": False,
                "period_cycles": math.inf, "batch": 1, "evaluations": r.evaluations,
                "seconds": time.perf_counter() - t0}
    design, evals = choose_batch(ctx, r.design, max_batch, max_latency_ms)
    p = performance(ctx, design)
    evals += r.evaluations
    if max_latency_ms is not None and p["latency_ms"] > max_latency_ms:
        # choose_batch re-prices the engines found at the top batch; engines searched at a smaller batch can be
        # faster there: search again at each smaller batch and keep the highest FPS within the limit
        for b in sorted((b for b in BATCH_CHOICES if b < r.design.batch), reverse=True):
            rb = coarse_to_fine(ctx, fine=not fast, batch=b)
            evals += rb.evaluations
            if rb.design is None:
                continue
            db, eb = choose_batch(ctx, rb.design, b, max_latency_ms)
            evals += eb
            pb = performance(ctx, db)
            if pb["latency_ms"] <= max_latency_ms and (p["latency_ms"] > max_latency_ms or pb["fps"] > p["fps"]):
                design, p = db, pb
    return {"fps": p["fps"], "latency_ms": p["latency_ms"], "gops": p["gops"], "peak_gops": p["peak_gops"],
            "resources": resources_dict(design.res), "feasible": True, "period_cycles": p["period_cycles"],
            "batch": design.batch, "evaluations": evals, "seconds": time.perf_counter() - t0}
