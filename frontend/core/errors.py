"""One error hierarchy for the whole toolchain, and the exit code the CLI maps each kind to.

Every error a user can cause (a bad file, field, folder or option value) is a :class:`UserInputError`: its ``str()``
is one line naming the path, field or option and the expected form, and the CLI prints it as ``error: ...`` with exit
code 2 and no traceback. A missing external tool (Vitis HLS, Vivado, a simulator) is a :class:`ToolMissingError`
(exit 3); a check that ran and failed (a csim mismatch, a timing gate) is a :class:`CheckFailedError` (exit 1).
"""

from __future__ import annotations


class NashError(Exception):
    """Base of every error the toolchain raises on purpose; ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class UserInputError(NashError, ValueError):
    """Bad input from the user: a file, field, folder or option value. One line, exit code 2."""

    exit_code = 2


class ToolMissingError(NashError, RuntimeError):
    """An external tool the step needs is not installed or not on PATH. Exit code 3."""

    exit_code = 3


class CheckFailedError(NashError, RuntimeError):
    """A verification that ran and failed (bit-exactness, timing). Exit code 1."""

    exit_code = 1


EXIT_CODES = {"ok": 0, "check failed": CheckFailedError.exit_code, "bad input": UserInputError.exit_code,
              "tool missing": ToolMissingError.exit_code}
