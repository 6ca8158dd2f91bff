"""The integer model: what the hardware runs (torch-free, so codegen and the board runtime can hold it)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from nash.frontend.core.graph import Node


@dataclass
class IntegerModel:
    """What the hardware runs: the graph, integer parameters per node, and the input / logit scales."""

    nodes: list[Node]
    params: dict[str, dict[str, np.ndarray]]
    input_scale: float
    logit_scale: float
