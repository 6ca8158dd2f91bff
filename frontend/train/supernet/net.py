"""The weight-sharing supernet: one full-size :class:`HybridUnit` per layer position and op type.

Sharing is within an op type: a sub-network's conv / shift / adder layer takes the first output and input channels
and the centred ``k x k`` sub-kernel of that op type's full-size weights at its position (OFA-style first channels;
centred sub-kernels without a transform), with the first channels of its BatchNorm parameters and running statistics;
each op type has its own weights, BN and activation quantizer at every position (a conv and an adder layer have
different weight semantics and output statistics, so they do not share). The stem, the head and the classifier are
shared by all sub-networks (their op is fixed by the skeleton).

A forward pass on a sub-architecture runs the stand-alone :class:`HybridNet` code itself: a parameter-free
(meta-device) :class:`HybridNet` of the sub-architecture is called through ``torch.func.functional_call`` with the
sliced views of the shared tensors, so gradients and the in-place running-statistic updates reach the shared
storage, and :meth:`SuperNet.subnet` (the same slices, copied into a real :class:`HybridNet`) computes exactly the
same function.
"""

from __future__ import annotations

import dataclasses
import json
from collections import OrderedDict

import torch
from nash.frontend.core.graph import Node, lower
from nash.frontend.core.quant_params import DEFAULT_SHIFT_EXP_MAX
from nash.frontend.models.hybrid_net import HybridNet, HybridUnit
from nash.frontend.ops.fake_quant import ActQuant
from nash.frontend.train.distributed import globalize
from nash.frontend.train.supernet.space import SuperSpace
from torch import nn
from torch.func import functional_call

_TEMPLATES = 32  # meta-device HybridNets kept per supernet (LRU; building one costs about a millisecond per layer)


def _key(name: str, op: str) -> str:
    return f"{name}__{op}"


def _block_op(node: Node, by_name: dict[str, Node]) -> str:
    """Op type of the block a residual add closes (that of its project layer)."""
    return by_name[node.inputs[1]].op


class SuperNet(nn.Module):
    """Weight-sharing supernet over ``space`` (a :class:`SuperSpace`); ``forward(x, arch, mode)``."""

    def __init__(self, space: SuperSpace, shift_mode: str = "ps", exp_max: int = DEFAULT_SHIFT_EXP_MAX,
                 eta: float | None = 0.2):
        super().__init__()
        self.space, self.shift_mode, self.exp_max, self.eta = space, shift_mode, exp_max, eta
        self.input_quant = ActQuant(relu=False)
        self.units = nn.ModuleDict()
        self.adds = nn.ModuleDict()
        # The largest sub-network has the full size of every position (widths, hidden widths, kernels).
        full = lower(space.largest())
        for n in full:
            if n.kind != "conv":
                continue
            for op in self._ops_at(n.name):
                self.units[_key(n.name, op)] = HybridUnit(dataclasses.replace(n, op=op), shift_mode, exp_max, eta)
        # A residual add can occur at any stride-1 block (whether it does depends on the sub-network's widths).
        for si, st in enumerate(space.stages):
            for bi, b in enumerate(st.blocks):
                if bi > 0 or st.stride == 1:
                    for op in b.ops:
                        self.adds[_key(f"s{si}b{bi}_add", op)] = ActQuant(relu=False)
        fc = full[-1]
        self.fc = nn.Linear(fc.in_ch, fc.out_ch)
        self._templates: OrderedDict[str, tuple[list[Node], HybridNet]] = OrderedDict()
        self.global_stats = False  # set by distributed.wrap: batch statistics over all ranks

    def _ops_at(self, name: str) -> tuple[str, ...]:
        if name in ("stem", "head"):
            return (self.space.skeleton[name]["op"],)
        si, bi = (int(v) for v in name.split("_")[0][1:].split("b"))
        return self.space.stages[si].blocks[bi].ops

    # ---- slicing ---------------------------------------------------------------------------------------------------
    def sliced_state(self, arch: dict, nodes: list[Node] | None = None) -> dict[str, torch.Tensor]:
        """The state of the stand-alone :class:`HybridNet` of ``arch`` as views / slices of the shared tensors
        (autograd flows back to the shared parameters). ``arch`` must lie in the span (see :meth:`check`)."""
        nodes = lower(arch) if nodes is None else nodes
        by_name = {n.name: n for n in nodes}
        state = {f"input_quant.{k}": v for k, v in self._tensors(self.input_quant).items()}
        for n in nodes:
            pre = f"units.{n.name}"
            if n.kind == "conv":
                unit = self.units[_key(n.name, n.op)]
                for k, p in unit.layer.named_parameters():
                    state[f"{pre}.layer.{k}"] = _slice_kernel(p, n)
                for k, v in self._tensors(unit.bn).items():
                    state[f"{pre}.bn.{k}"] = v if v.dim() == 0 else v[: n.out_ch]
                for k, v in self._tensors(unit.act).items():
                    state[f"{pre}.act.{k}"] = v
            elif n.kind == "add":
                for k, v in self._tensors(self.adds[_key(n.name, _block_op(n, by_name))]).items():
                    state[f"{pre}.{k}"] = v
            elif n.kind == "fc":
                state[f"{pre}.weight"] = self.fc.weight[:, : n.in_ch]
                state[f"{pre}.bias"] = self.fc.bias
        return state

    @staticmethod
    def _tensors(m: nn.Module) -> dict[str, torch.Tensor]:
        return {**dict(m.named_parameters()), **dict(m.named_buffers())}

    def check(self, arch: dict, where: str = "architecture") -> None:
        """Raise :class:`~.space.SupernetSpaceError` unless ``arch`` lies in the supernet's span."""
        self.space.check(arch, where)

    # ---- sub-networks ----------------------------------------------------------------------------------------------
    def _template(self, arch: dict) -> tuple[list[Node], HybridNet]:
        key = json.dumps([arch, self.global_stats], sort_keys=True)
        hit = self._templates.pop(key, None)
        if hit is None:
            nodes = lower(arch)
            with torch.device("meta"):
                template = HybridNet(nodes, self.shift_mode, self.exp_max, self.eta)
                hit = (nodes, globalize(template) if self.global_stats else template)
        self._templates[key] = hit
        while len(self._templates) > _TEMPLATES:
            self._templates.popitem(last=False)
        return hit

    def forward(self, x: torch.Tensor, arch: dict, mode: str = "float") -> torch.Tensor:
        """Logits of the sub-network ``arch`` on ``x`` (modes of :class:`HybridNet`), computed with shared weights."""
        nodes, template = self._template(arch)
        template.train(self.training)
        return functional_call(template, self.sliced_state(arch, nodes), (x, mode), strict=True)

    @torch.no_grad()
    def subnet(self, arch: dict) -> HybridNet:
        """A stand-alone :class:`HybridNet` of ``arch`` holding copies of the sliced weights, BN parameters and
        statistics and activation ranges (on CPU, in the supernet's train / eval mode)."""
        self.check(arch)
        nodes = lower(arch)
        net = HybridNet(nodes, self.shift_mode, self.exp_max, self.eta)
        net.load_state_dict({k: v.detach().cpu().clone() for k, v in self.sliced_state(arch, nodes).items()})
        return net.train(self.training)


def _slice_kernel(p: torch.Tensor, n: Node) -> torch.Tensor:
    """First ``out_ch`` filters, first ``in_ch / groups`` input channels, centred ``kernel x kernel`` window."""
    c = (p.shape[-1] - n.kernel) // 2
    return p[: n.out_ch, : n.in_ch // n.groups, c:c + n.kernel, c:c + n.kernel].contiguous()
