"""Which screen-priced search candidates need the full hardware price.

The search prices every candidate with a cost's cheap *screen* (for the accelerator cost: the coarse stage of the
accelerator search) and the full price (the coarse-to-fine search) only where an output depends on it: the ``top_k``
by the metric (best.json, top_k.json) and every candidate that may be on the Pareto front of (metric, hardware
objective). The screen bounds the full objective: ``screen <= full <= ratio * screen`` (objective oriented so that
larger is better, and positive). A candidate is left at its screen price only when another one surely dominates it
under those bounds, so the front computed with the full prices where known and the screen prices elsewhere is the
front of the full prices everywhere (see :func:`must_price`).
"""

from __future__ import annotations

import math

import numpy as np


def must_price(metric: list[float], value: list[float], exact: list[bool], ratio: float, top_k: int) -> list[int]:
    """Indices of the screen-priced candidates (``exact`` False) to price fully next; [] when the outputs need none.

    ``metric``: the metric per candidate (NaN / None as -inf, as the ranking does); ``value``: the hardware objective
    (larger is better), the full figure where ``exact``, the screen's (a lower bound) elsewhere; ``ratio``: the
    screen's bound, full <= ratio * screen. Needed: the ``top_k`` by (metric, index), and every candidate that no
    other surely dominates, i.e. none has a metric >= and a lower bound >= this one's upper bound, one of them
    strictly. Of those, the ones on the front of the current figures (and the top_k) come first: their full prices
    raise the bar the others must pass, so fewer are priced in all. Call again after pricing them, until [].

    Why the front is then exact: every true front member is never surely dominated, so it gets priced; a candidate
    left at its screen price is truly dominated, hence not on the front, and it cannot knock a priced one off wrongly
    (its lower bound dominating means its full figure does too).
    """
    if ratio < 1.0:
        raise ValueError(f"screen ratio {ratio} < 1: the full price must lie in [screen, ratio * screen]")
    n = len(metric)
    m = np.array([-math.inf if v is None or math.isnan(float(v)) else float(v) for v in metric])
    lo = np.asarray(value, dtype=float)
    ex = np.asarray(exact, dtype=bool)
    order = sorted(range(n), key=lambda i: (-m[i], i))
    top = np.zeros(n, dtype=bool)
    top[order[:top_k]] = True
    need = (top | _undominated(m, lo, np.where(ex, lo, np.maximum(lo, lo * ratio)), order)) & ~ex
    first = need & (top | _undominated(m, lo, lo, order))
    return [int(k) for k in np.nonzero(first if first.any() else need)[0]]


def _undominated(m: np.ndarray, lo: np.ndarray, hi: np.ndarray, order: list[int]) -> np.ndarray:
    """Candidates whose upper bound ``hi`` no other's lower bound ``lo`` dominates (metric >= and lo >= hi, one of
    them strictly); ``order``: the candidates by metric, largest first. One pass down the metric."""
    out = np.zeros(len(m), dtype=bool)
    best_above = -math.inf  # the largest lower bound among candidates with a strictly larger metric
    i = 0
    while i < len(order):
        j = i
        while j < len(order) and m[order[j]] == m[order[i]]:
            j += 1
        group = order[i:j]
        best_here = max(lo[g] for g in group)
        for g in group:  # dominated by a larger metric with lo >= hi, or by an equal metric with lo > hi
            out[g] = not (best_above >= hi[g] or best_here > hi[g])
        best_above = max(best_above, best_here)
        i = j
    return out
