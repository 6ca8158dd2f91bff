"""The ``nash`` command line: one click group; each subcommand lives beside the code it drives."""

from __future__ import annotations

import sys

import click

from nash import __version__


class NashGroup(click.Group):
    """Turns the project's known error types into a one-line message and exit code 2 (no traceback)."""

    def invoke(self, ctx):
        from nash.frontend.core.graph import ArchitectureError
        from nash.frontend.core.model_file import ModelFileError

        try:
            return super().invoke(ctx)
        except (ModelFileError, ArchitectureError) as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(2)


@click.group(cls=NashGroup)
@click.version_option(__version__, prog_name="nash")
def main() -> None:
    """NASH-HLS: hybrid conv/shift/adder NAS + KV260 accelerator search + HLS codegen."""


# Subcommands, in the order of the flow; one module per stage in this package.
from nash.cli import accel, codegen, search, train  # noqa: E402

for _cmd in (search.search, search.proxy_bench, train.train, train.validate, accel.accel,
             accel.accel_calibrate, codegen.codegen, codegen.csim, codegen.hls):
    main.add_command(_cmd)

if __name__ == "__main__":
    main()
