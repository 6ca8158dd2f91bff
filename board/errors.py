"""Errors of the board runtime (no dependency on the rest of the toolchain: the runtime ships alone in a bundle).

``exit_code`` follows the toolchain's convention: 2 bad input (bundle, files, options), 1 a check or run that failed.
"""

from __future__ import annotations


class BoardError(Exception):
    """Base of every deliberate error of ``nash.board``; the message is one line."""

    exit_code = 1


class BundleError(BoardError):
    """A bundle or overlay file that cannot be used (truncated, sha256 mismatch, wrong ABI, wrong .bit/.hwh pair)."""

    exit_code = 2


class RegisterMapError(BundleError):
    """The register map codegen wrote disagrees with the .hwh (the message names the register) or is malformed."""


class KernelTimeoutError(BoardError):
    """The kernel did not set ap_done in time."""


class KernelError(BoardError):
    """The kernel (or its emulation) refused to run."""
