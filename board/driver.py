"""The kernel driver: the register protocol and the buffers of ``nash_top``, the same code on the KV260 (pynq's
``MMIO`` and ``allocate``) and on the emulated board.

Per run (``run_batch``): images packed into the image buffer (one word-padded plane per channel, as the kernel reads
them) and flushed; every pointer written as low then high word, then ``n_images`` and ``n_slots``; ap_start last;
ap_done polled with a timeout; the logits buffer invalidated, then read. The weights are copied and flushed once (at
construction); the activation buffer is flushed once after allocation (so no dirty line of its zero fill is written
back over the kernel's data later) and is never touched by the host. Buffers are allocated once for ``batch_size``
images and reused by every batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from nash.board.errors import KernelError, KernelTimeoutError
from nash.board.regmap import RegisterMap, split_pointer


class KernelDriver:
    """Drive one kernel instance. ``mmio``: ``read(offset) -> int`` and ``write(offset, int)`` over its
    s_axi_control; ``allocate(shape, dtype)``: device buffers with ``device_address``, ``flush()``,
    ``invalidate()`` (pynq's ``allocate``)."""

    def __init__(self, mmio, allocate: Callable, rmap: RegisterMap, blob: bytes, batch_size: int,
                 timeout_s: float = 10.0, poll_s: float = 0.0):
        if batch_size < 1:
            raise ValueError(f"batch_size: expected >= 1, got {batch_size}")
        self.mmio, self.rmap, self.batch_size = mmio, rmap, batch_size
        self.timeout_s, self.poll_s = timeout_s, poll_s
        b = rmap.buffers
        self.shape = tuple(rmap.doc["input"]["shape"])
        self.img_bytes = b["images"]["bytes_per_image"]
        self.plane_bytes = b["images"]["plane_bytes"]
        self.logit_words = b["logits"]["bytes_per_image"] // 8  # int64 lanes per image
        self.num_classes = b["logits"]["num_classes"]
        self.n_slots = b["activations"]["min_slots"]
        if len(blob) != b["weights"]["bytes"]:
            raise KernelError(f"weights blob: {len(blob)} bytes, the kernel expects {b['weights']['bytes']}")
        self.weights = allocate((len(blob),), np.uint8)
        self.weights[:] = np.frombuffer(blob, dtype=np.uint8)
        self.weights.flush()  # loaded once
        self.acts = allocate((self.n_slots * b["activations"]["slot_bytes"],), np.uint8)
        self.acts[:] = 0
        self.acts.flush()
        self.images = allocate((batch_size * self.img_bytes,), np.uint8)
        self.logits = allocate((batch_size * self.logit_words,), np.int64)
        self.addresses = {"images": self.images.device_address, "activations": self.acts.device_address,
                          "weights": self.weights.device_address, "logits": self.logits.device_address}
        self.runs = 0

    def write_arguments(self, n_images: int) -> None:
        """Every pointer (low word, then high word) and the two scalars, in register order."""
        for arg in self.rmap.pointers:
            low, high = split_pointer(int(self.addresses[arg["buffer"]]))
            regs = {r["word"]: r["offset"] for r in arg["registers"]}
            self.mmio.write(regs["low"], low)
            self.mmio.write(regs["high"], high)
        self.mmio.write(self.rmap.scalar("n_images"), n_images)
        self.mmio.write(self.rmap.scalar("n_slots"), self.n_slots)

    def start_and_wait(self) -> None:
        """Check ap_idle, write ap_start, poll ap_done (clear on read) until ``timeout_s``."""
        ctrl = self.rmap.ctrl
        status = self.mmio.read(ctrl)
        if not status & self.rmap.bit("ap_idle"):
            raise KernelError(f"kernel {self.rmap.instance} is not idle before start (CTRL={status:#x})")
        self.mmio.write(ctrl, self.rmap.bit("ap_start"))
        t0 = time.perf_counter()
        while True:
            status = self.mmio.read(ctrl)
            if status & self.rmap.bit("ap_done"):
                return
            if time.perf_counter() - t0 > self.timeout_s:
                raise KernelTimeoutError(f"kernel {self.rmap.instance} did not set ap_done within {self.timeout_s} s "
                                         f"(CTRL={status:#x}); is the bitstream loaded and the PL clock running?")
            if self.poll_s:
                time.sleep(self.poll_s)

    def pack_images(self, q: np.ndarray) -> None:
        """int8 images [n, C, H, W] -> the image buffer: per image one word-padded plane per channel."""
        n, c = q.shape[0], self.shape[0]
        hw = self.shape[1] * self.shape[2]
        view = self.images[: n * self.img_bytes].reshape(n, c, self.plane_bytes)
        view[:, :, :hw] = q.reshape(n, c, hw).view(np.uint8)
        view[:, :, hw:] = 0

    def run_batch(self, q: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
        """int8 images [n <= batch_size, C, H, W] -> int64 logits [n, classes] and the host times of the steps."""
        q = np.ascontiguousarray(q, dtype=np.int8)
        n = q.shape[0]
        if q.shape[1:] != self.shape or not 1 <= n <= self.batch_size:
            raise ValueError(f"images: expected int8 [1..{self.batch_size}, {', '.join(map(str, self.shape))}], "
                             f"got {q.shape}")
        t0 = time.perf_counter()
        self.pack_images(q)
        self.images.flush()
        t1 = time.perf_counter()
        self.write_arguments(n)
        self.start_and_wait()
        t2 = time.perf_counter()
        self.logits.invalidate()
        out = np.array(self.logits[: n * self.logit_words].reshape(n, self.logit_words)[:, : self.num_classes])
        t3 = time.perf_counter()
        self.runs += 1
        return out, {"copy_in_s": t1 - t0, "kernel_s": t2 - t1, "copy_out_s": t3 - t2}
