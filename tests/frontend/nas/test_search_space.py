"""Search space: sampling, mutation and crossover always give valid members; op restriction; counts."""

from __future__ import annotations

import random

import pytest
from nash.frontend.core.graph import lower
from nash.frontend.nas.search_space import (
    SPACES,
    arch_key,
    arch_stats,
    check,
    crossover,
    get_space,
    mutate,
    sample,
    space_for_dataset,
)


@pytest.mark.parametrize("name", sorted(SPACES))
@pytest.mark.parametrize("ops", [None, ("conv", "adder"), ("conv",), ("shift", "adder")])
def test_sample_mutate_crossover_valid(name, ops):
    sp = get_space(name, ops)
    rng = random.Random(1)
    pop = [sample(sp, rng) for _ in range(30)]
    for _ in range(150):
        a, b = rng.sample(pop, 2)
        m = mutate(a, sp, rng, prob=rng.choice([0.05, 0.2, 0.8]))
        c = crossover(a, b, sp, rng)
        for x in (m, c):
            assert check(x, sp) == [], check(x, sp)
            pop.append(x)
    for a in pop:
        used = {blk["op"] for st in a["stages"] for blk in st["blocks"]}
        assert used <= set(sp.ops)
        assert a["stem"]["op"] == a["head"]["op"] == sp.edge_op


def test_mutation_changes_and_crossover_mixes_parents():
    sp = get_space("digits")
    rng = random.Random(0)
    a, b = sample(sp, rng), sample(sp, rng)
    for _ in range(50):
        assert arch_key(mutate(a, sp, rng, prob=0.2)) != arch_key(a)
    # every stage of a crossover child comes (width-wise) from one of the parents
    for _ in range(50):
        c = crossover(a, b, sp, rng)
        for sc, sa, sb in zip(c["stages"], a["stages"], b["stages"], strict=True):
            assert sc["width"] in (sa["width"], sb["width"])
            assert len(sc["blocks"]) in (len(sa["blocks"]), len(sb["blocks"]))


def test_sampling_is_seeded():
    sp = get_space("cifar32")
    x = [arch_key(sample(sp, random.Random(7))) for _ in range(2)]
    assert x[0] == x[1]
    assert arch_key(sample(sp, random.Random(8))) != x[0]


def test_check_names_bad_fields():
    sp = get_space("digits")
    a = sample(sp, random.Random(0))
    a["stages"][1]["width"] = 17
    a["stages"][0]["blocks"][0]["op"] = "shift"
    errs = check(a, sp.with_ops(("conv", "adder")))
    assert any("stages[1].width" in e and "17" in e for e in errs)
    assert any("stages[0].blocks[0].op" in e for e in errs)
    a["stages"][2]["blocks"] = []
    assert "blocks" in check(a, sp)[0]


def test_counts_per_op_type():
    sp = get_space("digits")
    a = sample(sp, random.Random(3))
    for st in a["stages"]:
        for blk in st["blocks"]:
            blk["op"] = "adder"
    s = arch_stats(a)
    nodes = lower(a)
    assert s["params"] == sum(n.params for n in nodes)
    # stem and head are conv, every block layer is an adder
    assert s["per_op"]["shift"]["ops"] == 0
    assert s["per_op"]["conv"]["layers"] == 2
    assert s["per_op"]["adder"]["layers"] == sum(3 if b["expand"] != 1 else 2
                                                 for st in a["stages"] for b in st["blocks"])
    fc = next(n for n in nodes if n.kind == "fc")
    assert s["macs"] == sum(v["ops"] for v in s["per_op"].values()) + fc.in_ch * fc.out_ch


def test_dataset_spaces():
    assert space_for_dataset("cifar100").num_classes == 100
    t = space_for_dataset("tiny-imagenet")
    assert (t.input_size, t.num_classes) == (64, 200)
    with pytest.raises(ValueError, match="ops must be"):
        get_space("digits", ("mult",))
