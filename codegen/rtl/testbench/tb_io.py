"""What the cocotb testbenches share: handing measurements back to the Python runner that launched them."""

from __future__ import annotations

import json
import os
from pathlib import Path


def record_measurement(conf: dict, key: str, value: object) -> None:
    """Merge ``key: value`` into the JSON file ``conf["measure_out"]`` that the runner reads back (atomic rename, so
    the runner never reads a half-written file)."""
    path = Path(conf["measure_out"])
    cur = json.loads(path.read_text()) if path.exists() else {}
    cur[key] = value
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(cur, indent=2))
    os.replace(tmp, path)
