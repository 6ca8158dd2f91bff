"""Shared test helpers: small architectures and a network with non-trivial trained-like state."""

from __future__ import annotations

import contextlib
import copy
import importlib.util
from pathlib import Path
from types import ModuleType

import torch
from nash.frontend.core.graph import lower
from nash.frontend.models.hybrid_net import HybridNet

REPO = Path(__file__).resolve().parent.parent  # the checkout


def load_script(relpath: str) -> ModuleType:
    """A script of the checkout that is not a package module (``benchmarks/*.py``, ``tools/*.py``), imported by path."""
    path = REPO / relpath
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod

ALL_OPS_ARCH = {
    "input_channels": 3, "input_size": 11, "num_classes": 7,
    "stem": {"op": "conv", "width": 6, "kernel": 3, "stride": 1},
    "stages": [
        {"width": 6, "stride": 1, "blocks": [{"op": "shift", "kernel": 5, "expand": 1}]},
        {"width": 10, "stride": 2, "blocks": [{"op": "adder", "kernel": 3, "expand": 3},
                                              {"op": "adder", "kernel": 5, "expand": 2}]},
        {"width": 14, "stride": 2, "blocks": [{"op": "conv", "kernel": 5, "expand": 3},
                                              {"op": "shift", "kernel": 3, "expand": 2}]},
    ],
    "head": {"width": 22},
}


def arch_with(op_stem="conv", **over):
    a = copy.deepcopy(ALL_OPS_ARCH)
    a["stem"]["op"] = op_stem
    a.update(over)
    return a


def randomized_net(arch: dict, seed: int = 0, shift_mode: str = "ps", exp_max: int = 7) -> HybridNet:
    """A network whose BN statistics, activation ranges and weights are all non-trivial (a few QAT steps)."""
    torch.manual_seed(seed)
    net = HybridNet(lower(arch), shift_mode=shift_mode, exp_max=exp_max)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.uniform_(-1.5, 1.5)  # negative gammas too: negative requant multipliers
                m.bias.uniform_(-0.5, 0.5)
    x = torch.rand(16, arch["input_channels"], arch["input_size"], arch["input_size"]) * 2 - 0.5
    net.train()
    for _ in range(2):
        net(x, "observe")
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    for _ in range(2):
        loss = net(x, "qat").square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    return net


def accel_section(arch: dict, tiles: dict | None = None, board: str = "kv260") -> dict:
    """A real accelerator section for ``arch`` (the coarse-to-fine search of ``nash accel``), with the PE-array
    fields of some engines overridden (``tiles``: engine -> {"tm", "tn", "dw_lanes", "requant_lanes"}) to exercise
    shapes the search would not pick; engines the network does not use (null) are left alone."""
    from nash.frontend.accel.board import load_board
    from nash.frontend.accel.calibration import PeTiming
    from nash.frontend.accel.cost_table import load_cost_table
    from nash.frontend.accel.model import AccelContext
    from nash.frontend.accel.search import performance, search
    from nash.frontend.accel.section import build_section

    nodes = lower(arch)
    # uncalibrated PE timing: the section must not depend on what `make sim` left in build/
    ctx = AccelContext.build(nodes, load_board(board), load_cost_table(None), PeTiming())
    result = search(ctx, "coarse-to-fine")
    section = build_section(ctx, result, performance(ctx, result.design))
    for eng, over in (tiles or {}).items():
        cfg = section["engines"].get(eng)
        if cfg is not None:
            cfg.update(over)
    return forget_walks(section, set(tiles or {}))


def forget_walks(section: dict, engines: set[str] | None = None) -> dict:
    """The section without the recorded walks (``layers.<name>.reuse`` / ``images``) of the layers on ``engines``
    (None: every engine): what a test that changes an engine's fields or the layers' tiles must do, since the walks
    the search chose were sized for the old ones (a section without them takes the buffers' rule, as sections
    written before the fields did)."""
    for ent in section["layers"].values():
        if engines is None or ent["engine"] in engines:
            ent.pop("reuse", None)
            ent.pop("images", None)
    return section


@contextlib.contextmanager
def local_dask_cluster(n_workers: int = 2):
    """The address of a real Dask cluster of ``n_workers`` single-threaded processes on the loopback interface
    (no dashboard port), stopped on exit. dask[distributed] is a dev dependency: without it the test fails."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=n_workers, processes=True, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        yield cluster.scheduler_address


# ---- required RTL tools --------------------------------------------------------------------------------------------
REQUIRE_RTL_ENV = "NASH_REQUIRE_RTL"  # `make test` sets it to 1: a missing Icarus is then a failure, never a skip
INSTALL_RTL = "`make system-deps` (or `sudo apt-get install -y iverilog`)"
INSTALL_YOSYS = "`make system-deps` (or `sudo apt-get install -y yosys`)"


def require_simulator(sim: str = "icarus") -> None:
    """Return when ``sim`` is usable; else skip the calling test with the reason, or fail it (with the install
    command) when ``NASH_REQUIRE_RTL=1``, as under ``make test``: a skipped RTL test is never the silent default."""
    from nash.codegen.rtl.sim_runner import simulator_status

    _require(*simulator_status(sim), INSTALL_RTL)


def require_yosys() -> None:
    """As :func:`require_simulator`, for Yosys (the synthesis calibration tests)."""
    from nash.codegen.rtl.yosys_synth import yosys_status

    _require(*yosys_status(), INSTALL_YOSYS)


def _require(ok: bool, why: str, install: str) -> None:
    import os

    import pytest

    if ok:
        return
    if os.environ.get(REQUIRE_RTL_ENV) == "1":
        pytest.fail(f"{why}; `make test` ({REQUIRE_RTL_ENV}=1) requires it: install it with {install}",
                    pytrace=False)
    pytest.skip(f"{why} (install it with {install}; under `make test` this is a failure, not a skip)")
