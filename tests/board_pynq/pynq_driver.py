"""The board driver against the real pynq package (3.0.1) on the emulated device: probing, pointer splitting,
register write order, flush/invalidate placement, buffer reuse, the timeout path, and a bit-exact run."""

from __future__ import annotations

import io

import numpy as np
import pytest


def _data(bundle):
    name = next(p for p in bundle.files if p.startswith("data/"))
    z = np.load(io.BytesIO(bundle.files[name]))
    return z["x"], z["y"] if "y" in z else None, z["ref_logits"]


def test_versions_are_the_boards():
    import pynq

    assert pynq.__version__ == "3.0.1"
    assert np.__version__ == "1.26.4"


def test_pynq_probing_finds_the_emulated_device(emulated):
    import pynq
    from nash.board.emulated import EmulatedDevice

    be = emulated()
    assert any(isinstance(d, EmulatedDevice) for d in pynq.Device.devices)
    assert be.device in pynq.Device.devices
    assert isinstance(be.driver.images, pynq.buffer.PynqBuffer)  # pynq's own buffer type, from pynq.allocate


def test_split_pointer_by_hand():
    from nash.board.regmap import split_pointer

    assert split_pointer(0x8_0000_1000) == (0x0000_1000, 0x8)
    assert split_pointer(0xFFFF_FFFF) == (0xFFFF_FFFF, 0)
    assert split_pointer(0x1_2345_6789_ABCD) == (0x6789_ABCD, 0x1_2345)
    with pytest.raises(ValueError):
        split_pointer(1 << 64)


def _run_once(be, bundle, n=3):
    x, _, _ = _data(bundle)
    from nash.board.quantize import quantize_input

    q = quantize_input(x[:n], bundle.register_map.doc["input"]["scale"])
    start = len(be.device.events)
    logits, _ = be.run(q)
    return be.device.events[start:], logits


def test_register_write_order_and_pointer_words(emulated, bundle):
    be = emulated()
    ev, _ = _run_once(be, bundle)
    rmap = bundle.register_map
    writes = [(off, v) for kind, off, v in ev if kind == "write"]
    start = [i for i, (off, v) in enumerate(writes) if off == rmap.ctrl and v & 1]
    assert len(start) == 1 and start[0] == len(writes) - 1  # ap_start is the last write of the run
    written = dict(writes[:-1])
    addr = {"images": be.driver.images.device_address, "activations": be.driver.acts.device_address,
            "weights": be.driver.weights.device_address, "logits": be.driver.logits.device_address}
    for arg in rmap.pointers:
        regs = {r["word"]: r["offset"] for r in arg["registers"]}
        a = addr[arg["buffer"]]
        assert written[regs["low"]] == a & 0xFFFFFFFF and written[regs["high"]] == a >> 32
        assert written[regs["high"]] == 0x8  # the emulated DDR sits at 0x8_0000_0000: high words are used
        order = [off for off, _ in writes]
        assert order.index(regs["low"]) < order.index(regs["high"])
    assert written[rmap.scalar("n_images")] == 3
    assert written[rmap.scalar("n_slots")] == rmap.buffers["activations"]["min_slots"]
    first_ctrl_read = next(i for i, e in enumerate(ev) if e[0] == "read" and e[1] == rmap.ctrl)
    assert ev[first_ctrl_read][2] & 4  # ap_idle checked before start


def test_flush_before_start_invalidate_after_done(emulated, bundle):
    be = emulated()
    ev, _ = _run_once(be, bundle)
    rmap = bundle.register_map
    i_start = next(i for i, e in enumerate(ev) if e[0] == "write" and e[1] == rmap.ctrl and e[2] & 1)
    i_done = next(i for i, e in enumerate(ev) if e[0] == "read" and e[1] == rmap.ctrl and e[2] & 2)
    flushes = [i for i, e in enumerate(ev) if e[0] == "flush"]
    invals = [i for i, e in enumerate(ev) if e[0] == "invalidate"]
    assert [ev[i][1] for i in flushes] == [be.driver.images.device_address] and flushes[0] < i_start
    assert [ev[i][1] for i in invals] == [be.driver.logits.device_address] and invals[0] > i_done


def test_missing_flush_is_caught_by_the_non_coherent_emulation(emulated, bundle):
    """The emulated DDR is not the host array: a driver that skipped the image flush would compute on stale data."""
    be = emulated()
    x, _, ref = _data(bundle)
    from nash.board.quantize import quantize_input

    q = quantize_input(x[:2], bundle.register_map.doc["input"]["scale"])
    be.driver.images.flush = lambda: None  # a driver bug: no flush
    logits, _ = be.run(q)
    assert not np.array_equal(logits, ref[:2])


def test_buffers_and_weights_reused_across_batches(emulated, bundle):
    be = emulated(batch_size=4)
    before = [e for e in be.device.events if e[0] == "allocate"]
    w = be.driver.weights.device_address
    assert sum(1 for e in be.device.events if e[0] == "flush" and e[1] == w) == 1
    for _ in range(3):
        _run_once(be, bundle, n=4)
    _run_once(be, bundle, n=2)  # a short last batch uses the same buffers
    assert [e for e in be.device.events if e[0] == "allocate"] == before and len(before) == 4
    assert sum(1 for e in be.device.events if e[0] == "flush" and e[1] == w) == 1  # weights loaded once


def test_timeout_when_done_never_comes(emulated, bundle):
    import time

    from nash.board.errors import KernelTimeoutError

    be = emulated(timeout_s=0.2, hang=True)
    t0 = time.perf_counter()
    with pytest.raises(KernelTimeoutError) as e:
        _run_once(be, bundle)
    assert time.perf_counter() - t0 < 5
    msg = str(e.value)
    assert "\n" not in msg and "did not set ap_done within 0.2 s" in msg and bundle.register_map.instance in msg


def test_emulated_run_is_bitexact_with_the_integer_reference(bundle):
    from nash.board.run import run_images

    x, y, ref = _data(bundle)
    rep, logits = run_images(bundle, "emulated", x, y, ref, batch_size=8, warmup=1)
    assert logits.dtype == np.int64 and np.array_equal(logits, ref)
    assert rep["mismatches"] == 0 and rep["images"] == x.shape[0] and rep["fps_kind"] == "emulated"
    assert rep["timed_batches"] == -(-x.shape[0] // 8)
