"""The emulated board: a ``pynq.Device`` whose DDR is a numpy array and whose kernel is the compiled C model.

Registered through pynq's own device probing (``pynq.Device.devices`` calls :meth:`EmulatedDevice._probe_` when
``NASH_EMULATED_LIB`` and ``NASH_EMULATED_REGMAP`` name the C model's shared library and its ``register_map.json``).
pynq then serves ``pynq.allocate`` and ``pynq.MMIO`` from it unchanged:

* memory: ``allocate`` returns real :class:`pynq.buffer.PynqBuffer` objects whose host array is separate from the
  device's DDR, as on the board's non-coherent HP ports: ``flush`` copies host -> DDR, ``invalidate`` DDR -> host,
  so a missing flush or invalidate gives wrong results here too. Addresses start at 0x8_0000_0000 (the KV260's
  high DDR window), so every pointer has a non-zero high word.
* registers: the ``REGISTER_RW`` capability; a write of ap_start to CTRL runs ``nash_run_memory`` of the C model over
  the DDR at the addresses the driver wrote into the pointer registers, then sets ap_done / ap_idle / ap_ready
  (ap_done and ap_ready clear on read). ``hang=True`` emulates a kernel that never finishes (the timeout test).

Every register access, flush and invalidate is appended to ``events`` (the protocol tests read it). Its timings are
the host's run time of the C model: reported as ``emulated``, never as hardware FPS.
"""

from __future__ import annotations

import ctypes
import os
import struct
import time

import numpy as np
from nash.board.errors import KernelError
from nash.board.regmap import RegisterMap, load_register_map

try:
    import pynq
    from pynq.buffer import PynqBuffer
except ImportError:  # nash.board without pynq (csim backend, nash deploy): importable, but no device to probe
    pynq = None

DDR_BASE = 0x8_0000_0000
DDR_BYTES = 64 << 20
ALIGN = 4096
KERNEL_BASE = 0xA000_0000  # the first PL peripheral address on the KV260 (M_AXI_HPM0_FPD)
ENV_LIB, ENV_REGMAP = "NASH_EMULATED_LIB", "NASH_EMULATED_REGMAP"


class EmulatedMemory:
    """A bump allocator over the device's DDR; returns pynq's own buffer type."""

    def __init__(self, device: EmulatedDevice):
        self.device = device

    def allocate(self, shape, dtype, **kwargs) -> PynqBuffer:
        dev = self.device
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        addr = DDR_BASE + dev.next_free
        if dev.next_free + nbytes > DDR_BYTES:
            raise MemoryError(f"emulated DDR full ({DDR_BYTES} bytes)")
        dev.next_free += -(-nbytes // ALIGN) * ALIGN
        host = np.zeros(max(nbytes, 1), dtype=np.uint8)
        bo = len(dev.buffers)
        dev.buffers.append((addr, host))
        buf = PynqBuffer(shape, dtype, buffer=host, device=dev, device_address=addr, bo=bo, coherent=False)
        dev.events.append(("allocate", addr, nbytes))
        return buf


class EmulatedDevice(pynq.Device if pynq is not None else object):
    """See the module docstring."""

    _probe_priority_ = 900  # after the real Zynq (50) and XRT (200) devices

    @classmethod
    def _probe_(cls):
        lib, regmap = os.environ.get(ENV_LIB), os.environ.get(ENV_REGMAP)
        if not lib or not regmap:
            return []
        return [cls(lib, load_register_map(regmap))]

    def __init__(self, lib_path: str, rmap: RegisterMap, hang: bool = False):
        super().__init__("nash-emulated-kv260")
        self.capabilities = {"REGISTER_RW": True}
        self.name = "nash emulated KV260 (C model over numpy DDR)"
        self.rmap, self.hang = rmap, hang
        self.ddr = np.zeros(DDR_BYTES, dtype=np.uint8)
        self.next_free = 0
        self.buffers: list[tuple[int, np.ndarray]] = []
        self.events: list[tuple] = []
        self.regs: dict[int, int] = {}
        self.ip_dict = {rmap.instance: {"phys_addr": KERNEL_BASE, "addr_range": rmap.doc["address_span"],
                                        "type": rmap.vlnv or "unknown", "registers": {}}}
        self.kernel_s = 0.0
        self._lib = ctypes.CDLL(str(lib_path))
        if not hasattr(self._lib, "nash_run_memory"):
            raise KernelError(f"{lib_path}: the C model has no nash_run_memory (rebuild it with this toolchain)")
        self._lib.nash_run_memory.restype = ctypes.c_int
        self._lib.nash_run_memory.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_void_p,
                                              ctypes.c_int, ctypes.c_int]
        self._lib.nash_error_string.restype = ctypes.c_char_p
        self._lib.nash_error_string.argtypes = [ctypes.c_int]
        self._lib.nash_port_name.restype = ctypes.c_char_p
        self._lib.nash_port_name.argtypes = [ctypes.c_int]
        self._lib.nash_num_ports.restype = ctypes.c_int
        ports = [self._lib.nash_port_name(i).decode() for i in range(self._lib.nash_num_ports())]
        if ports != [a["name"] for a in rmap.pointers]:
            raise KernelError(f"{rmap.source}: pointer arguments {[a['name'] for a in rmap.pointers]} differ from "
                              f"the C model's ports {ports}")
        self._ctrl = 0x4  # ap_idle

    @property
    def default_memory(self) -> EmulatedMemory:
        return EmulatedMemory(self)

    # -- non-coherent caches: host array <-> DDR
    def _span(self, bo: int, offset: int, nbytes: int) -> tuple[slice, slice]:
        addr, _ = self.buffers[bo]
        d0 = addr - DDR_BASE + offset
        return slice(d0, d0 + nbytes), slice(offset, offset + nbytes)

    def flush(self, bo, offset, ptr, size):
        ddr, host = self._span(bo, offset, size)
        self.ddr[ddr] = self.buffers[bo][1][host]
        self.events.append(("flush", self.buffers[bo][0] + offset, size))

    def invalidate(self, bo, offset, ptr, size):
        ddr, host = self._span(bo, offset, size)
        self.buffers[bo][1][host] = self.ddr[ddr]
        self.events.append(("invalidate", self.buffers[bo][0] + offset, size))

    # -- registers (pynq.MMIO over REGISTER_RW)
    def read_registers(self, address, length):
        off = address - KERNEL_BASE
        if off == self.rmap.ctrl:
            value = self._ctrl
            self._ctrl &= ~(self.rmap.bit("ap_done") | self.rmap.bit("ap_ready"))  # clear on read
        else:
            value = self.regs.get(off, 0)
        self.events.append(("read", off, value))
        return struct.pack("<I", value)[:length]

    def write_registers(self, address, data):
        off = address - KERNEL_BASE
        value = struct.unpack("<I", bytes(data[:4]).ljust(4, b"\0"))[0]
        self.events.append(("write", off, value))
        if off != self.rmap.ctrl:
            self.regs[off] = value
        elif value & self.rmap.bit("ap_start"):
            self._run()

    def _pointer(self, arg: dict) -> int:
        w = {r["word"]: self.regs.get(r["offset"], 0) for r in arg["registers"]}
        return w["low"] | w["high"] << 32

    def _run(self) -> None:
        self._ctrl &= ~self.rmap.bit("ap_idle")
        if self.hang:
            return  # never done
        addrs = np.array([self._pointer(a) for a in self.rmap.pointers], dtype=np.uint64)
        n = self.regs.get(self.rmap.scalar("n_images"), 0)
        slots = self.regs.get(self.rmap.scalar("n_slots"), 0)
        t0 = time.perf_counter()
        rc = self._lib.nash_run_memory(self.ddr.ctypes.data, DDR_BASE, DDR_BYTES, addrs.ctypes.data, n, slots)
        self.kernel_s += time.perf_counter() - t0
        if rc:
            raise KernelError(f"emulated kernel {self.rmap.instance}: {self._lib.nash_error_string(rc).decode()} "
                              f"(pointers {[hex(int(a)) for a in addrs]}, n_images {n}, n_slots {slots})")
        self._ctrl |= self.rmap.bit("ap_done") | self.rmap.bit("ap_idle") | self.rmap.bit("ap_ready")


def probed_device() -> EmulatedDevice:
    """The emulated device as pynq's probing finds it (pynq caches its device list: reset it first, so that the
    environment set up by :func:`configure` is seen)."""
    if pynq is None:
        raise KernelError("the emulated board needs the pynq package: make board-venv (pynq 3.0.1)")
    for attr in ("_devices", "_active_device"):
        if attr in pynq.Device.__dict__:
            delattr(pynq.Device, attr)
    devs = [d for d in pynq.Device.devices if isinstance(d, EmulatedDevice)]
    if not devs:
        raise KernelError(f"pynq found no emulated device: set {ENV_LIB} and {ENV_REGMAP}")
    return devs[0]


def configure(lib_path: str, regmap_path: str) -> None:
    """Point the probe at a C model and its register map (environment variables, so child processes see them)."""
    os.environ[ENV_LIB], os.environ[ENV_REGMAP] = str(lib_path), str(regmap_path)
