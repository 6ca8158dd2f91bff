"""A deploy bundle of examples/tiny_hybrid.json shared by the board tests of this folder."""

from __future__ import annotations

import pytest
from helpers import REPO

TINY = REPO / "examples" / "tiny_hybrid.json"


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory):
    from nash.codegen.deploy import deploy

    d = tmp_path_factory.mktemp("bundle")
    return deploy(TINY, d / "tiny.zip", d / "work", images=24).path
