"""RTL simulation speed of the PE arrays: simulated vectors/s per engine with cocotb + Icarus Verilog.

For each engine and PE-array size, one cocotb run streams N random vectors back to back (ap_start held high, II = 1)
through the generated Verilog and checks every psum against the numpy integer reference and the C model. Reported:
``vectors_per_s`` = N / wall time of the streaming loop inside the simulator (driver + Icarus + checks, excluding
compile and start-up), ``cycles_per_s`` for the same loop, and ``wall_s`` for the whole run (render, g++ C model,
golden values, iverilog build, simulator start, all four cocotb tests).

    python benchmarks/rtl_sim.py [--vectors 2000] [--sizes 4x4,8x8,16x16] [--out benchmarks/results/rtl_sim.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nash.codegen.rtl.pe_arrays import PEArrayConfig  # noqa: E402
from nash.codegen.rtl.sim_runner import run_pe_sim  # noqa: E402
from nash.frontend.core.op_registry import PE_ENGINES  # noqa: E402


def _tool_version(cmd: list[str]) -> str:
    exe = shutil.which(cmd[0])
    if exe is None:
        return "absent"
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return (proc.stdout or proc.stderr).splitlines()[0].strip()


def bench(vectors: int, sizes: list[tuple[int, int]], work: Path) -> list[dict]:
    rows = []
    for engine in PE_ENGINES:
        for tm, tn in sizes:
            cfg = PEArrayConfig(engine, tm, tn)
            t0 = time.perf_counter()
            m = run_pe_sim(cfg, work, "icarus", n_random=vectors, seed=42, n_single=2, stalls=False,
                           testcases=["stream_back_to_back", "latency_single"])
            wall = time.perf_counter() - t0
            s = m["stream"]
            row = {"engine": engine, "tm": tm, "tn": tn, "vectors": s["vectors"], "cycles": s["cycles"],
                   "stream_s": round(s["seconds"], 4), "vectors_per_s": round(s["vectors"] / s["seconds"], 1),
                   "cycles_per_s": round(s["cycles"] / s["seconds"], 1), "latency": m["latency"], "ii": m["ii"],
                   "wall_s": round(wall, 2)}
            rows.append(row)
            print(f"{engine:5s} {tm:2d}x{tn:<2d}: {row['vectors_per_s']:9.1f} vectors/s "
                  f"({row['cycles_per_s']:9.1f} cycles/s), latency {m['latency']}, II {m['ii']}, "
                  f"whole run {wall:.1f} s", flush=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vectors", type=int, default=2000, help="random vectors per run (edge vectors are added)")
    ap.add_argument("--sizes", default="4x4,8x8,16x16", help="comma-separated TmxTn sizes")
    ap.add_argument("--out", default="benchmarks/results/rtl_sim.json")
    ap.add_argument("--work-dir", default=None, help="simulation folder (default: a temporary one)")
    args = ap.parse_args()
    sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes.split(",")]
    import cocotb

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="rtl_sim_") as tmp:
        rows = bench(args.vectors, sizes, Path(args.work_dir or tmp))
    result = {
        "benchmark": "rtl_sim",
        "simulator": _tool_version(["iverilog", "-V"]),
        "cocotb": cocotb.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_1min": {"before": round(load_before[0], 2), "after": round(os.getloadavg()[0], 2)},
        "note": "vectors_per_s: streaming loop inside the simulator (II=1, every psum checked); wall_s: whole run",
        "runs": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
