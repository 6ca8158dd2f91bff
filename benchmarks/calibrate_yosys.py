"""Cost-table calibration from Yosys synthesis of the Verilog PE arrays and the requant lane.

Every engine's PE array at each size and the requant lane at three widths are synthesized with
``yosys synth_xilinx -family xcup``; the fit (``frontend/accel/synth_fit.py``) gives the per-PE, per-tree-node,
per-bit and per-lane costs. The JSON holds, per engine, the sizes synthesized, the measurements, the fitted costs, the
residuals, the table-vs-synthesis ratio before and after, and how much each entry moved. ``--write-table`` puts the
fitted entries (with their sources) into the shipped ``frontend/accel/cost_table.json``.

    nice -n 10 python benchmarks/calibrate_yosys.py [--sizes 2x2,...] [--write-table]
    python benchmarks/calibrate_yosys.py --measurements benchmarks/results/calibrate_yosys.json --table OLD.json
        (re-fit stored measurements without synthesizing; OLD.json: the table to compare with and start from)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nash.codegen.rtl.yosys_calibrate import DEFAULT_SIZES, calibrate, parse_sizes  # noqa: E402
from nash.codegen.rtl.yosys_synth import tool_source  # noqa: E402
from nash.frontend.accel.cost_table import DEFAULT_TABLE, load_cost_table  # noqa: E402
from nash.frontend.accel.synth_fit import fit_synthesis  # noqa: E402
from nash.frontend.core.atomic_io import atomic_write_text  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "calibrate_yosys.json"


def ratio_range(rows: list[dict], engine: str, res: str) -> list[float] | None:
    """[min, max] of synthesis / table over an engine's arrays."""
    v = [r[res]["synthesis_over_table"] for r in rows if r["engine"] == engine and r[res]["synthesis_over_table"]]
    return [min(v), max(v)] if v else None


def summary(report: dict) -> dict:
    """Per engine: sizes, fitted per-PE costs, largest residuals, table-vs-synthesis ratio before and after."""
    out = {}
    for e in ("conv", "shift", "adder"):
        rows = [m for m in report["measurements"] if m.get("engine") == e]
        if not rows:
            continue
        out[e] = {
            "sizes": [f"{m['tm']}x{m['tn']}" for m in rows],
            "per_pe": {res: report["fit_model_formula"]["coef"][res][f"pe:{e}"]
                       for res in ("lut", "ff", "dsp", "carry8")},
            "per_pe_per_bit_fit": {res: report["fit_per_bit"]["coef"][res][f"pe:{e}"]
                                   for res in ("lut", "ff", "dsp", "carry8")},
            "max_abs_rel_residual": {
                fit: {res: max(abs(r[res]["rel_error"] or 0.0) for r in report[fit]["residuals"] if r["engine"] == e)
                      for res in ("lut", "ff", "dsp")} for fit in ("fit_model_formula", "fit_per_bit")},
            "synthesis_over_table": {when: {res: ratio_range(report["table_vs_synthesis"][when], e, res)
                                            for res in ("lut", "ff", "dsp")} for when in ("before", "after")},
        }
    return out


def write_table(table, path: Path) -> None:
    """The shipped table with the fitted entries, keeping its notes field."""
    data = json.loads(path.read_text())
    fitted = table.to_json()["entries"]
    data["entries"] = {k: fitted[k] for k in data["entries"]}  # the shipped order
    lines = ",\n".join(f"    {json.dumps(k)}: {json.dumps(v)}" for k, v in data["entries"].items())
    head = {k: v for k, v in data.items() if k != "entries"}
    text = json.dumps(head, indent=2)[:-2] + ',\n  "entries": {\n' + lines + "\n  }\n}\n"
    json.loads(text)  # the hand-formatted text (one entry per line) must still be the same JSON
    atomic_write_text(path, text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=None, help="TMxTN list per engine (default: the calibration's)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--write-table", action="store_true", help="write the fitted entries into the shipped table")
    ap.add_argument("--table", type=Path, default=None, help="table to start from (default: the shipped one)")
    ap.add_argument("--measurements", type=Path, default=None,
                    help="re-fit the measurements of an earlier run's JSON instead of synthesizing")
    args = ap.parse_args()
    sizes = parse_sizes(args.sizes) if args.sizes else list(DEFAULT_SIZES)
    t0 = time.monotonic()
    start = load_cost_table(args.table)
    old = {}
    if args.measurements:
        old = json.loads(args.measurements.read_text())
        new, report = fit_synthesis(start, old["measurements"], tool_source(old["tool"]))
        report = {"tool": old["tool"], "measurements": old["measurements"], **report}
    else:
        with tempfile.TemporaryDirectory(prefix="nash-yosys-") as tmp:
            new, report = calibrate(start, tmp, sizes, progress=print)
    wall = old["wall_s"] if args.measurements else round(time.monotonic() - t0, 1)  # the synthesis run's time
    result = {"benchmark": "calibrate_yosys", "wall_s": wall, "tool": report["tool"],
              "command": "yosys -p \"read_verilog X.v; synth_xilinx -family xcup -top TOP -flatten; stat -json\"",
              "engines": summary(report), "changes": report["changes"], "kept": report["kept"],
              "requant_lanes": report["requant_lanes"], "fit_model_formula": report["fit_model_formula"],
              "fit_per_bit": report["fit_per_bit"], "table_vs_synthesis": report["table_vs_synthesis"],
              "measurements": report["measurements"]}
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    for e, s in result["engines"].items():
        b, a = s["synthesis_over_table"]["before"], s["synthesis_over_table"]["after"]
        print(f"{e}: synthesis / old table LUT {b['lut']} FF {b['ff']}; after the fit LUT {a['lut']} FF {a['ff']}")
    for c in report["changes"]:
        print(f"{c['entry']}: {c['old']:g} -> {c['new']:g} ({c['new_over_old']}x)")
    print(f"wrote {args.out} ({result['wall_s']} s)")
    if args.write_table:
        write_table(new, DEFAULT_TABLE)
        print(f"wrote {DEFAULT_TABLE}")


if __name__ == "__main__":
    main()
