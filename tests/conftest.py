import os

import pytest
import torch

# Two cores on CI: keep torch from oversubscribing them.
torch.set_num_threads(int(os.environ.get("NASH_TEST_THREADS", "2")))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session", autouse=True)
def _csim_build_cache(tmp_path_factory):
    """One g++ build cache for the whole session: identical rendered sources are compiled once."""
    old = os.environ.get("NASH_BUILD_CACHE")
    os.environ["NASH_BUILD_CACHE"] = str(tmp_path_factory.getbasetemp() / "csim-cache")
    yield
    if old is None:
        os.environ.pop("NASH_BUILD_CACHE", None)
    else:
        os.environ["NASH_BUILD_CACHE"] = old
