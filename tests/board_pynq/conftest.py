"""Fixtures of the pynq tests (files ``pynq_*.py``), which run in the board venv (pynq 3.0.1, numpy 1.26.4) from
``tests/board/test_pynq_venv.py`` with the runtime of a real deploy bundle on PYTHONPATH. Nothing here imports pynq at
collection time, so the main suite can walk this folder (it collects no ``pynq_*.py`` file)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def bundle_path() -> Path:
    p = os.environ.get("NASH_PYNQ_TEST_BUNDLE")
    if not p:
        pytest.fail("NASH_PYNQ_TEST_BUNDLE is not set: run these tests through tests/board/test_pynq_venv.py")
    return Path(p)


@pytest.fixture(scope="session")
def bundle(bundle_path):
    from nash.board.bundle import open_bundle

    return open_bundle(bundle_path)


@pytest.fixture()
def emulated(bundle, tmp_path):
    """A fresh emulated device found through pynq's probing, and a driver factory on it."""
    from nash.board.run import make_backend

    def make(batch_size: int = 4, timeout_s: float = 10.0, hang: bool = False):
        return make_backend(bundle, "emulated", batch_size, timeout_s, tmp_path, hang=hang)

    return make
