"""The accelerator report: JSON summary, a readable table per layer and per engine, and a utilisation/roofline PNG."""

from __future__ import annotations

import io
import json
from pathlib import Path

from nash.frontend.core.atomic_io import atomic_write_bytes, atomic_write_text
from nash.frontend.core.graph import Node

RES_KEYS = ("dsp", "lut", "ff", "bram", "uram")


def report_json(section: dict) -> dict:
    """The summary written to accel_report.json (a superset of the fixed CLI contract)."""
    perf = section["performance"]
    return {
        "board": section["board"], "part": section["part"], "clock_mhz": section["clock_mhz"],
        "batch": section.get("batch", 1), "fps": perf["fps"], "latency_ms": perf["latency_ms"], "gops": perf["gops"],
        "peak_gops": perf["peak_gops"],
        "board_peak_gops": perf["board_peak_gops"], "utilisation_of_peak": perf["gops"] / perf["peak_gops"],
        "period_cycles": perf["period_cycles"],
        "resources": section["resources"], "board_resources": section["board_resources"]["total"],
        "board_usable": section["board_resources"]["usable"],
        "engines": {e: ({k: v for k, v in c.items() if k not in ("buffers",)} if c else None)
                    for e, c in section["engines"].items()},
        "layers": section["layers"], "schedule": section["schedule"], "model": section["model"],
        "search": section["search"],
    }


def table_text(section: dict, nodes: list[Node]) -> str:
    """Per-layer and per-engine tables (plain text)."""
    clk = section["clock_mhz"] * 1e6
    lines = [f"board {section['board']} ({section['part']}) at {section['clock_mhz']:g} MHz; "
             f"FPS {section['performance']['fps']:.1f}, latency {section['performance']['latency_ms']:.3f} ms, "
             f"{section['performance']['gops']:.1f} GOPS of {section['performance']['peak_gops']:.1f} peak",
             "", f"{'layer':<16}{'engine':<7}{'op':<7}{'role':<10}{'shape':<22}{'tile':>5}{'cycles':>10}"
             f"{'us':>9}{'GOPS':>8}"]
    for n in nodes:
        ent = section["layers"][n.name]
        shape = f"{n.in_ch}x{n.in_size}->{n.out_ch}x{n.out_size} k{n.kernel}s{n.stride}"
        cyc = ent["cycles"]
        gops = 2 * n.macs * section.get("batch", 1) / (cyc / clk) / 1e9 if cyc else 0.0  # a task: the batch
        lines.append(f"{n.name:<16}{ent['engine']:<7}{n.op:<7}{n.role:<10}{shape:<22}{ent['tr']:>5}{cyc:>10}"
                     f"{cyc / clk * 1e6:>9.1f}{gops:>8.2f}")
    lines += ["", f"{'engine':<8}{'layers':>7}{'busy cycles':>13}{'busy %':>8}  {'config':<44}"
              + "".join(f"{k:>8}" for k in RES_KEYS)]
    period = section["schedule"]["period_cycles"]
    for e, cfg in section["engines"].items():
        mine = [v["cycles"] for v in section["layers"].values() if v["engine"] == e]
        if cfg is None:
            continue
        if e == "misc":
            desc = f"lanes={cfg['lanes']}"
        else:
            desc = (f"{cfg['tm']}x{cfg['tn']} dw={cfg['dw_lanes']} tile={cfg['tr']} rq={cfg['requant_lanes']} "
                    f"acc={cfg['acc_mem']} acc_dw={cfg['acc_dw_mem']}")
        r = cfg["resources"]
        lines.append(f"{e:<8}{len(mine):>7}{sum(mine):>13}{100 * sum(mine) / period:>8.1f}  {desc:<44}"
                     + "".join(f"{r[k]:>8}" for k in RES_KEYS))
    tot, avail = section["resources"], section["board_resources"]["total"]
    lines.append(f"{'total':<8}{'':>7}{'':>13}{'':>8}  {'':<44}" + "".join(f"{tot[k]:>8}" for k in RES_KEYS))
    lines.append(f"{'board':<8}{'':>7}{'':>13}{'':>8}  {'':<44}" + "".join(f"{avail[k]:>8}" for k in RES_KEYS))
    s = section["schedule"]
    lines += ["", f"schedule: {len(s['steps'])} steps, period {s['period_cycles']} cycles, "
              f"max image offset {s['max_image_offset']}, batch {section.get('batch', 1)} images per period, "
              f"latency {s['latency_cycles']} cycles"]
    return "\n".join(lines) + "\n"


def plot_png(section: dict, nodes: list[Node]) -> bytes:
    """Resource utilisation bars and a per-layer roofline (achieved GOPS vs operational intensity)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clk = section["clock_mhz"] * 1e6
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    tot, avail = section["resources"], section["board_resources"]["total"]
    keys = [k for k in RES_KEYS if avail[k] > 0]
    ax1.bar(keys, [100 * tot[k] / avail[k] for k in keys], color="tab:blue")
    for k in keys:
        ax1.axhline(100 * section["usable_fraction"][k], color="gray", lw=0.5, ls=":")
    ax1.set_ylabel("% of board")
    ax1.set_title(f"{section['board']}: resource utilisation")
    ax1.set_ylim(0, 100)
    bw_gbs = section["axi_bytes_per_cycle"] * clk / 1e9
    colors = {"conv": "tab:red", "shift": "tab:green", "adder": "tab:purple", "misc": "tab:gray"}
    xs = []
    for e, cfg in section["engines"].items():
        pts = [(n, section["layers"][n.name]) for n in nodes if section["layers"][n.name]["engine"] == e]
        if not pts or cfg is None:
            continue
        oi, perf = [], []
        for n, ent in pts:
            bytes_moved = n.in_ch * n.in_size**2 + n.out_ch * n.out_size**2 + max(n.params, 0)
            oi.append(2 * n.macs / max(bytes_moved, 1))
            perf.append(2 * n.macs / (ent["cycles"] / clk) / 1e9)
        xs += oi
        ax2.scatter(oi, perf, s=12, color=colors[e], label=e)
        if e != "misc":
            peak = 2 * (cfg["tm"] * cfg["tn"]) * clk / 1e9
            ax2.axhline(peak, color=colors[e], lw=0.8, ls="--")
    if xs:
        import numpy as np

        x = np.logspace(np.log10(min(xs) / 2), np.log10(max(xs) * 2), 50)
        ax2.plot(x, x * bw_gbs, color="black", lw=0.8, label=f"port {bw_gbs:.1f} GB/s")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel("operational intensity (ops / DDR byte)")
    ax2.set_ylabel("GOPS")
    ax2.set_title("per-layer roofline (dashed: engine array peak)")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def write_report(out_dir: str | Path, section: dict, nodes: list[Node]) -> dict[str, Path]:
    """Write accel_report.json, accel_report.txt and accel_report.png atomically into ``out_dir``."""
    out = Path(out_dir)
    paths = {"json": out / "accel_report.json", "table": out / "accel_report.txt", "plot": out / "accel_report.png"}
    atomic_write_text(paths["json"], json.dumps(report_json(section), indent=2) + "\n")
    atomic_write_text(paths["table"], table_text(section, nodes))
    atomic_write_bytes(paths["plot"], plot_png(section, nodes))
    return paths
