"""``nash accel`` (accelerator search for a model file) and ``nash accel-calibrate`` (cost table from csynth)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--board", default="kv260", show_default=True, help="Board name (kv260, zcu104, ultra96v2) or JSON path.")
@click.option("--exhaustive", is_flag=True, help="Exact reference search over the whole space (slow).")
@click.option("--coarse-only", is_flag=True, help="Coarse stage only (fast screening).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Output folder: model.json with the accelerator section + accel_report.{json,txt,png}.")
@click.option("--usable", type=float, default=None, help="Usable fraction of every resource (default: the board's).")
@click.option("--clock-mhz", type=float, default=None, help="Target clock (default: the board's).")
@click.option("--cost-table", type=click.Path(dir_okay=False), default=None, help="Calibrated cost table JSON.")
@click.option("--calibration", type=click.Path(dir_okay=False), default=None,
              help="PE-array calibration JSON (default $NASH_CALIBRATION, else "
                   "~/.cache/nash-hls/calibration/pe_arrays.json when present).")
def accel(model: str, board: str, exhaustive: bool, coarse_only: bool, out_dir: str, usable: float | None,
          clock_mhz: float | None, cost_table: str | None, calibration: str | None) -> None:
    """Search the accelerator for MODEL.json on a board; write DIR/model.json and the report."""
    from nash.frontend.accel.board import load_board
    from nash.frontend.accel.calibration import load_pe_timing
    from nash.frontend.accel.cost_table import load_cost_table
    from nash.frontend.accel.model import AccelContext
    from nash.frontend.accel.report import write_report
    from nash.frontend.accel.search import performance, search
    from nash.frontend.accel.section import build_section, validate_section
    from nash.frontend.core.model_file import load_model, save_model, update_sections

    if exhaustive and coarse_only:
        raise click.BadParameter("--exhaustive and --coarse-only exclude each other", param_hint="--coarse-only")
    mf = load_model(model)
    b = load_board(board, usable_fraction=usable, clock_mhz=clock_mhz)
    ctx = AccelContext.build(mf.nodes, b, load_cost_table(cost_table), load_pe_timing(calibration))
    mode = "exhaustive" if exhaustive else "coarse" if coarse_only else "coarse-to-fine"
    result = search(ctx, mode)
    perf = performance(ctx, result.design)
    section = build_section(ctx, result, perf)
    validate_section(section, mf.nodes, None)
    update_sections(mf, "accel", accelerator=section,
                    provenance={"board": b.name, "mode": result.mode, "cost_table": cost_table,
                                "calibration": calibration})
    out = Path(out_dir)
    save_model(mf, out / "model.json")
    paths = write_report(out, section, mf.nodes)
    r = section["resources"]
    click.echo(f"{b.name}: {perf['fps']:.1f} FPS, {perf['latency_ms']:.3f} ms/image, {perf['gops']:.1f} GOPS "
               f"(peak {perf['peak_gops']:.1f}); DSP {r['dsp']} LUT {r['lut']} FF {r['ff']} BRAM36 {r['bram']} "
               f"URAM {r['uram']}; {result.mode} search: {result.evaluations} evaluations, {result.seconds:.2f} s")
    click.echo(f"wrote {out / 'model.json'}, {paths['json']}, {paths['table']}, {paths['plot']}")


@click.command("accel-calibrate")
@click.argument("reports", nargs=-1, required=True)
@click.option("--table", "table_in", type=click.Path(dir_okay=False), default=None,
              help="Cost table to start from (default: the shipped one).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), required=True, help="Calibrated cost table JSON.")
def accel_calibrate(reports: tuple[str, ...], table_in: str | None, out_path: str) -> None:
    """Update the cost table from Vitis HLS csynth.xml reports of PE arrays.

    Each REPORT is ENGINE:TMxTN:PATH, e.g. conv:8x8:build/hls/conv_pe/syn/report/csynth.xml.
    """
    from nash.frontend.accel.calibration import CalibrationError, calibrate_from_csynth, parse_csynth
    from nash.frontend.accel.cost_table import load_cost_table, save_cost_table

    table = load_cost_table(table_in)
    parsed = []
    for spec in reports:
        parts = spec.split(":", 2)
        if len(parts) != 3 or "x" not in parts[1]:
            raise CalibrationError(f"report {spec!r}: expected ENGINE:TMxTN:PATH, e.g. conv:8x8:csynth.xml")
        engine, shape, path = parts
        try:
            tm, tn = (int(v) for v in shape.split("x"))
        except ValueError:
            raise CalibrationError(f"report {spec!r}: array shape {shape!r} is not TMxTN") from None
        rep = parse_csynth(path)
        rep["_path"] = path
        parsed.append((engine, tm, tn, rep))
    new, changes = calibrate_from_csynth(table, parsed)
    save_cost_table(new, out_path)
    for c in changes:
        click.echo(c)
    click.echo(f"wrote {out_path} (use it with: nash accel MODEL.json --cost-table {out_path})")
