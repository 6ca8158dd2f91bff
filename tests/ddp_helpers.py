"""Shared helpers of the data-parallel tests: gloo process groups in spawned CPU processes, and the comparison of a
2-process state with a 1-process one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as tdist
from nash.frontend.nas.accuracy_search import one_torch_thread

TOL = 1e-4  # relative: max |a - b| <= TOL * (1 + max |a|) per tensor (sums run in another order across ranks)


def init_gloo(rank: int, world: int, store: str) -> None:
    """Start a gloo process group in a spawned worker (one thread, so that the summation order is fixed)."""
    torch.set_num_threads(1)
    tdist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)


one_thread = one_torch_thread  # the single-process reference runs with one thread too, as the workers do


def assert_states_close(one: dict, two: dict, tol: float = TOL) -> float:
    """Every tensor of two state dicts within the relative tolerance; returns the largest relative difference."""
    assert one.keys() == two.keys()
    worst = 0.0
    for k in one:
        a, b = one[k].double(), two[k].double()
        rel = float((a - b).abs().max()) / (1 + float(a.abs().max())) if a.numel() else 0.0
        assert rel <= tol, (k, rel)
        worst = max(worst, rel)
    return worst


def run_torchrun(args: list[str], nproc: int = 2) -> subprocess.CompletedProcess:
    """``torchrun --nproc_per_node nproc -m nash ARGS`` (gloo on CPU, one thread per process)."""
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.fail(f"torchrun is not beside {sys.executable}")  # it ships with torch: a broken install
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([str(torchrun), "--nproc_per_node", str(nproc), "-m", "nash", *args], capture_output=True,
                          text=True, env=env, timeout=600)
