"""A flow of named steps with content-hash staleness: a step re-runs only when its inputs changed.

A step's digest is the SHA-256 of its parameters (JSON) and of the bytes of every input file (folders walked in
sorted order, paths relative to the folder). After a step succeeds its digest is written to ``STATE/<step>.json``;
the next run skips the step when the digest is the same and every declared output exists. A later step that takes
an earlier step's outputs (or its stamp file) as inputs therefore re-runs exactly when that step produced something
different.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nash.frontend.core.atomic_io import atomic_write_text
from nash.frontend.core.errors import CheckFailedError


@dataclass
class Step:
    """One named step: what it reads (files / folders + parameters), what it must leave behind, how to run it."""

    name: str
    run: Callable[[], None]
    inputs: list[Path] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    outputs: list[Path] = field(default_factory=list)


def _hash_path(h: hashlib._Hash, p: Path) -> None:
    if p.is_dir():
        for f in sorted(q for q in p.rglob("*") if q.is_file()):
            h.update(f.relative_to(p).as_posix().encode() + b"\0")
            h.update(f.read_bytes())
    elif p.is_file():
        h.update(p.read_bytes())
    else:
        h.update(b"<missing>")


def digest(step: Step) -> str:
    """SHA-256 over the step's parameters and the content of its inputs (a missing input hashes as missing)."""
    h = hashlib.sha256(json.dumps(step.params, sort_keys=True, default=str).encode())
    for p in step.inputs:
        h.update(b"\0input\0" + p.name.encode() + b"\0")
        _hash_path(h, Path(p))
    return h.hexdigest()


class Flow:
    """Runs steps in order, skipping the up-to-date ones; stamps live in ``state_dir``."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)

    def stamp(self, name: str) -> Path:
        return self.state_dir / f"{name}.json"

    def is_fresh(self, step: Step) -> bool:
        """Same digest as the last successful run and every output still there."""
        s = self.stamp(step.name)
        if not s.is_file():
            return False
        try:
            old = json.loads(s.read_text())["inputs_sha256"]
        except (ValueError, KeyError, TypeError):
            return False
        return old == digest(step) and all(Path(o).exists() for o in step.outputs)

    def run(self, steps: list[Step], force: bool = False, echo: Callable[[str], None] = print) -> dict[str, str]:
        """Run the stale steps in order; returns step -> "ran" | "up to date". A failing step raises and leaves
        no stamp, so it runs again next time."""
        done = {}
        for step in steps:
            if not force and self.is_fresh(step):
                echo(f"[{step.name}] up to date")
                done[step.name] = "up to date"
                continue
            self.stamp(step.name).unlink(missing_ok=True)
            echo(f"[{step.name}] running")
            step.run()
            missing = [str(o) for o in step.outputs if not Path(o).exists()]
            if missing:
                raise CheckFailedError(f"step '{step.name}' finished but did not write {', '.join(missing)}")
            atomic_write_text(self.stamp(step.name), json.dumps(
                {"step": step.name, "inputs_sha256": digest(step), "outputs": [str(o) for o in step.outputs]},
                indent=1) + "\n")
            done[step.name] = "ran"
        return done
