"""Evolutionary zero-shot co-search (NASA-F mechanics): maximise a zero-shot metric under hardware constraints.

Each generation: ``mutations`` children by per-gene mutation (probability ``mutation_prob``) and ``crossovers``
children by uniform crossover of parents drawn from the population; a child must be new and satisfy the hardware
constraint (re-drawn otherwise). Survivors: the best ``population`` of parents + children by the metric. Group
metrics (NASH's rank sum, ours) are ranked within the archive of every feasible candidate evaluated so far, so one
generation's ranking and the final Pareto front use the same group. The archive also yields the Pareto front of
(metric, hardware objective).

The hardware cost and the scoring run through one executor (``nash.frontend.core.executor``: local worker processes
with one torch thread each, or the workers of a Dask cluster), in batches of the children still missing; results depend
only on the architecture, the RNG and the score seed, so serial, local-parallel and distributed runs agree. A
checkpoint (JSON, atomic) is written after every generation; ``resume`` continues from it and gives the same result as
an uninterrupted run.

A cost may have a cheap *screen* whose objective bounds the full one (the accelerator cost: the coarse stage of the
accelerator search, against the coarse-to-fine search). With ``SearchConfig.screen_hardware`` (the default) the search
prices candidates with the screen while it runs, since selection uses only the metric and the screen decides the
constraints alike; at the end it prices fully the candidates the outputs need (``hw_screen.must_price``: the top_k and
every possible Pareto member). Each archive record says which price its ``hw`` is (``price``: screen | full).
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nash.frontend.core.atomic_io import atomic_write_bytes, atomic_write_text
from nash.frontend.core.executor import Executor, make_executor
from nash.frontend.nas.search_space import SpaceConfig, arch_key, arch_stats, check, crossover, mutate, sample
from tqdm import tqdm

CHECKPOINT = "checkpoint.json"


# ---- hardware cost ---------------------------------------------------------------------------------------------------
@dataclass
class HardwareCost:
    """A pluggable hardware cost: ``fn(arch) -> dict`` plus which key is the Pareto objective.

    ``objective`` names a key of the dict; ``maximize`` says its direction (fps: up; macs, latency: down).
    A dict key ``feasible`` (bool), when present, is honoured as a hard constraint.
    """

    name: str
    fn: Callable[[dict], dict]
    objective: str
    maximize: bool
    # (kind, board) of a built-in cost: worker processes rebuild it with ``make_cost`` and evaluate it in parallel;
    # a custom cost (None) is evaluated in the main process.
    spec: tuple[str, str] | None = None
    # A cheaper price of the same metrics whose objective bounds the full one: screen <= full <= screen_ratio * screen
    # (only for a maximised, positive objective). None: every candidate gets the full price.
    screen: Callable[[dict], dict] | None = None
    screen_ratio: float = 1.0

    def __post_init__(self):
        if self.screen is not None and (not self.maximize or self.screen_ratio < 1.0):
            raise ValueError(f"cost {self.name!r}: a screen needs a maximised objective and screen_ratio >= 1")

    def __call__(self, arch: dict) -> dict:
        return self.fn(arch)

    def value(self, hw: dict) -> float:
        """Objective oriented so that larger is better."""
        v = float(hw[self.objective])
        return v if self.maximize else -v


def macs_cost(arch: dict) -> dict:
    """Coarse cost until the accelerator model is used: operations per op type (NASA-F's early proxy)."""
    s = arch_stats(arch)
    return {"macs": s["macs"], "params": s["params"], "conv_macs": s["per_op"]["conv"]["ops"],
            "shift_ops": s["per_op"]["shift"]["ops"], "adder_ops": s["per_op"]["adder"]["ops"], "feasible": True}


# The accelerator screen's bound: the coarse-to-fine FPS over the coarse-only FPS. At least 1 by construction (the
# fine stage starts from the coarse design and keeps only shorter periods); at most 1.41 measured on the first 640
# candidates of the seed-0 cifar32 search and 1.43 on the 8 cifar32 networks of docs/accelerator-model.md: 1.5 leaves
# some margin (docs/search.md, "Speed"). A full price above the bound is recorded (``screen_bound_misses``).
ACCEL_SCREEN_RATIO = 1.5


def make_cost(kind: str, board: str = "kv260", max_latency_ms: float | None = None) -> HardwareCost:
    """``macs`` (operations, minimised) or ``accel`` (the accelerator model's FPS, maximised; its screen is the coarse
    stage of the accelerator search, ``hardware_cost(fast=True)``). ``max_latency_ms``: the search's latency limit,
    which the accelerator cost's batch choice keeps to where it can (``accel.search.choose_batch``)."""
    if kind == "macs":
        return HardwareCost("macs", macs_cost, "macs", maximize=False, spec=("macs", board))
    if kind == "accel":
        from nash.frontend.accel.search import hardware_cost

        def fn(arch: dict, _hc=hardware_cost, _board=board, _lat=max_latency_ms) -> dict:
            return dict(_hc(arch, board=_board, max_latency_ms=_lat))

        def screen(arch: dict, _hc=hardware_cost, _board=board, _lat=max_latency_ms) -> dict:
            return dict(_hc(arch, board=_board, fast=True, max_latency_ms=_lat))

        return HardwareCost("accel", fn, "fps", maximize=True, spec=("accel", board, max_latency_ms), screen=screen,
                            screen_ratio=ACCEL_SCREEN_RATIO)
    raise ValueError(f"unknown hardware cost {kind!r}; expected 'accel' or 'macs'")


@dataclass
class Constraints:
    """Hard limits on a candidate's hardware metrics (None = no limit)."""

    min_fps: float | None = None
    max_latency_ms: float | None = None
    max_macs: float | None = None
    max_params: float | None = None

    def violations(self, hw: dict) -> list[str]:
        out = []
        if hw.get("feasible", True) is False:
            out.append("infeasible on the board")
        for key, lim, lower_bound in (("fps", self.min_fps, True), ("latency_ms", self.max_latency_ms, False),
                                      ("macs", self.max_macs, False), ("params", self.max_params, False)):
            if lim is None:
                continue
            if key not in hw:
                raise ValueError(f"constraint on {key!r} but the hardware cost gives only {sorted(hw)}")
            v = float(hw[key])
            if (v < lim) if lower_bound else (v > lim):
                out.append(f"{key}={v:g} {'<' if lower_bound else '>'} {lim:g}")
        return out

    def screen_cannot_decide(self) -> bool:
        """Whether no screen price can decide these constraints: the full latency has no bound from the screen's, so
        a latency limit always needs the full price (and the screen need not be computed)."""
        return self.max_latency_ms is not None

    def need_full_price(self, screened: dict) -> bool:
        """Whether a screen price (``screened``) cannot decide these constraints as the full price would.

        Feasibility, MACs and parameters are the same under both prices; the full FPS is at least the screen's, so
        an FPS limit the screen meets holds; a latency limit needs the full price (:meth:`screen_cannot_decide`)."""
        if self.screen_cannot_decide():
            return True
        return self.min_fps is not None and screened.get("feasible", True) is not False and \
            float(screened["fps"]) < self.min_fps


# ---- configuration ---------------------------------------------------------------------------------------------------
@dataclass
class SearchConfig:
    population: int = 100
    mutations: int = 45
    crossovers: int = 45
    mutation_prob: float = 0.2
    generations: int = 20
    seed: int = 0
    metric: str = "ours"
    score_seed: int = 0
    workers: int = 2
    scheduler: str | None = None  # a Dask scheduler address (tcp://host:8786): evaluate on its workers instead
    top_k: int = 10
    max_tries: int = 200  # draws per wanted child / initial member before giving up on the constraint
    screen_hardware: bool = True  # price with the cost's screen while searching, fully where the outputs need it
    constraints: Constraints = field(default_factory=Constraints)


# ---- evaluation pool -------------------------------------------------------------------------------------------------
def candidate_hw(arch: dict, cost: HardwareCost, screen: bool = False) -> dict:
    """The cost function's metrics (its screen's with ``screen``) plus the op counts (always recorded, and usable as
    constraints)."""
    hw = dict(cost.screen(arch) if screen else cost(arch))
    for k, v in macs_cost(arch).items():
        hw.setdefault(k, v)
    return hw


def price_candidate(arch: dict, cost: HardwareCost, constraints: Constraints, screen: bool) -> tuple[dict, str]:
    """(hardware metrics, which price: "screen" | "full"): the screen price where the cost has one, ``screen`` asks
    for it and it decides the constraints; the full price otherwise."""
    if screen and cost.screen is not None and not constraints.screen_cannot_decide():
        hw = candidate_hw(arch, cost, screen=True)
        if not constraints.need_full_price(hw):
            return hw, "screen"
    return candidate_hw(arch, cost), "full"


_WORKER_COSTS: dict[tuple, HardwareCost] = {}


def _init_worker() -> None:
    """Executor initializer: one torch thread per worker process (the serial run sets the same in-process)."""
    import torch

    torch.set_num_threads(1)


def _worker_cost(spec: tuple) -> HardwareCost:
    if spec not in _WORKER_COSTS:
        _WORKER_COSTS[spec] = make_cost(*spec)
    return _WORKER_COSTS[spec]


def _eval_job(job: tuple) -> tuple[dict, str, list[str], dict | None]:
    """Hardware cost and its price (unless given), constraint check, and scores of a feasible candidate."""
    from nash.frontend.nas.proxies import score_arch

    arch, priced, spec, constraints, screen, names, seed, data = job
    hw, price = priced if priced is not None else price_candidate(arch, _worker_cost(spec), constraints, screen)
    bad = constraints.violations(hw)
    return hw, price, bad, (None if bad else score_arch(arch, names, seed=seed, data=data))


def _full_price_job(job: tuple) -> dict:
    arch, spec = job
    return candidate_hw(arch, _worker_cost(spec))


class Evaluator:
    """Evaluates candidates (hardware cost, constraint check, base proxy scores), serially, in ``workers`` local
    processes, or on the workers of the Dask scheduler at ``scheduler``."""

    def __init__(self, cost: HardwareCost, constraints: Constraints, names: list[str], seed: int, workers: int,
                 data=None, scheduler: str | None = None, screen: bool = False):
        self.cost, self.constraints, self.screen = cost, constraints, screen
        self.names, self.seed, self.workers, self.data = names, seed, workers, data
        self.scheduler = scheduler
        self._executor: Executor | None = None
        self._threads = None

    def __enter__(self):
        self._executor = make_executor(self.workers, self.scheduler, initializer=_init_worker)
        if not self._executor.parallel:  # one torch thread, as in a worker: float reductions, hence scores, agree
            import torch

            self._threads = torch.get_num_threads()
            torch.set_num_threads(1)
        return self

    def __exit__(self, *exc):
        if self._executor is not None:
            self._executor.close()
            self._executor = None
        if self._threads is not None:
            import torch

            torch.set_num_threads(self._threads)
            self._threads = None

    def _in_workers(self) -> bool:
        if self._executor is None:
            raise RuntimeError("Evaluator is used outside its `with` block")
        return self.cost.spec is not None and self._executor.parallel

    def __call__(self, archs: list[dict]) -> list[tuple[dict, str, list[str], dict | None]]:
        """(hardware metrics, their price "screen" | "full", constraint violations, scores or None when infeasible)
        per architecture.

        With parallel workers, a built-in cost runs in the workers next to the scoring, so both use every core; a
        custom cost function (which need not be picklable) and any serial run use ``self.cost`` here.
        """
        in_workers = self._in_workers()
        priced = [None] * len(archs) if in_workers else \
            [price_candidate(a, self.cost, self.constraints, self.screen) for a in archs]
        jobs = [(a, p, self.cost.spec, self.constraints, self.screen, self.names, self.seed, self.data)
                for a, p in zip(archs, priced, strict=True)]
        return list(self._executor.map(_eval_job, jobs))

    def full_price(self, archs: list[dict]) -> list[dict]:
        """The full hardware price of each architecture (in the workers where the cost is a built-in one)."""
        if not self._in_workers():
            return [candidate_hw(a, self.cost) for a in archs]
        return list(self._executor.map(_full_price_job, [(a, self.cost.spec) for a in archs]))


# ---- the search ------------------------------------------------------------------------------------------------------
class Search:
    """State of one evolutionary search: archive, population, RNG, generation counter."""

    def __init__(self, space: SpaceConfig, cfg: SearchConfig, cost: HardwareCost, data=None):
        from nash.frontend.nas.proxies import base_names

        self.space, self.cfg, self.cost, self.data = space, cfg, cost, data
        self.names = base_names([cfg.metric])
        self.rng = random.Random(cfg.seed)
        self.archive: list[dict] = []  # {"arch", "key", "scores", "hw", "price", "generation"}
        self.index: dict[str, int] = {}
        self.rejected: dict[str, list[str]] = {}  # key -> constraint violations
        self.population: list[str] = []
        self.generation = 0
        self.history: list[dict] = []
        self.screen_bound_misses: list[dict] = []

    # -- metric over the archive
    def metric_values(self) -> list[float]:
        from nash.frontend.nas.proxies import combine_group

        if not self.archive:
            return []
        return combine_group(self.cfg.metric, [r["scores"] for r in self.archive])

    def _draw(self, make: Callable[[], dict], want: int, taken: set[str],
              evaluator: Evaluator) -> list[tuple[dict, dict, str, dict]]:
        """Up to ``want`` new feasible architectures from ``make``, with hardware metrics, their price and scores.

        Candidates are drawn in batches of the number still missing and evaluated together (hardware cost and
        scores in the executor's workers); infeasible ones are recorded as rejected and replaced by the next batch.
        The draw order depends only on the RNG, so runs are reproducible whatever the executor.
        """
        out: list[tuple[dict, dict, str, dict]] = []
        tries, limit = 0, self.cfg.max_tries * max(1, want)
        while len(out) < want and tries < limit:
            batch: list[dict] = []
            while len(batch) < want - len(out) and tries < limit:
                tries += 1
                a = make()
                key = arch_key(a)
                if key in taken or key in self.index or key in self.rejected:
                    continue
                errs = check(a, self.space)
                if errs:
                    raise AssertionError(f"search produced an invalid architecture: {errs[0]}")
                taken.add(key)
                batch.append(a)
            for a, (hw, price, bad, scores) in zip(batch, evaluator(batch), strict=True):
                if bad:
                    self.rejected[arch_key(a)] = bad
                else:
                    out.append((a, hw, price, scores))
        return out

    def _add(self, cands: list[tuple[dict, dict, str, dict]]) -> None:
        for a, hw, price, s in cands:
            key = arch_key(a)
            self.index[key] = len(self.archive)
            self.archive.append({"arch": a, "key": key, "scores": s, "hw": hw, "price": price,
                                 "generation": self.generation})

    def _select(self, keys: list[str]) -> list[str]:
        vals = self.metric_values()
        order = sorted(keys, key=lambda k: (-_num(vals[self.index[k]]), self.index[k]))
        return order[: self.cfg.population]

    def initialize(self, evaluator: Evaluator) -> None:
        cands = self._draw(lambda: sample(self.space, self.rng), self.cfg.population, set(), evaluator)
        if not cands:
            raise RuntimeError("no architecture of the space satisfies the hardware constraints "
                               f"(e.g. {next(iter(self.rejected.values()), ['?'])[0]})")
        self._add(cands)
        self.population = self._select([arch_key(c[0]) for c in cands])
        self._log()

    def step(self, evaluator: Evaluator) -> None:
        self.generation += 1
        parents = [self.archive[self.index[k]]["arch"] for k in self.population]
        taken: set[str] = set()
        muts = self._draw(lambda: mutate(self.rng.choice(parents), self.space, self.rng, self.cfg.mutation_prob),
                          self.cfg.mutations, taken, evaluator)
        if len(parents) > 1:
            def cross():
                a, b = self.rng.sample(parents, 2)
                return crossover(a, b, self.space, self.rng)
        else:
            def cross():
                return mutate(parents[0], self.space, self.rng, self.cfg.mutation_prob)
        crosses = self._draw(cross, self.cfg.crossovers, taken, evaluator)
        self._add(muts + crosses)
        self.population = self._select(self.population + [arch_key(c[0]) for c in muts + crosses])
        self._log()

    def _log(self) -> None:
        vals = self.metric_values()
        pop = [vals[self.index[k]] for k in self.population]
        self.history.append({"generation": self.generation, "evaluated": len(self.archive),
                             "best": max(pop), "mean": sum(pop) / len(pop)})

    # -- full prices for the outputs
    def finalize_prices(self, evaluator: Evaluator) -> None:
        """Give the full hardware price to every screen-priced candidate the outputs need (the top_k and every
        possible Pareto member, ``hw_screen.must_price``), in rounds until no more is needed. A full price outside
        the screen's bound is recorded in ``screen_bound_misses`` (the front may then be inexact)."""
        from nash.frontend.nas.hw_screen import must_price

        while True:
            vals = self.metric_values()
            idx = must_price(vals, [self.cost.value(r["hw"]) for r in self.archive],
                             [_price(r) == "full" for r in self.archive], self.cost.screen_ratio, self.cfg.top_k)
            if not idx:
                return
            for i, hw in zip(idx, evaluator.full_price([self.archive[i]["arch"] for i in idx]), strict=True):
                rec = self.archive[i]
                lo, full = self.cost.value(rec["hw"]), self.cost.value(hw)
                if not lo <= full <= self.cost.screen_ratio * lo + 1e-9 * abs(lo):
                    self.screen_bound_misses.append({"key": rec["key"], "screen": lo, "full": full})
                rec["hw"], rec["price"], rec["screen_value"] = hw, "full", lo

    def price_summary(self) -> dict:
        """How many candidates carry which price, and the largest full / screen objective ratio seen."""
        full = [r for r in self.archive if _price(r) == "full"]
        ratios = [self.cost.value(r["hw"]) / r["screen_value"] for r in full if r.get("screen_value")]
        return {"full": len(full), "screen": len(self.archive) - len(full), "screen_ratio_bound":
                self.cost.screen_ratio, "full_over_screen_max": max(ratios, default=None),
                "screen_bound_misses": list(self.screen_bound_misses)}

    # -- results
    def ranked(self) -> list[tuple[float, dict]]:
        vals = self.metric_values()
        idx = sorted(range(len(self.archive)), key=lambda i: (-_num(vals[i]), i))
        return [(vals[i], self.archive[i]) for i in idx]

    def pareto(self) -> list[tuple[float, dict]]:
        """Non-dominated archive members on (metric up, hardware objective up), sorted by metric."""
        import numpy as np

        vals = self.metric_values()
        m_all = np.array([_num(v) for v in vals])
        h_all = np.array([self.cost.value(r["hw"]) for r in self.archive])
        front = []
        for i in range(len(self.archive)):
            m, h = m_all[i], h_all[i]
            if not np.any((m_all >= m) & (h_all >= h) & ((m_all > m) | (h_all > h))):
                front.append(i)
        front.sort(key=lambda i: (-_num(vals[i]), i))
        return [(vals[i], self.archive[i]) for i in front]

    # -- checkpoint
    def state(self) -> dict:
        st = self.rng.getstate()
        return {"format": "nash-search-checkpoint", "version": 1, "generation": self.generation,
                "config": _cfg_dict(self.cfg), "space": self.space.name, "ops": list(self.space.ops),
                "cost": self.cost.name, "rng": [st[0], list(st[1]), st[2]], "population": self.population,
                "archive": self.archive, "rejected": self.rejected, "history": self.history,
                "screen_bound_misses": self.screen_bound_misses}

    def load_state(self, st: dict, path: Path) -> None:
        mine = _cfg_dict(self.cfg)
        for key in ("population", "mutations", "crossovers", "mutation_prob", "seed", "metric", "score_seed",
                    "constraints"):
            if st["config"].get(key) != mine.get(key):
                raise ValueError(f"{path}: field 'config.{key}': checkpoint has {st['config'].get(key)!r}, "
                                 f"this run asks for {mine.get(key)!r}; use a new --out or the same settings")
        if st["space"] != self.space.name or st["ops"] != list(self.space.ops) or st["cost"] != self.cost.name:
            raise ValueError(f"{path}: checkpoint is for space {st['space']} ops {st['ops']} cost {st['cost']}")
        r = st["rng"]
        self.rng.setstate((r[0], tuple(r[1]), r[2]))
        self.generation = st["generation"]
        self.population = list(st["population"])
        self.archive = list(st["archive"])
        self.index = {r["key"]: i for i, r in enumerate(self.archive)}
        self.rejected = dict(st["rejected"])
        self.history = list(st["history"])
        self.screen_bound_misses = list(st.get("screen_bound_misses", []))


def _price(rec: dict) -> str:
    """An archive record's price (records of checkpoints from before the screen were all fully priced)."""
    return rec.get("price", "full")


def _num(v) -> float:
    return -math.inf if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _cfg_dict(cfg: SearchConfig) -> dict:
    d = asdict(cfg)
    d.pop("workers", None)
    d.pop("scheduler", None)
    d.pop("generations", None)
    d.pop("top_k", None)
    return d


def run_search(space: SpaceConfig, cfg: SearchConfig, cost: HardwareCost, out: Path, data=None, resume: bool = False,
               progress: bool = True, provenance: dict | None = None, stop_after: int | None = None) -> Search:
    """Run (or resume) the search and write ``out``/best.json, top_k.json, pareto.csv, pareto.png, checkpoint.json.

    ``stop_after`` ends the run after that many generations of this call (to simulate an interruption in tests).
    """
    out = Path(out)
    ck = out / CHECKPOINT
    s = Search(space, cfg, cost, data)
    # The executor first: an unreachable --scheduler fails before OUT (and its checkpoint) is touched.
    with Evaluator(cost, cfg.constraints, s.names, cfg.score_seed, cfg.workers, data, cfg.scheduler,
                   cfg.screen_hardware) as evaluator:
        out.mkdir(parents=True, exist_ok=True)
        if resume and ck.exists():
            s.load_state(json.loads(ck.read_text()), ck)
        elif ck.exists() and not resume:
            ck.unlink()
        t0 = time.time()
        done_now = 0
        if not s.archive:
            s.initialize(evaluator)
            atomic_write_text(ck, json.dumps(s.state()))
        bar = tqdm(total=cfg.generations, initial=s.generation, desc="search", unit="gen", disable=not progress)
        while s.generation < cfg.generations:
            if stop_after is not None and done_now >= stop_after:
                break
            s.step(evaluator)
            done_now += 1
            atomic_write_text(ck, json.dumps(s.state()))
            bar.update()
            bar.set_postfix(evaluated=len(s.archive), best=f"{s.history[-1]['best']:.3f}")
        bar.close()
        if s.generation >= cfg.generations:
            s.finalize_prices(evaluator)
            atomic_write_text(ck, json.dumps(s.state()))
    if s.generation >= cfg.generations:
        write_outputs(s, out, provenance or {}, time.time() - t0)
    return s


# ---- outputs ---------------------------------------------------------------------------------------------------------
CSV_HW = ("fps", "latency_ms", "gops", "macs", "params", "conv_macs", "shift_ops", "adder_ops", "feasible")


def write_outputs(s: Search, out: Path, provenance: dict, seconds: float) -> None:
    from nash.frontend.core.model_file import new_model, save_model

    ranked = s.ranked()
    best_val, best = ranked[0]
    prov = {
        **provenance, "seed": s.cfg.seed, "metric": s.cfg.metric, "metric_value": best_val,
        "metric_group": "all feasible candidates evaluated by the search", "scores": best["scores"],
        "hardware": {"cost": s.cost.name, "objective": s.cost.objective, **best["hw"]},
        "search": {**_cfg_dict(s.cfg), "generations": s.cfg.generations, "evaluated": len(s.archive),
                   "rejected_by_constraints": len(s.rejected), "space": s.space.name, "ops": list(s.space.ops),
                   "seconds_last_call": seconds, "hardware_prices": s.price_summary()},
        "stats": arch_stats(best["arch"]),
    }
    # The search writes only its own sections; `nash accel` searches and writes the accelerator section.
    mf = new_model("best", best["arch"], search_provenance=_jsonable(prov))
    save_model(mf, out / "best.json")
    top = [{"rank": i + 1, "metric": v, "scores": r["scores"], "hardware": r["hw"], "architecture": r["arch"]}
           for i, (v, r) in enumerate(ranked[: s.cfg.top_k])]
    atomic_write_text(out / "top_k.json", json.dumps(_jsonable(top), indent=1))
    front = s.pareto()
    buf = io.StringIO()
    w = csv.writer(buf)
    score_cols = sorted({k for _, r in front for k in r["scores"]})
    w.writerow(["rank", "metric", *score_cols, *CSV_HW, "resources", "generation", "architecture"])
    for i, (v, r) in enumerate(front):
        hw = r["hw"]
        res = json.dumps(hw["resources"]) if "resources" in hw else ""
        w.writerow([i + 1, v, *[r["scores"].get(k) for k in score_cols], *[hw.get(k, "") for k in CSV_HW], res,
                    r["generation"], json.dumps(r["arch"], sort_keys=True)])
    atomic_write_text(out / "pareto.csv", buf.getvalue())
    atomic_write_text(out / "history.json", json.dumps(s.history, indent=1))
    plot_pareto(s, front, out / "pareto.png")


def plot_pareto(s: Search, front: list, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    vals = s.metric_values()
    obj = s.cost.objective
    sign = 1 if s.cost.maximize else -1
    fig, ax = plt.subplots(figsize=(6, 4.2))
    screened = sum(_price(r) == "screen" for r in s.archive)
    note = f"; {screened} at the screen's lower bound" if screened else ""
    ax.scatter([sign * s.cost.value(r["hw"]) for r in s.archive], [_num(v) for v in vals], s=6, c="0.7",
               label=f"evaluated ({len(s.archive)}{note})")
    ax.plot([sign * s.cost.value(r["hw"]) for _, r in front], [_num(v) for v, _ in front], "o-", c="tab:red", ms=4,
            label=f"Pareto front ({len(front)})")
    ax.set_xlabel(f"{obj} ({'higher' if s.cost.maximize else 'lower'} is better)")
    ax.set_ylabel(f"zero-shot metric: {s.cfg.metric}")
    ax.set_title(f"{s.space.name} ops={','.join(s.space.ops)} seed={s.cfg.seed}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    b = io.BytesIO()
    fig.savefig(b, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, b.getvalue())


def _jsonable(o):
    if isinstance(o, float) and not math.isfinite(o):
        return str(o)
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_jsonable(v) for v in o]
    if hasattr(o, "item") and callable(o.item):
        return _jsonable(o.item())
    return o
