"""FPGA board descriptions (``frontend/boards/*.json``) and the resource budget an accelerator may use.

A board file gives the part, the resources (LUT, FF, DSP48E2, BRAM36, URAM), the PS DDR bandwidth and round-trip
latency (``ddr.latency_cycles``: PL cycles from an m_axi request to its first beat), the target PL clock, the width of
each engine's m_axi port and the usable fraction of every resource (routing headroom). A board is named
(``kv260``) or given as a path to a JSON file of the same form.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from nash.frontend.core.errors import UserInputError
from nash.frontend.core.json_file import read_json

BOARDS_DIR = Path(__file__).resolve().parent / "boards"
RESOURCES = ("dsp", "lut", "ff", "bram", "uram")  # "bram" counts BRAM36 blocks everywhere in the accelerator model
_BOARD_KEYS = {"lut": "lut", "ff": "ff", "dsp": "dsp", "bram": "bram36", "uram": "uram"}


class BoardError(UserInputError):
    """An unknown board or a malformed board file; the message names the file and field."""


@dataclass(frozen=True)
class Board:
    """One board: totals, usable budget and memory system."""

    name: str
    part: str
    resources: dict[str, int]  # totals, keys RESOURCES
    usable_fraction: dict[str, float]
    clock_mhz: float
    ddr_peak_gbps: float
    ddr_efficiency: float
    axi_port_bytes: int
    ddr_latency_cycles: int  # PL clock cycles from an m_axi read request to its first beat (DDR round trip)
    title: str = ""
    sources: dict = field(default_factory=dict)

    @property
    def budget(self) -> dict[str, int]:
        """Resources a design may use: floor(total x usable fraction)."""
        return {r: int(math.floor(self.resources[r] * self.usable_fraction[r] + 1e-9)) for r in RESOURCES}

    @property
    def ddr_bytes_per_cycle(self) -> float:
        """Sustained DDR bytes per PL clock cycle (peak x efficiency / clock)."""
        return self.ddr_peak_gbps * 1e9 * self.ddr_efficiency / (self.clock_mhz * 1e6)

    def port_bytes_per_cycle(self, n_ports: int) -> float:
        """Bytes per cycle one engine's m_axi port gets when ``n_ports`` ports share the DDR equally."""
        return min(float(self.axi_port_bytes), self.ddr_bytes_per_cycle / max(1, n_ports))


def known_boards() -> list[str]:
    """Names of the boards shipped in ``frontend/boards``."""
    return sorted(p.stem for p in BOARDS_DIR.glob("*.json"))


def _num(d: dict, key: str, where: str, fld: str, lo: float = 0.0, hi: float | None = None, integer: bool = False):
    v = d.get(key) if isinstance(d, dict) else None
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and v >= lo and (hi is None or v <= hi)
    if integer:
        ok = ok and isinstance(v, int)
    if not ok:
        rng = f">= {lo}" + (f" and <= {hi}" if hi is not None else "")
        raise BoardError(f"{where}: field '{fld}': expected {'an integer' if integer else 'a number'} {rng}, got {v!r}")
    return v


def parse_board(data: dict, where: str) -> Board:
    """Validate a board document (``where`` names it in errors)."""
    if not isinstance(data, dict):
        raise BoardError(f"{where}: expected a JSON object")
    for key in ("name", "part"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise BoardError(f"{where}: field '{key}': expected a non-empty string, got {data.get(key)!r}")
    res = data.get("resources")
    if not isinstance(res, dict):
        raise BoardError(f"{where}: field 'resources': expected an object with {sorted(_BOARD_KEYS.values())}")
    totals = {r: _num(res, k, where, f"resources.{k}", integer=True) for r, k in _BOARD_KEYS.items()}
    frac_in = data.get("usable_fraction", {})
    if not isinstance(frac_in, dict):
        raise BoardError(f"{where}: field 'usable_fraction': expected an object")
    frac = {r: float(_num(frac_in, r, where, f"usable_fraction.{r}", 0.0, 1.0)) if r in frac_in else 1.0
            for r in RESOURCES}
    ddr = data.get("ddr")
    return Board(
        name=data["name"], part=data["part"], resources=totals, usable_fraction=frac,
        clock_mhz=float(_num(data, "clock_mhz", where, "clock_mhz", 1.0, 1000.0)),
        ddr_peak_gbps=float(_num(ddr, "peak_gbps", where, "ddr.peak_gbps", 0.01)),
        ddr_efficiency=float(_num(ddr, "efficiency", where, "ddr.efficiency", 0.01, 1.0)),
        axi_port_bytes=int(_num(data, "axi_port_bytes", where, "axi_port_bytes", 1, 128, integer=True)),
        ddr_latency_cycles=int(_num(ddr, "latency_cycles", where, "ddr.latency_cycles", 0, 4096, integer=True)),
        title=str(data.get("title", "")), sources=dict(data.get("sources", {})))


def load_board(board: str | Path, usable_fraction: float | dict[str, float] | None = None,
               clock_mhz: float | None = None) -> Board:
    """A board by name (``kv260``) or JSON path, optionally with another usable fraction (one number for every
    resource, or per resource) or clock. Unknown names raise :class:`BoardError` listing the known boards."""
    p = Path(board)
    if p.suffix == ".json" or p.exists():
        if not p.is_file():
            raise BoardError(f"{p}: board file not found")
        where = str(p)
    else:
        p = BOARDS_DIR / f"{board}.json"
        if not p.is_file():
            raise BoardError(f"unknown board {str(board)!r}; known boards: {', '.join(known_boards())} "
                             "(or pass a path to a board JSON file)")
        where = str(p)
    b = parse_board(read_json(p, BoardError, "board file"), where)
    changes: dict = {}
    if usable_fraction is not None:
        fr = dict(b.usable_fraction)
        if isinstance(usable_fraction, dict):
            fr.update(usable_fraction)
        else:
            fr = {r: float(usable_fraction) for r in RESOURCES}
        for r, v in fr.items():
            if r not in RESOURCES or not 0.0 < float(v) <= 1.0:
                raise BoardError(f"usable fraction {r}={v!r}: expected a resource in {list(RESOURCES)} and a "
                                 "number in (0, 1]")
        changes["usable_fraction"] = fr
    if clock_mhz is not None:
        if not 1.0 <= clock_mhz <= 1000.0:
            raise BoardError(f"clock {clock_mhz!r} MHz: expected a number in [1, 1000]")
        changes["clock_mhz"] = float(clock_mhz)
    if changes:
        b = Board(**{**b.__dict__, **changes})
    return b
