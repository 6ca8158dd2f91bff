"""The accuracy stage of the NASH search: evolution over a trained supernet's span on inherited-weight accuracy.

Each candidate is a sub-network of the supernet (:mod:`nash.frontend.train.supernet`); its fitness is the validation
accuracy of the integer network with inherited weights after BN recalibration on training images
(``supernet.training.inherited_accuracy``), and its hardware figures come from the same cost function and
constraints as the zero-shot search (``evolution.make_cost``, ``evolution.Constraints``; the accelerator search per
candidate with ``accel``). Children are drawn inside the span (per-gene mutation, uniform crossover), infeasible
ones are rejected, the ``population`` most accurate feasible candidates survive, and the accuracy / hardware Pareto
front of everything evaluated is reported. The most accurate feasible candidate is written as ``best.json`` with its
weights exported from the supernet (a model-accelerator pair once ``nash accel`` has run on it).
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import random
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nash.frontend.core.atomic_io import atomic_write_text
from nash.frontend.core.errors import UserInputError
from nash.frontend.core.executor import Executor, make_executor
from nash.frontend.core.json_file import read_json
from nash.frontend.nas.evolution import Constraints, HardwareCost, candidate_hw
from nash.frontend.nas.search_space import arch_key
from nash.frontend.train.supernet.space import SuperSpace
from tqdm import tqdm

CHECKPOINT = "accuracy_checkpoint.json"


@dataclass
class AccuracySearchConfig:
    population: int = 16
    generations: int = 5
    mutations: int = 8
    crossovers: int = 8
    mutation_prob: float = 0.2
    seed: int = 0
    bn_batches: int = 8
    max_tries: int = 50  # draws per wanted child before giving up on new feasible children
    constraints: Constraints = field(default_factory=Constraints)


# ---- variation inside the span ---------------------------------------------------------------------------------------
def mutate_in_span(arch: dict, space: SuperSpace, rng: random.Random, prob: float) -> dict:
    """Each gene re-drawn from the span's choices at its position with probability ``prob`` (depth changes append
    blocks drawn from the span or drop the last ones)."""
    a = copy.deepcopy(arch)
    if rng.random() < prob:
        a["stem"]["width"] = rng.choice(space.stem_widths)
    if rng.random() < prob:
        a["head"]["width"] = rng.choice(space.head_widths)
    for st, stage in zip(space.stages, a["stages"], strict=True):
        if rng.random() < prob:
            stage["width"] = rng.choice(st.widths)
        if rng.random() < prob:
            depth = rng.choice(st.depths)
            del stage["blocks"][depth:]
            for bi in range(len(stage["blocks"]), depth):
                b = st.blocks[bi]
                stage["blocks"].append({"op": rng.choice(b.ops), "kernel": rng.choice(b.kernels),
                                        "expand": rng.choice(b.expands)})
        for b, span in zip(stage["blocks"], st.blocks, strict=False):
            for key, choices in (("op", span.ops), ("kernel", span.kernels), ("expand", span.expands)):
                if rng.random() < prob:
                    b[key] = rng.choice(choices)
    return a


def crossover_in_span(a: dict, b: dict, rng: random.Random) -> dict:
    """Stem / head width and each stage's width and depth from either parent; block i from either parent's block i
    where both have one (both parents lie in the span, so the child does)."""
    child = copy.deepcopy(a)
    child["stem"]["width"] = rng.choice((a, b))["stem"]["width"]
    child["head"]["width"] = rng.choice((a, b))["head"]["width"]
    for si, (sa, sb) in enumerate(zip(a["stages"], b["stages"], strict=True)):
        depth = len(rng.choice((sa, sb))["blocks"])
        blocks = [copy.deepcopy(rng.choice([s["blocks"][i] for s in (sa, sb) if i < len(s["blocks"])]))
                  for i in range(depth)]
        child["stages"][si] = {"width": rng.choice((sa, sb))["width"], "stride": sa["stride"], "blocks": blocks}
    return child


# ---- evaluation: here or in worker processes ------------------------------------------------------------------------
@dataclass(frozen=True)
class SupernetSource:
    """Where a worker process loads the supernet and its dataset split from: the files the caller loaded (a Dask
    worker needs them at the same paths)."""

    checkpoint: str  # DIR/supernet.pt
    dataset: str
    data_root: str | None
    split_seed: int

    def digest(self) -> str:
        """SHA-256 of the checkpoint file (a resumed search must use the same supernet)."""
        return hashlib.sha256(Path(self.checkpoint).read_bytes()).hexdigest()


_WORKER_SUPERNETS: dict[SupernetSource, tuple] = {}


def _worker_supernet(src: SupernetSource) -> tuple:
    """(supernet, splits) of ``src``, loaded once per worker process."""
    if src not in _WORKER_SUPERNETS:
        from nash.frontend.data import load_dataset
        from nash.frontend.train.supernet.training import load_checkpoint, supernet_from_checkpoint

        net = supernet_from_checkpoint(load_checkpoint(src.checkpoint))
        splits = load_dataset(src.dataset, root=src.data_root, size=net.space.skeleton["input_size"],
                              seed=src.split_seed)
        _WORKER_SUPERNETS.clear()  # one supernet per worker at a time
        _WORKER_SUPERNETS[src] = (net, splits)
    return _WORKER_SUPERNETS[src]


def _accuracy_job(job: tuple) -> float:
    """Worker: the inherited-weight integer accuracy of one sub-network."""
    from nash.frontend.train.supernet.training import inherited_accuracy

    src, arch, bn_batches = job
    net, splits = _worker_supernet(src)
    return inherited_accuracy(net, arch, splits, "qat", bn_batches)


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


@contextmanager
def one_torch_thread():
    """Run the block with one torch thread, as every worker does: the float reductions before an int8 rounding, hence
    the accuracies, then do not depend on the process that measured them."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class AccuracyEvaluator:
    """Inherited-weight accuracies of a batch of sub-networks: in this process (``workers`` 1), in ``workers``
    local processes or on the workers of the Dask scheduler at ``scheduler`` (these load ``source``). Every
    evaluation runs with one torch thread, so the float reductions, hence the accuracies, do not depend on where it
    ran."""

    def __init__(self, net, splits, bn_batches: int, source: SupernetSource | None = None, workers: int = 1,
                 scheduler: str | None = None):
        if (workers > 1 or scheduler) and source is None:
            raise ValueError("parallel evaluation needs the supernet's source files (SupernetSource)")
        self.net, self.splits, self.bn_batches, self.source = net, splits, bn_batches, source
        self.workers, self.scheduler = workers, scheduler
        self._executor: Executor | None = None

    def __enter__(self) -> AccuracyEvaluator:
        self._executor = make_executor(self.workers, self.scheduler, initializer=_one_thread)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._executor is not None:
            self._executor.close()
            self._executor = None

    def __call__(self, archs: list[dict]) -> list[float]:
        from nash.frontend.train.supernet.training import inherited_accuracy

        if self._executor is None:
            raise RuntimeError("AccuracyEvaluator is used outside its `with` block")
        if not self._executor.parallel:
            with one_torch_thread():
                return [inherited_accuracy(self.net, a, self.splits, "qat", self.bn_batches) for a in archs]
        return list(self._executor.map(_accuracy_job, [(self.source, a, self.bn_batches) for a in archs]))


# ---- the search ------------------------------------------------------------------------------------------------------
def pareto_front(records: list[dict], cost: HardwareCost) -> list[dict]:
    """Feasible records not dominated in (accuracy, hardware objective), most accurate first."""
    feas = [r for r in records if r["accuracy"] is not None]
    front = [r for r in feas
             if not any(o["accuracy"] >= r["accuracy"] and cost.value(o["hw"]) >= cost.value(r["hw"])
                        and (o["accuracy"] > r["accuracy"] or cost.value(o["hw"]) > cost.value(r["hw"]))
                        for o in feas)]
    return sorted(front, key=lambda r: -r["accuracy"])


def _fitness(r: dict) -> float:
    return r["accuracy"] if r["accuracy"] is not None else -1.0


class AccuracySearch:
    """State of one accuracy search (archive, population, RNG, generation) and its JSON checkpoint."""

    def __init__(self, space: SuperSpace, cfg: AccuracySearchConfig, cost: HardwareCost, supernet: str | None):
        self.space, self.cfg, self.cost, self.supernet = space, cfg, cost, supernet
        self.rng = random.Random(cfg.seed)
        self.archive: dict[str, dict] = {}  # arch_key -> {"arch", "hw", "violations", "accuracy", "generation"}
        self.population: list[str] = []  # keys, most accurate first
        self.history: list[dict] = []
        self.generation = 0

    def _draw(self, make, want: int, taken: set[str]) -> list[dict]:
        """Up to ``want`` new feasible records from ``make()`` (accuracy still to be measured); infeasible ones go
        to the archive. The draws depend only on the RNG, so any evaluator gives the same search."""
        batch: list[dict] = []
        for _ in range(max(1, want) * self.cfg.max_tries):
            if len(batch) >= want:
                break
            arch = make()
            key = arch_key(arch)
            if key in self.archive or key in taken:
                continue
            hw = _jsonable(candidate_hw(arch, self.cost))
            rec = {"arch": arch, "hw": hw, "violations": self.cfg.constraints.violations(hw), "accuracy": None,
                   "generation": self.generation}
            taken.add(key)
            if rec["violations"]:
                self.archive[key] = rec
            else:
                batch.append(rec)
        return batch

    def _measure(self, batch: list[dict], evaluate: AccuracyEvaluator) -> list[str]:
        for rec, acc in zip(batch, evaluate([r["arch"] for r in batch]), strict=True):
            rec["accuracy"] = float(acc)
            self.archive[arch_key(rec["arch"])] = rec
        return [arch_key(r["arch"]) for r in batch]

    def _select(self, keys: list[str]) -> list[str]:
        order = sorted(dict.fromkeys(keys), key=lambda k: -_fitness(self.archive[k]))  # stable: ties keep order
        return order[: self.cfg.population]

    def initialize(self, candidates: list[dict], evaluate: AccuracyEvaluator) -> None:
        """The top-K candidates (feasible ones), padded with random draws from the span to ``population``."""
        seeds = iter(copy.deepcopy(candidates[: self.cfg.population]))
        taken: set[str] = set()
        batch = self._draw(lambda: next(seeds, None) or self.space.random(self.rng, 1.0), self.cfg.population, taken)
        keys = self._measure(batch, evaluate)
        infeasible = [k for k, r in self.archive.items() if r["violations"]]
        self.population = self._select(keys or infeasible)
        self._log(len(keys))

    def step(self, evaluate: AccuracyEvaluator) -> None:
        """One generation: mutation and crossover children (new, feasible), measured together; the most accurate
        ``population`` of parents and children survive."""
        self.generation += 1
        recs = [self.archive[k] for k in self.population]
        parents = [r for r in recs if r["accuracy"] is not None] or recs
        taken: set[str] = set()
        muts = self._draw(lambda: mutate_in_span(self.rng.choice(parents)["arch"], self.space, self.rng,
                                                 self.cfg.mutation_prob), self.cfg.mutations, taken)
        crosses = self._draw(lambda: crossover_in_span(self.rng.choice(parents)["arch"],
                                                       self.rng.choice(parents)["arch"], self.rng),
                             self.cfg.crossovers, taken)
        keys = self._measure(muts + crosses, evaluate)
        self.population = self._select(self.population + keys)
        self._log(len(keys))

    def _log(self, children: int) -> None:
        self.history.append({"generation": self.generation, "evaluated": len(self.archive),
                             "best": _fitness(self.archive[self.population[0]]), "children": children})

    def result(self) -> dict:
        records = list(self.archive.values())
        feasible = [r for r in records if r["accuracy"] is not None]
        best = max(feasible, key=_fitness) if feasible else None
        return {"archive": records, "history": self.history, "best": best,
                "pareto": pareto_front(records, self.cost)}

    # -- checkpoint
    def state(self) -> dict:
        st = self.rng.getstate()
        return {"format": "nash-accuracy-search-checkpoint", "version": 1, "config": _resume_settings(self.cfg),
                "cost": self.cost.name, "supernet": self.supernet, "generation": self.generation,
                "rng": [st[0], list(st[1]), st[2]], "population": self.population,
                "archive": list(self.archive.values()), "history": self.history}

    def load_state(self, st: dict, path: Path) -> None:
        """Continue from a checkpoint; one-line errors when it belongs to another run."""
        if not isinstance(st, dict) or st.get("format") != "nash-accuracy-search-checkpoint":
            raise UserInputError(f"{path}: not a checkpoint of 'nash search --stage accuracy'")
        mine = _resume_settings(self.cfg)
        for key in mine:
            if st["config"].get(key) != mine[key]:
                raise UserInputError(f"{path}: field 'config.{key}': checkpoint has {st['config'].get(key)!r}, this "
                                     f"run asks for {mine[key]!r}; use a new --out or the same settings")
        if st["cost"] != self.cost.name or st["supernet"] != self.supernet:
            raise UserInputError(f"{path}: checkpoint was written with another hardware cost or supernet "
                                 f"({st['cost']}); use a new --out")
        r = st["rng"]
        self.rng.setstate((r[0], tuple(r[1]), r[2]))
        self.generation = st["generation"]
        self.population = list(st["population"])
        self.archive = {arch_key(rec["arch"]): rec for rec in st["archive"]}
        self.history = list(st["history"])


def _resume_settings(cfg: AccuracySearchConfig) -> dict:
    """The settings a resumed search must share (all but the number of generations, which may grow)."""
    d = {**asdict(cfg), "constraints": asdict(cfg.constraints)}
    d.pop("generations")
    return d


def _jsonable(hw: dict) -> dict:
    """The hardware record as the checkpoint stores it (JSON types), so that a resumed run holds the same values."""
    return json.loads(json.dumps(hw, default=str))


def run_accuracy_search(net, candidates: list[dict], splits, cost: HardwareCost, cfg: AccuracySearchConfig,
                        progress: bool = True, out: Path | None = None, resume: bool = False,
                        stop_after: int | None = None, source: SupernetSource | None = None, workers: int = 1,
                        scheduler: str | None = None) -> dict:
    """Evolve sub-networks of ``net`` (a trained SuperNet) from ``candidates`` (the supernet's top-K); returns
    ``{"archive", "history", "best", "pareto"}``. A record holds arch, hw, violations, accuracy (None when
    infeasible) and generation.

    With ``out``, a checkpoint ``out/accuracy_checkpoint.json`` is written atomically after the initial population
    and every generation; ``resume`` continues from it (the same result as an uninterrupted run), otherwise it is
    deleted first. ``stop_after`` ends the call after that many generations (to simulate an interruption in tests).
    The accuracies are measured in this process, in ``workers`` local processes or on a Dask ``scheduler``'s
    workers (which load ``source``), with equal results.
    """
    s = AccuracySearch(net.space, cfg, cost, source.digest() if source is not None else None)
    ck = None if out is None else Path(out) / CHECKPOINT
    total = cfg.population + cfg.generations * (cfg.mutations + cfg.crossovers)
    # The executor first: an unreachable --scheduler fails before the checkpoint is touched.
    with AccuracyEvaluator(net, splits, cfg.bn_batches, source, workers, scheduler) as evaluate:
        if ck is not None:
            ck.parent.mkdir(parents=True, exist_ok=True)
            if resume and ck.exists():
                s.load_state(read_json(ck, what="accuracy-search checkpoint"), ck)
            else:
                ck.unlink(missing_ok=True)
        bar = tqdm(total=total, initial=min(total, len(s.archive)), desc="accuracy search", unit="net",
                   disable=not progress)

        def save() -> None:
            bar.update(max(0, min(total, len(s.archive)) - bar.n))
            bar.set_postfix(best=f"{s.history[-1]['best']:.2f}", gen=s.generation)
            if ck is not None:
                atomic_write_text(ck, json.dumps(s.state()))

        if not s.history:
            s.initialize(candidates, evaluate)
            save()
        done = 0
        while s.generation < cfg.generations and (stop_after is None or done < stop_after):
            s.step(evaluate)
            done += 1
            save()
        bar.close()
    return s.result()


def export_best(net, best: dict, splits, dataset: str, split_seed: int, search_prov: dict, bn_batches: int,
                out: Path) -> Path:
    """Write ``out``/best.json: the architecture (search stage) and the weights exported from the supernet after BN
    recalibration, with float / fake-quant / integer accuracy (``provenance.train``)."""
    from nash.frontend.core.model_file import new_model, save_model, update_sections
    from nash.frontend.integer.weights_io import pack
    from nash.frontend.models.convert import integer_model
    from nash.frontend.train.trainer import accuracy, calibration_batches, integer_accuracy, recalibrate_bn

    sub = net.subnet(best["arch"])
    with one_torch_thread():  # as the search measured it, so that the integer accuracy is the search's figure
        recalibrate_bn(sub, calibration_batches(splits.x_train, bn_batches), bn_batches, "float")
        float_acc = accuracy(sub, splits.x_val, splits.y_val, "float")
        recalibrate_bn(sub, calibration_batches(splits.x_train, bn_batches), bn_batches, "qat")
        im = integer_model(sub)
        acc = {"float": float_acc, "fake_quant": accuracy(sub, splits.x_val, splits.y_val, "qat"),
               "integer": integer_accuracy(im, splits.x_val, splits.y_val)}
    q = {"shift_mode": net.shift_mode, "shift_exp_max": net.exp_max, "adder_eta": net.eta}
    mf = new_model("best", best["arch"], quantization=q, search_provenance=search_prov)
    state = {k: v.detach().cpu().numpy() for k, v in sub.state_dict().items()}
    update_sections(mf, "train", weights=pack(im, state),
                    provenance={"dataset": dataset, "split_seed": int(split_seed), "accuracy": acc,
                                "config": {"source": "supernet (inherited weights, BN recalibrated)",
                                           "bn_batches": bn_batches}})
    return save_model(mf, out / "best.json")


def write_results(res: dict, cfg: AccuracySearchConfig, out: Path) -> None:
    """``pareto.csv`` (the accuracy / hardware front) and ``history.json`` (per generation, plus the archive)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["rank", "inherited_acc", "fps", "latency_ms", "macs", "params", "generation", "architecture"])
    for i, r in enumerate(res["pareto"]):
        w.writerow([i + 1, r["accuracy"], *[r["hw"].get(k, "") for k in ("fps", "latency_ms", "macs", "params")],
                    r["generation"], json.dumps(r["arch"], sort_keys=True)])
    atomic_write_text(out / "pareto.csv", buf.getvalue())
    doc = {"config": {**asdict(cfg), "constraints": asdict(cfg.constraints)}, "history": res["history"],
           "archive": [{k: r[k] for k in ("accuracy", "violations", "generation", "arch")} |
                       {"hw": {k: v for k, v in r["hw"].items() if isinstance(v, int | float | bool | str)}}
                       for r in res["archive"]]}
    atomic_write_text(out / "history.json", json.dumps(doc, indent=1))
