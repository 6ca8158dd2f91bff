"""``nash accel`` (accelerator search for a model file) and ``nash accel-calibrate`` (cost table from Yosys synthesis,
csynth reports or the Vivado utilisation of a built design)."""

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
@click.option("--max-batch", type=int, default=None,
              help="At most this many images per task (the search picks the batch of 1, 2, 4, 8 with the highest "
                   "FPS; a batch of B makes the latency about B times longer). 1: one image per task.")
def accel(model: str, board: str, exhaustive: bool, coarse_only: bool, out_dir: str, usable: float | None,
          clock_mhz: float | None, cost_table: str | None, calibration: str | None, max_batch: int | None) -> None:
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
    result = search(ctx, mode, max_batch)
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
    click.echo(f"{b.name}: {perf['fps']:.1f} FPS, batch {perf['batch']}, latency {perf['latency_ms']:.3f} ms, "
               f"{perf['gops']:.1f} GOPS "
               f"(peak {perf['peak_gops']:.1f}); DSP {r['dsp']} LUT {r['lut']} FF {r['ff']} BRAM36 {r['bram']} "
               f"URAM {r['uram']}; {result.mode} search: {result.evaluations} evaluations, {result.seconds:.2f} s")
    click.echo(f"wrote {out / 'model.json'}, {paths['json']}, {paths['table']}, {paths['plot']}")


@click.command("accel-calibrate")
@click.argument("reports", nargs=-1)
@click.option("--yosys", is_flag=True,
              help="Synthesize the Verilog PE arrays (every engine at --sizes) and the requant lane with Yosys "
                   "(synth_xilinx -family xcup) and fit the per-PE, per-tree-node and per-lane costs.")
@click.option("--sizes", default=None, help="With --yosys: array shapes per engine, e.g. 2x2,8x8 (default "
                                            "2x2,4x4,16x4,4x16,8x8,16x16,8x32).")
@click.option("--work-dir", type=click.Path(file_okay=False), default=None,
              help="With --yosys: folder for the rendered Verilog and the Yosys logs (default: a temporary folder).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), default=None,
              help="With --yosys: also write the fit (measurements, coefficients, residuals) as JSON.")
@click.option("--vivado", "vivado_path", type=click.Path(dir_okay=False), default=None,
              help="DIR/reports.json of nash bitstream, or a Vivado report_utilization file: per unit and resource "
                   "measured / predicted -> vivado_scale.<unit>.<resource> (hierarchical report: per engine; flat: "
                   "one factor for the whole design).")
@click.option("--model", "model_path", type=click.Path(dir_okay=False), default=None,
              help="With --vivado: the model file the design was built from (default: the one reports.json names).")
@click.option("--table", "table_in", type=click.Path(dir_okay=False), default=None,
              help="Cost table to start from (default: the shipped one).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="Calibrated cost table JSON (required with csynth reports or --vivado; with --yosys alone the "
                   "default is ~/.cache/nash-hls/calibration/cost_table.json).")
def accel_calibrate(reports: tuple[str, ...], yosys: bool, sizes: str | None, work_dir: str | None,
                    report_path: str | None, vivado_path: str | None, model_path: str | None, table_in: str | None,
                    out_path: str | None) -> None:
    """Update the cost table from Yosys synthesis (--yosys), Vitis HLS csynth.xml reports of PE arrays and/or the
    Vivado utilisation of a built design (--vivado).

    Each REPORT is ENGINE:TMxTN:PATH, e.g. conv:8x8:build/hls/conv_pe/syn/report/csynth.xml. Order and precedence:
    the Yosys fit first (it keeps entries that come from csynth or Vivado), then the csynth reports (per-PE entries),
    then the Vivado scale factors, measured against the table as the first two left it.
    """
    from nash.frontend.accel.calibration import (
        CalibrationError,
        calibrate_from_csynth,
        default_cost_table_path,
        parse_csynth,
    )
    from nash.frontend.accel.cost_table import load_cost_table, save_cost_table

    if not reports and not yosys and not vivado_path:
        raise click.UsageError("give csynth REPORTS (ENGINE:TMxTN:PATH), --yosys and/or --vivado")
    if not yosys:
        for opt, v in (("--sizes", sizes), ("--work-dir", work_dir), ("--report", report_path)):
            if v is not None:
                raise click.BadParameter("only with --yosys", param_hint=opt)
    if model_path is not None and not vivado_path:
        raise click.BadParameter("only with --vivado", param_hint="--model")
    if out_path is None and (reports or vivado_path):
        raise click.BadParameter("required with csynth reports or --vivado: the calibrated cost table JSON",
                                 param_hint="--out")
    parsed = []
    for spec in reports:  # parsed before any synthesis, so that a bad REPORT fails at once
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
    measured = _read_vivado(vivado_path, model_path) if vivado_path else None  # also before any synthesis
    table = load_cost_table(table_in)
    out = Path(out_path) if out_path else default_cost_table_path()
    if yosys:
        table = _yosys_fit(table, sizes, work_dir, report_path)
    if parsed:
        table, changes = calibrate_from_csynth(table, parsed)
        for c in changes:
            click.echo(c)
    if measured:
        table = _vivado_scale(table, *measured)
    else:
        _warn_measured_scales(table)
    save_cost_table(table, out)
    click.echo(f"wrote {out} (use it with: nash accel MODEL.json --cost-table {out})")


def _read_vivado(vivado_path: str, model_path: str | None):
    """(measurement, model nodes, accelerator section, model name) for ``--vivado``; every input checked here."""
    from nash.codegen.vivado.measured import load_measurement, model_file_of
    from nash.frontend.accel.calibration import CalibrationError
    from nash.frontend.accel.vivado_calibration import model_units
    from nash.frontend.core.model_file import load_model

    model = Path(model_path) if model_path else model_file_of(vivado_path)
    if model is None:
        raise click.BadParameter(f"required with {vivado_path}: the model file the design was built from "
                                 "(a reports.json of nash bitstream names it)", param_hint="--model")
    mf = load_model(model)
    section = mf.data.get("accelerator")
    if not section:
        raise CalibrationError(f"{model}: field 'accelerator': expected the accelerator section the design was "
                               "built from (run nash accel first)")
    return load_measurement(vivado_path, model_units(section)), mf.nodes, section, mf.name


def _vivado_scale(table, meas, nodes, section, model_name):
    """Apply ``--vivado`` and print what changed and what could not be calibrated."""
    from nash.frontend.accel.vivado_calibration import calibrate_from_vivado, predicted_units

    new, changes, notes = calibrate_from_vivado(table, meas, predicted_units(nodes, section, table), model_name)
    kind = "per unit" if meas.hierarchical else "whole design (flat report)"
    click.echo(f"vivado {meas.tool_version}, {meas.design}, {meas.report}: {kind}")
    for c in changes:
        click.echo(c)
    for n in notes:
        click.echo(f"note: {n}")
    return new


def _warn_measured_scales(table) -> None:
    """A table whose Vivado factors were measured against entries this run may have changed keeps them (Vivado
    over Yosys); say so, so that the user can re-measure."""
    from nash.frontend.accel.cost_table import SCALE_RESOURCES, SCALE_UNITS, scale_key

    keys = [scale_key(u, r) for u in SCALE_UNITS for r in SCALE_RESOURCES]
    measured = sorted({k.split(".")[1] for k in keys if table.sources[k].lower().startswith("vivado")})
    if measured:
        click.echo(f"kept the Vivado scale factors of {', '.join(measured)}: they were measured against the entries "
                   "before this run; re-run with --vivado to re-measure them")


def _yosys_fit(table, sizes: str | None, work_dir: str | None, report_path: str | None):
    """Synthesize, fit and print the changes; returns the new table (``nash accel-calibrate --yosys``)."""
    import json
    import tempfile

    from nash.codegen.rtl.yosys_calibrate import DEFAULT_SIZES, calibrate, parse_sizes
    from nash.frontend.core.atomic_io import atomic_write_text

    try:
        shapes = parse_sizes(sizes) if sizes is not None else list(DEFAULT_SIZES)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--sizes") from None
    with tempfile.TemporaryDirectory(prefix="nash-yosys-") as tmp:
        new, report = calibrate(table, work_dir or tmp, shapes, progress=click.echo)
    for c in report["changes"]:
        ratio = f" ({c['new_over_old']}x)" if c["new_over_old"] is not None else ""
        click.echo(f"{c['entry']}: {c['old']:g} -> {c['new']:g}{ratio}")
    for k in report["kept"]:
        click.echo(f"{k['entry']}: kept {k['value']:g} ({k['source']}; synthesis gives {k['synthesis']:g})")
    err = report["fit_per_bit"]["max_abs_rel_error"]
    click.echo("per-bit fit, largest residual: " + ", ".join(f"{r} {100 * v:.1f} %" for r, v in err.items()))
    if report_path:
        atomic_write_text(report_path, json.dumps(report, indent=1) + "\n")
        click.echo(f"wrote {report_path}")
    return new
