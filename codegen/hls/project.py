"""Model file -> rendered Vitis HLS project (the ``nash codegen`` pipeline without the CLI)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nash.codegen.hls.plan import PlanError, make_plan
from nash.codegen.hls.render import CodegenError, Project, clean_sources, render_project
from nash.frontend.core.model_file import ModelFile, ModelFileError, load_model
from nash.frontend.integer.model import IntegerModel
from nash.frontend.integer.weights_io import load_integer_model


@dataclass
class Generated:
    project: Project
    model: ModelFile
    integer_model: IntegerModel


def generate_from(mf: ModelFile, im: IntegerModel, out: str | Path, schedule: str = "model",
                  pe_impl: str = "auto") -> Project:
    """Render a loaded model (and its integer model) into ``out``."""
    exp_max = int(mf.quantization["shift_exp_max"])
    for n in im.nodes:
        p = im.params[n.name]
        if n.kind == "conv" and n.op == "shift" and int(p["exp_max"]) != exp_max:
            raise ModelFileError(mf.path, f"weights[int/{n.name}/exp_max]",
                                 f"is {int(p['exp_max'])}, expected quantization.shift_exp_max = {exp_max}")
    try:
        plan = make_plan(mf.data, im.nodes, schedule)
    except PlanError as e:
        raise ModelFileError(mf.path, None, str(e)) from None
    out = Path(out)
    clean_sources(out)
    try:
        return render_project(im, plan, out, mf.name, exp_max, pe_impl)
    except CodegenError as e:
        raise ModelFileError(mf.path, "architecture", str(e)) from None


def generate(model_path: str | Path, out: str | Path, schedule: str = "model", pe_impl: str = "auto") -> Generated:
    """Load, check (sidecar sha256, shapes, ranges) and render ``model_path`` into ``out``."""
    mf = load_model(model_path)
    im = load_integer_model(mf)
    return Generated(generate_from(mf, im, out, schedule, pe_impl), mf, im)
