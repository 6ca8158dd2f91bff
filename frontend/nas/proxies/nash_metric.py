"""The NASH zero-shot metric (Xu, Shi, Wang, "NASH: Neural Architecture and Accelerator Search for
Multiplication-Reduced Hybrid Models", IEEE TCAS-I 2024, arXiv:2409.04829).

For a group G of N candidates: S(a) = rank_G(NN-Degree(a)) / N + rank_G(Zen(a)) / N, ranks ascending (the best in
a term gets N, i.e. scores 1), ties get their average rank, NaN / -inf rank worst.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import rankdata


def group_ranks(values) -> np.ndarray:
    """Ascending average ranks 1..N; NaN and -inf count as the smallest values, +inf as the largest."""
    v = np.asarray(values, dtype=np.float64).copy()
    v[np.isnan(v)] = -np.inf
    return rankdata(v, method="average")


def rank_sum(*columns, weights=None) -> list[float]:
    """sum_j w_j * rank(column_j) / N over columns of equal length N."""
    n = len(columns[0])
    if n == 0:
        return []
    weights = weights or [1.0] * len(columns)
    total = np.zeros(n)
    for w, col in zip(weights, columns, strict=True):
        if len(col) != n:
            raise ValueError("all score columns must have the same length")
        total += w * group_ranks(col) / n
    return [float(t) for t in total]


def log_rank_sum(*columns) -> list[float]:
    """sum_j log(rank(column_j) / N) (AZ-NAS's aggregation: a candidate must do well on every term, since one bad
    rank costs more than a good one gains); ranks as in :func:`group_ranks`."""
    n = len(columns[0])
    if n == 0:
        return []
    if any(len(c) != n for c in columns):
        raise ValueError("all score columns must have the same length")
    return [float(t) for t in np.sum([np.log(group_ranks(c) / n) for c in columns], axis=0)]


def nash_metric(nn_degrees, zens) -> list[float]:
    """NASH scores of a group from its NN-Degree and Zen-Score columns."""
    return rank_sum(nn_degrees, zens)


def is_finite(v: float) -> bool:
    return isinstance(v, float | int) and math.isfinite(v)
