"""The round-3 budget rule of benchmarks/proxy_ceiling.py (docs/search.md), and its variance summary, on hand-made
rows."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import load_script


@pytest.fixture(scope="module")
def ceiling():
    return load_script("benchmarks/proxy_ceiling.py")


def _row(data, one_seed, split_half, final2=0.5, ema2=0.4, acc=None):
    return {"data": data, "ceiling": {"kendall_tau": one_seed}, "split_half": {"k": 2, "kendall_tau": split_half},
            "ema": {"final_weights": {"ceiling": {"kendall_tau": final2}},
                    "averaged_weights": {"ceiling": {"kendall_tau": ema2}}},
            "acc_by_seed": acc if acc is not None else [[1, 1], [2, 2], [3, 3]]}


def test_seeds_are_the_smallest_k_that_reaches_0_8_on_every_set(ceiling):
    # measured split-half 0.85 / 0.82: k = 2 suffices
    assert ceiling.choose_budget([_row("textures-0", 0.5, 0.85), _row("colour-form-7", 0.5, 0.82)])[
        "train_seeds"] == 2
    # one-seed tau 0.6 -> estimate for 4 seeds: r = sin(0.3 pi) = 0.80902, 4r / (1 + 3r) = 0.94427,
    # 2 / pi asin(0.94427) = 0.7866 < 0.8; 6 seeds: 6r / (1 + 5r) = 0.96215 -> 0.8248 >= 0.8
    c = ceiling.choose_budget([_row("textures-0", 0.6, 0.7), _row("colour-form-7", 0.9, 0.9)])
    assert c["train_seeds"] == 6 and c["reaches_target"]
    assert c["ceilings_by_k"]["4"][0] == pytest.approx(0.7866, abs=1e-3)
    # nothing reaches it: the largest choice, said so
    c = ceiling.choose_budget([_row("textures-0", 0.2, 0.3), _row("colour-form-7", 0.9, 0.9)])
    assert c["train_seeds"] == 8 and not c["reaches_target"]


def test_averaged_weights_only_when_better_on_every_set(ceiling):
    better = _row("textures-0", 0.5, 0.5, final2=0.5, ema2=0.6)
    worse = _row("colour-form-7", 0.5, 0.5, final2=0.5, ema2=0.45)
    assert ceiling.choose_budget([better, better])["weights"] == "ema"
    assert ceiling.choose_budget([better, worse])["weights"] == "final"


def test_difficulty_only_when_its_tau_beats_the_default_on_the_same_seeds(ceiling):
    # D = 1: seeds 0 and 1 order 4 architectures with one swap, tau (5 - 1) / 6
    base = _row("textures-0", 0.5, 0.5, acc=[[1, 1, 9, 9], [2, 3, 9, 9], [3, 2, 9, 9], [4, 4, 9, 9]])
    other = _row("colour-form-7", 0.5, 0.5)
    assert ceiling.choose_budget([base, other], ({"ceiling": {"kendall_tau": 0.7}}, 4.0))["textures_difficulty"] == 4
    assert ceiling.choose_budget([base, other], ({"ceiling": {"kendall_tau": 0.6}}, 4.0))["textures_difficulty"] == 1


def test_icc_hand_made(ceiling):
    # 2 architectures x 2 seeds: means 1 and 3, within variance 1 (deviations +-1): MS_between = 2 * var([1, 3], ddof 1)
    # = 4, MS_within = 4 / 2 = 2, ICC = (4 - 2) / (4 + 2) = 1/3
    assert ceiling._icc(np.array([[0.0, 2.0], [2.0, 4.0]])) == pytest.approx(1 / 3)
