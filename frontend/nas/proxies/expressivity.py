"""Expressivity and progressivity of a network's block features (after AZ-NAS, Lee & Ham, CVPR 2024), op-agnostic.

For one block's output feature map [B, C, H, W] the B*H*W positions are samples of a C-dimensional feature; the
expressivity is the entropy of the normalised eigenvalues of their covariance, -sum_i p_i log p_i with
p_i = lambda_i / sum_j lambda_j: high when the features spread over many directions (isotropic), 0 when they collapse
onto one. It is scale-invariant, so an adder block's large negative outputs and a shift block's power-of-two
magnitudes count the same as a conv block's (method.md: raw magnitudes rank by op type, not quality). The network's
expressivity is the sum over blocks; its progressivity is the smallest step of the block expressivity from one
block to the next (a network that loses expressivity somewhere scores low).
"""

from __future__ import annotations

import math

import torch


def block_outputs(net) -> list[str]:
    """Names of the nodes that end each MBConv block (its residual add, else its project layer), in order."""
    last: dict[str, str] = {}
    for n in net.nodes:
        prefix = n.name.split("_")[0]
        if n.kind in ("conv", "add") and n.name != prefix:  # block nodes are named s<i>b<j>_<part>
            last[prefix] = n.name
    return list(last.values())


@torch.no_grad()
def feature_entropy(f: torch.Tensor) -> float:
    """Entropy of the normalised covariance spectrum of a [B, C, H, W] feature map (positions as samples)."""
    x = f.detach().to(torch.float64).permute(0, 2, 3, 1).reshape(-1, f.shape[1])
    if x.shape[0] < 2:
        return 0.0
    x = x - x.mean(dim=0, keepdim=True)
    cov = x.T @ x / (x.shape[0] - 1)
    lam = torch.linalg.eigvalsh(cov).clamp(min=0.0)
    total = float(lam.sum())
    if not math.isfinite(total) or total <= 0.0:
        return 0.0
    p = lam / total
    p = p[p > 0]
    return float(-(p * p.log()).sum())


def expressivity_terms(features: list[torch.Tensor]) -> dict[str, float]:
    """{'expressivity': sum of block entropies, 'progressivity': min step between consecutive blocks}."""
    ent = [feature_entropy(f) for f in features]
    steps = [b - a for a, b in zip(ent, ent[1:], strict=False)]
    return {"expressivity": float(sum(ent)), "progressivity": float(min(steps)) if steps else 0.0}
