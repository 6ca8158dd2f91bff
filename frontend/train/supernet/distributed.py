"""Data-parallel supernet training with ``torch.distributed`` (``torchrun --nproc_per_node N -m nash supernet``).

:func:`init_from_env` starts the process group when ``WORLD_SIZE`` > 1 (gloo on CPU, nccl on CUDA); every rank
draws the same sub-networks and batch order (same seeds) and takes its contiguous share of each global batch;
DistributedDataParallel averages the gradients (``find_unused_parameters``: a sub-network uses a slice of the shared
weights, the other op types' weights not at all).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as tdist
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


def wrap(net: nn.Module, ctx: DistContext) -> nn.Module:
    """``net`` itself in a single process; a DistributedDataParallel wrapper otherwise."""
    if ctx.world == 1:
        return net
    from torch.nn.parallel import DistributedDataParallel

    dev = next(net.parameters()).device
    ids = [dev.index] if dev.type == "cuda" else None
    return DistributedDataParallel(net, device_ids=ids, find_unused_parameters=True)


def barrier(ctx: DistContext) -> None:
    if ctx.world > 1:
        tdist.barrier()


def shutdown(ctx: DistContext) -> None:
    """End the process group this run started (a no-op in a single process)."""
    if ctx.world > 1 and tdist.is_initialized():
        tdist.destroy_process_group()
