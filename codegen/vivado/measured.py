"""What ``nash accel-calibrate --vivado`` reads: ``DIR/reports.json`` of ``nash bitstream`` or a Vivado utilisation
report, as a :class:`~nash.frontend.accel.vivado_calibration.Measurement`.

``reports.json`` (our own schema, written by :func:`nash.codegen.vivado.bitstream.collect`) names the model file
(``model_file``) and the reports (``files.utilization_hierarchical``, ``files.utilization``); the hierarchical one is
used when it is there. A ``.rpt`` given directly is hierarchical when it has the "Utilization by Hierarchy" table.

In a hierarchical report a unit is found by the names Vitis HLS gives it (:func:`reports.find_instance`): an engine
is its C function (``engine_conv`` -> instance ``engine_conv_U0`` of the DATAFLOW region) plus the m_axi adapter
of its bundle (``gmem_conv_m_axi_U``), which Vitis HLS places at the top of the kernel, outside the function.
These names follow UG1399's naming of dataflow processes and adapters; they were not checked against a real run.
"""

from __future__ import annotations

from pathlib import Path

from nash.codegen.hls.render import top_ports
from nash.codegen.vivado import reports as rep
from nash.frontend.accel.vivado_calibration import Measurement
from nash.frontend.core.json_file import read_json
from nash.frontend.core.op_registry import PE_ENGINES, c_engine_function

RESOURCES = ("dsp", "lut", "ff", "bram", "uram")


def unit_bundles() -> dict[str, str]:
    """Unit -> its m_axi bundle (the bundle of its weight port in codegen's port list)."""
    return {p["name"].removeprefix("wb_"): p["bundle"] for p in top_ports(1, 1, 1, 1, 1) if p["name"].startswith("wb_")}


def _resolve(stored: str, reports_json: Path, fld: str) -> Path:
    """A path reports.json stores: as written (absolute, or relative to the working directory), else the same file
    name in the build folder's ``reports/`` (the folder may have moved)."""
    p = Path(stored)
    for cand in (p, reports_json.parent / "reports" / p.name):
        if cand.is_file():
            return cand
    raise rep.ReportError(f"{reports_json}: field '{fld}': {stored} not found "
                          f"(nor in {reports_json.parent / 'reports'})")


def _from_hierarchical(path: Path, units: list[str]) -> Measurement:
    rows = rep.parse_hierarchical_utilization(path)
    head = rep.parse_header(path)
    bundles = unit_bundles()
    found: dict[str, dict[str, float]] = {}
    instances: dict[str, str] = {}
    notes = []
    for u in [*units, *(e for e in PE_ENGINES if e not in units)]:
        fn = c_engine_function(u)
        unit = rep.find_instance(rows, (fn,), f"{u} unit ({fn})", path)
        adapter = rep.find_instance(rows, (f"{bundles[u]}_m_axi",), f"m_axi adapter of {bundles[u]}", path)
        if u not in units:  # an engine the network does not use: counted in the rest of the design
            if unit is not None:
                notes.append(f"{u}: instance {unit['instance']} ({unit['resources']['lut']:g} LUT) is in the design "
                             "but the model has no such engine: counted with the shell")
            continue
        if unit is None or adapter is None:
            what = f"instance {fn}_U0 (or module *_{fn})" if unit is None else f"instance {bundles[u]}_m_axi_U"
            raise rep.ReportError(f"{path}: no {what} for the {u} unit in the 'Utilization by Hierarchy' table "
                                  "(expected the Vitis HLS names of nash_top's functions and m_axi adapters)")
        res = {k: unit["resources"][_key(k)] + adapter["resources"][_key(k)] for k in RESOURCES}
        found[u] = res
        instances[u] = f"{unit['instance']} + {adapter['instance']}"
    total = {k: rows[0]["resources"][_key(k)] for k in RESOURCES}
    return Measurement(total, str(path), head["tool_version"] or "(version not in the report)",
                       head["design"] or rows[0]["instance"], found, instances, notes)


def _key(resource: str) -> str:
    return "bram18" if resource == "bram" else resource


def _from_flat(path: Path) -> Measurement:
    util = rep.parse_utilization(path)
    head = rep.parse_header(path)
    total = {k: float(util[k]["used"] or 0.0) for k in RESOURCES}
    total["bram"] *= 2  # Block RAM Tile counts RAMB36 tiles; the model counts 18K halves
    return Measurement(total, str(path), head["tool_version"] or "(version not in the report)",
                       head["design"] or "(design not in the report)")


def load_measurement(path: str | Path, units: list[str]) -> Measurement:
    """The measurement in ``path`` (reports.json or a .rpt) for the model's ``units``
    (:func:`nash.frontend.accel.vivado_calibration.model_units`)."""
    p = Path(path)
    if p.suffix == ".json":
        doc = read_json(p, rep.ReportError, "nash bitstream reports")
        files = doc.get("files") if isinstance(doc, dict) else None
        if not isinstance(files, dict):
            raise rep.ReportError(f"{p}: field 'files': expected the report paths nash bitstream writes")
        if files.get("utilization_hierarchical"):
            return _from_hierarchical(_resolve(files["utilization_hierarchical"], p,
                                               "files.utilization_hierarchical"), units)
        if not isinstance(files.get("utilization"), str):
            raise rep.ReportError(f"{p}: field 'files.utilization': expected the path of the utilization report")
        return _from_flat(_resolve(files["utilization"], p, "files.utilization"))
    if not p.is_file():
        raise rep.ReportError(f"{p}: Vivado utilization report not found")
    text = p.read_text(errors="replace")
    return _from_hierarchical(p, units) if "Utilization by Hierarchy" in text else _from_flat(p)


def model_file_of(path: str | Path) -> Path | None:
    """The model file a reports.json names (``model_file``), None for a .rpt or an older reports.json."""
    p = Path(path)
    if p.suffix != ".json":
        return None
    doc = read_json(p, rep.ReportError, "nash bitstream reports")
    m = doc.get("model_file") if isinstance(doc, dict) else None
    return Path(m) if isinstance(m, str) and m else None
