"""``nash run`` on the runtime side: open a bundle, pick a backend, quantize the images, run warm-up and timed
batches, and build the report (accuracy, mismatches against the integer reference's logits, FPS with its kind,
per-step host times, DRAM bandwidth, PL clock, the model's prediction and the code-derived cycles)."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
from nash.board.backends import FPS_KIND, csim_backend, emulated_backend, pynq_backend
from nash.board.bundle import CSIM_LIB, REGISTER_MAP, WEIGHTS, Bundle
from nash.board.errors import BundleError
from nash.board.quantize import quantize_input

STEPS = ("quantize_s", "copy_in_s", "kernel_s", "copy_out_s", "argmax_s")


def make_backend(bundle: Bundle, backend: str, batch_size: int, timeout_s: float, workdir: Path,
                 lib: Path | None = None, hang: bool = False):
    """The backend for ``bundle`` (files extracted to ``workdir``); a missing artefact is named."""
    blob = bundle.files[WEIGHTS]
    if backend == "pynq":
        pair = bundle.overlay()
        if pair is None:
            raise BundleError(f"{bundle.path}: no overlay/*.bit + overlay/*.hwh (a csim-only bundle runs with "
                              "--backend emulated or csim, not on the board)")
        bundle.extract(workdir)
        return pynq_backend(bundle.register_map, blob, workdir / pair[0], workdir / pair[1], batch_size, timeout_s)
    if lib is None:
        if not bundle.has(CSIM_LIB):
            raise BundleError(f"{bundle.path}: no {CSIM_LIB} (the C model); pass --lib or rebuild the bundle with "
                              "nash deploy on a machine with g++")
        bundle.extract(workdir)
        lib = workdir / CSIM_LIB
    if backend == "emulated":
        regmap = workdir / REGISTER_MAP
        regmap.parent.mkdir(parents=True, exist_ok=True)
        regmap.write_bytes(bundle.files[REGISTER_MAP])
        return emulated_backend(bundle.register_map, blob, lib, regmap, batch_size, timeout_s, hang)
    return csim_backend(blob, lib)


def _stats(v: list[float]) -> dict:
    a = np.asarray(v, dtype=np.float64)
    if a.size == 0:
        return {"median": None, "min": None, "max": None, "iqr": None}
    q1, q3 = np.percentile(a, [25, 75])
    return {"median": float(np.median(a)), "min": float(a.min()), "max": float(a.max()), "iqr": float(q3 - q1)}


def run_images(bundle: Bundle, backend: str, x: np.ndarray, labels: np.ndarray | None = None,
               ref_logits: np.ndarray | None = None, batch_size: int = 16, warmup: int = 1, timeout_s: float = 10.0,
               lib: Path | None = None) -> tuple[dict, np.ndarray]:
    """Run float images ``x`` [N, C, H, W] through ``backend``; returns the report and the logits."""
    rmap = bundle.register_map
    shape = tuple(rmap.doc["input"]["shape"])
    if x.ndim != 4 or tuple(x.shape[1:]) != shape or x.shape[0] < 1:
        raise BundleError(f"images: expected float [N >= 1, {', '.join(map(str, shape))}], got {tuple(x.shape)}")
    scale = float(rmap.doc["input"]["scale"])
    with tempfile.TemporaryDirectory(prefix="nash-run-") as tmp:
        be = make_backend(bundle, backend, min(batch_size, x.shape[0]), timeout_s, Path(tmp), lib)
        bs = min(batch_size, x.shape[0])
        for _ in range(warmup):  # not timed: first-touch, caches, lazy loading
            be.run(quantize_input(x[:bs], scale))
        outs, batches = [], []
        t_all = time.perf_counter()
        for b0 in range(0, x.shape[0], bs):
            t0 = time.perf_counter()
            q = quantize_input(x[b0:b0 + bs], scale)
            t1 = time.perf_counter()
            logits, times = be.run(q)
            t2 = time.perf_counter()
            logits.argmax(axis=1)
            t3 = time.perf_counter()
            outs.append(logits)
            batches.append({"images": int(q.shape[0]), "quantize_s": t1 - t0, **times, "argmax_s": t3 - t2,
                            "total_s": t3 - t0})
        wall = time.perf_counter() - t_all
    logits = np.concatenate(outs)
    n = logits.shape[0]
    pred = logits.argmax(axis=1)
    kernel_s = sum(b["kernel_s"] for b in batches)
    buffers = rmap.buffers
    moved = n * (buffers["images"]["bytes_per_image"] + buffers["logits"]["bytes_per_image"])
    perf = bundle.manifest.get("performance") or {}
    kind = FPS_KIND[backend]
    fps = n / wall if kind != "modelled" else perf.get("code_fps")
    rep = {
        "backend": backend, "images": n, "batch_size": bs, "warmup_batches": warmup, "timed_batches": len(batches),
        "accuracy": round(100.0 * float((pred == labels[:n]).mean()), 4) if labels is not None else None,
        "mismatches": int((logits != ref_logits[:n]).any(axis=1).sum()) if ref_logits is not None else None,
        "fps": round(fps, 2) if fps else None, "fps_kind": kind,
        "fps_note": {"measured": "wall-clock images/s on the board, every host step included",
                     "emulated": "host run time of the emulated board (C model): not hardware FPS",
                     "modelled": "code-derived cycles at the plan's clock (csim loop counters), not a measurement"
                     }[kind],
        "wall_s": round(wall, 6), "kernel_images_per_s": round(n / kernel_s, 2) if kernel_s > 0 else None,
        "per_image_s": _stats([b["total_s"] / b["images"] for b in batches]),
        "steps_s": {s: _stats([b[s] for b in batches]) for s in STEPS},
        "host_dram_mb_s": round(moved / kernel_s / 1e6, 3) if kernel_s > 0 and backend != "csim" else None,
        "host_dram_note": "images in + logits out over the kernel time (weights stay resident; activations "
                          "stay in DDR and are not counted)",
        "pl_clock_mhz": be.pl_clock_mhz, "clock_mhz_plan": rmap.doc["clock_mhz"],
        "model_fps": perf.get("model_fps"), "model_period_cycles": perf.get("model_period_cycles"),
        "code_fps": perf.get("code_fps"), "code_period_cycles": perf.get("code_period_cycles"),
        "notes": be.notes, "batches": batches,
    }
    return rep, logits


def table(rep: dict) -> str:
    """The report as an aligned text table."""
    def f(v, unit=""):
        return "-" if v is None else (f"{v:.4g}{unit}" if isinstance(v, float) else f"{v}{unit}")

    rows = [("backend", rep["backend"]), ("images", f(rep["images"])), ("accuracy %", f(rep["accuracy"])),
            ("mismatches vs integer reference", f(rep["mismatches"])),
            (f"FPS ({rep['fps_kind']})", f(rep["fps"])), ("kernel-only images/s", f(rep["kernel_images_per_s"])),
            ("model FPS (accelerator section)", f(rep["model_fps"])),
            ("code-derived FPS (csim cycles)", f(rep["code_fps"])),
            ("code-derived cycles / period", f(rep["code_period_cycles"])),
            ("model cycles / period", f(rep["model_period_cycles"])),
            ("PL clock read back MHz", f(rep["pl_clock_mhz"])), ("plan clock MHz", f(rep["clock_mhz_plan"])),
            ("host DRAM MB/s", f(rep["host_dram_mb_s"]))]
    rows += [(f"median {s[:-2]} ms/batch", f(None if v["median"] is None else 1e3 * v["median"]))
             for s, v in rep["steps_s"].items()]
    w = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{w}}  {v}" for k, v in rows)


def svg_plot(rep: dict) -> str:
    """Per-batch throughput (images/s) as bars with the median line: plain SVG, no plotting library on the board."""
    vals = [b["images"] / b["total_s"] if b["total_s"] > 0 else 0.0 for b in rep["batches"]]
    w, h, pad = 640, 240, 40
    top = max(vals + [1e-9]) * 1.1
    bw = (w - 2 * pad) / max(1, len(vals))
    bars = "".join(f'<rect x="{pad + i * bw:.1f}" y="{h - pad - (h - 2 * pad) * v / top:.1f}" width="{bw * 0.8:.1f}" '
                   f'height="{(h - 2 * pad) * v / top:.1f}" fill="#4a7ab5"/>' for i, v in enumerate(vals))
    med = float(np.median(vals)) if vals else 0.0
    y = h - pad - (h - 2 * pad) * med / top
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}">'
            f'<text x="{pad}" y="20" font-size="13">{rep["backend"]}: images/s per batch ({rep["fps_kind"]}); '
            f'median {med:.1f}</text>{bars}'
            f'<line x1="{pad}" x2="{w - pad}" y1="{y:.1f}" y2="{y:.1f}" stroke="#c33" stroke-dasharray="4"/>'
            f'<line x1="{pad}" x2="{w - pad}" y1="{h - pad}" y2="{h - pad}" stroke="#000"/></svg>\n')


def write_report(rep: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "run_report.json").write_text(json.dumps(rep, indent=1) + "\n")
    (out / "run_report.txt").write_text(table(rep) + "\n")
    (out / "run_fps.svg").write_text(svg_plot(rep))
