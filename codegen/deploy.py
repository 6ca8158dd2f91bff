"""``nash deploy``: a model file (and, when built, its bitstream) -> one deploy bundle for the board.

Renders and compiles the project (the register map and the weights blob come from codegen; the C model, for the
emulated and csim backends, from the g++ build), measures the code-derived cycles on a few images, packs the
evaluation images with the integer reference's logits, and writes the archive through :mod:`nash.board.bundle`
(the format the runtime verifies). Layout: docs/board.md.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from nash.board.bundle import CSIM_LIB, REGISTER_MAP, WEIGHTS, write_bundle
from nash.codegen.csim.build import build
from nash.codegen.csim.cycles import cycles_report, set_pe_latencies
from nash.codegen.csim.run import CsimLibrary, load_float_images
from nash.codegen.hls.project import generate_from
from nash.frontend.core.errors import UserInputError
from nash.frontend.core.model_file import load_model
from nash.frontend.core.quant_params import quantize_activation
from nash.frontend.integer.reference import run_network
from nash.frontend.integer.weights_io import load_integer_model

from nash import __version__


@dataclass
class Deployed:
    path: Path
    missing: list[str]
    good_for: str
    manifest_meta: dict


def find_overlay(folder: Path) -> tuple[Path, Path]:
    """The one ``<name>.bit`` with its ``<name>.hwh`` in a ``nash bitstream --out`` folder."""
    bits = sorted(folder.glob("*.bit"))
    if len(bits) != 1:
        raise UserInputError(f"--bitstream {folder}: expected one .bit file, found {len(bits)}")
    hwh = bits[0].with_suffix(".hwh")
    if not hwh.exists():
        raise UserInputError(f"--bitstream {folder}: {bits[0].name} has no {hwh.name} beside it (pynq needs both)")
    return bits[0], hwh


def deploy(model: str | Path, out: str | Path, work: str | Path, bitstream: str | Path | None = None,
           dataset: str | None = None, images: int = 100, data_root: str | None = None, seed: int = 0) -> Deployed:
    """Build the bundle ``out`` (a .zip) from ``model``; ``work`` holds the rendered project."""
    mf = load_model(model)
    im = load_integer_model(mf)
    overlay = find_overlay(Path(bitstream)) if bitstream else None
    x, y, source = load_float_images(mf, im, images, dataset, seed, data_root)
    project = generate_from(mf, im, Path(work) / "project")
    b = build(project)
    lib = CsimLibrary(b.lib, project.manifest)
    set_pe_latencies(lib, project.plan, mf.data.get("accelerator"))
    q = quantize_activation(x, im.input_scale)
    lib.reset_cycles()
    # one full batch: every layer's count is then that of a whole task (csim_cycles counts a layer's longest task)
    lib.predict(q[: max(1, project.plan.batch)], project.blob_path.read_bytes())
    cyc = cycles_report(lib.layer_cycles(), project.plan, mf.data.get("accelerator"))
    ref = np.asarray(run_network(im.nodes, im.params, q), dtype=np.int64)
    data = io.BytesIO()
    arrays = {"x": np.asarray(x, dtype=np.float32), "ref_logits": ref}
    if y is not None:
        arrays["y"] = np.asarray(y)
    np.savez(data, **arrays)
    out_dir = project.out
    files = {REGISTER_MAP: (out_dir / "register_map.json").read_bytes(), WEIGHTS: project.blob_path.read_bytes(),
             "kernel/project.json": (out_dir / "project.json").read_bytes(), CSIM_LIB: Path(b.lib).read_bytes(),
             f"model/{mf.path.name}": mf.path.read_bytes(), f"data/{source.split()[0]}.npz": data.getvalue()}
    wp = mf.weights_path()
    if wp is not None:
        files[f"model/{wp.name}"] = wp.read_bytes()
    missing = []
    if overlay:
        name = overlay[0].stem
        files[f"overlay/{name}.bit"] = overlay[0].read_bytes()
        files[f"overlay/{name}.hwh"] = overlay[1].read_bytes()
        good_for = "the KV260 (--backend pynq), the emulated board and csim"
    else:
        missing = ["overlay/<name>.bit", "overlay/<name>.hwh"]
        good_for = ("the emulated board and csim (--backend emulated|csim) only: no bitstream "
                    "(run nash bitstream, then nash deploy --bitstream DIR)")
    meta = {"model": mf.name, "created_by": f"nash {__version__}", "dataset": source, "images": int(x.shape[0]),
            "missing": missing, "good_for": good_for,
            "performance": {"clock_mhz": project.plan.clock_mhz, "model_fps": cyc["model_fps"],
                            "model_period_cycles": cyc["model_period_cycles"], "code_fps": cyc["fps"],
                            "code_period_cycles": cyc["period_cycles"], "cycles_source": cyc["source"]},
            "csim_lib_platform": "the host that ran nash deploy (x86-64 here); not used on the board"}
    path = write_bundle(out, files, meta)
    return Deployed(path, missing, good_for, meta)


def describe(manifest: dict) -> str:
    """One paragraph about a verified bundle (``nash deploy --verify``)."""
    files = manifest["files"]
    perf = manifest.get("performance") or {}
    return (f"bundle of {manifest.get('model')} ({len(files)} files, kernel ABI {manifest['abi_version']}, "
            f"clock {manifest['clock_mhz']} MHz, instance {manifest['register_map']['instance']}); good for "
            f"{manifest.get('good_for')}; missing: {', '.join(manifest.get('missing') or []) or 'nothing'}; "
            f"model FPS {perf.get('model_fps')}, code-derived FPS {perf.get('code_fps')}")
