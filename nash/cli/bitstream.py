"""``nash bitstream`` (registered in nash/cli/__init__.py, which maps errors to exit codes)."""

from __future__ import annotations

from pathlib import Path

import click

from nash.codegen.hls.plan import SCHEDULES
from nash.codegen.rtl.pe_bridge import PE_IMPLS


@click.command()
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Build folder: hls/, vivado/, reports/, reports.json and NAME.bit + NAME.hwh.")
@click.option("--jobs", type=click.IntRange(min=1), default=4, show_default=True,
              help="Parallel jobs of the Vivado synthesis and implementation runs.")
@click.option("--strategy", "strategies", multiple=True, metavar="[synth=|impl=]NAME",
              help="Vivado run strategy, e.g. impl=Performance_Explore or synth=Flow_PerfOptimized_high (repeatable; "
                   "a bare NAME is the implementation strategy). Default: the Vivado defaults.")
@click.option("--allow-timing-failure", is_flag=True,
              help="Collect the bitstream even when WNS or WHS is negative (recorded in reports.json).")
@click.option("--board-repo", type=click.Path(file_okay=False), default=None,
              help="Folder holding the KV260 board files (a XilinxBoardStore clone); default: $NASH_BOARD_REPO, "
                   "the Vivado installation and ~/.Xilinx.")
@click.option("--dry-run", is_flag=True,
              help="No Xilinx tools: render everything and run the generated scripts in tclsh with every Vivado / "
                   "Vitis HLS command checked against its documented options (docs/bitstream.md).")
@click.option("--schedule", type=click.Choice(SCHEDULES), default="model", show_default=True,
              help="Schedule of the generated kernel (as for nash codegen).")
@click.option("--pe-impl", type=click.Choice(PE_IMPLS), default="auto", show_default=True,
              help="PE arrays the engines call (as for nash codegen).")
def bitstream(model: Path, out: Path, jobs: int, strategies: tuple[str, ...], allow_timing_failure: bool,
              board_repo: str | None, dry_run: bool, schedule: str, pe_impl: str) -> None:
    """Build MODEL.json into OUT/NAME.bit + OUT/NAME.hwh for the Kria KV260 (Vitis HLS IP, Vivado block design).

    Steps codegen, hls, vivado_project, synth, impl, collect; a step re-runs only when its inputs changed. Exit 1
    when timing is not met (unless --allow-timing-failure), 3 when a tool or the board files are missing.
    """
    from nash.codegen.vivado.bitstream import Options, parse_strategies, run_bitstream, run_dry

    synth, impl = parse_strategies(strategies)
    opts = Options(jobs, synth, impl, allow_timing_failure, board_repo, schedule, pe_impl)
    if dry_run:
        run_dry(model, out, opts, click.echo)
    else:
        run_bitstream(model, out, opts, click.echo)
