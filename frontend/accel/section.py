"""The model file's ``accelerator`` section: built from a searched design, validated when read.

Schema (docs/accelerator-model.md explains every field)::

    {"version": 4, "board": "kv260", "part": "xck26-sfvc784-2LV-c", "clock_mhz": 200.0, "batch": 1,
     "usable_fraction": {"dsp", "lut", "ff", "bram", "uram"}, "axi_bytes_per_cycle": 16.0,
     "engines": {"conv" | "shift" | "adder": {"tm", "tn", "dw_lanes", "tr", "requant_lanes", "acc_mem",
                                              "acc_dw_mem", "pe_latency", "pe_ii", "buffers": {...}, "resources": {...}}
                                             | null,
                 "misc": {"lanes", "resources"}},
     "layers": {"<node>": {"engine", "tr", "reuse", "images", "cycles"}},
     "schedule": {"steps": [[{"engine", "layer", "image"}, ...], ...], "step_cycles", "period_cycles",
                  "latency_cycles", "max_image_offset", "activation_slots"},
     "performance": {"fps", "latency_ms", "gops", "peak_gops", "board_peak_gops", "period_cycles"},
     "resources": {...}, "board_resources": {"total": {...}, "usable": {...}},
     "model": {"cost_table", "pe_timing"}, "search": {"mode", "evaluations", "seconds", ...}}
"""

from __future__ import annotations

from nash.frontend.accel.buffers import engine_buffers, walk_problem, with_walks
from nash.frontend.accel.model import (
    EngineModel,
    config_dict,
    engine_of,
    resources_dict,
)
from nash.frontend.accel.schedule import ScheduleError, check_schedule, steps_from_json
from nash.frontend.core.graph import Node
from nash.frontend.core.model_file import ModelFileError, validate_accelerator_structure
from nash.frontend.core.model_schema import ACCEL_SECTION_VERSION as SECTION_VERSION
from nash.frontend.core.op_registry import MISC_ENGINE, PE_ENGINES


def _buffers(em: EngineModel, row: tuple) -> dict:
    """The section's ``buffers`` of one engine configuration: the buffers codegen allocates
    (:func:`nash.frontend.accel.buffers.engine_buffers`), as JSON (``memory`` where it is block RAM or URAM)."""
    out = {}
    for buf in em.engine_buffers(row).buffers:
        out[buf.name] = {"banks": buf.banks, "depth": buf.depth, "width_bits": buf.width_bits}
        if buf.memory in ("bram", "uram"):
            out[buf.name]["memory"] = buf.memory
    return out


def build_section(ctx, result, perf: dict) -> dict:
    """The accelerator section for a search result (``perf`` from :func:`accel_search.performance`)."""
    d = result.design
    b = ctx.board
    engines: dict = {e: None for e in PE_ENGINES}
    layers: dict = {}
    for e, em in ctx.engines.items():
        row = d.rows[e]
        cfg = config_dict(row)
        cfg["pe_latency"] = ctx.pe.latency(e, row[0], row[1])
        cfg["pe_ii"] = ctx.pe.ii(e, row[0], row[1])
        cfg["buffers"] = _buffers(em, row)
        cfg["resources"] = resources_dict(em.resources(em_cfg(row))[0])
        engines[e] = cfg
        reuse, images = em.walks(row, d.batch)  # the walks the model priced: codegen builds these
        for n, cyc, tile in zip(em.layers, d.lat[e], d.tiles[e], strict=True):
            layers[n.name] = {"engine": e, "tr": int(tile), "reuse": reuse[n.name], "images": images[n.name],
                              "cycles": int(round(float(cyc)))}
    engines[MISC_ENGINE] = {"lanes": ctx.misc.lanes, "resources": resources_dict(ctx.misc.resources())}
    for n, cyc in zip(ctx.misc.layers, ctx.misc.layer_cycles(d.batch), strict=True):
        layers[n.name] = {"engine": MISC_ENGINE, "tr": n.in_size, "reuse": False, "images": 1,
                          "cycles": int(round(float(cyc)))}
    sched = perf["schedule"].to_json()
    sched["activation_slots"] *= d.batch  # image slots: every image of the batches in flight has its own
    return {
        "version": SECTION_VERSION, "board": b.name, "part": b.part, "clock_mhz": b.clock_mhz, "batch": d.batch,
        "usable_fraction": dict(b.usable_fraction), "axi_bytes_per_cycle": round(ctx.bw, 4),
        "engines": engines,
        "layers": {n.name: layers[n.name] for n in ctx.nodes},
        "schedule": sched,
        "performance": {k: perf[k] for k in ("fps", "latency_ms", "gops", "peak_gops", "board_peak_gops")}
        | {"period_cycles": int(round(perf["period_cycles"]))},
        "resources": resources_dict(d.res),
        "board_resources": {"total": dict(b.resources), "usable": b.budget},
        "model": {"cost_table": ctx.table.path, "pe_timing": ctx.pe.source},
        "search": {"mode": result.mode, "evaluations": result.evaluations,
                   "engine_evaluations": result.engine_evaluations, "design_evaluations": result.design_evaluations,
                   "seconds": round(result.seconds, 4), "space_size": result.space_size},
    }


def section_for(nodes: list[Node], board: str = "kv260", mode: str = "coarse-to-fine",
                max_batch: int | None = None) -> dict:
    """Search the accelerator of a lowered network on a board and return its section (what ``nash accel`` writes,
    with the default cost table and the PE calibration when present); ``max_batch``: the images-per-task cap."""
    from nash.frontend.accel.search import make_context, performance, search

    ctx = make_context(nodes, board)
    result = search(ctx, mode, max_batch)
    return build_section(ctx, result, performance(ctx, result.design))


def em_cfg(row: tuple):
    from nash.frontend.accel.model import Configs

    return Configs.from_rows([row])


def _need(cond: bool, path, fld: str, problem: str) -> None:
    if not cond:
        raise ModelFileError(path, fld, problem)


def validate_section(acc, nodes: list[Node], path=None) -> None:
    """Check an accelerator section: its structure (the typed schema in core), then its fit to the network: every
    layer placed on its op's engine with tiles within that engine's buffers, no unknown layers, and a schedule that
    runs every layer once in dependency order. Raises :class:`ModelFileError` naming the field (e.g.
    ``accelerator.engines.conv.tm``). Called by the stages that write or read the section (``nash accel``, codegen's
    plan, ``nash validate``)."""
    validate_accelerator_structure(acc, path)
    p = "accelerator"
    engines = acc["engines"]
    layers = acc["layers"]
    for n in nodes:
        lp = f"{p}.layers.{n.name}"
        ent = layers.get(n.name)
        _need(ent is not None, path, lp, "missing (every layer of the architecture needs an entry)")
        want = engine_of(n)
        _need(ent["engine"] == want, path, f"{lp}.engine", f"expected {want!r} (the engine of a {n.kind}/{n.op} "
              f"layer), got {ent['engine']!r}")
        _need(want == MISC_ENGINE or engines[want] is not None, path, f"{p}.engines.{want}",
              f"null, but layer {n.name} runs on it")
        if want != MISC_ENGINE:
            _need(ent["tr"] <= engines[want]["tr"], path, f"{lp}.tr", f"{ent['tr']} exceeds the engine's buffer "
                  f"tile {engines[want]['tr']}")
    extra = sorted(set(layers) - {n.name for n in nodes})
    _need(not extra, path, f"{p}.layers", f"unknown layers {extra}")
    _check_walks(acc, nodes, path)
    try:
        check_schedule(nodes, steps_from_json(acc["schedule"]["steps"]), {n.name: engine_of(n) for n in nodes})
    except ScheduleError as e:
        raise ModelFileError(path, f"{p}.schedule.steps", str(e)) from None


def _check_walks(acc, nodes: list[Node], path=None) -> None:
    """Every conv-kind layer's recorded walk (``reuse``, ``images``) fits the buffers its engine declares (sized by
    :func:`nash.frontend.accel.buffers.engine_buffers` from the engine's fields and the layers' tiles): a walk that
    does not would overflow them in the generated code. Layers without the fields take the buffers' rule."""
    batch = int(acc.get("batch", 1))
    for e, cfg in acc["engines"].items():
        if e == MISC_ENGINE or cfg is None:
            continue
        group = [n for n in nodes if engine_of(n) == e]
        tiles = {n.name: int(acc["layers"][n.name]["tr"]) for n in group}
        buf = engine_buffers(group, tiles, cfg["tm"], cfg["tn"], cfg["dw_lanes"], cfg["requant_lanes"],
                             batch=batch, acc_mem=cfg["acc_mem"], acc_dw_mem=cfg["acc_dw_mem"])
        reuse, images = recorded_walks(acc, group)
        walked = with_walks(group, tiles, buf, cfg["tn"], batch, reuse, images)
        for n in group:
            bad = walk_problem(n, tiles[n.name], cfg["tn"], buf, batch, walked.reuse[n.name],
                               walked.images.get(n.name, 1))
            if bad is not None:
                raise ModelFileError(path, f"accelerator.layers.{n.name}.{bad[0]}", bad[1])


def recorded_walks(acc, layers: list[Node]) -> tuple[dict[str, bool], dict[str, int]]:
    """(reuse, images) of the layers whose section entries record them (sections written before ``reuse`` have only
    ``images``; before ``batch``, neither): what :func:`nash.frontend.accel.buffers.with_walks` takes."""
    ents = {n.name: acc["layers"][n.name] for n in layers}
    return ({k: bool(v["reuse"]) for k, v in ents.items() if v.get("reuse") is not None},
            {k: int(v["images"]) for k, v in ents.items() if "images" in v})
