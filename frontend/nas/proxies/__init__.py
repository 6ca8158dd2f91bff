"""Zero-shot proxies for hybrid conv / shift / adder networks, and their registry.

Per-architecture ("base") proxies are computed by :func:`score_arch`; group metrics (``nash``, ``ours``) rank
architectures within a group and are computed by :func:`combine_group` from base scores. Every proxy is op-agnostic:
op layers are reached through the lowered graph, so adder and shift layers count.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from nash.frontend.nas.proxies import baselines, nn_degree, ours, zen
from nash.frontend.nas.proxies.nash_metric import nash_metric, rank_sum
from nash.frontend.nas.search_space import build_model

PROXY_VERSION = 8

# base proxy -> the base scores it needs (a proxy computation may emit several keys)
BASE_PROXIES = ("nn_degree", "zen", "params", "macs", "naswot", "synflow", "meco", "trainability", "expressivity",
                "progressivity")
# base proxies computed together by one pass (asking for one gives all)
STEP_SIGNALS = ("trainability", "expressivity", "progressivity")
# group metric -> base scores it combines
GROUP_METRICS = {"nash": ("nn_degree", "zen"), "ours": ours.NEEDS}
BENCH_PROXIES = ("nash", "ours", "nn_degree", "zen", "trainability", "expressivity", "progressivity", "params", "macs",
                 "naswot", "synflow", "meco")
DEFAULT_METRIC = "ours"


def base_names(names) -> list[str]:
    """Base scores needed to compute ``names`` (group metrics expanded)."""
    out: list[str] = []
    for n in names:
        for b in GROUP_METRICS.get(n, (n,)):
            if b not in BASE_PROXIES:
                raise ValueError(f"unknown proxy {b!r}; expected one of {list(BASE_PROXIES) + list(GROUP_METRICS)}")
            if b not in out:
                out.append(b)
    return out


def _net(arch: dict, seed: int):
    torch.manual_seed(seed)
    return build_model(arch, eta=None)


def score_arch(arch: dict, names, seed: int = 0, data=None) -> dict[str, float]:
    """Base proxy scores of one architecture.

    ``data``: optional real mini-batch, ``{"x": [B, C, H, W] float32, "y": [B] int64}`` (NASWOT uses the images,
    trainability images and labels); without it these proxies use Gaussian inputs (and random labels).
    """
    names = base_names(names)
    out: dict[str, float] = {}
    for name in names:
        if name in out:
            continue
        if name == "nn_degree":
            out[name] = nn_degree.nn_degree(arch)
        elif name == "params":
            out[name] = baselines.params_score(arch)
        elif name == "macs":
            out[name] = baselines.macs_score(arch)
        elif name == "zen":
            out[name] = zen.zen_terms(_net(arch, seed), arch, seed=seed)["zen"]
        elif name == "naswot":
            out[name] = baselines.naswot(_net(arch, seed), arch, baselines.images(data), seed=seed)
        elif name == "synflow":
            out[name] = baselines.synflow(_net(arch, seed), arch)
        elif name == "meco":
            out[name] = baselines.meco(_net(arch, seed), arch, seed=seed)
        elif name in STEP_SIGNALS:
            out.update(ours.step_signals(arch, data, seed=seed))
    return {k: float(v) for k, v in out.items() if k in names}


def combine_group(name: str, base: list[dict[str, float]]) -> list[float]:
    """Scores of a group metric (or a base proxy) for a group of architectures, from their base scores."""
    if name == "nash":
        return nash_metric([b["nn_degree"] for b in base], [b["zen"] for b in base])
    if name == "ours":
        return ours.combine(base)
    return [b[name] for b in base]


def score_group(archs: list[dict], name: str, seed: int = 0, data=None) -> list[float]:
    """Convenience: score a group of architectures with one proxy or group metric (serial)."""
    base = [score_arch(a, base_names([name]), seed=seed, data=data) for a in archs]
    return combine_group(name, base)


def finite_or(v: float, default: float = -math.inf) -> float:
    return v if isinstance(v, float | int) and not np.isnan(v) else default


__all__ = ["BASE_PROXIES", "BENCH_PROXIES", "DEFAULT_METRIC", "GROUP_METRICS", "PROXY_VERSION", "base_names",
           "combine_group", "rank_sum", "score_arch", "score_group"]
