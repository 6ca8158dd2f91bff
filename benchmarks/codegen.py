"""Codegen benchmark: time from model file to compiled C simulation, and C-simulation throughput (images/s).

Usage: .venv/bin/python benchmarks/codegen.py [--model examples/tiny_hybrid.json] [--images 360] [--repeat 3]
Writes benchmarks/results/codegen.json. Builds go to a fresh temporary cache, so the compile time is a cold build.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default=str(ROOT / "examples" / "tiny_hybrid.json"))
    ap.add_argument("--images", type=int, default=360)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "codegen.json"))
    a = ap.parse_args(argv)

    from nash.codegen.csim.build import CXXFLAGS, build, gxx
    from nash.codegen.csim.run import CsimLibrary, load_images
    from nash.codegen.hls.project import generate
    from nash.frontend.core.atomic_io import atomic_write_text
    from nash.frontend.integer.reference import run_network

    with tempfile.TemporaryDirectory(prefix="nash-bench-") as tmp:
        os.environ["NASH_BUILD_CACHE"] = str(Path(tmp) / "cache")
        t0 = time.perf_counter()
        g = generate(a.model, Path(tmp) / "project")
        t_render = time.perf_counter() - t0
        b = build(g.project)
        t_total = time.perf_counter() - t0
        lib = CsimLibrary(b.lib, g.project.manifest)
        x, y, source = load_images(g.model, g.integer_model, a.images, None, 0)
        blob = g.project.blob_path.read_bytes()
        runs = []
        for _ in range(a.repeat):
            t = time.perf_counter()
            logits = lib.predict(x, blob)
            runs.append(time.perf_counter() - t)
        t = time.perf_counter()
        golden = run_network(g.integer_model.nodes, g.integer_model.params, x)
        t_ref = time.perf_counter() - t
        exact = bool(np.array_equal(logits, golden))
        acc = None if y is None else round(100.0 * float((logits.argmax(1) == y).mean()), 4)
    ver = subprocess.run([gxx(), "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    best = min(runs)
    res = {
        "model": str(Path(a.model).resolve().relative_to(ROOT)) if Path(a.model).resolve().is_relative_to(ROOT)
        else a.model,
        "images": int(x.shape[0]), "image_source": source,
        "render_s": round(t_render, 3), "model_to_compiled_csim_s": round(t_total, 3),
        "compile_s": round(b.seconds, 3),
        "csim_s_best": round(best, 4), "csim_images_per_s": round(x.shape[0] / best, 1),
        "integer_reference_images_per_s": round(x.shape[0] / t_ref, 1),
        "bitexact": exact, "csim_accuracy": acc,
        "schedule": g.project.plan.schedule_kind, "steps": len(g.project.plan.steps),
        "pe_arrays": g.project.pe.description,
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "compiler": ver,
                    "cxxflags": " ".join(CXXFLAGS), "python": sys.version.split()[0]},
        "note": "single-threaded C model of the accelerator (behavioural, not hardware FPS); cold g++ build; "
                "2 shared CPU cores",
    }
    atomic_write_text(a.out, json.dumps(res, indent=1) + "\n")
    print(json.dumps(res, indent=1))
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
