"""What the cocotb testbenches share: handing measurements back to the Python runner that launched them, and the
``ap_ctrl_chain`` driver and protocol checks of the PE-array testbenches. Imported only by the simulator's Python."""

from __future__ import annotations

import json
import os
import random
from collections import deque
from pathlib import Path

import numpy as np
from cocotb.triggers import ReadOnly, RisingEdge


def record_measurement(conf: dict, key: str, value: object) -> None:
    """Merge ``key: value`` into the JSON file ``conf["measure_out"]`` that the runner reads back (atomic rename, so
    the runner never reads a half-written file)."""
    path = Path(conf["measure_out"])
    cur = json.loads(path.read_text()) if path.exists() else {}
    cur[key] = value
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(cur, indent=2))
    os.replace(tmp, path)


class ApChainHarness:
    """Drives a block with an ``ap_ctrl_chain`` handshake one cycle at a time and checks the protocol on every cycle:
    ``ap_ready`` exactly when a start is offered, enabled and not blocked by an untaken output; every output valid
    equal to ``ap_done``; ``ap_done`` only with something in flight; an output not taken (``ap_continue`` or
    ``ap_ce`` low) held unchanged until it is; ``ap_idle`` exactly when nothing is offered or in
    flight. Subclasses drive one transaction (``_drive``), name the output valids (``valids``), read the output
    (``output``) and check it against the references (``check``; ``checked`` says which transactions are)."""

    def __init__(self, dut, seed: int) -> None:
        self.dut = dut
        self.rng = random.Random(seed)
        self.cycle = 0

    def _drive(self, start: int, ce: int, cont: int, idx: int | None) -> None:
        raise NotImplementedError

    def valids(self) -> list:
        raise NotImplementedError

    def output(self):
        raise NotImplementedError

    def checked(self, idx: int) -> bool:
        """Whether transaction ``idx``'s output is compared (and read: an unchecked one may carry X bits)."""
        return True

    def check(self, idx: int, got, where: str) -> None:
        raise NotImplementedError

    async def run(self, order: list[int], p_start: float = 1.0, p_ce: float = 1.0, p_cont: float = 1.0,
                  where: str = "stream", max_cycles: int | None = None) -> dict:
        """Send the transactions ``order`` (indices), offering / enabling / continuing with the given probabilities;
        returns the accept and done cycles, the latencies, how many results were checked and the cycles taken."""
        d = self.dut
        pending = deque(order)
        inflight: deque[tuple[int, int]] = deque()  # (index, accept cycle)
        accepts: list[int] = []
        dones: list[int] = []
        lat: list[int] = []
        checked = 0
        held: tuple = ()  # (the output, or None when unchecked) of a done not taken last cycle
        limit = max_cycles or (len(order) * 50 + 100)
        start_cycle = self.cycle
        while (pending or inflight) and self.cycle - start_cycle < limit:
            offer = 1 if pending and self.rng.random() < p_start else 0
            ce = 1 if self.rng.random() < p_ce else 0
            cont = 1 if self.rng.random() < p_cont else 0
            self._drive(offer, ce, cont, pending[0] if offer else None)
            await ReadOnly()
            ready, done = int(d.ap_ready.value), int(d.ap_done.value)
            for vld in self.valids():
                assert int(vld.value) == done, f"{where}: an output ap_vld != ap_done in cycle {self.cycle}"
            want_ready = offer and ce and not (done and not cont)
            assert ready == want_ready, (f"{where}: cycle {self.cycle}: ap_ready={ready} with ap_start={offer} "
                                         f"ap_ce={ce} ap_done={done} ap_continue={cont}")
            idle = int(d.ap_idle.value)
            assert idle == (0 if (offer or inflight) else 1), f"{where}: cycle {self.cycle}: ap_idle={idle}"
            if held:  # an output not taken last cycle must still be there, unchanged
                assert done == 1, f"{where}: cycle {self.cycle}: output dropped without ap_continue"
                assert held[0] is None or np.array_equal(self.output(), held[0]), (
                    f"{where}: cycle {self.cycle}: held output changed")
            held = ()
            if done:
                assert inflight, f"{where}: cycle {self.cycle}: ap_done with nothing in flight"
                idx = inflight[0][0]
                got = self.output() if self.checked(idx) else None  # an unchecked call's output may be X
                if ce and cont:
                    _, acc_cycle = inflight.popleft()
                    if got is not None:
                        self.check(idx, got, where)
                        checked += 1
                    dones.append(self.cycle)
                    lat.append(self.cycle - acc_cycle)
                else:
                    held = (got,)
            if ready:
                inflight.append((pending.popleft(), self.cycle))
                accepts.append(self.cycle)
            await RisingEdge(d.ap_clk)
            self.cycle += 1
        assert not pending and not inflight, (f"{where}: timed out after {limit} cycles with {len(pending)} "
                                              f"transactions not accepted and {len(inflight)} in flight")
        self._drive(0, 1, 1, None)
        return {"accepts": accepts, "dones": dones, "latencies": lat, "checked": checked,
                "cycles": self.cycle - start_cycle}
