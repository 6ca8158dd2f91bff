"""``nash bitstream``: model file -> Vitis HLS IP -> Vivado block design for the KV260 -> ``name.bit`` + ``name.hwh``.

Steps (:mod:`nash.codegen.vivado.flow`; each re-runs only when its inputs changed):

1. ``codegen``: the Vitis HLS project (``nash codegen``) in ``DIR/hls``; ``options.tcl`` set to csynth + export.
2. ``hls``: ``run_hls.tcl`` -> csynth and ``export_design -format ip_catalog`` (``DIR/hls/nash_hls_prj/...``).
3. ``vivado_project``: ``vivado/project.tcl``: project on the board part, ``block_design.tcl``, validate, wrapper.
4. ``synth``: ``vivado/synth.tcl`` (strategy, jobs). 5. ``impl``: ``vivado/impl.tcl``: ``launch_runs impl_1 -to_step
   write_bitstream``, utilisation and timing reports of the routed design.
6. ``collect``: reports parsed into ``DIR/reports.json`` next to the model's prediction, the timing gate, then
   ``DIR/<model>.bit`` and ``DIR/<model>.hwh`` side by side (what PYNQ loads).

The Vivado scripts take their options from the generated ``settings.tcl`` (no ``-tclargs``), so the dry run
(:mod:`nash.codegen.vivado.dry_run`) runs exactly the files Vivado would.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nash.codegen import templates
from nash.codegen.hls import ip_names
from nash.codegen.hls.register_map import INSTANCE
from nash.codegen.hls.render import top_ports, write_options
from nash.codegen.vivado import reports as rep
from nash.codegen.vivado.flow import Flow, Step
from nash.codegen.vivado.hls_tool import run_hls
from nash.codegen.vivado.process import run_logged
from nash.codegen.vivado.tools import BOARD_NAME, BoardFiles, Tool, find_board_files, find_hls, find_vivado
from nash.frontend.core.atomic_io import atomic_write_text
from nash.frontend.core.errors import CheckFailedError, UserInputError

from nash import __version__

# The HLS project, solution and IP VLNV are codegen's (nash.codegen.hls.ip_names: run_hls.tcl is rendered from them).
VIVADO_PROJECT, BD = "nash_kv260", "nash_bd"
PS, KERNEL, RESET, CTRL_IC = "zynq_ultra_ps_e_0", INSTANCE, "rst_pl0", "ctrl_interconnect"
HP_PORTS = 4  # S_AXI_HP0..3_FPD of the Zynq UltraScale+ PS
CTRL_BASE, CTRL_RANGE = "0xA0000000", "64K"
SYNTH_DEFAULT, IMPL_DEFAULT = "Vivado Synthesis Defaults", "Vivado Implementation Defaults"
STRATEGY_RE = re.compile(r"^[A-Za-z0-9_ ]+$")
VIVADO_SCRIPTS = ("project.tcl", "synth.tcl", "impl.tcl")
GEN_FOLDER_SINCE = (2020, 2)  # the hardware handoff moved from <proj>.srcs to <proj>.gen in Vivado 2020.2


@dataclass
class Options:
    """What ``nash bitstream`` takes besides the model file."""

    jobs: int = 4
    synth_strategy: str = SYNTH_DEFAULT
    impl_strategy: str = IMPL_DEFAULT
    allow_timing_failure: bool = False
    board_repo: str | None = None
    schedule: str = "model"
    pe_impl: str = "auto"


def parse_strategies(values: tuple[str, ...] | list[str]) -> tuple[str, str]:
    """``--strategy [synth=|impl=]NAME`` values -> (synth strategy, impl strategy); a bare NAME is the impl one."""
    synth, impl = SYNTH_DEFAULT, IMPL_DEFAULT
    for v in values:
        kind, sep, name = v.partition("=")
        if not sep:
            kind, name = "impl", v
        if kind not in ("synth", "impl") or not STRATEGY_RE.match(name.strip() or "-"):
            raise UserInputError(f"option '--strategy': expected [synth=|impl=]NAME with a Vivado strategy name "
                                 f"(letters, digits, _ and spaces), e.g. impl=Performance_Explore, got {v!r}")
        if kind == "synth":
            synth = name.strip()
        else:
            impl = name.strip()
    return synth, impl


class Layout:
    """Where everything lives under the output folder."""

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self.hls = self.out / "hls"
        self.vivado = self.out / "vivado"
        self.reports = self.out / "reports"
        self.logs = self.out / "logs"
        self.state = self.out / ".nash_flow"
        self.dry_run = self.out / "dry_run"
        self.hls_solution = self.hls / ip_names.HLS_PROJECT / ip_names.HLS_SOLUTION
        self.hls_ip = self.hls_solution / "impl" / "ip"
        self.csynth_xml = self.hls_solution / "syn" / "report" / "csynth.xml"
        self.project_dir = self.vivado / VIVADO_PROJECT
        self.xpr = self.project_dir / f"{VIVADO_PROJECT}.xpr"
        self.bit = self.project_dir / f"{VIVADO_PROJECT}.runs" / "impl_1" / f"{BD}_wrapper.bit"
        self.util_synth = self.reports / "utilization_synth.rpt"
        self.util_impl = self.reports / "utilization_impl.rpt"
        self.util_hier = self.reports / "utilization_hier_impl.rpt"
        self.timing_impl = self.reports / "timing_impl.rpt"
        self.reports_json = self.out / "reports.json"

    def hwh_candidates(self, vivado_version: tuple[int, int] | None) -> list[Path]:
        """The hardware handoff: ``<proj>.gen/...`` (Vivado >= 2020.2), ``<proj>.srcs/...`` before; both tried when
        the version is unknown, the version's own place first."""
        rel = Path("sources_1") / "bd" / BD / "hw_handoff" / f"{BD}.hwh"
        gen = self.project_dir / f"{VIVADO_PROJECT}.gen" / rel
        srcs = self.project_dir / f"{VIVADO_PROJECT}.srcs" / rel
        return [srcs, gen] if vivado_version is not None and vivado_version < GEN_FOLDER_SINCE else [gen, srcs]


def engine_ports() -> list[dict]:
    """The kernel's m_axi bundles (one per engine, from codegen's port list) and the HP port each one gets."""
    bundles = list(dict.fromkeys(p["bundle"] for p in top_ports(1, 1, 1, 1, 1)))
    if len(bundles) > HP_PORTS:
        raise CheckFailedError(f"the kernel has {len(bundles)} m_axi bundles but the PS has {HP_PORTS} HP ports")
    return [{"bundle": b, "hp": i, "gp": i + 2, "smartconnect": f"hp{i}_smartconnect"} for i, b in enumerate(bundles)]


def base_name(model_name: str) -> str:
    """The file name the .bit and .hwh share (the model's name, reduced to a safe file name)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", model_name).strip("._") or "nash"


def render_vivado_scripts(lay: Layout, model_name: str, part: str, clock_mhz: float, opts: Options,
                          board_repo: str = "") -> list[Path]:
    """Write settings.tcl, block_design.tcl and the step scripts into ``DIR/vivado``; returns the step scripts."""
    ctx = {"model_name": model_name, "part": part, "board_name": BOARD_NAME, "board_repo": board_repo,
           "ip_repo": Path(os.path.relpath(lay.hls_ip, lay.vivado)).as_posix(), "ip_vlnv": ip_names.ip_vlnv(),
           "vivado_project": VIVADO_PROJECT, "reports_dir": Path(os.path.relpath(lay.reports, lay.vivado)).as_posix(),
           "util_synth": lay.util_synth.name, "util_impl": lay.util_impl.name, "util_hier": lay.util_hier.name,
           "timing_impl": lay.timing_impl.name, "bd": BD, "clock_mhz": f"{clock_mhz:g}", "jobs": opts.jobs,
           "synth_strategy": opts.synth_strategy, "impl_strategy": opts.impl_strategy, "engines": engine_ports(),
           "ps": PS, "kernel": KERNEL, "reset": RESET, "ctrl_ic": CTRL_IC, "ctrl_base": CTRL_BASE,
           "ctrl_range": CTRL_RANGE}
    for name in ("settings.tcl", "block_design.tcl", *VIVADO_SCRIPTS):
        atomic_write_text(lay.vivado / name, templates.get_template(f"vivado_tcl/{name}.j2").render(ctx))
    return [lay.vivado / s for s in VIVADO_SCRIPTS]


def codegen_step(model: Path, lay: Layout, opts: Options) -> tuple[Step, Callable[[], dict]]:
    """The codegen step, and a reader of the rendered project's manifest (part, clock, model name)."""
    from nash.codegen.hls.project import generate
    from nash.frontend.core.model_file import load_model

    mf = load_model(model)
    inputs = [model] + ([mf.weights_path()] if mf.weights_path() else [])

    def run() -> None:
        generate(model, lay.hls, opts.schedule, opts.pe_impl)
        write_options(lay.hls, ["csynth", "export"])

    def manifest() -> dict:
        return json.loads((lay.hls / "project.json").read_text())

    step = Step("codegen", run, inputs, {"schedule": opts.schedule, "pe_impl": opts.pe_impl, "nash": __version__},
                [lay.hls / "project.json", lay.hls / "run_hls.tcl", lay.hls / "options.tcl"])
    return step, manifest


def _vivado(tool: Tool, script: str, lay: Layout) -> Callable[[], None]:
    def run() -> None:
        log = lay.logs / f"{Path(script).stem}.log"
        cmd = [tool.path, "-mode", "batch", "-nojournal", "-log", str(log.with_suffix(".vivado.log")),
               "-source", script]
        rc = run_logged(cmd, lay.vivado, log)
        if rc != 0:
            raise CheckFailedError(f"vivado exited with code {rc} in {lay.vivado / script} (log: {log})")
    return run


def run_bitstream(model: Path, out: Path, opts: Options, echo: Callable[[str], None] = print) -> dict:
    """The whole flow (see module docstring); returns the reports document. Tools and board files are looked up
    before any step runs, so a missing one stops the flow at once."""
    lay = Layout(out)
    hls_tool = find_hls("hls")
    vivado = find_vivado("vivado_project")
    board = find_board_files(opts.board_repo, vivado, "vivado_project")
    echo(f"tools: {hls_tool.name} {hls_tool.version_text} ({hls_tool.path}), vivado {vivado.version_text} "
         f"({vivado.path}); board files {BOARD_NAME} {board.version} ({board.board_xml})")
    cg, manifest = codegen_step(Path(model), lay, opts)

    def hls_run() -> None:
        rc = run_hls(lay.hls, lay.logs / "hls.log", hls_tool)
        if rc != 0:
            raise CheckFailedError(f"{hls_tool.name} exited with code {rc} (log: {lay.logs / 'hls.log'})")

    hls = Step("hls", hls_run, [lay.hls / "src", lay.hls / "run_hls.tcl", lay.hls / "options.tcl"],
               {"tool": hls_tool.name, "version": hls_tool.version_text},
               [lay.hls_ip / "component.xml", lay.csynth_xml])
    flow = Flow(lay.state)
    flow.run([cg, hls], echo=echo)
    m = manifest()
    render_vivado_scripts(lay, m["model"], m["plan"]["part"], m["plan"]["clock_mhz"], opts, str(board.repo))
    v = {"vivado": vivado.version_text, "board": board.version}
    project = Step("vivado_project", _vivado(vivado, "project.tcl", lay),
                   [lay.vivado / "project.tcl", lay.vivado / "block_design.tcl", lay.hls_ip],
                   {**v, "part": m["plan"]["part"], "clock_mhz": m["plan"]["clock_mhz"], "board_repo": str(board.repo)},
                   [lay.xpr])
    synth = Step("synth", _vivado(vivado, "synth.tcl", lay), [lay.vivado / "synth.tcl", flow.stamp("vivado_project")],
                 {**v, "strategy": opts.synth_strategy}, [lay.util_synth])
    impl = Step("impl", _vivado(vivado, "impl.tcl", lay), [lay.vivado / "impl.tcl", flow.stamp("synth")],
                {**v, "strategy": opts.impl_strategy}, [lay.bit, lay.util_impl, lay.util_hier, lay.timing_impl])
    flow.run([project, synth, impl], echo=echo)
    return collect(Path(model), lay, m, opts, {"hls": hls_tool, "vivado": vivado}, board, echo)


def collect(model: Path, lay: Layout, manifest: dict, opts: Options, tools: dict[str, Tool], board: BoardFiles | None,
            echo: Callable[[str], None] = print) -> dict:
    """Parse the reports into ``reports.json`` (measured next to predicted), apply the timing gate, then copy the
    bitstream and the hardware handoff to ``DIR/<name>.bit`` / ``.hwh``. A failed gate leaves no .bit / .hwh."""
    from nash.frontend.accel.calibration import parse_csynth
    from nash.frontend.core.model_file import load_model

    section = load_model(model).data.get("accelerator")
    util = rep.parse_utilization(lay.util_impl)
    timing = rep.parse_timing_summary(lay.timing_impl)
    sbs = rep.side_by_side(util, timing, section, float(manifest["plan"]["clock_mhz"]))
    name = base_name(manifest["model"])
    bit_out, hwh_out = lay.out / f"{name}.bit", lay.out / f"{name}.hwh"
    doc = {"model": manifest["model"], "model_file": str(Path(model).resolve()), "part": manifest["plan"]["part"],
           "tools": {k: {"name": t.name, "version": t.version_text, "path": t.path} for k, t in tools.items()},
           "board_files": ({"name": BOARD_NAME, "version": board.version, "path": str(board.board_xml)}
                           if board else None),
           "prediction_source": "accelerator section of the model file" if section else None,
           **sbs, "timing": timing, "timing_gate": None,
           "hls_csynth": parse_csynth(lay.csynth_xml) if lay.csynth_xml.is_file() else None,
           "files": {"bit": None, "hwh": None, "utilization": str(lay.util_impl),
                     "utilization_hierarchical": str(lay.util_hier) if lay.util_hier.is_file() else None,
                     "timing": str(lay.timing_impl)}}
    for line in rep.format_table(sbs):
        echo(line)
    bit_out.unlink(missing_ok=True)
    hwh_out.unlink(missing_ok=True)
    try:
        doc["timing_gate"] = rep.timing_gate(timing, opts.allow_timing_failure, lay.timing_impl)
    except CheckFailedError as e:
        doc["timing_gate"] = f"failed: {e}"
        atomic_write_text(lay.reports_json, json.dumps(doc, indent=1) + "\n")
        raise
    hwh = next((p for p in lay.hwh_candidates(tools["vivado"].version if "vivado" in tools else None)
                if p.is_file()), None)
    if hwh is None or not lay.bit.is_file():
        atomic_write_text(lay.reports_json, json.dumps(doc, indent=1) + "\n")
        where = ", ".join(str(p) for p in lay.hwh_candidates(None))
        raise CheckFailedError(f"implementation finished without {lay.bit if not lay.bit.is_file() else where}")
    shutil.copyfile(lay.bit, bit_out)
    shutil.copyfile(hwh, hwh_out)
    doc["files"].update({"bit": str(bit_out), "hwh": str(hwh_out), "hwh_from": str(hwh)})
    atomic_write_text(lay.reports_json, json.dumps(doc, indent=1) + "\n")
    echo(f"timing gate: {doc['timing_gate']}")
    echo(f"wrote {bit_out}, {hwh_out}, {lay.reports_json}")
    return doc


def run_dry(model: Path, out: Path, opts: Options, echo: Callable[[str], None] = print) -> list:
    """``nash bitstream --dry-run``: codegen for real, every script rendered, then all of them in tclsh with the
    recorders (no Xilinx tool needed; :mod:`nash.codegen.vivado.dry_run`)."""
    from nash.codegen.vivado.dry_run import dry_run
    from nash.codegen.vivado.tools import find_tclsh

    find_tclsh()  # before anything is written
    lay = Layout(out)
    cg, manifest = codegen_step(Path(model), lay, opts)
    Flow(lay.state).run([cg], echo=echo)
    m = manifest()
    scripts = render_vivado_scripts(lay, m["model"], m["plan"]["part"], m["plan"]["clock_mhz"], opts,
                                    str(opts.board_repo or ""))
    order = [("vitis_hls", lay.hls / "run_hls.tcl", lay.hls)] + [("vivado", s, lay.vivado) for s in scripts]
    runs = dry_run(order, lay.dry_run)
    for r in runs:
        echo(f"dry run {r.script} ({r.tool}): {r.commands} commands checked: {r.message}")
    echo(f"dry run passed: the scripts are well-formed (not a proof that Vivado accepts the design); "
         f"calls in {lay.dry_run}")
    return runs
