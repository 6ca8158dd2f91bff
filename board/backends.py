"""The three ways ``nash run`` executes a bundle: ``pynq`` (the KV260), ``emulated`` (the same driver on the
emulated pynq device) and ``csim`` (the C model called directly, no driver). Each gives a ``run(q) -> (logits,
host times)`` over int8 images and says what its timings are."""

from __future__ import annotations

import ctypes
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from nash.board.driver import KernelDriver
from nash.board.errors import BoardError, KernelError
from nash.board.regmap import RegisterMap, check_against_hwh, check_bit_hwh_pair

BACKENDS = ("pynq", "emulated", "csim")
FPS_KIND = {"pynq": "measured", "emulated": "emulated", "csim": "modelled"}


@dataclass
class Backend:
    name: str
    run: object  # callable: int8 images -> (int64 logits, {step: seconds})
    pl_clock_mhz: float | None = None
    notes: list[str] = field(default_factory=list)
    device: object = None
    driver: KernelDriver | None = None


def _import_pynq():
    try:
        import pynq
    except ImportError as e:
        raise BoardError(f"the pynq backend needs the pynq package ({e}); on the board it is preinstalled "
                         "(Kria-PYNQ), here: make board-venv") from None
    return pynq


def pynq_backend(rmap: RegisterMap, blob: bytes, bit: Path, hwh: Path, batch_size: int, timeout_s: float) -> Backend:
    """Load the overlay, check the .bit/.hwh pair and the register map, set the PL clock, build the driver."""
    check_bit_hwh_pair(bit, hwh)
    check_against_hwh(rmap, hwh)
    pynq = _import_pynq()
    ol = pynq.Overlay(str(bit))
    if rmap.instance not in ol.ip_dict:
        raise KernelError(f"{bit}: no IP {rmap.instance!r} in the overlay (found {sorted(ol.ip_dict)})")
    ip = ol.ip_dict[rmap.instance]
    pynq.ps.Clocks.fclk0_mhz = float(rmap.doc["clock_mhz"])
    mmio = pynq.MMIO(ip["phys_addr"], ip["addr_range"])

    def alloc(shape, dtype):
        return pynq.allocate(shape, dtype, cacheable=True)

    drv = KernelDriver(mmio, alloc, rmap, blob, batch_size, timeout_s, poll_s=1e-5)
    return Backend("pynq", drv.run_batch, float(pynq.ps.Clocks.fclk0_mhz), device=ol, driver=drv)


def emulated_backend(rmap: RegisterMap, blob: bytes, lib: Path, regmap_path: Path, batch_size: int,
                     timeout_s: float, hang: bool = False) -> Backend:
    """The driver on the emulated device, found through pynq's device probing."""
    _import_pynq()
    import pynq
    from nash.board import emulated

    emulated.configure(str(lib), str(regmap_path))
    dev = emulated.probed_device()
    dev.hang = hang
    ip = dev.ip_dict[rmap.instance]
    mmio = pynq.MMIO(ip["phys_addr"], ip["addr_range"], device=dev)

    def alloc(shape, dtype):
        return pynq.allocate(shape, dtype, target=dev, cacheable=True)

    drv = KernelDriver(mmio, alloc, rmap, blob, batch_size, timeout_s)
    return Backend("emulated", drv.run_batch, None, ["PL clock: none (emulated board); timings are the host's run "
                                                     "time of the C model, not hardware FPS"], dev, drv)


class CsimKernel:
    """The C model's ``nash_predict`` through ctypes (no driver, no registers)."""

    def __init__(self, lib: Path, blob: bytes):
        self.lib = ctypes.CDLL(str(lib))
        self.lib.nash_predict.restype = ctypes.c_int
        self.lib.nash_predict.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_uint64,
                                          ctypes.c_void_p]
        self.lib.nash_error_string.restype = ctypes.c_char_p
        self.lib.nash_num_classes.restype = ctypes.c_int
        self.blob = np.frombuffer(blob, dtype=np.uint8)

    def __call__(self, q: np.ndarray):
        q = np.ascontiguousarray(q, dtype=np.int8)
        out = np.zeros((q.shape[0], self.lib.nash_num_classes()), dtype=np.int64)
        t0 = time.perf_counter()
        rc = self.lib.nash_predict(q.ctypes.data, q.shape[0], self.blob.ctypes.data, self.blob.size, out.ctypes.data)
        if rc:
            raise KernelError(f"csim: {self.lib.nash_error_string(rc).decode()} (error {rc})")
        return out, {"copy_in_s": 0.0, "kernel_s": time.perf_counter() - t0, "copy_out_s": 0.0}


def csim_backend(blob: bytes, lib: Path) -> Backend:
    return Backend("csim", CsimKernel(lib, blob), None, ["csim: the C model called directly (no driver); FPS is "
                                                         "modelled from the code-derived cycle count"])
