"""The pre-registered selection rule of benchmarks/proxy_design.py (round 2 of issue 17), on hand-made taus."""

from __future__ import annotations

import pytest
from helpers import load_script


@pytest.fixture(scope="module")
def design():
    return load_script("benchmarks/proxy_design.py")


def _taus(design, **over):
    taus = dict.fromkeys(design.CANDIDATES, -0.5)
    taus.update(over)
    return taus


def test_unaffordable_signals_are_not_eligible(design):
    # SynFlow / Zen / NASWOT would push the cifar32 search past 10 minutes: never chosen, however high
    assert not design.eligible("nn_degree+trainability+synflow")
    assert not design.eligible("trainability+zen")
    taus = _taus(design, **{"nn_degree+trainability+synflow": 0.9, design.CURRENT: 0.1})
    assert design.choose(taus)["best"] == design.CURRENT


def test_switch_needs_the_margin(design):
    # 0.04 above the current one: best, but below the 0.05 margin, so the default stays
    taus = _taus(design, **{design.CURRENT: 0.10, "trainability+expressivity+progressivity": 0.14})
    c = design.choose(taus)
    assert c["best"] == "trainability+expressivity+progressivity" and not c["switch"]
    assert c["default"] == design.CURRENT
    taus["trainability+expressivity+progressivity"] = 0.16  # 0.06 above: switches
    c = design.choose(taus)
    assert c["switch"] and c["default"] == "trainability+expressivity+progressivity"


def test_within_the_tie_fewer_signals_win(design):
    # a 3-signal candidate 0.015 ahead of a 1-signal one: within 0.02, so the single signal wins
    taus = _taus(design, **{design.CURRENT: 0.0, "trainability+expressivity+progressivity": 0.300,
                            "trainability": 0.285})
    assert design.choose(taus)["best"] == "trainability"
    taus["trainability"] = 0.275  # 0.025 behind: outside the tie
    assert design.choose(taus)["best"] == "trainability+expressivity+progressivity"
