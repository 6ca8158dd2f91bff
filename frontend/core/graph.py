"""Lowering of an architecture dict to a flat, ordered layer graph.

The architecture (the ``architecture`` section of the model file) is what the search decides: a stem, stages of
MBConv blocks with one op type per block, and a head. Every later stage (torch builder, integer reference, accelerator
model, codegen) works on the graph returned by :func:`lower`, so the block structure is interpreted in one place.

MBConv block (MobileNetV2 / NASA-F style, ReLU and no SE for hardware): optional 1x1 expand (op + BN + ReLU), kxk
depthwise (op + BN + ReLU), 1x1 project (op + BN, linear), residual add when stride is 1 and widths match. The block's
op type (conv, shift or adder) is used for all three of its layers. Head: 1x1 conv + BN + ReLU, global average
pooling, fully connected classifier.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from nash.frontend.core.errors import UserInputError
from nash.frontend.core.op_registry import OP_NAMES

KERNELS = (1, 3, 5, 7)
STRIDES = (1, 2)


class ArchitectureError(UserInputError):
    """An architecture dict that cannot be lowered; the message names the field path."""


@dataclass(frozen=True)
class Node:
    """One layer of the lowered graph. Spatial sizes are square (``in_size`` x ``in_size``)."""

    name: str
    kind: str  # "conv" (any op type, incl. depthwise/pointwise), "add", "gap", "fc"
    op: str  # "conv" | "shift" | "adder" for kind "conv"; equal to kind otherwise
    inputs: tuple[str, ...]
    in_ch: int
    out_ch: int
    in_size: int
    out_size: int
    kernel: int = 1
    stride: int = 1
    padding: int = 0
    groups: int = 1
    relu: bool = False
    role: str = ""  # stem | expand | depthwise | project | head | residual | pool | classifier

    @property
    def depthwise(self) -> bool:
        return self.kind == "conv" and self.groups > 1 and self.groups == self.in_ch == self.out_ch

    @property
    def macs(self) -> int:
        """Multiply (or shift / |x-w|) operations per image."""
        if self.kind == "conv":
            return self.out_ch * (self.in_ch // self.groups) * self.kernel**2 * self.out_size**2
        if self.kind == "fc":
            return self.in_ch * self.out_ch
        return self.in_ch * self.in_size**2  # add / gap: one addition per input element

    @property
    def params(self) -> int:
        if self.kind == "conv":
            return self.out_ch * (self.in_ch // self.groups) * self.kernel**2
        if self.kind == "fc":
            return self.in_ch * self.out_ch + self.out_ch
        return 0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["inputs"] = list(self.inputs)
        return d


def _field(d: dict, key: str, path: str, types: type | tuple, choices=None):
    if not isinstance(d, dict):
        raise ArchitectureError(f"field '{path}': expected an object, got {type(d).__name__}")
    if key not in d:
        raise ArchitectureError(f"field '{path}.{key}': missing")
    v = d[key]
    if isinstance(v, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise ArchitectureError(f"field '{path}.{key}': expected {getattr(types, '__name__', types)}, got bool")
    if not isinstance(v, types):
        tn = types.__name__ if isinstance(types, type) else " or ".join(t.__name__ for t in types)
        raise ArchitectureError(f"field '{path}.{key}': expected {tn}, got {type(v).__name__} {v!r}")
    if choices is not None and v not in choices:
        raise ArchitectureError(f"field '{path}.{key}': expected one of {list(choices)}, got {v!r}")
    return v


def _positive(d: dict, key: str, path: str) -> int:
    v = _field(d, key, path, int)
    if v < 1:
        raise ArchitectureError(f"field '{path}.{key}': expected a positive integer, got {v}")
    return v


def conv_out_size(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def lower(arch: dict, path: str = "architecture") -> list[Node]:
    """Validate ``arch`` and return its layer graph in execution order (inputs always come before use).

    The graph input tensor is named ``"input"``.
    """
    in_ch = _positive(arch, "input_channels", path)
    size = _positive(arch, "input_size", path)
    num_classes = _positive(arch, "num_classes", path)
    nodes: list[Node] = []

    def conv(name, op, src, cin, cout, k, s, groups, relu, role):
        nonlocal size
        pad = k // 2
        out = conv_out_size(size, k, s, pad)
        if out < 1:
            raise ArchitectureError(f"field '{path}': layer {name} reduces the feature map below 1x1 (input {size})")
        nodes.append(Node(name, "conv", op, (src,), cin, cout, size, out, k, s, pad, groups, relu, role))
        size = out
        return name

    stem = arch.get("stem")
    sp = f"{path}.stem"
    op = _field(stem, "op", sp, str, OP_NAMES)
    width = _positive(stem, "width", sp)
    k = _field(stem, "kernel", sp, int, KERNELS)
    s = _field(stem, "stride", sp, int, STRIDES)
    cur = conv("stem", op, "input", in_ch, width, k, s, 1, True, "stem")
    ch = width

    stages = _field(arch, "stages", path, list)
    if not stages:
        raise ArchitectureError(f"field '{path}.stages': expected at least one stage")
    for si, stage in enumerate(stages):
        stp = f"{path}.stages[{si}]"
        out_ch = _positive(stage, "width", stp)
        stride = _field(stage, "stride", stp, int, STRIDES)
        blocks = _field(stage, "blocks", stp, list)
        if not blocks:
            raise ArchitectureError(f"field '{stp}.blocks': expected at least one block")
        for bi, block in enumerate(blocks):
            bp = f"{stp}.blocks[{bi}]"
            op = _field(block, "op", bp, str, OP_NAMES)
            k = _field(block, "kernel", bp, int, KERNELS)
            e = _positive(block, "expand", bp)
            s = stride if bi == 0 else 1
            pre = f"s{si}b{bi}"
            src, hidden = cur, ch * e
            h = cur
            if e != 1:
                h = conv(f"{pre}_expand", op, h, ch, hidden, 1, 1, 1, True, "expand")
            h = conv(f"{pre}_dw", op, h, hidden, hidden, k, s, hidden, True, "depthwise")
            h = conv(f"{pre}_project", op, h, hidden, out_ch, 1, 1, 1, False, "project")
            if s == 1 and ch == out_ch:
                nodes.append(Node(f"{pre}_add", "add", "add", (src, h), out_ch, out_ch, size, size, role="residual"))
                h = f"{pre}_add"
            cur, ch = h, out_ch

    head = arch.get("head")
    hp = f"{path}.head"
    hw = _positive(head, "width", hp)
    hop = head.get("op", "conv") if isinstance(head, dict) else "conv"
    if hop not in OP_NAMES:
        raise ArchitectureError(f"field '{hp}.op': expected one of {list(OP_NAMES)}, got {hop!r}")
    cur = conv("head", hop, cur, ch, hw, 1, 1, 1, True, "head")
    nodes.append(Node("gap", "gap", "gap", (cur,), hw, hw, size, 1, role="pool"))
    nodes.append(Node("fc", "fc", "fc", ("gap",), hw, num_classes, 1, 1, role="classifier"))
    return nodes


def op_counts(nodes: list[Node]) -> dict[str, dict[str, int]]:
    """Parameters and operations per op type (conv/shift/adder) plus the small units (add/gap/fc)."""
    counts: dict[str, dict[str, int]] = {}
    for n in nodes:
        c = counts.setdefault(n.op, {"layers": 0, "params": 0, "ops": 0})
        c["layers"] += 1
        c["params"] += n.params
        c["ops"] += n.macs
    return counts
