"""Data-parallel training with ``torch.distributed``: ``torchrun --nproc_per_node N -m nash supernet`` and
``torchrun --nproc_per_node N -m nash train``.

:func:`init_from_env` starts the process group when ``WORLD_SIZE`` > 1 (gloo on CPU, nccl on CUDA); every rank
draws the same initialisation, batch order (and for the supernet the same sub-networks) from the same seeds and
takes its contiguous share of each global batch; DistributedDataParallel averages the gradients (for a supernet
with ``find_unused_parameters``: a sub-network uses a slice of the shared weights, the other op types' not at all).

So that N processes compute what one process computes on the global batch, the statistics that a forward pass takes
over the batch are global: BatchNorm normalises with the all-reduced per-channel sums (:class:`GlobalBatchNorm2d`,
differentiable, so its backward is that of the global batch: torch's SyncBatchNorm, which needs a GPU, does the
same), and an activation quantizer observes the all-reduced maximum (:class:`GlobalActQuant`). One difference
remains by design: AdderNet's adaptive gradient scaling (``quantization.adder_eta``) normalises each backward pass's
weight gradient, and under DDP each rank normalises its partial gradient before the average (as AdderNet's own
multi-GPU training does), so with adder layers and ``eta`` set the update differs from a single process.
"""

from __future__ import annotations

import inspect
import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as tdist
import torch.distributed.nn.functional as dist_fn
from nash.frontend.ops.fake_quant import ActQuant
from torch import nn


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_from_env(device: str = "auto") -> DistContext:
    """Start the default process group from torchrun's environment when ``WORLD_SIZE`` > 1 (else a no-op)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not tdist.is_initialized():
        cuda = torch.cuda.is_available() and device != "cpu"
        tdist.init_process_group("nccl" if cuda else "gloo")
    return context()


def context() -> DistContext:
    """This process's rank and the world size (1 without a process group)."""
    if not (tdist.is_available() and tdist.is_initialized()):
        return DistContext()
    return DistContext(tdist.get_rank(), tdist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def device(ctx: DistContext, default: torch.device) -> torch.device:
    """One CUDA device per local rank in a CUDA run; ``default`` otherwise."""
    if ctx.world > 1 and default.type == "cuda":
        torch.cuda.set_device(ctx.local_rank)
        return torch.device("cuda", ctx.local_rank)
    return default


def _sum_over_ranks(t: torch.Tensor) -> torch.Tensor:
    """Differentiable all-reduce (sum); its backward all-reduces the gradient (that of the sum of all ranks' losses).
    torch marks this autograd-aware collective deprecated without an autograd-aware successor yet."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return dist_fn.all_reduce(t)


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training-mode statistics are those of the global batch over all ranks (same parameters,
    buffers and state-dict keys as :class:`torch.nn.BatchNorm2d`; eval mode is unchanged)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        c = x.shape[1]
        count = torch.full((1,), x.numel() // c, dtype=x.dtype, device=x.device)
        # Two passes (mean, then squared deviations): adder outputs carry a large common offset, so E[x^2] - mean^2
        # would cancel catastrophically in float32.
        s1 = _sum_over_ranks(torch.cat([x.sum(dim=(0, 2, 3)), count]))
        n = s1[-1]
        mean = s1[:c] / n
        var = _sum_over_ranks(((x - mean.view(1, c, 1, 1)) ** 2).sum(dim=(0, 2, 3))) / n
        with torch.no_grad():
            self.num_batches_tracked.add_(1)
            m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
            self.running_mean.mul_(1 - m).add_(m * mean.detach())
            self.running_var.mul_(1 - m).add_(m * var.detach() * (n / (n - 1)).detach())
        view = (1, c, 1, 1)
        return (x - mean.view(view)) * torch.rsqrt(var.view(view) + self.eps) * self.weight.view(view) + \
            self.bias.view(view)


class GlobalActQuant(ActQuant):
    """Activation quantizer that observes the maximum over all ranks."""

    @torch.no_grad()
    def observe(self, x: torch.Tensor) -> None:
        m = (x.max() if self.relu else x.abs().max()).reshape(1).clone()
        tdist.all_reduce(m, op=tdist.ReduceOp.MAX)
        super().observe(m)


_GLOBAL: dict[type, type] = {nn.BatchNorm2d: GlobalBatchNorm2d, ActQuant: GlobalActQuant}


def globalize(module: nn.Module, undo: bool = False) -> nn.Module:
    """Replace every BatchNorm2d / ActQuant of ``module`` in place by its global-statistics twin (``undo``: back to
    the plain modules). The state moves over with the same Parameter objects, so an optimizer or a
    DistributedDataParallel wrapper built before keeps working."""
    table = {v: k for k, v in _GLOBAL.items()} if undo else _GLOBAL
    for name, child in list(module.named_children()):
        cls = table.get(type(child))
        if cls is None:
            globalize(child, undo)
            continue
        if issubclass(cls, nn.BatchNorm2d):
            g = cls(child.num_features, child.eps, child.momentum, device=child.weight.device)
        else:
            g = cls(child.relu, child.momentum).to(child.running_max.device)
        g.load_state_dict(child.state_dict(keep_vars=True), assign=True)
        g.train(child.training)
        setattr(module, name, g)
    return module


def wrap(net: nn.Module, ctx: DistContext) -> nn.Module:
    """``net`` itself in a single process; otherwise a DistributedDataParallel wrapper, with the forward passes
    switched to global batch statistics: a supernet's sub-network templates (``net.global_stats``), any other
    network's own modules (:func:`globalize`)."""
    if ctx.world == 1:
        return net
    from torch.nn.parallel import DistributedDataParallel

    supernet = hasattr(net, "global_stats")
    if supernet:
        net.global_stats = True
    else:
        globalize(net)
    dev = next(net.parameters()).device
    ids = [dev.index] if dev.type == "cuda" else None
    # Buffers (BN statistics, ranges) are equal on every rank by construction: no broadcast per forward.
    params = inspect.signature(DistributedDataParallel).parameters
    no_sync = {"forward_sync_buffers": False} if "forward_sync_buffers" in params else {"broadcast_buffers": False}
    return DistributedDataParallel(net, device_ids=ids, find_unused_parameters=supernet, **no_sync)


@contextmanager
def local_stats(net: nn.Module, ctx: DistContext):
    """Within the block, ``net`` (wrapped by :func:`wrap`, not a supernet) uses per-process statistics: for an
    evaluation that every rank runs on the same images, where global statistics would count each image N times."""
    if ctx.world > 1:
        globalize(net, undo=True)
    try:
        yield net
    finally:
        if ctx.world > 1:
            globalize(net)


def sum_over_ranks(value: float, ctx: DistContext) -> float:
    """The sum of a number over all ranks (the number itself in a single process)."""
    if ctx.world == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    tdist.all_reduce(t)
    return float(t)


def barrier(ctx: DistContext) -> None:
    if ctx.world > 1:
        tdist.barrier()


def shutdown(ctx: DistContext) -> None:
    """End the process group this run started (a no-op in a single process)."""
    if ctx.world > 1 and tdist.is_initialized():
        tdist.destroy_process_group()
