"""The model file (``best.json``): versioned, typed sections with one owner each, integer weights in a sidecar.

Layout (version 2; the sections are typed in :mod:`nash.frontend.core.model_schema`, docs/model-file.md describes
them and docs/model-file.schema.json is their JSON Schema)::

    {
      "format": "nash-hls-model", "version": 2, "name": "tiny_hybrid",
      "architecture": {...},                 # search
      "quantization": {"activation_bits": 8, "shift_exp_max": 7, "shift_mode": "ps", "adder_eta": 0.2},  # search
      "weights": {"path": "tiny_hybrid.weights.npz", "sha256": "<64 hex>"} | null,   # train
      "accelerator": {...} | null,           # accel
      "provenance": {"search": {...}, "train": {...}, "accel": {...}, "note": "..."}   # one record per stage
    }

A stage changes the file only through :func:`update_sections`, which refuses sections the stage does not own.
Errors are one line naming the file, the field path and the expected form. Writes are atomic (weights first, then
the JSON that points at them). Version-1 files (one flat provenance record) load and are migrated.
"""

from __future__ import annotations

import argparse
import ast
import copy
import hashlib
import io
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from nash.frontend.core.atomic_io import atomic_write_bytes, atomic_write_text
from nash.frontend.core.errors import NashError, UserInputError
from nash.frontend.core.graph import ArchitectureError, Node, lower
from nash.frontend.core.model_schema import (
    FORMAT,
    SECTION_OWNERS,
    SHIFT_MODES,
    VERSION,
    Accelerator,
    ModelDocument,
    migrate_accelerator,
)
from nash.frontend.core.quant_params import DEFAULT_SHIFT_EXP_MAX
from pydantic import ValidationError

__all__ = ["FORMAT", "VERSION", "SHIFT_MODES", "SECTION_OWNERS", "DEFAULT_QUANTIZATION", "ModelFileError",
           "SectionOwnershipError", "ModelFile", "new_model", "validate", "load_model", "load_weights", "save_model",
           "update_sections", "validate_accelerator_structure", "schema_text"]

DEFAULT_QUANTIZATION = {"activation_bits": 8, "shift_exp_max": DEFAULT_SHIFT_EXP_MAX, "shift_mode": "ps",
                        "adder_eta": 0.2}


class ModelFileError(UserInputError):
    """A model file that cannot be used. ``str()`` is one line: '<file>: field '<path>': <problem>'."""

    def __init__(self, path: str | Path | None, field_path: str | None, problem: str):
        self.path, self.field, self.problem = path, field_path, problem
        where = f"{path}: " if path else ""
        fld = f"field '{field_path}': " if field_path else ""
        super().__init__(f"{where}{fld}{problem}")


class SectionOwnershipError(NashError, RuntimeError):
    """A stage tried to write a section of the model file it does not own (a bug in that stage, not bad input)."""


@dataclass
class ModelFile:
    """A loaded (or to-be-written) model file; ``data`` is the JSON document, ``path`` where it lives.

    ``pending_weights`` holds the arrays the train stage set with :func:`update_sections`; :func:`save_model` writes
    them into the sidecar.
    """

    data: dict
    path: Path | None = None
    pending_weights: dict[str, np.ndarray] | None = field(default=None, repr=False)
    _nodes: list[Node] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.data["name"]

    @property
    def architecture(self) -> dict:
        return self.data["architecture"]

    @property
    def quantization(self) -> dict:
        return self.data["quantization"]

    @property
    def nodes(self) -> list[Node]:
        if self._nodes is None:
            self._nodes = lower(self.architecture)
        return self._nodes

    def provenance(self, stage: str) -> dict:
        """The provenance record a stage wrote (empty when it has not run)."""
        return (self.data.get("provenance") or {}).get(stage) or {}

    def weights_path(self) -> Path | None:
        w = self.data.get("weights")
        if not w:
            return None
        base = self.path.parent if self.path else Path(".")
        return base / w["path"]


# ---- validation ------------------------------------------------------------------------------------------------------
def _typename(v) -> str:
    return "null" if v is None else type(v).__name__


def _field_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _choices(expected: str) -> str:
    """pydantic writes a Literal's choices as "'a', 'b' or 'c'"; the project's messages show a list."""
    try:
        return str(list(ast.literal_eval(f"[{expected.replace(' or ', ', ')}]")))
    except (ValueError, SyntaxError):
        return expected


_BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
_TYPES = {"int_type": "int", "float_type": "a number", "string_type": "a string", "bool_type": "true or false",
          "dict_type": "an object", "model_type": "an object", "model_attributes_type": "an object",
          "list_type": "a list"}


def _problem(err: dict) -> str:
    """One pydantic error as the project's one-line 'expected ..., got ...' text."""
    kind, ctx, got = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "missing":
        return "missing (required)"
    if kind == "extra_forbidden":
        return "unknown field (not part of the model file format)"
    if kind in _TYPES:
        return f"expected {_TYPES[kind]}, got {_typename(got)} {got!r}"
    if kind == "literal_error":
        return f"expected one of {_choices(ctx.get('expected', ''))}, got {got!r}"
    if kind in _BOUNDS:
        limit = next(iter(ctx.values()))
        return f"expected a value {_BOUNDS[kind]} {limit}, got {got!r}"
    if kind == "too_short":
        return f"expected at least {ctx.get('min_length')} item(s)"
    if kind == "string_too_short":
        return "expected a non-empty string"
    if kind == "string_pattern_mismatch":
        return f"expected a string matching {ctx.get('pattern')}, got {got!r}"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return f"{err['msg']}, got {got!r}"


def _check_version(data, path) -> int:
    """The version first: a file from a newer format may have any other layout."""
    def need(cond: bool, problem: str) -> None:
        if not cond:
            raise ModelFileError(path, "version", problem)

    if not isinstance(data, dict):
        raise ModelFileError(path, None, f"expected a JSON object at the top level, got {_typename(data)}")
    need("version" in data, "missing (required)")
    v = data["version"]
    need(isinstance(v, int) and not isinstance(v, bool), f"expected an integer, got {v!r}")
    need(v <= VERSION, f"file has version {v}, newer than this nash-hls understands ({VERSION}); upgrade nash-hls")
    need(v >= 1, f"expected a version between 1 and {VERSION}, got {v}")
    return v


def _raise_first(e: ValidationError, path, prefix: tuple = ()) -> None:
    err = e.errors(include_url=False)[0]
    raise ModelFileError(path, _field_path(prefix + tuple(err["loc"])) or None, _problem(err)) from None


def validate_accelerator_structure(acc, path: str | Path | None = None) -> None:
    """Check the structure of an accelerator section alone (field paths start with ``accelerator``)."""
    try:
        Accelerator.model_validate(acc)
    except ValidationError as e:
        _raise_first(e, path, ("accelerator",))


def validate(data, path: str | Path | None = None) -> None:
    """Check a (current-version) model document; raises :class:`ModelFileError` naming the first bad field.

    Structure of every section, then the architecture's lowering. The accelerator section's fit to the network is
    checked by its readers (:func:`nash.frontend.accel.section.validate_section`).
    """
    _check_version(data, path)
    try:
        ModelDocument.model_validate(data)
    except ValidationError as e:
        _raise_first(e, path)
    try:
        lower(data["architecture"])
    except ArchitectureError as e:
        raise ModelFileError(path, None, str(e)) from None


# Keys a version-1 file's flat provenance got from `nash train` (the rest came from `nash search`).
_V1_TRAIN_KEYS = ("dataset", "seed", "accuracy", "training")


def migrate(data: dict) -> dict:
    """An earlier document in the current layout: a version-1 file's flat provenance split into per-stage records,
    and an earlier accelerator section migrated (:func:`model_schema.migrate_accelerator`)."""
    data = copy.deepcopy(data)
    if "accelerator" in data:
        data["accelerator"] = migrate_accelerator(data["accelerator"])
    if data.get("version") != 1:
        return data
    old = data.get("provenance")
    prov: dict = {}
    if isinstance(old, dict):
        old = dict(old)
        if "note" in old:
            prov["note"] = old.pop("note")
        if "accuracy" in old or "training" in old:  # train ran: dataset and seed are its split's
            training = old.pop("training", {}) or {}
            prov["train"] = {"dataset": old.pop("dataset", None), "split_seed": old.pop("seed", training.get("seed")),
                             "accuracy": old.pop("accuracy", None), "config": training}
        if old:
            prov["search"] = old
    else:
        prov = old
    data["provenance"] = prov
    data["version"] = VERSION
    return data


def new_model(name: str, architecture: dict, quantization: dict | None = None,
              search_provenance: dict | None = None) -> ModelFile:
    """A fresh model document as the search stage writes it (through :func:`update_sections`, so validated): no
    weights, no accelerator section."""
    mf = ModelFile({"format": FORMAT, "version": VERSION, "name": name, "architecture": None, "quantization": None,
                    "weights": None, "accelerator": None, "provenance": {}})
    return update_sections(mf, "search", architecture=architecture,
                           quantization={**DEFAULT_QUANTIZATION, **(quantization or {})}, provenance=search_provenance)


def update_sections(mf: ModelFile, stage: str, *, provenance: dict | None = None, **sections) -> ModelFile:
    """Write a stage's own sections (and its ``provenance.<stage>`` record) into ``mf``; returns ``mf``.

    Owners (:data:`SECTION_OWNERS`): search -> architecture, quantization; train -> weights (the arrays for the
    sidecar, or None for no weights); accel -> accelerator. A section another stage owns, or any section from a stage
    that owns none (codegen, csim), raises :class:`SectionOwnershipError`. The result is validated before ``mf``
    changes.
    """
    owned = SECTION_OWNERS.get(stage)
    if owned is None:
        raise SectionOwnershipError(f"stage {stage!r} writes no section of the model file (owners: {SECTION_OWNERS})")
    foreign = sorted(set(sections) - set(owned))
    if foreign:
        raise SectionOwnershipError(f"stage {stage!r} may not write {foreign}: it owns {list(owned)} and "
                                    f"provenance.{stage}")
    data = copy.deepcopy(mf.data)
    pending = mf.pending_weights
    for key, value in sections.items():
        if key == "weights":
            pending = None if value is None else dict(value)
            if value is None:
                data["weights"] = None
        else:
            data[key] = copy.deepcopy(value)
    if provenance is not None:
        data["provenance"] = {**(data.get("provenance") or {}), stage: copy.deepcopy(provenance)}
    validate(data, mf.path)
    mf.data, mf.pending_weights = data, pending
    if "architecture" in sections:
        mf._nodes = None
    return mf


# ---- files -----------------------------------------------------------------------------------------------------------
def load_model(path: str | Path) -> ModelFile:
    """Read and validate a model file (the weights file is checked when :func:`load_weights` reads it)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelFileError(path, None, "file not found") from None
    except UnicodeDecodeError as e:
        raise ModelFileError(path, None, f"not a JSON model file (not UTF-8 text: byte {e.start})") from None
    except OSError as e:
        raise ModelFileError(path, None, f"cannot read: {e.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ModelFileError(path, None, f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    _check_version(data, path)
    data = migrate(data)
    validate(data, path)
    return ModelFile(data, path)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_weights(mf: ModelFile) -> dict[str, np.ndarray]:
    """Arrays of the sidecar weights file after checking its sha256."""
    wp = mf.weights_path()
    if wp is None:
        raise ModelFileError(mf.path, "weights", "the model has no weights (run `nash train` first)")
    if not wp.exists():
        raise ModelFileError(mf.path, "weights.path", f"weights file {wp} not found")
    digest = sha256_file(wp)
    if digest != mf.data["weights"]["sha256"]:
        raise ModelFileError(mf.path, "weights.sha256",
                             f"weights file {wp} has sha256 {digest}, expected {mf.data['weights']['sha256']} "
                             "(file changed or corrupted)")
    try:
        with np.load(wp, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as e:  # a truncated / non-npz file
        raise ModelFileError(mf.path, "weights.path", f"weights file {wp} is not a readable .npz ({e})") from None


def save_model(mf: ModelFile, path: str | Path) -> Path:
    """Write the model (and its pending weights as ``<stem>.weights.npz`` beside it) atomically.

    Without pending weights an existing weights reference is kept; when the file moves to another folder the weights
    file is copied along so that the relative path stays valid. The document is validated before anything is written.
    """
    path = Path(path)
    data = copy.deepcopy(mf.data)
    validate(data, path)
    blob = None
    if mf.pending_weights is not None:
        buf = io.BytesIO()
        np.savez(buf, **mf.pending_weights)
        blob = buf.getvalue()
    elif mf.weights_path() is not None and mf.weights_path().resolve().parent != path.resolve().parent:
        load_weights(mf)  # checks the sha256 and that the file is readable
        blob = mf.weights_path().read_bytes()  # the same bytes, so the weights section stays the same
    if blob is not None:
        wname = f"{path.stem}.weights.npz"
        atomic_write_bytes(path.parent / wname, blob)
        data["weights"] = {"path": wname, "sha256": hashlib.sha256(blob).hexdigest()}
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")
    mf.data, mf.path, mf.pending_weights = data, path, None
    return path


# ---- JSON Schema -----------------------------------------------------------------------------------------------------
def schema_text() -> str:
    """JSON Schema of the model file (what docs/model-file.schema.json holds)."""
    return json.dumps(ModelDocument.model_json_schema(), indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m nash.frontend.core.model_file --schema [--out FILE]``: print or write the JSON Schema."""
    ap = argparse.ArgumentParser(prog="python -m nash.frontend.core.model_file", description=main.__doc__)
    ap.add_argument("--schema", action="store_true", required=True, help="emit the model file's JSON Schema")
    ap.add_argument("--out", type=Path, default=None, help="write it to this file instead of stdout")
    a = ap.parse_args(argv)
    if a.out is None:
        sys.stdout.write(schema_text())
    else:
        atomic_write_text(a.out, schema_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
