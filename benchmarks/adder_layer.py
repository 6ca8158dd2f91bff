"""Adder layer speed and memory: the project's cdist + chunked-backward layer vs the naive unfold + broadcast form.

The naive form is the original AdderNet formulation: unfold the input, broadcast |X - W| over [M, K, P] in the forward
pass and (X - W) / HardTanh over the same broadcast in the backward pass. Both implement the same rules (checked here:
outputs and gradients are compared). Each measurement runs in a fresh process; the peak resident memory is the
kernel's high-water mark (VmHWM, reset through /proc/self/clear_refs once the inputs exist) minus the resident memory
at that moment, so it belongs to that one computation (Linux only).

    python benchmarks/adder_layer.py [--threads 2] [--repeats 3] [--out benchmarks/results/adder_layer.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LAYERS = [  # name, N, C, M, H, k, stride, groups
    ("pointwise 48->96 @16x16, batch 32", 32, 48, 96, 16, 1, 1, 1),
    ("3x3 32->32 @16x16, batch 32", 32, 32, 32, 16, 3, 1, 1),
    ("3x3 stride2 24->40 @32x32, batch 16", 16, 24, 40, 32, 3, 2, 1),
    ("depthwise 5x5 96ch @16x16, batch 32", 32, 96, 96, 16, 5, 1, 96),
]


class NaiveAdder(torch.autograd.Function):
    """AdderNet's original formulation: everything through the [M, K, P] broadcast (groups=1 only)."""

    @staticmethod
    def forward(ctx, cols, w):  # cols [K, P], w [M, K]
        ctx.save_for_backward(cols, w)
        return -(cols.unsqueeze(0) - w.unsqueeze(2)).abs().sum(1)

    @staticmethod
    def backward(ctx, g):  # g [M, P]
        cols, w = ctx.saved_tensors
        d = cols.unsqueeze(0) - w.unsqueeze(2)  # [M, K, P]
        gw = (d * g.unsqueeze(1)).sum(2)
        gx = (-d.clamp(-1, 1) * g.unsqueeze(1)).sum(0)
        return gx, gw


def naive_adder_conv2d(x, w, stride, padding, groups):
    n, c, h, _ = x.shape
    m, cg, k, _ = w.shape
    oh = (h + 2 * padding - k) // stride + 1
    cols = F.unfold(x, k, padding=padding, stride=stride)  # [N, C*k*k, L]
    outs = []
    for g in range(groups):  # the naive code has no grouped path: loop the groups
        cg_cols = cols[:, g * cg * k * k:(g + 1) * cg * k * k]
        kk = cg_cols.shape[1]
        flat = cg_cols.permute(1, 0, 2).reshape(kk, -1)
        wg = w[g * (m // groups):(g + 1) * (m // groups)].reshape(m // groups, kk)
        outs.append(NaiveAdder.apply(flat, wg).view(m // groups, n, oh, oh))
    return torch.cat(outs, 0).permute(1, 0, 2, 3)


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak_rss_kib() -> int:
    """Reset the high-water mark to the current resident size (Linux >= 4.0) and return that size."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kib("VmRSS")


def _measure(impl: str, layer: tuple, backward: bool, repeats: int, threads: int, q: mp.Queue) -> None:
    from nash.frontend.ops.adder import adder_conv2d

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    _, n, c, m, h, k, s, g = layer
    x = torch.randn(n, c, h, h, requires_grad=backward)
    w = torch.randn(m, c // g, k, k, requires_grad=backward)
    fn = (lambda: adder_conv2d(x, w, s, k // 2, g, eta=None)) if impl == "ours" else (
        lambda: naive_adder_conv2d(x, w, s, k // 2, g))
    base = _reset_peak_rss_kib()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        y = fn()
        if backward:
            y.backward(torch.ones_like(y))
            x.grad = w.grad = None
        times.append(time.perf_counter() - t)
        del y
    peak = _status_kib("VmHWM") - base
    q.put({"seconds": min(times), "peak_mib": peak / 1024.0})


def measure(impl, layer, backward, repeats, threads):
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_measure, args=(impl, layer, backward, repeats, threads, q))
    p.start()
    r = q.get()
    p.join()
    return r


def check_equal(layer) -> dict:
    from nash.frontend.ops.adder import adder_conv2d

    torch.manual_seed(1)
    _, n, c, m, h, k, s, g = layer
    n = min(n, 4)
    x1 = torch.randn(n, c, h, h, dtype=torch.float64, requires_grad=True)
    w1 = torch.randn(m, c // g, k, k, dtype=torch.float64, requires_grad=True)
    x2, w2 = (t.detach().clone().requires_grad_(True) for t in (x1, w1))
    y1 = adder_conv2d(x1, w1, s, k // 2, g, eta=None)
    y2 = naive_adder_conv2d(x2, w2, s, k // 2, g)
    gy = torch.randn_like(y1)
    y1.backward(gy)
    y2.backward(gy)
    return {"max_abs_diff_out": float((y1 - y2).detach().abs().max()),
            "max_abs_diff_grad_x": float((x1.grad - x2.grad).abs().max()),
            "max_abs_diff_grad_w": float((w1.grad - w2.grad).abs().max())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="benchmarks/results/adder_layer.json")
    a = ap.parse_args()
    rows = []
    for layer in LAYERS:
        eq = check_equal(layer)
        shape = dict(zip(("N", "C", "M", "H", "k", "stride", "groups"), layer[1:], strict=True))
        row = {"layer": layer[0], "shape": shape, **eq}
        for phase, bw in (("forward", False), ("forward_backward", True)):
            ours = measure("ours", layer, bw, a.repeats, a.threads)
            naive = measure("naive", layer, bw, a.repeats, a.threads)
            # a ratio needs a measurable denominator: below 1 MiB the high-water mark is noise
            mem = naive["peak_mib"] / ours["peak_mib"] if ours["peak_mib"] >= 1.0 else None
            row[phase] = {"ours": ours, "naive": naive, "speedup": naive["seconds"] / ours["seconds"],
                          "memory_ratio": mem}
            print(f"{layer[0]:40s} {phase:17s} ours {ours['seconds'] * 1e3:8.1f} ms {ours['peak_mib']:7.1f} MiB | "
                  f"naive {naive['seconds'] * 1e3:8.1f} ms {naive['peak_mib']:7.1f} MiB | "
                  f"speedup {row[phase]['speedup']:5.1f}x, memory "
                  + (f"{mem:5.1f}x" if mem else "n/a (ours < 1 MiB)"), flush=True)
        rows.append(row)
    result = {"benchmark": "adder_layer", "threads": a.threads, "repeats": a.repeats, "torch": torch.__version__,
              "machine": platform.processor() or platform.machine(), "layers": rows}
    from nash.frontend.core.atomic_io import atomic_write_text

    atomic_write_text(a.out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
