"""The ``nash`` command line: one click group; each subcommand lives beside the code it drives."""

from __future__ import annotations

import sys

import click

from nash import __version__


class NashGroup(click.Group):
    """Turns the project's known error types into a one-line message and exit code 2 (no traceback)."""

    def invoke(self, ctx):
        from nash.frontend.graph import ArchitectureError
        from nash.frontend.model_file import ModelFileError

        try:
            return super().invoke(ctx)
        except (ModelFileError, ArchitectureError) as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(2)


@click.group(cls=NashGroup)
@click.version_option(__version__, prog_name="nash")
def main() -> None:
    """NASH-HLS: hybrid conv/shift/adder NAS + KV260 accelerator search + HLS codegen."""


# Subcommands, in the order of the flow; each lives in the module beside the code it drives.
from nash.codegen import codegen_cli  # noqa: E402
from nash.frontend import accel_cli, search_cli, train_cli  # noqa: E402

for _cmd in (search_cli.search, search_cli.proxy_bench, train_cli.train, train_cli.validate, accel_cli.accel,
             accel_cli.accel_calibrate, codegen_cli.codegen, codegen_cli.csim, codegen_cli.hls):
    main.add_command(_cmd)

if __name__ == "__main__":
    main()
