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


# Each subcommand module registers one command; one line per module.
from nash.frontend import train_cli  # noqa: E402

main.add_command(train_cli.train)
main.add_command(train_cli.validate)
from nash.frontend import search_cli  # noqa: E402

main.add_command(search_cli.search)
main.add_command(search_cli.proxy_bench)

if __name__ == "__main__":
    main()
