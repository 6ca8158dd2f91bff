"""NN-Degree (Li, Mandal, Ogras, Marculescu, "FLASH: Fast Neural Architecture Search with Hardware Optimization",
ACM TECS 20(5s), 2021, arXiv:2108.00568): an analytical, data-free topology score.

FLASH views each cell as a graph whose nodes are neurons/channels, ``w_c`` wide and ``d_c`` layers deep, plus ``n_c``
skip connections; the cell's average degree is its edge count over its node count,
``k_c = (w_c**2 * d_c + n_c * w_c) / (w_c * d_c) = w_c + n_c / d_c``, and the NN-Degree is the sum over cells:

    NN-Degree = sum_c ( w_c + n_c / d_c )

Mapping to the MBConv space: a cell is a stage, ``w_c`` its output width, ``d_c`` its number of op layers (expand,
depthwise and project of each block; 2 per block without expansion) and ``n_c`` its residual connections. The score
is blind to the op type (conv, shift and adder networks of one topology score the same), which is the point that
NASH pairs it with Zen-Score.
"""

from __future__ import annotations


def stage_terms(arch: dict) -> list[tuple[int, int, int]]:
    """(w_c, d_c, n_c) per stage of an architecture dict."""
    terms = []
    ch = arch["stem"]["width"]
    for stage in arch["stages"]:
        w = stage["width"]
        depth = skips = 0
        for bi, b in enumerate(stage["blocks"]):
            depth += 3 if b["expand"] != 1 else 2
            stride = stage["stride"] if bi == 0 else 1
            if stride == 1 and ch == w:
                skips += 1
            ch = w
        terms.append((w, depth, skips))
    return terms


def nn_degree(arch: dict) -> float:
    """sum over stages of (width + skip connections / layers)."""
    return float(sum(w + n / d for w, d, n in stage_terms(arch)))
