"""Cost-table calibration from Yosys synthesis of the Verilog PE arrays, depthwise lanes and requant lane.

Every engine's PE array at each size, the conv array without DSPs (``-nodsp``) at a few sizes, one depthwise lane
per engine (and conv's without DSPs) and the requant lane at three widths are synthesized with
``yosys synth_xilinx -family xcup``; the fit (``frontend/accel/synth_fit.py``) gives the per-PE, per-bit, per-column,
per-node and per-lane costs. The JSON holds, per engine, the sizes synthesized, the measurements, the fitted costs, the
residuals, the table-vs-synthesis ratio before and after, how much each entry moved, and whether conv on LUT
multipliers pays on the KV260. ``--write-table`` puts the fitted entries (with their sources) into the shipped
``frontend/accel/cost_table.json``.

    nice -n 10 python benchmarks/calibrate_yosys.py [--sizes 2x2,...] [--write-table]
    nice -n 10 python benchmarks/calibrate_yosys.py --parts fabric,dw_lanes --measurements OLD_RESULT.json
        (synthesize only those parts; the other measurements come from OLD_RESULT.json)
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

from nash.codegen.rtl.yosys_calibrate import (  # noqa: E402
    DEFAULT_SIZES,
    PARTS,
    calibrate,
    parse_parts,
    parse_sizes,
    part_of,
)
from nash.codegen.rtl.yosys_synth import tool_source  # noqa: E402
from nash.frontend.accel.array_cost import array_price  # noqa: E402
from nash.frontend.accel.board import load_board  # noqa: E402
from nash.frontend.accel.cost_table import DEFAULT_TABLE, load_cost_table  # noqa: E402
from nash.frontend.accel.synth_fit import FABRIC, fit_synthesis  # noqa: E402
from nash.frontend.core.atomic_io import atomic_write_text  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "calibrate_yosys.json"


def ratio_range(rows: list[dict], engine: str, res: str) -> list[float] | None:
    """[min, max] of synthesis / table over an engine's arrays."""
    v = [r[res]["synthesis_over_table"] for r in rows if r["engine"] == engine and r[res]["synthesis_over_table"]]
    return [min(v), max(v)] if v else None


def summary(report: dict) -> dict:
    """Per engine (and conv without DSPs): sizes, fitted per-PE costs, largest residuals of the per-bit fit (the
    model's formula) and of the per-node one, table-vs-synthesis ratio before and after."""
    out = {}
    arrays = [m for m in report["measurements"] if m.get("unit") == "pe_array"]
    for kind in ("conv", "shift", "adder", FABRIC):
        e, fab = ("conv", True) if kind == FABRIC else (kind, False)
        rows = [m for m in arrays if m["engine"] == e and bool(m.get("fabric")) == fab]
        if not rows:
            continue

        def mine(r: dict, e=e, fab=fab) -> bool:
            return r["engine"] == e and r["fabric"] == fab

        out[kind] = {
            "sizes": [f"{m['tm']}x{m['tn']}" for m in rows],
            "per_pe": {res: report["fit_per_bit"]["coef"][res][f"pe:{kind}"] for res in ("lut", "ff", "dsp", "carry8")},
            "max_abs_rel_residual": {
                fit: {res: max((abs(r[res]["rel_error"] or 0.0) for r in report[fit]["residuals"] if mine(r)),
                               default=None)
                      for res in ("lut", "ff", "dsp")} for fit in ("fit_per_bit",)},
            "synthesis_over_table": {when: {res: ratio_range([r for r in report["table_vs_synthesis"][when] if mine(r)],
                                                             e, res)
                                            for res in ("lut", "ff", "dsp")} for when in ("before", "after")},
        }
    return out


def lut_multipliers(table, board_name: str = "kv260", tm: int = 16, tn: int = 16) -> dict:
    """Does conv on LUT multipliers pay on the board? LUT per MAC of a tm x tn array of each kind (PE + its share of
    the tree and the columns, the fitted table), and the board's budget: the LUTs needed to feed every usable DSP with
    a conv PE, and what the LUTs of one fabric MAC would buy in shift / adder MACs instead."""
    board = load_board(board_name)
    per_mac = {kind: float(array_price(table.values, "conv" if kind == FABRIC else kind, tm, tn, "lut",
                                       kind == FABRIC)) / (tm * tn) for kind in ("conv", "shift", "adder", FABRIC)}
    lut, dsp = board.budget["lut"], board.budget["dsp"]
    feed = dsp * per_mac["conv"]
    cheapest = min(per_mac["shift"], per_mac["adder"])
    return {"board": board_name, "array": f"{tm}x{tn}", "lut_per_mac": {k: round(v, 1) for k, v in per_mac.items()},
            "budget": {"lut": lut, "dsp": dsp},
            "lut_to_feed_every_dsp": round(feed), "lut_to_feed_every_dsp_fraction": round(feed / lut, 3),
            "fabric_mac_in_lut_fabric_macs": {k: round(per_mac[FABRIC] / per_mac[k], 2) for k in ("shift", "adder")},
            "pays": bool(per_mac[FABRIC] < cheapest),
            "why": (f"a conv MAC on LUT multipliers costs {per_mac[FABRIC]:.0f} LUT against {per_mac['adder']:.0f} "
                    f"(adder) / {per_mac['shift']:.0f} (shift) for a LUT-fabric MAC and {per_mac['conv']:.0f} LUT + 1 "
                    f"DSP on a DSP; the designs are LUT-bound, so every LUT it takes buys more MACs as a hybrid PE, "
                    f"and the {dsp} usable DSPs need only {feed:.0f} of {lut} LUT to be fed")}


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
                    help="an earlier run's JSON: re-fit its measurements instead of synthesizing, or (with --parts) "
                         "re-use those of the parts not synthesized")
    ap.add_argument("--parts", default=None,
                    help=f"synthesize only these (comma-separated: {', '.join(PARTS)}); default: all")
    args = ap.parse_args()
    try:
        sizes = parse_sizes(args.sizes) if args.sizes else list(DEFAULT_SIZES)
        parts = parse_parts(args.parts) if args.parts else None
    except ValueError as e:
        ap.error(str(e))
    t0 = time.monotonic()
    start = load_cost_table(args.table)
    old = json.loads(args.measurements.read_text()) if args.measurements else {}
    if args.measurements and parts is None:
        new, report = fit_synthesis(start, old["measurements"], tool_source(old["tool"]))
        report = {"tool": old["tool"], "measurements": old["measurements"], **report}
        wall = old["wall_s"]  # the synthesis run's time
    else:
        reuse = [m for m in old.get("measurements", []) if part_of(m) not in (parts or PARTS)]
        with tempfile.TemporaryDirectory(prefix="nash-yosys-") as tmp:
            new, report = calibrate(start, tmp, sizes, progress=print, parts=parts or PARTS, reuse=reuse)
        # this run's synthesis time, plus that of the re-used measurements
        wall = round(time.monotonic() - t0 + sum(m.get("seconds", 0.0) for m in reuse), 1)
    result = {"benchmark": "calibrate_yosys", "wall_s": wall, "tool": report["tool"],
              "command": "yosys -p \"read_verilog X.v; synth_xilinx -family xcup -top TOP -flatten; stat -json\"",
              "engines": summary(report), "changes": report["changes"], "kept": report["kept"],
              "dw_lanes": report["dw_lanes"], "requant_lanes": report["requant_lanes"],
              "lut_multipliers": lut_multipliers(new) if "conv.pe_lut_fabric" in new.values else None,
              "fit_per_bit": report["fit_per_bit"],
              "table_vs_synthesis": report["table_vs_synthesis"], "measurements": report["measurements"]}
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    for e, s in result["engines"].items():
        b, a = s["synthesis_over_table"]["before"], s["synthesis_over_table"]["after"]
        print(f"{e}: synthesis / old table LUT {b['lut']} FF {b['ff']}; after the fit LUT {a['lut']} FF {a['ff']}")
    for c in report["changes"]:
        ratio = f" ({c['new_over_old']}x)" if c["new_over_old"] is not None else ""
        print(f"{c['entry']}: {c['old']:g} -> {c['new']:g}{ratio}")
    for m in report["dw_lanes"]:
        r = m["resources"]
        print(f"{m['engine']} depthwise lane{' without DSPs' if m.get('fabric') else ''}: LUT {r['lut']} FF {r['ff']} "
              f"DSP {r['dsp']}")
    if result["lut_multipliers"]:
        print(f"conv on LUT multipliers pays on {result['lut_multipliers']['board']}: "
              f"{result['lut_multipliers']['pays']} ({result['lut_multipliers']['why']})")
    print(f"wrote {args.out} ({result['wall_s']} s)")
    if args.write_table:
        write_table(new, DEFAULT_TABLE)
        print(f"wrote {DEFAULT_TABLE}")


if __name__ == "__main__":
    main()
