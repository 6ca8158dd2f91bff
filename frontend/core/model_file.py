"""The model file (``best.json``): versioned, validated on load, with integer weights in a sidecar ``.npz``.

Layout (version 1)::

    {
      "format": "nash-hls-model", "version": 1, "name": "tiny_hybrid",
      "architecture": {...},                 # see nash.frontend.core.graph (written by search)
      "quantization": {"activation_bits": 8, "shift_exp_max": 7, "shift_mode": "ps", "adder_eta": 0.2},
      "weights": {"path": "tiny_hybrid.weights.npz", "sha256": "<64 hex>"} | null,   # written by train
      "accelerator": {...} | null,           # written by accel
      "provenance": {"dataset": ..., "seed": ..., "accuracy": {...}, "scores": {...}}
    }

Each stage reads the file and writes only its own section. Errors name the file, the field path and the expected
form. Writes are atomic (weights first, then the JSON that points at them).
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from nash.frontend.core.atomic_io import atomic_write_bytes, atomic_write_text
from nash.frontend.core.graph import ArchitectureError, Node, lower
from nash.frontend.core.quant_params import DEFAULT_SHIFT_EXP_MAX

FORMAT = "nash-hls-model"
VERSION = 1
SHIFT_MODES = ("ps", "q")
DEFAULT_QUANTIZATION = {"activation_bits": 8, "shift_exp_max": DEFAULT_SHIFT_EXP_MAX, "shift_mode": "ps",
                        "adder_eta": 0.2}


class ModelFileError(ValueError):
    """A model file that cannot be used. ``str()`` is one line: '<file>: field '<path>': <problem>'."""

    def __init__(self, path: str | Path | None, field_path: str | None, problem: str):
        self.path, self.field, self.problem = path, field_path, problem
        where = f"{path}: " if path else ""
        fld = f"field '{field_path}': " if field_path else ""
        super().__init__(f"{where}{fld}{problem}")


@dataclass
class ModelFile:
    """A loaded (or to-be-written) model file; ``data`` is the JSON document, ``path`` where it lives."""

    data: dict
    path: Path | None = None
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

    def weights_path(self) -> Path | None:
        w = self.data.get("weights")
        if not w:
            return None
        base = self.path.parent if self.path else Path(".")
        return base / w["path"]


def new_model(name: str, architecture: dict, quantization: dict | None = None,
              provenance: dict | None = None) -> ModelFile:
    """A fresh model document (validated) with no weights and no accelerator section."""
    data = {"format": FORMAT, "version": VERSION, "name": name, "architecture": copy.deepcopy(architecture),
            "quantization": {**DEFAULT_QUANTIZATION, **(quantization or {})}, "weights": None, "accelerator": None,
            "provenance": provenance or {}}
    validate(data, None)
    return ModelFile(data)


def _expect(cond: bool, path, fld: str, problem: str) -> None:
    if not cond:
        raise ModelFileError(path, fld, problem)


def _typename(v) -> str:
    return "null" if v is None else type(v).__name__


def validate(data, path: str | Path | None = None) -> None:
    """Check a model document; raises :class:`ModelFileError` naming the first bad field."""
    _expect(isinstance(data, dict), path, None, f"expected a JSON object at the top level, got {_typename(data)}")
    # The version first: a file from a newer schema may have any other layout.
    _expect("version" in data, path, "version", "missing (required)")
    v = data["version"]
    _expect(isinstance(v, int) and not isinstance(v, bool), path, "version", f"expected an integer, got {v!r}")
    _expect(v <= VERSION, path, "version",
            f"file has version {v}, newer than this nash-hls understands ({VERSION}); upgrade nash-hls")
    _expect(v >= 1, path, "version", f"expected a version between 1 and {VERSION}, got {v}")
    for key in ("format", "name", "architecture", "quantization"):
        _expect(key in data, path, key, "missing (required)")
    _expect(data["format"] == FORMAT, path, "format", f"expected \"{FORMAT}\", got {data['format']!r}")
    _expect(isinstance(data["name"], str) and data["name"] != "", path, "name", "expected a non-empty string")
    try:
        nodes = lower(data["architecture"])
    except ArchitectureError as e:
        raise ModelFileError(path, None, str(e)) from None
    q = data["quantization"]
    _expect(isinstance(q, dict), path, "quantization", f"expected an object, got {_typename(q)}")
    _expect(q.get("activation_bits") == 8, path, "quantization.activation_bits",
            f"expected 8 (the only supported width), got {q.get('activation_bits')!r}")
    e = q.get("shift_exp_max")
    _expect(isinstance(e, int) and not isinstance(e, bool) and 0 <= e <= 15, path, "quantization.shift_exp_max",
            f"expected an integer in [0, 15], got {e!r}")
    _expect(q.get("shift_mode") in SHIFT_MODES, path, "quantization.shift_mode",
            f"expected one of {list(SHIFT_MODES)}, got {q.get('shift_mode')!r}")
    eta = q.get("adder_eta")
    _expect(eta is None or (isinstance(eta, (int, float)) and not isinstance(eta, bool) and eta > 0), path,
            "quantization.adder_eta", f"expected a positive number or null, got {eta!r}")
    w = data.get("weights")
    if w is not None:
        _expect(isinstance(w, dict), path, "weights", f"expected an object or null, got {_typename(w)}")
        _expect(isinstance(w.get("path"), str) and w["path"] != "", path, "weights.path",
                "expected a relative file path string")
        _expect(not Path(w["path"]).is_absolute(), path, "weights.path", f"expected a relative path, got {w['path']!r}")
        sha = w.get("sha256")
        _expect(isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha), path,
                "weights.sha256", f"expected 64 lowercase hex characters, got {sha!r}")
    acc = data.get("accelerator")
    _expect(acc is None or isinstance(acc, dict), path, "accelerator",
            f"expected an object or null, got {_typename(acc)}")
    if acc is not None:
        from nash.frontend.accel.section import validate_section  # lazy: accel_section imports this module

        validate_section(acc, nodes, path)
    prov = data.get("provenance", {})
    _expect(isinstance(prov, dict), path, "provenance", f"expected an object, got {_typename(prov)}")


def load_model(path: str | Path) -> ModelFile:
    """Read and validate a model file (the weights file is checked when :func:`load_weights` reads it)."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ModelFileError(path, None, "file not found") from None
    except OSError as e:
        raise ModelFileError(path, None, f"cannot read: {e.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ModelFileError(path, None, f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
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


def save_model(mf: ModelFile, path: str | Path, arrays: dict[str, np.ndarray] | None = None) -> Path:
    """Write the model (and, when given, its weights as ``<stem>.weights.npz`` beside it) atomically.

    Without ``arrays`` an existing weights reference is kept; when the file moves to another folder the weights file
    is copied along so that the relative path stays valid.
    """
    path = Path(path)
    data = copy.deepcopy(mf.data)
    if arrays is None and mf.weights_path() is not None:
        src = mf.weights_path()
        if src.resolve().parent != path.resolve().parent:
            arrays = dict(load_weights(mf))
    if arrays is not None:
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        blob = buf.getvalue()
        wname = f"{path.stem}.weights.npz"
        atomic_write_bytes(path.parent / wname, blob)
        data["weights"] = {"path": wname, "sha256": hashlib.sha256(blob).hexdigest()}
    validate(data, path)
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")
    mf.data, mf.path = data, path
    return path
