"""The ``nash`` command line: one click group; each subcommand lives beside the code it drives.

:class:`NashGroup` is the one place that turns an error into what the user sees: every
:class:`~nash.frontend.core.errors.NashError` and every click usage error (bad or missing option value, unknown
option or command) ends in one line ``error: <message>`` on stderr and the exit code of its kind (bad input 2, tool
missing 3, check failed 1; ``nash.frontend.core.errors``). Other exceptions are bugs and keep their traceback.
"""

from __future__ import annotations

import click

from nash import __version__
from nash.frontend.core.errors import NashError, UserInputError


class OneLineError(click.ClickException):
    """What click prints for a failed command: ``error: <message>`` on one line, with the kind's exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(" ".join(message.split()))  # one line, whatever the message held
        self.exit_code = exit_code

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", file=file, err=True)


def usage_line(e: click.UsageError) -> str:
    """A click usage error as one line naming the option or argument, e.g.
    ``option '--epochs': 0 is not in the range x>=1 (see 'nash train --help')``."""
    msg = e.format_message()
    if isinstance(e, click.BadParameter) and not isinstance(e, click.MissingParameter):
        hint = e.param_hint if e.param_hint is not None else (e.param.get_error_hint(e.ctx) if e.param else None)
        if isinstance(hint, (list, tuple)):
            hint = " / ".join(f"'{h}'" for h in hint)
        if hint:
            hint = hint if hint.startswith(("'", '"')) else f"'{hint}'"
            is_arg = isinstance(e.param, click.Argument) or (e.param is None and not hint.strip("'\"").startswith("-"))
            msg = f"{'argument' if is_arg else 'option'} {hint}: {e.message}"
    cmd = e.ctx.command_path if e.ctx is not None else "nash"
    return f"{msg[:-1] if msg.endswith('.') else msg} (see '{cmd} --help')"


def _as_one_line(e: Exception) -> click.ClickException:
    if isinstance(e, click.exceptions.NoArgsIsHelpError):  # bare ``nash`` / ``nash train``: click prints the help
        return e
    if isinstance(e, click.UsageError):
        return OneLineError(usage_line(e), UserInputError.exit_code)
    return OneLineError(str(e), getattr(e, "exit_code", UserInputError.exit_code))


class NashGroup(click.Group):
    """Maps NashError (and click's usage errors) to one line and the kind's exit code; see the module docstring."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:  # the group's own options and arguments
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as e:
            raise _as_one_line(e) from e

    def invoke(self, ctx):
        try:  # a subcommand's parsing and its run
            return super().invoke(ctx)
        except (NashError, click.UsageError) as e:
            raise _as_one_line(e) from e


@click.group(cls=NashGroup)
@click.version_option(__version__, prog_name="nash")
def main() -> None:
    """NASH-HLS: hybrid conv/shift/adder NAS + KV260 accelerator search + HLS codegen."""


# Subcommands, in the order of the flow; one module per stage in this package.
from nash.cli import accel, codegen, dataset, search, supernet, train  # noqa: E402

for _cmd in (search.search, search.proxy_bench, supernet.supernet, train.train, train.validate, accel.accel,
             accel.accel_calibrate, codegen.codegen, codegen.csim, codegen.hls, dataset.dataset):
    main.add_command(_cmd)

if __name__ == "__main__":
    main()
