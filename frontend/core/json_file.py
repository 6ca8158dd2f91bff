"""Reading a user's JSON file (board, cost table, calibration) with the one-line errors of ``core.errors``."""

from __future__ import annotations

import json
from pathlib import Path

from nash.frontend.core.errors import UserInputError


def read_json(path: str | Path, error: type[UserInputError] = UserInputError, what: str = "file"):
    """The parsed document at ``path``; a missing file, a file that is not UTF-8 text or not valid JSON raises
    ``error`` with one line naming the path (``what`` says which kind of file was expected)."""
    p = Path(path)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise error(f"{p}: {what} not found") from None
    except UnicodeDecodeError as e:
        raise error(f"{p}: not a JSON {what} (not UTF-8 text: byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise error(f"{p}: not valid JSON (line {e.lineno}: {e.msg})") from None
