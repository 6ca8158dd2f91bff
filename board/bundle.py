"""The deploy bundle: one zip archive with everything the board needs (layout: docs/board.md).

``write_bundle`` (used by ``nash deploy`` on the host) and ``open_bundle`` / ``verify_bundle`` (used by the runtime
on the board and by ``nash deploy --verify``) are this one module, so both sides agree on the format. The manifest
lists the sha256 of every other file, the kernel ABI version, the register map and the clock.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from nash.board.errors import BundleError
from nash.board.regmap import ABI_VERSION, RegisterMap, parse_register_map

FORMAT = "nash-deploy-bundle"
VERSION = 1
MANIFEST = "manifest.json"
REGISTER_MAP = "kernel/register_map.json"
WEIGHTS = "kernel/weights.bin"
CSIM_LIB = "csim/libnash_csim.so"
RUN_SCRIPT = "run.py"
RUNTIME = "runtime/nash/board"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def runtime_files() -> dict[str, bytes]:
    """The board runtime as archive paths -> bytes: the ``nash.board`` package and a minimal ``nash/__init__.py``
    (so ``import nash.board`` needs nothing else of the toolchain)."""
    here = Path(__file__).resolve().parent
    files = {"runtime/nash/__init__.py": b'"""NASH-HLS board runtime (from a deploy bundle)."""\n'}
    for f in sorted(here.glob("*.py")):
        files[f"{RUNTIME}/{f.name}"] = f.read_bytes()
    return files


RUN_SCRIPT_TEXT = b'''#!/usr/bin/env python3
"""Run this bundle: python3 run.py [--backend pynq|emulated|csim] [--images N] (see docs/board.md)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "runtime"))
from nash.board.__main__ import main  # noqa: E402

sys.exit(main([HERE, *sys.argv[1:]]))
'''


def write_bundle(out: str | Path, files: dict[str, bytes], meta: dict) -> Path:
    """Write the archive ``out`` atomically: ``files`` (archive path -> bytes; the register map at
    ``kernel/register_map.json``), the runtime, the run script and the manifest (``meta`` plus sha256s)."""
    if REGISTER_MAP not in files or WEIGHTS not in files:
        raise BundleError(f"{out}: a bundle needs {REGISTER_MAP} and {WEIGHTS}")
    rmap = parse_register_map(json.loads(files[REGISTER_MAP]), REGISTER_MAP)
    allf = {**files, **runtime_files(), RUN_SCRIPT: RUN_SCRIPT_TEXT}
    manifest = {"format": FORMAT, "version": VERSION, "abi_version": rmap.doc["abi_version"],
                "clock_mhz": rmap.doc["clock_mhz"], "register_map": rmap.doc, **meta,
                "files": {p: {"sha256": sha256(b), "bytes": len(b)} for p, b in sorted(allf.items())}}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".zip", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(MANIFEST, json.dumps(manifest, indent=1) + "\n")
            for p, b in sorted(allf.items()):
                info = zipfile.ZipInfo(p, date_time=(2020, 1, 1, 0, 0, 0))
                info.external_attr = (0o755 if p == RUN_SCRIPT else 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, b)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


@dataclass
class Bundle:
    """A verified bundle: its manifest, its files (archive path -> bytes) and the register map."""

    path: Path
    manifest: dict
    files: dict[str, bytes]
    register_map: RegisterMap

    def has(self, name: str) -> bool:
        return name in self.files

    def overlay(self) -> tuple[str, str] | None:
        """Archive paths of the .bit and .hwh (None when the bundle has only csim artefacts)."""
        bit = next((p for p in self.files if p.startswith("overlay/") and p.endswith(".bit")), None)
        hwh = next((p for p in self.files if p.startswith("overlay/") and p.endswith(".hwh")), None)
        return (bit, hwh) if bit and hwh else None

    def extract(self, dest: str | Path) -> Path:
        """Write every file under ``dest`` (pynq needs the .bit and .hwh as files)."""
        dest = Path(dest)
        for p, b in self.files.items():
            f = dest / p
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(b)
        return dest


def open_bundle(path: str | Path) -> Bundle:
    """Read and verify a bundle (a zip archive, or a folder it was extracted to): the manifest's format and ABI
    version, every file's sha256, no file missing or unlisted. Each problem is a one-line :class:`BundleError`."""
    path = Path(path)
    if path.is_dir():  # an extracted bundle: the manifest's files (a run's outputs beside them are not checked)
        try:
            listed = json.loads((path / MANIFEST).read_text()).get("files") or {}
        except (OSError, ValueError, AttributeError):
            listed = {}
        files = {n: (path / n).read_bytes() for n in listed if (path / n).is_file()}
        if (path / MANIFEST).is_file():
            files[MANIFEST] = (path / MANIFEST).read_bytes()
    else:
        try:
            raw = path.read_bytes()
        except OSError as e:
            raise BundleError(f"{path}: cannot read the bundle ({e.strerror})") from None
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as z:
                files = {n: z.read(n) for n in z.namelist() if not n.endswith("/")}
        except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile, OSError) as e:
            raise BundleError(f"{path}: not a complete zip archive (truncated or not a bundle: {e})") from None
        except Exception as e:  # zlib errors on a damaged member
            raise BundleError(f"{path}: damaged archive member ({e})") from None
    return verify_files(path, files)


def bundle_from_parts(blob: str | Path, register_map: str | Path, bit: str | Path | None = None,
                      hwh: str | Path | None = None, model: str | Path | None = None,
                      lib: str | Path | None = None) -> Bundle:
    """A bundle assembled from loose files (a ``.bit``/``.hwh`` pair, the weights blob, ``register_map.json`` of the
    codegen project, optionally the model file and the C model): the same checks as a bundle except the sha256s,
    which a loose set of files has nothing to compare with."""
    def read(p: str | Path, what: str) -> bytes:
        try:
            return Path(p).read_bytes()
        except OSError as e:
            raise BundleError(f"{p}: cannot read the {what} ({e.strerror})") from None

    if (bit is None) != (hwh is None):
        raise BundleError(f"{bit or hwh}: a .bit needs its .hwh (and the other way round)")
    files = {WEIGHTS: read(blob, "weights blob"), REGISTER_MAP: read(register_map, "register map")}
    if bit is not None:
        files[f"overlay/{Path(bit).stem}.bit"] = read(bit, "bitstream")
        files[f"overlay/{Path(hwh).stem}.hwh"] = read(hwh, "hardware handoff")
    if model is not None:
        files[f"model/{Path(model).name}"] = read(model, "model file")
    if lib is not None:
        files[CSIM_LIB] = read(lib, "C model library")
    try:
        doc = json.loads(files[REGISTER_MAP])
    except ValueError as e:
        raise BundleError(f"{register_map}: not valid JSON ({e})") from None
    parse_register_map(doc, str(register_map))  # a bad map is named by its file, not as part of a bundle
    manifest = {"format": FORMAT, "version": VERSION, "abi_version": doc.get("abi_version"),
                "clock_mhz": doc.get("clock_mhz"), "register_map": doc,
                "files": {p: {"sha256": sha256(b), "bytes": len(b)} for p, b in files.items()}}
    return verify_files(Path(register_map).parent, {**files, MANIFEST: json.dumps(manifest).encode()})


def verify_files(path: Path, files: dict[str, bytes]) -> Bundle:
    if MANIFEST not in files:
        raise BundleError(f"{path}: no {MANIFEST} (not a nash deploy bundle)")
    try:
        man = json.loads(files.pop(MANIFEST))
    except ValueError as e:
        raise BundleError(f"{path}: {MANIFEST} is not valid JSON ({e})") from None
    if not isinstance(man, dict) or man.get("format") != FORMAT:
        raise BundleError(f"{path}: {MANIFEST}: format is not {FORMAT!r}")
    if man.get("version") != VERSION:
        raise BundleError(f"{path}: {MANIFEST}: bundle version {man.get('version')!r}, this runtime reads {VERSION}")
    if man.get("abi_version") != ABI_VERSION:
        raise BundleError(f"{path}: {MANIFEST}: kernel ABI version {man.get('abi_version')!r}, this runtime drives "
                          f"ABI {ABI_VERSION} (rebuild the bundle with this toolchain)")
    listed = man.get("files")
    if not isinstance(listed, dict):
        raise BundleError(f"{path}: {MANIFEST}: no 'files' table")
    for name, entry in sorted(listed.items()):
        if name not in files:
            raise BundleError(f"{path}: {name}: listed in the manifest but missing from the bundle")
        got = sha256(files[name])
        if got != entry.get("sha256"):
            raise BundleError(f"{path}: {name}: sha256 mismatch (manifest {str(entry.get('sha256'))[:12]}..., "
                              f"file {got[:12]}...)")
    extra = sorted(set(files) - set(listed))
    if extra:
        raise BundleError(f"{path}: {extra[0]}: in the bundle but not in the manifest")
    rmap = parse_register_map(json.loads(files[REGISTER_MAP]), f"{path}:{REGISTER_MAP}")
    if rmap.doc != man.get("register_map"):
        raise BundleError(f"{path}: {REGISTER_MAP} differs from the manifest's register map")
    return Bundle(path, man, files, rmap)
