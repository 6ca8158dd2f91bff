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
import io
import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nash.frontend.core.atomic_io import atomic_write_text
from nash.frontend.nas.evolution import Constraints, HardwareCost, candidate_hw
from nash.frontend.nas.search_space import arch_key
from nash.frontend.train.supernet.space import SuperSpace
from tqdm import tqdm


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


# ---- the search ------------------------------------------------------------------------------------------------------
def pareto_front(records: list[dict], cost: HardwareCost) -> list[dict]:
    """Feasible records not dominated in (accuracy, hardware objective), most accurate first."""
    feas = [r for r in records if r["accuracy"] is not None]
    front = [r for r in feas
             if not any(o["accuracy"] >= r["accuracy"] and cost.value(o["hw"]) >= cost.value(r["hw"])
                        and (o["accuracy"] > r["accuracy"] or cost.value(o["hw"]) > cost.value(r["hw"]))
                        for o in feas)]
    return sorted(front, key=lambda r: -r["accuracy"])


def run_accuracy_search(net, candidates: list[dict], splits, cost: HardwareCost, cfg: AccuracySearchConfig,
                        progress: bool = True) -> dict:
    """Evolve sub-networks of ``net`` (a trained SuperNet) from ``candidates`` (the supernet's top-K); returns
    ``{"archive", "history", "best", "pareto"}``. A record holds arch, hw, violations, accuracy (None when
    infeasible) and generation."""
    from nash.frontend.train.supernet.training import inherited_accuracy

    rng = random.Random(cfg.seed)
    space = net.space
    archive: dict[str, dict] = {}

    def evaluate(arch: dict, gen: int) -> dict:
        key = arch_key(arch)
        if key not in archive:
            hw = candidate_hw(arch, cost)
            bad = cfg.constraints.violations(hw)
            acc = None if bad else inherited_accuracy(net, arch, splits, "qat", cfg.bn_batches)
            archive[key] = {"arch": arch, "hw": hw, "violations": bad, "accuracy": acc, "generation": gen}
        return archive[key]

    def fitness(r: dict) -> float:
        return r["accuracy"] if r["accuracy"] is not None else -1.0

    bar = tqdm(total=cfg.population + cfg.generations * (cfg.mutations + cfg.crossovers), desc="accuracy search",
               unit="net", disable=not progress)
    seeds = [copy.deepcopy(a) for a in candidates[: cfg.population]]
    tries = 0
    while len(seeds) < cfg.population and tries < cfg.population * cfg.max_tries:
        tries += 1
        a = space.random(rng, 1.0)
        if all(arch_key(a) != arch_key(s) for s in seeds):
            seeds.append(a)
    population = []
    for a in seeds:
        population.append(evaluate(a, 0))
        bar.update()
    history = []
    for gen in range(1, cfg.generations + 1):
        parents = [r for r in population if r["accuracy"] is not None] or population
        children: list[dict] = []
        for kind, n in (("mutation", cfg.mutations), ("crossover", cfg.crossovers)):
            made = 0
            for _ in range(n * cfg.max_tries):
                if made >= n:
                    break
                if kind == "mutation":
                    child = mutate_in_span(rng.choice(parents)["arch"], space, rng, cfg.mutation_prob)
                else:
                    child = crossover_in_span(rng.choice(parents)["arch"], rng.choice(parents)["arch"], rng)
                if arch_key(child) in archive:
                    continue
                r = evaluate(child, gen)
                bar.update()
                if r["accuracy"] is not None:
                    children.append(r)
                    made += 1
        population = sorted(population + children, key=fitness, reverse=True)[: cfg.population]
        history.append({"generation": gen, "evaluated": len(archive), "best": fitness(population[0]),
                        "children": len(children)})
        bar.set_postfix(best=f"{fitness(population[0]):.2f}")
    bar.close()
    records = list(archive.values())
    feasible = [r for r in records if r["accuracy"] is not None]
    best = max(feasible, key=fitness) if feasible else None
    return {"archive": records, "history": history, "best": best, "pareto": pareto_front(records, cost)}


def export_best(net, best: dict, splits, dataset: str, split_seed: int, search_prov: dict, bn_batches: int,
                out: Path) -> Path:
    """Write ``out``/best.json: the architecture (search stage) and the weights exported from the supernet after BN
    recalibration, with float / fake-quant / integer accuracy (``provenance.train``)."""
    from nash.frontend.core.model_file import new_model, save_model, update_sections
    from nash.frontend.integer.weights_io import pack
    from nash.frontend.models.convert import integer_model
    from nash.frontend.train.trainer import accuracy, calibration_batches, integer_accuracy, recalibrate_bn

    sub = net.subnet(best["arch"])
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
