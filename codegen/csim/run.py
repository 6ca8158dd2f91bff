"""Bit-exact C simulation: render, compile with g++, run images through the shared library, compare every layer's
output of every image with the numpy integer reference.

:class:`CsimLibrary` is the Python side of the C entry points (``hls_templates/tb/nash_capi.h``), usable like
hls4ml's ``predict``: ``CsimLibrary(build.lib, project).predict(images_int8, blob) -> int64 logits``.
"""

from __future__ import annotations

import ctypes
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from nash.codegen.csim.build import Build, build
from nash.codegen.csim.cycles import cycles_report, set_pe_latencies
from nash.codegen.hls import weights_blob
from nash.codegen.hls.project import generate_from
from nash.codegen.hls.register_map import ABI_VERSION
from nash.frontend.core.atomic_io import atomic_write_text
from nash.frontend.core.errors import NashError
from nash.frontend.core.model_file import ModelFile, load_model
from nash.frontend.core.quant_params import quantize_activation
from nash.frontend.integer.model import IntegerModel
from nash.frontend.integer.reference import run_network
from nash.frontend.integer.weights_io import load_integer_model

DEBUG_CHUNK = 256  # images per debug call (one activation slot per image in flight)


class CsimError(NashError, RuntimeError):
    """The compiled C model refused to run (bad blob, bad arguments): the message is the C side's error string.

    The blob and arguments come from this toolchain, so this is a fault of the flow, not of the user's input (exit 1).
    """


class CsimLibrary:
    """ctypes handle on a compiled project's shared library."""

    def __init__(self, lib_path: str | Path, manifest: dict):
        self.path = Path(lib_path)
        self.manifest = manifest
        lib = ctypes.CDLL(str(self.path))
        for name in ("nash_abi_version", "nash_input_bytes", "nash_num_classes", "nash_slot_bytes", "nash_min_slots",
                     "nash_num_layers"):
            getattr(lib, name).restype = ctypes.c_int
            getattr(lib, name).argtypes = []
        lib.nash_error_string.restype = ctypes.c_char_p
        lib.nash_error_string.argtypes = [ctypes.c_int]
        lib.nash_check_blob.restype = ctypes.c_int
        lib.nash_check_blob.argtypes = [ctypes.c_void_p, ctypes.c_uint64]
        args = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_uint64]
        lib.nash_predict.restype = ctypes.c_int
        lib.nash_predict.argtypes = [*args, ctypes.c_void_p]
        lib.nash_predict_debug.restype = ctypes.c_int
        lib.nash_predict_debug.argtypes = [*args, ctypes.c_void_p, ctypes.c_void_p]
        lib.nash_cycles_reset.restype = None
        lib.nash_cycles_reset.argtypes = []
        lib.nash_cycles_set_pe_latency.restype = ctypes.c_int
        lib.nash_cycles_set_pe_latency.argtypes = [ctypes.c_int, ctypes.c_int]
        for name in ("nash_cycles_layer", "nash_cycles_layer_runs"):
            getattr(lib, name).restype = ctypes.c_uint64
            getattr(lib, name).argtypes = [ctypes.c_int]
        self._lib = lib
        if lib.nash_abi_version() != ABI_VERSION:
            raise CsimError(f"{self.path}: unsupported C ABI version {lib.nash_abi_version()}")
        self.input_bytes = lib.nash_input_bytes()
        self.num_classes = lib.nash_num_classes()
        self.slot_bytes = lib.nash_slot_bytes()

    def error_string(self, code: int) -> str:
        return self._lib.nash_error_string(code).decode()

    def _images(self, images: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(images, dtype=np.int8)
        if x.ndim != 4 or x[0].size != self.input_bytes:
            raise ValueError(f"images: expected int8 [N, C, H, W] with C*H*W = {self.input_bytes}, got {x.shape}")
        return x

    def _check(self, rc: int, what: str) -> None:
        if rc != 0:
            raise CsimError(f"{what}: {self.error_string(rc)} (error {rc})")

    def check_blob(self, blob: bytes) -> None:
        buf = np.frombuffer(blob, dtype=np.uint8)
        self._check(self._lib.nash_check_blob(buf.ctypes.data, buf.size), "weights blob")

    def predict(self, images: np.ndarray, blob: bytes) -> np.ndarray:
        """int8 images [N, C, H, W] -> int64 logits [N, num_classes] (the generated schedule, minimal slots)."""
        x = self._images(images)
        buf = np.frombuffer(blob, dtype=np.uint8)
        logits = np.zeros((x.shape[0], self.num_classes), dtype=np.int64)
        self._check(self._lib.nash_predict(x.ctypes.data, x.shape[0], buf.ctypes.data, buf.size,
                                           logits.ctypes.data), "nash_predict")
        return logits

    def set_pe_latency(self, layer: int, cycles: int) -> None:
        """PE-array latency of layer ``layer``'s MAC loop in the code-derived cycle count."""
        self._check(self._lib.nash_cycles_set_pe_latency(layer, cycles), f"pe latency of layer {layer}")

    def reset_cycles(self) -> None:
        self._lib.nash_cycles_reset()

    def layer_cycles(self) -> dict[str, int]:
        """Code-derived cycles of each layer's longest task since the last reset (a full batch; layers not run:
        absent)."""
        return {layer["name"]: int(self._lib.nash_cycles_layer(i)) for i, layer in enumerate(self.manifest["layers"])
                if self._lib.nash_cycles_layer_runs(i)}

    def predict_debug(self, images: np.ndarray, blob: bytes) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Every layer's output of every image (same schedule, one slot per image) and the logits."""
        x = self._images(images)
        buf = np.frombuffer(blob, dtype=np.uint8)
        acts = np.zeros((x.shape[0], self.slot_bytes), dtype=np.int8)
        logits = np.zeros((x.shape[0], self.num_classes), dtype=np.int64)
        self._check(self._lib.nash_predict_debug(x.ctypes.data, x.shape[0], buf.ctypes.data, buf.size,
                                                 acts.ctypes.data, logits.ctypes.data), "nash_predict_debug")
        outs = {}
        for layer in self.manifest["layers"]:
            if layer["out_offset"] < 0:
                continue
            shape, off, stride = layer["out_shape"], layer["out_offset"], layer["channel_stride"]
            if stride:  # one word-aligned plane per channel: drop each plane's padding bytes
                planes = acts[:, off:off + shape[0] * stride].reshape(x.shape[0], shape[0], stride)
                outs[layer["name"]] = planes[:, :, :int(np.prod(shape[1:]))].reshape(x.shape[0], *shape)
            else:
                outs[layer["name"]] = acts[:, off:off + shape[0]].reshape(x.shape[0], *shape)
        return outs, logits


@dataclass
class CsimResult:
    report: dict
    logits: np.ndarray
    golden: np.ndarray


def load_float_images(mf: ModelFile, im: IntegerModel, n: int, dataset: str | None, seed: int,
                      data_root: str | None = None) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Float images (and labels when the dataset has them): the validation split the train stage held out (its
    dataset and ``split_seed`` from ``provenance.train``), or random images drawn with ``seed`` (int8 codes times
    the input scale, so that they quantize back exactly)."""
    first = im.nodes[0]
    trained = mf.provenance("train")
    name = dataset or trained.get("dataset") or mf.provenance("search").get("dataset") or "random"
    if name == "random":
        rng = np.random.default_rng(seed)
        q = rng.integers(-128, 128, size=(n, first.in_ch, first.in_size, first.in_size), dtype=np.int8)
        return (q.astype(np.float64) * im.input_scale).astype(np.float32), None, name
    from nash.frontend.data import DatasetError, load_dataset

    split_seed = trained.get("split_seed", seed)
    splits = load_dataset(name, root=data_root, size=first.in_size, seed=split_seed)
    if splits.channels != first.in_ch:
        raise DatasetError(f"dataset {name} has {splits.channels} channels, the model expects {first.in_ch} "
                           "(architecture.input_channels)")
    return splits.x_val[:n], np.asarray(splits.y_val[:n]), f"{name} (validation split)"


def load_images(mf: ModelFile, im: IntegerModel, n: int, dataset: str | None, seed: int,
                data_root: str | None = None) -> tuple[np.ndarray, np.ndarray | None, str]:
    """int8 images (and labels when the dataset has them): :func:`load_float_images` quantized with the model's
    input scale (random images come back as the int8 codes they were drawn as)."""
    x, y, source = load_float_images(mf, im, n, dataset, seed, data_root)
    return quantize_activation(x, im.input_scale), y, source


def compare(golden: dict[str, np.ndarray], outs: dict[str, np.ndarray], logits: np.ndarray,
            nodes: list) -> tuple[int, dict | None]:
    """Images with any differing layer output or logit, and the first mismatch (image order, then layer order)."""
    n = logits.shape[0]
    bad = np.zeros(n, dtype=bool)
    first: dict | None = None
    for node in nodes:
        got = logits if node.kind == "fc" else outs[node.name]
        exp = np.asarray(golden[node.name])
        diff = (got.astype(np.int64) != exp.astype(np.int64)).reshape(n, -1)
        rows = diff.any(axis=1)
        bad |= rows
        if rows.any():
            i = int(np.argmax(rows))
            if first is None or i < first["image"]:
                j = int(np.argmax(diff[i]))
                idx = np.unravel_index(j, exp.shape[1:])
                first = {"image": i, "layer": node.name, "index": [int(v) for v in idx],
                         "got": int(got.reshape(n, -1)[i, j]), "expected": int(exp.reshape(n, -1)[i, j])}
    return int(bad.sum()), first


def run_csim(model_path: str | Path, n_images: int, out: str | Path, dataset: str | None = None, seed: int = 0,
             schedule: str = "model", pe_impl: str = "auto", data_root: str | None = None) -> CsimResult:
    """Render + compile + run ``n_images`` and compare bit-exactly; writes ``out/csim_report.json``."""
    out = Path(out)
    mf = load_model(model_path)
    im = load_integer_model(mf)
    x, y, source = load_images(mf, im, n_images, dataset, seed, data_root)  # bad data: fail before writing anything
    t0 = time.perf_counter()
    project = generate_from(mf, im, out, schedule, pe_impl)
    t_render = time.perf_counter() - t0
    b: Build = build(project)
    blob = project.blob_path.read_bytes()
    weights_blob.check(blob, source=str(project.blob_path))
    lib = CsimLibrary(b.lib, project.manifest)
    lib.check_blob(blob)
    accel_section = mf.data.get("accelerator")
    set_pe_latencies(lib, project.plan, accel_section)
    golden = run_network(im.nodes, im.params, x, keep=True)
    t1 = time.perf_counter()
    logits = lib.predict(x, blob)
    t_csim = time.perf_counter() - t1
    fc = im.nodes[-1].name
    n = x.shape[0]
    prod_bad = int((logits != golden[fc]).any(axis=1).sum())
    mismatches, first = 0, None
    for c0 in range(0, n, DEBUG_CHUNK):
        sl = slice(c0, c0 + DEBUG_CHUNK)
        outs, dlog = lib.predict_debug(x[sl], blob)
        bad, f = compare({k: v[sl] for k, v in golden.items() if k != "input"}, outs, dlog, im.nodes)
        mismatches += bad
        if f is not None and first is None:
            first = {**f, "image": f["image"] + c0}
    if prod_bad and first is None:  # only the minimal-slot run differs: slot reuse broke something
        i = int(np.argmax((logits != golden[fc]).any(axis=1)))
        j = int(np.argmax(logits[i] != golden[fc][i]))
        first = {"image": i, "layer": fc, "index": [j], "got": int(logits[i, j]),
                 "expected": int(golden[fc][i, j]), "note": "only with minimal activation slots"}
    mismatches = max(mismatches, prod_bad)
    cycles = cycles_report(lib.layer_cycles(), project.plan, accel_section) if n else None
    report = {
        "model": str(model_path), "images": n, "image_source": source, "mismatches": mismatches,
        "first_mismatch": first, "accuracy": None, "reference_accuracy": None,
        "layers_compared": len(im.nodes), "schedule": project.plan.schedule_kind,
        "plan_source": project.plan.source, "steps": len(project.plan.steps), "max_image_offset":
        project.plan.max_offset, "predicted_fps": project.plan.predicted_fps, "pe_arrays": project.pe.description,
        "render_s": round(t_render, 3), "build_s": round(b.seconds, 3), "build_cached": b.cached,
        "csim_s": round(t_csim, 4), "csim_images_per_s": round(n / t_csim, 1) if t_csim > 0 else None,
        "executable": str(b.exe), "shared_library": str(b.lib), "cycles": cycles,
    }
    if y is not None and n:
        report["accuracy"] = round(100.0 * float((logits.argmax(1) == y).mean()), 4)
        report["reference_accuracy"] = round(100.0 * float((golden[fc].argmax(1) == y).mean()), 4)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "csim_report.json", json.dumps(report, indent=1) + "\n")
    return CsimResult(report, logits, np.asarray(golden[fc]))
