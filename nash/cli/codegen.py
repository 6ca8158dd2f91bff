"""``nash codegen``, ``nash csim`` and ``nash hls`` (registered in nash/cli/__init__.py, which maps errors to exit
codes)."""

from __future__ import annotations

from pathlib import Path

import click

from nash.codegen.hls.plan import SCHEDULES
from nash.codegen.rtl.pe_bridge import PE_IMPLS

_schedule = click.option("--schedule", type=click.Choice(SCHEDULES), default="model", show_default=True,
                         help="model: the accelerator section's schedule (greedy pipelined fallback when absent); "
                              "pipelined: always the fallback; sequential: image by image.")
_pe = click.option("--pe-impl", type=click.Choice(PE_IMPLS), default="auto", show_default=True,
                   help="PE arrays the engines call: auto/hls = the synthesizable C model (hls_templates/pe_arrays); "
                        "rtl = the Verilog PE arrays as Vitis HLS RTL blackboxes (csim runs their C models; "
                        "unverified on real Vitis, see docs/pe-arrays.md); local = codegen's own cross-check copy.")


@click.command()
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder of the rendered Vitis HLS project.")
@_schedule
@_pe
def codegen(model: Path, out: Path, schedule: str, pe_impl: str) -> None:
    """Render MODEL.json into a Vitis HLS project under OUT (C++ engines, top, testbench, weights blob, Tcl)."""
    from nash.codegen.hls.project import generate

    g = generate(model, out, schedule, pe_impl)
    p = g.project
    click.echo(f"rendered {len(p.files)} files into {out} ({p.plan.schedule_kind} schedule, {len(p.plan.steps)} steps, "
               f"max image offset {p.plan.max_offset}; accelerator plan: {p.plan.source})")
    for note in p.plan.notes:
        click.echo(f"  note: {note}")


@click.command()
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--images", "n_images", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Project folder; the report is OUT/csim_report.json.")
@click.option("--dataset", default=None, help="Dataset name or 'random' (default: the model's provenance dataset).")
@click.option("--data-root", default=None, help="Folder of the dataset's files (not needed for digits).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of random images.")
@_schedule
@_pe
def csim(model: Path, n_images: int, out: Path, dataset: str | None, data_root: str | None, seed: int, schedule: str,
         pe_impl: str) -> None:
    """Bit-exact C simulation of MODEL.json: render, compile with g++, compare every layer with the integer reference.

    Exit code 1 when any output differs.
    """
    from nash.codegen.csim.cycles import summary_line
    from nash.codegen.csim.run import run_csim
    from nash.frontend.core.errors import CheckFailedError

    r = run_csim(model, n_images, out, dataset, seed, schedule, pe_impl, data_root).report
    build = "cached build" if r["build_cached"] else f"built in {r['build_s']:.1f} s"
    click.echo(f"csim: {r['images']} images from {r['image_source']}, {r['layers_compared']} layers compared, "
               f"{r['mismatches']} mismatching images ({build}, {r['csim_images_per_s']} images/s)")
    if r["accuracy"] is not None:
        click.echo(f"csim accuracy {r['accuracy']:.2f}% (integer reference {r['reference_accuracy']:.2f}%)")
    if r["predicted_fps"] is not None:
        click.echo(f"accelerator model: predicted {r['predicted_fps']:.1f} FPS")
    if r["cycles"]:
        click.echo(summary_line(r["cycles"]))
    click.echo(f"report: {out / 'csim_report.json'}")
    if r["mismatches"]:
        f = r["first_mismatch"]
        raise CheckFailedError(f"csim differs from the integer reference: first mismatch image {f['image']} layer "
                               f"{f['layer']} index {f['index']}: got {f['got']}, expected {f['expected']}")


@click.command()
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--steps", default="csim,csynth,cosim,export", show_default=True,
              help="Comma-separated Vitis HLS steps (csim, csynth, cosim, export).")
@_schedule
@_pe
def hls(model: Path, out: Path, steps: str, schedule: str, pe_impl: str) -> None:
    """Render MODEL.json and run Vitis HLS on it (vitis_hls -f or vitis-run --mode hls --tcl, whichever exists)."""
    from nash.codegen.hls.render import write_options
    from nash.codegen.vivado.hls_tool import HLS_STEPS, detect, run_hls
    from nash.frontend.core.errors import CheckFailedError

    chosen = [s.strip() for s in steps.split(",") if s.strip()]
    bad = [s for s in chosen if s not in HLS_STEPS]
    if bad:
        raise click.BadParameter(f"unknown step(s) {bad}; expected a comma-separated subset of {list(HLS_STEPS)}",
                                 param_hint="--steps")
    tool, path = detect()  # fail at once (ToolMissingError, exit 3), before rendering anything
    from nash.codegen.hls.project import generate

    generate(model, out, schedule, pe_impl)
    write_options(out, chosen)
    click.echo(f"running {tool} ({path}) on {out / 'run_hls.tcl'}: {', '.join(chosen)}")
    rc = run_hls(out)
    if rc != 0:  # a Vitis HLS step (csim, csynth, cosim, export) failed
        raise CheckFailedError(f"{tool} exited with code {rc} (log: {out / 'vitis_hls_run.log'})")
