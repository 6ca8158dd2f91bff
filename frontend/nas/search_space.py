"""Hybrid MBConv search space (NASA-F style): sampling, mutation, crossover, validity and op-type counts.

An architecture is the plain JSON dict of :mod:`nash.frontend.core.graph` (``stem``, ``stages`` of MBConv ``blocks``,
``head``). The space decides per stage the width, depth (number of blocks) and stride, and per block the op type
(conv / shift / adder; the allowed set is configurable, e.g. conv+adder only or conv only), the depthwise kernel and
the expansion ratio. Activations are ReLU and there is no squeeze-and-excitation: both keep every block mappable to the
integer accelerator engines (NASA-F uses swish + SE on GPUs; a ReLU/no-SE space is the hardware-oriented choice).

Three configurations:

- ``cifar32``: the NASA-F table (method.md) for 32x32 inputs, 7 stages; the head is one 1x1 layer to {1792, 1984}
  channels before global pooling (our graph has no 1x1 after pooling, so the final feature width moves before it).
- ``tiny64``: the same stages for 64x64 Tiny-ImageNet (200 classes) with a stride-2 stem, so that the feature map
  schedule after the stem equals ``cifar32``'s.
- ``digits``: a small 16x16, 1-channel, 10-class space (3 stages, 8..40 channels) in which one network trains in a few
  seconds on a CPU core; it is the space of the proxy benchmark.

The stem and head op is ``conv`` when conv is in the op set (first and last layer stay multiplication-based, as in
NASA/NASA-F), otherwise the first op of the set.
"""

from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass, field

import torch
from nash.frontend.core.graph import ArchitectureError, lower, op_counts
from nash.frontend.core.op_registry import OP_NAMES


@dataclass(frozen=True)
class StageSpec:
    """Choices of one MBConv stage."""

    widths: tuple[int, ...]
    depths: tuple[int, ...]
    kernels: tuple[int, ...]
    expands: tuple[int, ...]
    stride: int


@dataclass(frozen=True)
class SpaceConfig:
    """A search space: input shape, classes, stem/stage/head choices and the allowed op types."""

    name: str
    input_channels: int
    input_size: int
    num_classes: int
    stem_widths: tuple[int, ...]
    stem_kernel: int
    stem_stride: int
    stages: tuple[StageSpec, ...]
    head_widths: tuple[int, ...]
    ops: tuple[str, ...] = OP_NAMES
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def with_ops(self, ops) -> SpaceConfig:
        """The same space with the op set restricted (e.g. ``("conv",)`` for a multiplication-only baseline)."""
        ops = tuple(ops)
        bad = [o for o in ops if o not in OP_NAMES]
        if not ops or bad:
            raise ValueError(f"ops must be a non-empty subset of {list(OP_NAMES)}, got {list(ops)}")
        return SpaceConfig(self.name, self.input_channels, self.input_size, self.num_classes, self.stem_widths,
                           self.stem_kernel, self.stem_stride, self.stages, self.head_widths, ops, dict(self.extra))

    def with_input(self, channels: int, size: int, num_classes: int) -> SpaceConfig:
        """The same space for another input shape / class count (e.g. CIFAR-100 in ``cifar32``)."""
        return SpaceConfig(self.name, channels, size, num_classes, self.stem_widths, self.stem_kernel,
                           self.stem_stride, self.stages, self.head_widths, self.ops, dict(self.extra))

    @property
    def edge_op(self) -> str:
        """Op type of the stem and head layers."""
        return "conv" if "conv" in self.ops else self.ops[0]


_NASA_F_STAGES = (
    StageSpec((16, 24), (1, 2), (3, 5), (1,), 1),
    StageSpec((24, 32), (3, 4, 5), (3, 5), (4, 5, 6), 2),
    StageSpec((32, 40), (3, 4, 5, 6), (3, 5), (4, 5, 6), 2),
    StageSpec((64, 72), (3, 4, 5, 6), (3, 5), (4, 5, 6), 2),
    StageSpec((112, 120, 128), (3, 4, 5, 6, 7, 8), (3, 5), (4, 5, 6), 1),
    StageSpec((192, 200, 208, 216), (3, 4, 5, 6, 7, 8), (3, 5), (6,), 2),
    StageSpec((216, 224), (1, 2), (3, 5), (6,), 1),
)

SPACES: dict[str, SpaceConfig] = {
    "cifar32": SpaceConfig("cifar32", 3, 32, 10, (16, 24), 3, 1, _NASA_F_STAGES, (1792, 1984)),
    "tiny64": SpaceConfig("tiny64", 3, 64, 200, (16, 24), 3, 2, _NASA_F_STAGES, (1792, 1984)),
    "digits": SpaceConfig(
        "digits", 1, 16, 10, (8, 12), 3, 1,
        (
            StageSpec((8, 12, 16), (1, 2), (3, 5), (1, 2, 3), 1),
            StageSpec((16, 24), (1, 2, 3), (3, 5), (2, 3, 4), 2),
            StageSpec((24, 32, 40), (1, 2, 3), (3, 5), (2, 3, 4), 2),
        ),
        (48, 64),
    ),
}

# dataset name -> space name
DATASET_SPACES = {"digits": "digits", "cifar10": "cifar32", "cifar100": "cifar32", "tiny-imagenet": "tiny64"}
DATASET_CLASSES = {"digits": 10, "cifar10": 10, "cifar100": 100, "tiny-imagenet": 200}


def get_space(name: str, ops=None) -> SpaceConfig:
    """A named space (``digits``, ``cifar32``, ``tiny64``), optionally with a restricted op set."""
    if name not in SPACES:
        raise ValueError(f"unknown search space {name!r}; expected one of {sorted(SPACES)}")
    sp = SPACES[name]
    return sp.with_ops(ops) if ops is not None else sp


def space_for_dataset(dataset: str, ops=None) -> SpaceConfig:
    """The space used for ``dataset`` with its class count."""
    if dataset not in DATASET_SPACES:
        raise ValueError(f"no search space for dataset {dataset!r}; expected one of {sorted(DATASET_SPACES)}")
    sp = get_space(DATASET_SPACES[dataset], ops)
    return sp.with_input(sp.input_channels, sp.input_size, DATASET_CLASSES[dataset])


# ---- sampling --------------------------------------------------------------------------------------------------------
def _block(space: SpaceConfig, st: StageSpec, rng: random.Random) -> dict:
    return {"op": rng.choice(space.ops), "kernel": rng.choice(st.kernels), "expand": rng.choice(st.expands)}


def sample(space: SpaceConfig, rng: random.Random) -> dict:
    """A uniformly random architecture of ``space`` (every choice drawn independently)."""
    stages = []
    for st in space.stages:
        depth = rng.choice(st.depths)
        stages.append({"width": rng.choice(st.widths), "stride": st.stride,
                       "blocks": [_block(space, st, rng) for _ in range(depth)]})
    return {
        "input_channels": space.input_channels, "input_size": space.input_size, "num_classes": space.num_classes,
        "stem": {"op": space.edge_op, "width": rng.choice(space.stem_widths), "kernel": space.stem_kernel,
                 "stride": space.stem_stride},
        "stages": stages,
        "head": {"width": rng.choice(space.head_widths), "op": space.edge_op},
    }


def mutate(arch: dict, space: SpaceConfig, rng: random.Random, prob: float = 0.2) -> dict:
    """Per-gene mutation: each gene (stem/stage/head width, stage depth, block op/kernel/expand) is re-drawn with
    probability ``prob``. At least one gene changes whenever the space allows it, so a child differs from its parent."""
    for _ in range(100):
        child = _mutate_once(arch, space, rng, prob)
        if arch_key(child) != arch_key(arch):
            return child
    return child


def _redraw(cur, choices, rng: random.Random):
    others = [c for c in choices if c != cur]
    return rng.choice(others) if others else cur


def _mutate_once(arch: dict, space: SpaceConfig, rng: random.Random, prob: float) -> dict:
    a = copy.deepcopy(arch)
    if rng.random() < prob:
        a["stem"]["width"] = _redraw(a["stem"]["width"], space.stem_widths, rng)
    for st, stage in zip(space.stages, a["stages"], strict=True):
        if rng.random() < prob:
            stage["width"] = _redraw(stage["width"], st.widths, rng)
        if rng.random() < prob:
            depth = _redraw(len(stage["blocks"]), st.depths, rng)
            while len(stage["blocks"]) > depth:
                stage["blocks"].pop()
            while len(stage["blocks"]) < depth:
                stage["blocks"].append(_block(space, st, rng))
        for b in stage["blocks"]:
            if rng.random() < prob:
                b["op"] = _redraw(b["op"], space.ops, rng)
            if rng.random() < prob:
                b["kernel"] = _redraw(b["kernel"], st.kernels, rng)
            if rng.random() < prob:
                b["expand"] = _redraw(b["expand"], st.expands, rng)
    if rng.random() < prob:
        a["head"]["width"] = _redraw(a["head"]["width"], space.head_widths, rng)
    return a


def crossover(a: dict, b: dict, space: SpaceConfig, rng: random.Random) -> dict:
    """Uniform crossover: stem/head width and each stage's width and depth from either parent; block i of a stage
    from either parent's block i where both have one (else from the parent that has it)."""
    child = copy.deepcopy(a)
    child["stem"]["width"] = rng.choice((a, b))["stem"]["width"]
    child["head"]["width"] = rng.choice((a, b))["head"]["width"]
    for si, (sa, sb) in enumerate(zip(a["stages"], b["stages"], strict=True)):
        depth = len(rng.choice((sa, sb))["blocks"])
        blocks = []
        for i in range(depth):
            pool = [s["blocks"][i] for s in (sa, sb) if i < len(s["blocks"])]
            blocks.append(copy.deepcopy(rng.choice(pool)))
        child["stages"][si] = {"width": rng.choice((sa, sb))["width"], "stride": sa["stride"], "blocks": blocks}
    return child


# ---- validity, identity, counts --------------------------------------------------------------------------------------
def check(arch: dict, space: SpaceConfig) -> list[str]:
    """Reasons why ``arch`` is not a member of ``space`` (empty list: valid). Also lowers it (graph validity)."""
    errs: list[str] = []
    try:
        lower(arch)
    except ArchitectureError as e:
        return [str(e)]
    for key, want in (("input_channels", space.input_channels), ("input_size", space.input_size),
                      ("num_classes", space.num_classes)):
        if arch[key] != want:
            errs.append(f"field 'architecture.{key}': expected {want}, got {arch[key]}")
    stem = arch["stem"]
    if stem["width"] not in space.stem_widths:
        errs.append(f"field 'architecture.stem.width': expected one of {list(space.stem_widths)}, got {stem['width']}")
    if (stem["kernel"], stem["stride"], stem["op"]) != (space.stem_kernel, space.stem_stride, space.edge_op):
        errs.append(f"field 'architecture.stem': expected kernel {space.stem_kernel}, stride {space.stem_stride}, "
                    f"op {space.edge_op!r}")
    if len(arch["stages"]) != len(space.stages):
        errs.append(f"field 'architecture.stages': expected {len(space.stages)} stages, got {len(arch['stages'])}")
        return errs
    for si, (st, stage) in enumerate(zip(space.stages, arch["stages"], strict=True)):
        p = f"architecture.stages[{si}]"
        if stage["width"] not in st.widths:
            errs.append(f"field '{p}.width': expected one of {list(st.widths)}, got {stage['width']}")
        if stage["stride"] != st.stride:
            errs.append(f"field '{p}.stride': expected {st.stride}, got {stage['stride']}")
        if len(stage["blocks"]) not in st.depths:
            errs.append(f"field '{p}.blocks': expected a depth in {list(st.depths)}, got {len(stage['blocks'])}")
        for bi, b in enumerate(stage["blocks"]):
            for key, choices in (("op", space.ops), ("kernel", st.kernels), ("expand", st.expands)):
                if b[key] not in choices:
                    errs.append(f"field '{p}.blocks[{bi}].{key}': expected one of {list(choices)}, got {b[key]!r}")
    head = arch["head"]
    if head["width"] not in space.head_widths:
        errs.append(f"field 'architecture.head.width': expected one of {list(space.head_widths)}, got {head['width']}")
    if head.get("op", "conv") != space.edge_op:
        errs.append(f"field 'architecture.head.op': expected {space.edge_op!r}, got {head.get('op', 'conv')!r}")
    return errs


def is_valid(arch: dict, space: SpaceConfig) -> bool:
    return not check(arch, space)


def arch_key(arch: dict) -> str:
    """Canonical string identity of an architecture (sorted-key JSON)."""
    return json.dumps(arch, sort_keys=True, separators=(",", ":"))


def arch_stats(arch: dict) -> dict:
    """Parameters, operations (MACs, shifts, |x-w| ops, adds) in total and per op type of ``arch``."""
    nodes = lower(arch)
    per_op = op_counts(nodes)
    weight_ops = OP_NAMES
    macs = sum(per_op.get(o, {}).get("ops", 0) for o in weight_ops) + per_op.get("fc", {}).get("ops", 0)
    return {
        "params": sum(n.params for n in nodes),
        "macs": macs,  # multiply-like ops of conv/shift/adder/fc layers (residual adds and pooling excluded)
        "ops_total": sum(n.macs for n in nodes),
        "per_op": {o: per_op.get(o, {"layers": 0, "params": 0, "ops": 0}) for o in weight_ops},
        "layers": sum(1 for n in nodes if n.kind == "conv"),
    }


def op_fraction(arch: dict) -> dict[str, float]:
    """Share of weight-layer operations per op type (sums to 1)."""
    s = arch_stats(arch)["per_op"]
    total = sum(v["ops"] for v in s.values()) or 1
    return {o: v["ops"] / total for o, v in s.items()}


def build_model(arch: dict, shift_mode: str = "ps", exp_max: int = 7, eta: float | None = 0.2) -> torch.nn.Module:
    """The torch model of ``arch`` (the foundation's :class:`~nash.frontend.models.hybrid_net.HybridNet`)."""
    from nash.frontend.models.hybrid_net import HybridNet

    return HybridNet(lower(arch), shift_mode=shift_mode, exp_max=exp_max, eta=eta)
