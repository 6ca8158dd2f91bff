"""The sub-space spanned by a set of candidate architectures, and how the supernet samples from it.

Per block position (stage ``s``, block ``b``) the span holds the op types, kernels and expansion ratios that occur
among the candidates having that block; per stage the widths and depths that occur; the stem and head widths that
occur. Everything else (input shape, classes, stem op/kernel/stride, stage strides, head op) must be equal across the
candidates: one supernet has one skeleton. The supernet's weights have the maximum size of each position, and a
sub-network takes the first channels and the centred sub-kernel (:mod:`.net`).

Sampling (the sandwich rule, :func:`sandwich`): the largest sub-network (every maximum), the smallest (every minimum)
and ``n`` random ones (each choice uniform over the span). The op type of every block is drawn for all of them with
the progressive hybrid schedule (:func:`op_probabilities`): where conv competes with shift / adder, the multiplication-
free ops start rare and reach the uniform share at the end of the ramp (NASA's progressive pretraining, method.md
"Lineage"), so the shared conv weights settle before the harder-to-train ops join.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass

from nash.frontend.core.errors import UserInputError
from nash.frontend.core.graph import lower


class SupernetSpaceError(UserInputError):
    """Candidates that do not share one skeleton, or a sub-architecture outside the span (names the field)."""


@dataclass(frozen=True)
class BlockSpan:
    """Choices at one block position."""

    ops: tuple[str, ...]
    kernels: tuple[int, ...]
    expands: tuple[int, ...]


@dataclass(frozen=True)
class StageSpan:
    widths: tuple[int, ...]
    depths: tuple[int, ...]
    stride: int
    blocks: tuple[BlockSpan, ...]  # one per position up to the largest depth


@dataclass(frozen=True)
class SuperSpace:
    """The span of a candidate set; ``skeleton`` holds the fields every candidate shares."""

    skeleton: dict
    stem_widths: tuple[int, ...]
    stages: tuple[StageSpan, ...]
    head_widths: tuple[int, ...]

    # ---- the extreme sub-networks ----------------------------------------------------------------------------------
    def build(self, stem_width: int, stage_choices: list[tuple[int, list[tuple[str, int, int]]]],
              head_width: int) -> dict:
        """An architecture dict from the choices: stage_choices = [(width, [(op, kernel, expand), ...]), ...]."""
        a = copy.deepcopy(self.skeleton)
        a["stem"]["width"] = stem_width
        a["stages"] = [{"width": w, "stride": st.stride,
                        "blocks": [{"op": o, "kernel": k, "expand": e} for o, k, e in blocks]}
                       for st, (w, blocks) in zip(self.stages, stage_choices, strict=True)]
        a["head"]["width"] = head_width
        return a

    def largest(self, ops: list[list[str]] | None = None) -> dict:
        """Every maximum (width, depth, kernel, expand); ``ops[s][b]`` picks the op types (default: the first)."""
        return self._extreme(max, ops)

    def smallest(self, ops: list[list[str]] | None = None) -> dict:
        """Every minimum (width, depth, kernel, expand)."""
        return self._extreme(min, ops)

    def _extreme(self, pick, ops) -> dict:
        stages = []
        for si, st in enumerate(self.stages):
            depth = pick(st.depths)
            blocks = [((ops[si][bi] if ops else st.blocks[bi].ops[0]), pick(st.blocks[bi].kernels),
                       pick(st.blocks[bi].expands)) for bi in range(depth)]
            stages.append((pick(st.widths), blocks))
        return self.build(pick(self.stem_widths), stages, pick(self.head_widths))

    def random(self, rng: random.Random, hybrid_share: float) -> dict:
        """Each choice uniform over the span; op types by :func:`op_probabilities`."""
        stages = []
        for st in self.stages:
            depth = rng.choice(st.depths)
            blocks = [(draw_op(b.ops, hybrid_share, rng), rng.choice(b.kernels), rng.choice(b.expands))
                      for b in st.blocks[:depth]]
            stages.append((rng.choice(st.widths), blocks))
        return self.build(rng.choice(self.stem_widths), stages, rng.choice(self.head_widths))

    def draw_ops(self, rng: random.Random, hybrid_share: float) -> list[list[str]]:
        """One op type per block position (all positions up to the largest depth)."""
        return [[draw_op(b.ops, hybrid_share, rng) for b in st.blocks] for st in self.stages]

    def size(self) -> int:
        """The number of distinct sub-architectures in the span (op types included)."""
        n = len(self.stem_widths) * len(self.head_widths)
        for st in self.stages:
            per_depth = 0
            for depth in st.depths:
                blocks = 1
                for b in st.blocks[:depth]:
                    blocks *= len(b.ops) * len(b.kernels) * len(b.expands)
                per_depth += blocks
            n *= len(st.widths) * per_depth
        return n

    # ---- membership ------------------------------------------------------------------------------------------------
    def check(self, arch: dict, where: str = "architecture") -> None:
        """Raise :class:`SupernetSpaceError` naming the first field of ``arch`` outside the span."""
        lower(arch, where)
        _same_skeleton(self.skeleton, skeleton_of(arch), where)

        def need(value, choices, field):
            if value not in choices:
                raise SupernetSpaceError(f"field '{where}.{field}': {value!r} is outside the supernet's span "
                                         f"{list(choices)}")

        need(arch["stem"]["width"], self.stem_widths, "stem.width")
        need(arch["head"]["width"], self.head_widths, "head.width")
        for si, (st, stage) in enumerate(zip(self.stages, arch["stages"], strict=True)):
            need(stage["width"], st.widths, f"stages[{si}].width")
            need(len(stage["blocks"]), st.depths, f"stages[{si}].blocks (depth)")
            for bi, b in enumerate(stage["blocks"]):
                span = st.blocks[bi]
                need(b["op"], span.ops, f"stages[{si}].blocks[{bi}].op")
                need(b["kernel"], span.kernels, f"stages[{si}].blocks[{bi}].kernel")
                need(b["expand"], span.expands, f"stages[{si}].blocks[{bi}].expand")

    def to_dict(self) -> dict:
        return {"skeleton": self.skeleton, "stem_widths": list(self.stem_widths),
                "head_widths": list(self.head_widths),
                "stages": [{"widths": list(s.widths), "depths": list(s.depths), "stride": s.stride,
                            "blocks": [{"ops": list(b.ops), "kernels": list(b.kernels), "expands": list(b.expands)}
                                       for b in s.blocks]} for s in self.stages]}

    @staticmethod
    def from_dict(d: dict) -> SuperSpace:
        return SuperSpace(d["skeleton"], tuple(d["stem_widths"]),
                          tuple(StageSpan(tuple(s["widths"]), tuple(s["depths"]), s["stride"],
                                          tuple(BlockSpan(tuple(b["ops"]), tuple(b["kernels"]), tuple(b["expands"]))
                                                for b in s["blocks"])) for s in d["stages"]),
                          tuple(d["head_widths"]))


def skeleton_of(arch: dict) -> dict:
    """The fields one supernet's candidates must share (the stage list keeps only the strides)."""
    return {"input_channels": arch["input_channels"], "input_size": arch["input_size"],
            "num_classes": arch["num_classes"],
            "stem": {k: v for k, v in arch["stem"].items() if k != "width"},
            "stages": [{"stride": s["stride"]} for s in arch["stages"]],
            "head": {"op": arch["head"].get("op", "conv")}}


def _same_skeleton(want: dict, got: dict, where: str) -> None:
    for key in ("input_channels", "input_size", "num_classes", "stem", "head"):
        if got[key] != want[key]:
            raise SupernetSpaceError(f"field '{where}.{key}': {got[key]!r} differs from the supernet's {want[key]!r}")
    if len(got["stages"]) != len(want["stages"]):
        raise SupernetSpaceError(f"field '{where}.stages': {len(got['stages'])} stages, the supernet has "
                                 f"{len(want['stages'])}")
    for si, (g, w) in enumerate(zip(got["stages"], want["stages"], strict=True)):
        if g != w:
            raise SupernetSpaceError(f"field '{where}.stages[{si}].stride': {g['stride']} differs from the "
                                     f"supernet's {w['stride']}")


def span_of(archs: list[dict], where: str = "candidates") -> SuperSpace:
    """The sub-space spanned by ``archs`` (each lowered, so an invalid one fails with its field path)."""
    if not archs:
        raise SupernetSpaceError(f"{where}: no candidate architectures")
    for i, a in enumerate(archs):
        lower(a, f"{where}[{i}].architecture")
    skel = skeleton_of(archs[0])
    for i, a in enumerate(archs[1:], start=1):
        _same_skeleton(skel, skeleton_of(a), f"{where}[{i}].architecture")

    def sorted_set(values):
        return tuple(sorted(set(values)))

    stages = []
    for si, stride in enumerate(s["stride"] for s in skel["stages"]):
        sts = [a["stages"][si] for a in archs]
        depth = max(len(s["blocks"]) for s in sts)
        blocks = []
        for bi in range(depth):
            present = [s["blocks"][bi] for s in sts if len(s["blocks"]) > bi]
            ops = sorted_set(b["op"] for b in present)
            ops = tuple(sorted(ops, key=lambda o: (o != "conv", o)))  # conv first: the default op of largest()
            blocks.append(BlockSpan(ops, sorted_set(b["kernel"] for b in present),
                                    sorted_set(b["expand"] for b in present)))
        stages.append(StageSpan(sorted_set(s["width"] for s in sts), sorted_set(len(s["blocks"]) for s in sts),
                                stride, tuple(blocks)))
    return SuperSpace(skel, sorted_set(a["stem"]["width"] for a in archs), tuple(stages),
                      sorted_set(a["head"]["width"] for a in archs))


# ---- the progressive hybrid schedule ---------------------------------------------------------------------------------
def hybrid_share(epoch: int, epochs: int, start: float = 0.2, ramp_fraction: float = 0.5) -> float:
    """Share (0..1) of the uniform probability that shift / adder get where they compete with conv: ``start`` in the
    first epoch, linear to 1 at ``ramp_fraction`` of the epochs, 1 afterwards."""
    ramp = max(1, int(round(ramp_fraction * epochs)))
    return min(1.0, start + (1.0 - start) * epoch / ramp)


def op_probabilities(ops: tuple[str, ...], share: float) -> dict[str, float]:
    """Sampling probability of each op type at a position: with conv and n > 1 types, each other type gets
    ``share / n`` (uniform when share is 1) and conv the rest; without conv (or alone) uniform."""
    n = len(ops)
    if "conv" not in ops or n == 1:
        return {o: 1.0 / n for o in ops}
    p = share / n
    return {o: (1.0 - (n - 1) * p if o == "conv" else p) for o in ops}


def draw_op(ops: tuple[str, ...], share: float, rng: random.Random) -> str:
    probs = op_probabilities(ops, share)
    return rng.choices(list(probs), weights=list(probs.values()))[0]


def sandwich(space: SuperSpace, rng: random.Random, share: float, n_random: int) -> list[dict]:
    """The sub-networks of one step: largest, smallest, then ``n_random`` random ones (op types by the schedule)."""
    return [space.largest(space.draw_ops(rng, share)), space.smallest(space.draw_ops(rng, share)),
            *[space.random(rng, share) for _ in range(n_random)]]
