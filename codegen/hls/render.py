"""Render a model file into a Vitis HLS project (C++ engines, top, testbench, weights blob, Tcl).

All decisions are made here in Python (tile sizes, buffer bounds, accumulator widths, activation-slot offsets, blob
offsets, the schedule table); the Jinja2 templates in ``hls_templates/`` and ``vivado_tcl/`` only print them.
Layout of the rendered folder: ``docs/hls-codegen.md``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from nash.codegen import templates
from nash.codegen.hls import ip_names, weights_blob
from nash.codegen.hls.plan import Plan
from nash.codegen.hls.register_map import ABI_VERSION, register_map
from nash.codegen.rtl.pe_bridge import PeSource, pe_source
from nash.frontend.accel import buffers
from nash.frontend.accel.model import OUTSTANDING
from nash.frontend.accel.schedule import steps_to_json
from nash.frontend.core.atomic_io import atomic_write_bytes, atomic_write_text
from nash.frontend.core.errors import UserInputError
from nash.frontend.core.graph import Node
from nash.frontend.core.op_registry import (
    ENGINE_IDS,
    ENGINES,
    MISC_ENGINE,
    PE_ENGINES,
    c_engine_function,
    engine_id_legend,
    engine_spec,
    op_spec,
    shift_exp_bits,
)
from nash.frontend.integer.bounds import network_bounds
from nash.frontend.integer.model import IntegerModel
from nash.frontend.integer.reference import run_network

SLOT_ALIGN = 64  # bytes: every layer output starts on a 64-byte boundary inside its slot (four 16-byte words)
WORD = weights_blob.WORD  # bytes per DDR word (nash::word_t, ap_uint<128>)
AXI_LATENCY = 64  # cycles: m_axi latency the HLS scheduler assumes (PS-DDR round trip 24-64 cycles at 200 MHz)
MAXI_OUTSTANDING = OUTSTANDING  # requests in flight per port and direction (model.OUTSTANDING prices them)
TB_IMAGES = 4  # images in tb_data (Vitis csim / cosim testbench); cosim is slow
KIND_ID = {"conv": 0, "add": 1, "gap": 2, "fc": 3}
SRC_FILES = ("top.cpp", *(f"{c_engine_function(e)}.cpp" for e in ENGINES))
ARG_WRAP = 116  # line width the generated argument lists wrap at
TB_FILES = ("tb/testbench.cpp", "tb/nash_capi.cpp")


class CodegenError(UserInputError):
    """A network the generated hardware cannot implement; the message names the layer and the limit."""


@dataclass
class Project:
    """A rendered project folder."""

    out: Path
    model_name: str
    plan: Plan
    manifest: dict
    sources_hash: str
    pe: PeSource
    files: list[Path] = field(default_factory=list)

    @property
    def blob_path(self) -> Path:
        return self.out / "weights.bin"


def _hls(name: str, ctx: dict) -> str:
    """Render ``hls_templates/NAME``."""
    return templates.get_template(f"hls_templates/{name}").render(ctx)


def _tcl(name: str, ctx: dict) -> str:
    """Render ``vivado_tcl/NAME``."""
    return templates.get_template(f"vivado_tcl/{name}").render(ctx)


def wrap_args(args: list[str], head: str, tail: str, width: int = ARG_WRAP) -> str:
    """``head`` + comma-separated ``args`` + ``tail``, filled greedily into lines of at most ``width`` characters,
    continuation lines aligned under the first argument (the generated top's engine argument lists)."""
    lines, cur, indent = [], head, " " * len(head)
    for i, a in enumerate(args):
        piece = a + ("," if i < len(args) - 1 else tail)
        if cur != head and len(cur) + 1 + len(piece) > width:
            lines.append(cur)
            cur = indent + piece
        else:
            cur += piece if cur == head else " " + piece
    lines.append(cur)
    return "\n".join(lines)


templates.ENV.filters["wrap_args"] = wrap_args  # the generated top's engine argument lists


def engines_context() -> dict:
    """The engine list of the registry as the templates print it (names, ids, C functions, id legends)."""
    def eng(e: str) -> dict:
        return {"name": e, "id": ENGINE_IDS[e], "fn": c_engine_function(e)}

    rd, wr = "const nash::word_t*", "nash::word_t*"  # read-only and write-only 128-bit word ports
    mb = "hls::burst_maxi<nash::word_t>"  # the PE engines' activation and image ports: manual bursts

    def act(e: str, plain: str) -> str:
        return mb if e in PE_ENGINES else plain

    ports = ([(mb, f"img_{e}") for e in PE_ENGINES] + [(act(e, rd), f"act_in_{e}") for e in ENGINES]
             + [(act(e, wr), f"act_out_{e}") for e in ENGINES] + [(rd, f"wb_{e}") for e in ENGINES] + [(wr, "logits")])
    ids = [ENGINE_IDS[e] for e in ENGINES]
    return {"engines": [eng(e) for e in ENGINES], "pe_engines": [eng(e) for e in PE_ENGINES],
            "misc": eng(MISC_ENGINE), "n_engines": len(ENGINES), "engine_legend": engine_id_legend(),
            "op_legend": engine_id_legend(PE_ENGINES),
            # run_step(): per engine (layer, first image, images, slot of the first image), n_slots, then every
            # m_axi pointer of nash_top
            "step_params": [f"int {v}{i}" for i in ids for v in "lins"] + ["int n_slots"],
            "step_args": [f"{v}[{i}]" for i in ids for v in ("lay", "im", "nim", "sl")] + ["n_slots"],
            "port_params": [f"{t} {n}" for t, n in ports], "port_args": [n for _, n in ports],
            # nash_top's arguments in signature order (top.cpp.j2: the ports, then n_images and n_slots)
            "top_arguments": [(n, "pointer") for _, n in ports] + [("n_images", "int32"), ("n_slots", "int32")]}


def _align(v: int, a: int = SLOT_ALIGN) -> int:
    return (v + a - 1) // a * a


def plane_words(size: int) -> int:
    """Words per channel plane of a size x size map in DDR (each plane starts on a word; padding bytes are 0)."""
    return _ceil(size * size, WORD)


def out_plane_words(n: Node) -> int:
    """Words per output channel plane of a layer (gap: its vector is one contiguous run, reported as 0)."""
    return 0 if n.kind in ("gap", "fc") else plane_words(n.out_size)


def out_bytes(n: Node) -> int:
    """Bytes of a layer's int8 output in the slot, padding included (fc writes int64 logits instead: 0)."""
    if n.kind == "fc":
        return 0
    if n.kind == "gap":
        return _ceil(n.out_ch, WORD) * WORD
    return n.out_ch * out_plane_words(n) * WORD


def slot_layout(nodes: list[Node]) -> tuple[dict[str, int], int]:
    """Byte offset of every layer's output inside an activation slot (no reuse: every output stays readable for the
    debug view and for residual inputs), and the slot size; both multiples of SLOT_ALIGN (so of the word)."""
    offs, off = {}, 0
    for n in nodes:
        if n.kind == "fc":
            continue
        offs[n.name] = off
        off = _align(off + out_bytes(n))
    return offs, max(off, SLOT_ALIGN)


def tilings(nodes: list[Node], plan: Plan) -> dict[str, weights_blob.Tiling]:
    """The lanes of the engine of every conv-kind layer (the blob's tile-major layout follows them)."""
    out = {}
    for n in nodes:
        if n.kind == "conv":
            e = plan.engine_of[n.name]
            out[n.name] = weights_blob.Tiling(plan.pe[e][0], plan.pe[e][1], plan.lanes(e))
    return out


def check_supported(nodes: list[Node]) -> None:
    """Reject graphs outside what the engines implement, with the layer named."""
    for n in nodes:
        if n.kind == "conv":
            if n.in_ch % n.groups or n.out_ch % n.groups:
                raise CodegenError(f"layer {n.name}: channels {n.in_ch}->{n.out_ch} not divisible by groups {n.groups}")
            if n.padding != n.kernel // 2:
                raise CodegenError(f"layer {n.name}: padding {n.padding}, the engines implement k // 2")
        if n.kind in ("add", "gap", "fc") and "input" in n.inputs:
            raise CodegenError(f"layer {n.name}: a {n.kind} layer reading the network input is not supported")
    if nodes[-1].kind != "fc":
        raise CodegenError(f"the last layer must be the fc classifier, got {nodes[-1].name} ({nodes[-1].kind})")


def _minmax(vals: list[int], default: int = 1) -> tuple[int, int]:
    return (min(vals), max(vals)) if vals else (default, default)


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _engine_acc_bits(eng: str, nodes: list[Node], plan: Plan, bounds: dict) -> int:
    """Widest proven accumulator of the layers an engine runs (sizes its accumulators: int32 or int64)."""
    return max((bounds[n.name]["acc_bits"] for n in nodes if n.kind == "conv" and plan.engine_of[n.name] == eng),
               default=32)


def buffers_of(eng: str, nodes: list[Node], plan: Plan, bounds: dict) -> buffers.EngineBuffers:
    """The on-chip buffers of one conv-kind engine (the one size function the model prices too), with each layer's
    walk (input reuse, images per pass) as the plan's section recorded it (the accelerator stage's choice; a layer
    without one: the buffers' rule)."""
    tm, tn = plan.pe[eng]
    layers = [n for n in nodes if n.kind == "conv" and plan.engine_of[n.name] == eng]
    acc_bits = 32 if _engine_acc_bits(eng, nodes, plan, bounds) <= 32 else 64
    tiles = {n.name: plan.tile(n.name) for n in layers}
    buf = buffers.engine_buffers(layers, tiles, tm, tn, plan.lanes(eng), plan.requant(eng), acc_bits, 8,
                                 plan.memory(eng), batch=plan.batch, acc_dw_mem=plan.memory(eng, "acc_dw"))
    return buffers.with_walks(layers, tiles, buf, tn, plan.batch, plan.reuse, plan.images)


def _bind(buf: buffers.EngineBuffers, name: str, variable: str, kind: str = "ram_2p") -> str:
    """The storage pragma of a buffer: the memory the buffer function maps it to (``acc_mem`` / ``acc_dw_mem`` for
    the array's / the depthwise lanes' accumulators); ``kind``: the RAM type (``ram_s2p`` for the band buffers: one
    write and one read port)."""
    b = next((x for x in buf.buffers if x.name == name), None)
    impl = b.memory if b is not None else "lutram"
    return f"#pragma HLS BIND_STORAGE variable={variable} type={kind} impl={impl}"


def layer_loops(n: Node, walk: weights_blob.Walk, tr: int, reuse: bool, lanes: int,
                nb: int = 1) -> dict[str, int]:
    """Trip counts of one conv-kind layer's loops in the generated engine (for the loop_tripcount hints); ``nb``:
    its images per pass (the band buffer's fills, the emission and the MAC loop run over all of them)."""
    bl = buffers.bands(n, tr)
    n_band, n_grp = len(bl), walk.n_out // walk.n_mt
    whole = n_band == 1
    units = n_band * n_grp * (1 if reuse else walk.n_mt * walk.n_in)
    pix = max(b.rows for b in bl) * n.out_size
    words = max(b.words for b in bl)
    owords = _ceil(pix, WORD)
    fill = nb * (walk.walk_cg if reuse else lanes) * words
    emit = nb * (walk.n_mt * walk.n_in if reuse else 1) * pix * walk.kk
    return {"units": units, "rd_burst": lanes * plane_words(n.in_size) if whole else words, "fill": fill,
            "emit": max(emit, fill), "bandgrp": n_band * n_grp,
            "wgrp": walk.n_mt * (walk.lanes + walk.n_in * walk.tile_words), "bandout": n_band * walk.n_out,
            "mac": max(nb * pix, walk.tile_words // walk.kk) * walk.kk, "pix": pix, "nb": nb, "owords": owords,
            "lanes": walk.lanes,
            "wr_burst": walk.lanes * out_plane_words(n) if whole else owords, "n_in": walk.n_in, "kk": walk.kk}


def engine_context(eng: str, nodes: list[Node], plan: Plan, bounds: dict, pe: PeSource, exp_max: int) -> dict:
    """Static sizes, types and loop trip counts of one conv-kind engine, from the layers it runs."""
    spec = engine_spec(eng)
    tm, tn = plan.pe[eng]
    dw_lanes, rq = plan.lanes(eng), plan.requant(eng)
    layers = [n for n in nodes if n.kind == "conv" and plan.engine_of[n.name] == eng]
    bits = _engine_acc_bits(eng, nodes, plan, bounds)
    for n in layers:
        if bounds[n.name].get("product_bits", 0) > 63:
            raise CodegenError(f"layer {n.name}: requant product needs {bounds[n.name]['product_bits']} bits (> 63)")
    if bits > 64:
        raise CodegenError(f"engine {eng}: accumulator needs {bits} bits (> 64)")
    til = weights_blob.Tiling(tm, tn, dw_lanes)
    buf = buffers_of(eng, nodes, plan, bounds)
    loops = {n.name: layer_loops(n, weights_blob.conv_walk(n, til), plan.tile(n.name), buf.reuse[n.name],
                                 dw_lanes if n.depthwise else tn, buf.images.get(n.name, 1)) for n in layers}
    std = [loops[n.name] for n in layers if not n.depthwise]
    dws = [loops[n.name] for n in layers if n.depthwise]
    every = list(loops.values())

    def span(rows: list[dict], key: str, scale: int = 1) -> tuple[int, int]:
        return _minmax([r[key] * scale for r in rows])

    ctx = {
        "op": eng, "tm": tm, "tn": tn, "dw": dw_lanes, "rq": rq, "batch": plan.batch,
        "maxi_outstanding": MAXI_OUTSTANDING,
        "sum_bits": max((bounds[n.name]["product_bits"] for n in layers), default=32),
        "acc_bits": bits, "acc_t": "int32_t" if bits <= 32 else "int64_t",
        "w_t": spec.c_weight_type, "w_comment": spec.code_doc, "engine_fn": spec.c_engine,
        # array sizes (at least 1: an engine without standard or depthwise layers still declares both paths)
        "buf": {k: max(1, getattr(buf, k)) for k in ("xband_words", "xband_dw_words", "acc_pixels", "acc_dw_pixels",
                                                     "kk", "kk_dw")}
        | {k: max(2 * rq, getattr(buf, k)) for k in ("stage_depth", "stage_dw_depth")},
        "acc_bind": _bind(buf, "acc", "acc"), "acc_dw_bind": _bind(buf, "acc_dw", "acc"),
        "xband_bind": _bind(buf, "xband", "xb", "ram_s2p"), "xband_dw_bind": _bind(buf, "xband_dw", "xb", "ram_s2p"),
        "stage_bind": _bind(buf, "rq_stage", "st"), "stage_dw_bind": _bind(buf, "rq_stage_dw", "st"),
        "lanes_max": max(tm, tn, dw_lanes), "nt_max": span(every, "n_in")[1],
        "pe_includes": sorted({"pe_local.h", pe.includes(eng)}), "pe_call": pe.call(eng, tm, tn),
        "pe_ws": pe.stationary, "pe_load_call": pe.load_call(eng) if pe.stationary else "",
        "pe_blackbox": pe.blackbox_by_engine.get(eng, ""),
        "lane_fn": pe.lane_fn(eng), "pe_source": pe.description, "exp_max": exp_max, "n_layers": len(layers),
        "buffers": buf.as_dict(),
    }
    for key in ("units", "fill", "emit", "bandgrp", "wgrp", "rd_burst", "wr_burst"):
        ctx[f"{key}_min"], ctx[f"{key}_max"] = span(every, key)
    # drain: ceil(lanes / rq) groups x the band's pixels; a requant group loop: its pixels or the previous group's words
    ctx["drain_max"] = max((_ceil(r["lanes"], rq) * r["pix"] * r["nb"] for r in every), default=1)
    ctx["drain_min"] = 1
    ctx["rqg_max"] = max((_ceil(r["lanes"], rq) + 1 for r in every), default=2)
    ctx["rqpx_max"] = max((max(r["pix"], rq * r["owords"]) for r in every), default=1)
    ctx["mac_min"], ctx["mac_max"] = span(std, "mac")
    ctx["dmac_min"], ctx["dmac_max"] = span(dws, "mac")
    # a first MAC loop also drains the previous output tile: up to ceil(lanes / rq) groups x its band's pixels
    ctx["mac_max"] = max([ctx["mac_max"]] + [_ceil(r["lanes"], rq) * r["pix"] * r["nb"] for r in std])
    ctx["dmac_max"] = max([ctx["dmac_max"]] + [_ceil(r["lanes"], rq) * r["pix"] * r["nb"] for r in dws])
    ctx["bandout_min"], ctx["bandout_max"] = span(std, "bandout")
    ctx["dbandout_min"], ctx["dbandout_max"] = span(dws, "bandout")
    ctx["bandout_all_min"], ctx["bandout_all_max"] = span(every, "bandout")
    ctx["nt_min"] = span(std, "n_in")[0]
    ctx["nt_max_std"] = span(std, "n_in")[1]
    ctx["kk_min"], ctx["kk_max"] = span(every, "kk")
    ctx["ltw_max"] = ctx["kk_max"] * max(_ceil(tm * tn, WORD), _ceil(dw_lanes, WORD))
    return ctx


def misc_context(nodes: list[Node], batch: int = 1) -> dict:
    """Buffer sizes and loop trip counts of the misc unit (words of 16 lanes); ``batch``: images per task."""
    adds = [_ceil(n.in_ch * plane_words(n.in_size), 64) for n in nodes if n.kind == "add"]
    gaps = [n for n in nodes if n.kind == "gap"]
    fcs = [n for n in nodes if n.kind == "fc"]
    ctx: dict = {"engine_fn": c_engine_function(MISC_ENGINE), "batch": batch}
    ctx["addc_min"], ctx["addc_max"] = _minmax(adds)
    ctx["addw_min"], ctx["addw_max"] = _minmax([n.in_ch * plane_words(n.in_size) for n in nodes if n.kind == "add"])
    ctx["gapw_min"], ctx["gapw_max"] = _minmax([n.in_ch * plane_words(n.in_size) for n in gaps])
    ctx["gapo_min"], ctx["gap_out_words"] = _minmax([_ceil(n.in_ch, WORD) for n in gaps])
    ctx["fcw_min"], ctx["fc_in_words"] = _minmax([_ceil(n.in_ch, WORD) for n in fcs])
    ctx["fcs_min"], ctx["fcs_max"] = _minmax([n.out_ch * (1 + _ceil(n.in_ch, WORD)) for n in fcs])
    return ctx


def layer_rows(nodes: list[Node], offs: dict[str, int], sections: list[weights_blob.Section],
               tiles: dict[str, weights_blob.Tiling], plan: Plan, reuse: dict[str, bool],
               images: dict[str, int] | None = None) -> list[dict]:
    """One LayerDesc initializer per layer (field order of nash_params.h.j2; offsets in words). ``reuse``: conv-kind
    layer -> its input band is read once per band and walk group; ``images``: its images per pass (both as the
    section records them, else the buffer function's rule: :func:`buffers_of`)."""
    sec = {s.layer: s.offset for s in sections}
    rows = []
    for i, n in enumerate(nodes):
        ins = list(n.inputs)
        in_w = offs.get(ins[0], 0) // WORD
        in2 = offs.get(ins[1], 0) // WORD if len(ins) > 1 else 0
        op_id = op_spec(n.op).engine_id if n.kind == "conv" else 0
        in_cs = _ceil(n.in_ch, WORD) if n.kind == "fc" else plane_words(n.in_size)
        w = weights_blob.conv_walk(n, tiles[n.name]) if n.kind == "conv" else None
        walk = [w.n_out, w.n_in, w.n_mt, w.walk_cg, w.kk, w.tile_words] if w else [0, 0, 0, 0, 0, 0]
        if w:
            rows_ = buffers.band_rows(n.out_size, plan.tile(n.name))
            walk += [rows_, _ceil(n.out_size, rows_), w.n_out // w.n_mt, int(reuse[n.name]),
                     (images or {}).get(n.name, 1)]
        else:
            walk += [0, 0, 0, 0, 1]
        vals = [KIND_ID[n.kind], op_id, n.in_ch, n.out_ch, n.in_size, n.out_size, n.kernel, n.stride,
                n.padding, n.groups, int(n.depthwise), int(n.relu), int(ins[0] == "input"), f"{in_w}u", f"{in2}u",
                f"{offs.get(n.name, 0) // WORD}u", in_cs, out_plane_words(n), f"{sec[n.name] // WORD}u", *walk]
        desc = f"{n.name} {n.kind}/{n.op} {n.in_ch}->{n.out_ch} {n.in_size}->{n.out_size} k{n.kernel} s{n.stride}"
        if n.groups > 1:
            desc += f" g{n.groups}"
        if w:
            desc += f", bands of {walk[-5]} rows" + (", input reused" if walk[-2] else "")
            desc += f", {walk[-1]} images per pass" if walk[-1] > 1 else ""
        rows.append({"index": i, "init": ", ".join(str(v) for v in vals), "comment": desc})
    return rows


def sched_rows(nodes: list[Node], plan: Plan) -> list[dict]:
    idx = {n.name: i for i, n in enumerate(nodes)}
    rows = []
    for s, step in enumerate(plan.steps):
        lay, off = [-1] * len(ENGINES), [0] * len(ENGINES)
        for t in step:
            e = ENGINE_IDS[t.engine]
            lay[e], off[e] = idx[t.layer], t.offset
        desc = ", ".join(f"{t.engine}:{t.layer}@{t.offset}" for t in step) or "idle"
        rows.append({"index": s, "layers": ", ".join(map(str, lay)), "offsets": ", ".join(map(str, off)),
                     "comment": desc})
    return rows


def top_ports(img_words: int, slot_words: int, min_slots: int, blob_words: int, logit_words: int) -> list[dict]:
    """m_axi ports of nash_top: one bundle per engine; depths (in 16-byte words) are the testbench sizes (cosim needs
    them; the ports of one ALIAS group have equal depths)."""
    ports = []
    for e in PE_ENGINES:
        ports.append({"name": f"img_{e}", "bundle": f"gmem_{e}", "depth": TB_IMAGES * img_words})
    for d in ("in", "out"):
        for e in ENGINES:
            ports.append({"name": f"act_{d}_{e}", "bundle": f"gmem_{e}", "depth": min_slots * slot_words})
    for e in ENGINES:
        ports.append({"name": f"wb_{e}", "bundle": f"gmem_{e}", "depth": blob_words})
    ports.append({"name": "logits", "bundle": "gmem_misc", "depth": TB_IMAGES * logit_words})
    return ports


def alias_groups() -> list[str]:
    """Ports the host points at one buffer (#pragma HLS ALIAS: cosim then models one memory)."""
    return [",".join(f"img_{e}" for e in PE_ENGINES),
            ",".join([f"act_in_{e}" for e in ENGINES] + [f"act_out_{e}" for e in ENGINES]),
            ",".join(f"wb_{e}" for e in ENGINES)]


def _write(path: Path, text: str | bytes, files: list[Path]) -> None:
    if isinstance(text, bytes):
        atomic_write_bytes(path, text)
    else:
        atomic_write_text(path, text)
    files.append(path)


def render_project(im: IntegerModel, plan: Plan, out: str | Path, model_name: str, exp_max: int,
                   pe_impl: str = "auto") -> Project:
    """Render the whole project into ``out`` and return its description (see module docstring)."""
    out = Path(out)
    nodes = im.nodes
    check_supported(nodes)
    bounds = network_bounds(nodes, im.params)
    tiles = tilings(nodes, plan)
    blob, blob_manifest = weights_blob.pack(nodes, im.params, tiles)
    sections, blob_size, layout_id = weights_blob.layout(nodes, tiles)
    offs, slot_bytes = slot_layout(nodes)
    eng_bits = {e: _engine_acc_bits(e, nodes, plan, bounds) for e in PE_ENGINES}
    eng_bufs = {e: buffers_of(e, nodes, plan, bounds) for e in PE_ENGINES}
    reuse = {k: v for b in eng_bufs.values() for k, v in b.reuse.items()}
    images = {k: v for b in eng_bufs.values() for k, v in b.images.items()}
    pe = pe_source(pe_impl, plan.pe, {e: 32 if b <= 32 else 64 for e, b in eng_bits.items()}, exp_max, out / "src",
                   kk={e: b.kk for e, b in eng_bufs.items()})
    first, last = nodes[0], nodes[-1]
    in_bytes = first.in_ch * first.in_size**2
    n_classes = last.out_ch
    img_words, logit_words = first.in_ch * plane_words(first.in_size), _ceil(n_classes * 8, WORD)
    base = {"model_name": model_name}
    ctx = {
        **base, **engines_context(), "n_layers": len(nodes), "n_steps": len(plan.steps), "max_offset": plan.max_offset,
        "min_slots": plan.min_slots, "slot_words": slot_bytes // WORD, "in_ch": first.in_ch, "in_size": first.in_size,
        "input_bytes": in_bytes, "in_cs": plane_words(first.in_size), "num_classes": n_classes,
        "logit_words": logit_words, "blob_bytes": blob_size, "layout_id": f"{layout_id:016x}",
        "exp_max": exp_max, "max_images": 1024, "batch": plan.batch,
        "layer_rows": layer_rows(nodes, offs, sections, tiles, plan, reuse, images),
        "sched_rows": sched_rows(nodes, plan), "schedule_kind": plan.schedule_kind,
        "ports": top_ports(img_words, slot_bytes // WORD, plan.min_slots, blob_size // WORD, logit_words),
        "aliases": alias_groups(), "axi_latency": AXI_LATENCY, "maxi_outstanding": MAXI_OUTSTANDING,
        "min_periods": 1 + plan.max_offset, "max_periods": _ceil(1024, plan.batch) + plan.max_offset,
        "layer_names": [n.name for n in nodes], "layer_bytes": ", ".join(str(out_bytes(n)) for n in nodes),
        "layer_planes": ", ".join(str(out_plane_words(n) * WORD) for n in nodes),
        "abi_version": ABI_VERSION,
    }
    files: list[Path] = []
    src, tb = out / "src", out / "tb"
    _write(src / "nash_params.h", _hls("src/nash_params.h.j2", ctx), files)
    _write(src / "nash_top.h", _hls("src/nash_top.h.j2", ctx), files)
    _write(src / "top.cpp", _hls("src/top.cpp.j2", ctx), files)
    _write(src / "nash_common.h", templates.source("hls_templates/src/nash_common.h"), files)
    files.extend(pe.files)
    if pe.local:
        pe_ctx = base | {"exp_max": exp_max, "exp_bits": shift_exp_bits(exp_max)}
        _write(src / "pe_local.h", _hls("src/pe_local.h.j2", pe_ctx), files)
    engines = {}
    for eng in PE_ENGINES:
        ectx = engine_context(eng, nodes, plan, bounds, pe, exp_max)
        engines[eng] = {k: ectx[k] for k in ("tm", "tn", "acc_t", "acc_bits", "n_layers")}
        engines[eng] |= {"dw_lanes": ectx["dw"], "requant_lanes": ectx["rq"], "acc_mem": plan.memory(eng),
                         "acc_dw_mem": plan.memory(eng, "acc_dw"), "buffers": ectx["buffers"]}
        _write(src / f"{ectx['engine_fn']}.cpp", _hls("src/engine.cpp.j2", base | ectx), files)
    mctx = misc_context(nodes, plan.batch)
    _write(src / f"{mctx['engine_fn']}.cpp", _hls("src/engine_misc.cpp.j2", base | mctx), files)
    _write(tb / "nash_capi.h", templates.source("hls_templates/tb/nash_capi.h"), files)
    _write(tb / "nash_capi.cpp", _hls("tb/nash_capi.cpp.j2", ctx), files)
    _write(tb / "testbench.cpp", templates.source("hls_templates/tb/testbench.cpp"), files)
    for shim in ("hls_stream.h", "hls_burst_maxi.h"):
        _write(out / "compat" / shim, templates.source(f"hls_templates/compat/{shim}"), files)
    _write(out / "weights.bin", blob, files)
    _write(out / "weights_manifest.json", json.dumps(blob_manifest, indent=1) + "\n", files)
    # Testbench data: a few fixed random images and their golden logits from the numpy integer reference.
    rng = np.random.default_rng(0)
    tb_in = rng.integers(-128, 128, size=(TB_IMAGES, first.in_ch, first.in_size, first.in_size), dtype=np.int8)
    golden = np.asarray(run_network(nodes, im.params, tb_in), dtype="<i8")
    _write(out / "tb_data" / "inputs.bin", tb_in.tobytes(), files)
    _write(out / "tb_data" / "expected_logits.bin", golden.tobytes(), files)
    _write(out / "tb_data" / "weights.bin", blob, files)
    _write_tcl(out, model_name, plan, pe, files)
    h = hashlib.sha256()
    for f in sorted(files):
        rel = f.relative_to(out).as_posix()
        if rel.split("/")[0] in ("src", "tb", "compat"):
            h.update(rel.encode())
            h.update(f.read_bytes())
    manifest = {
        "format": "nash-hls-project", "version": 1, "model": model_name, "top": "nash_top",
        "plan": {"source": plan.source, "schedule": plan.schedule_kind, "part": plan.part, "clock_mhz": plan.clock_mhz,
                 "predicted_fps": plan.predicted_fps, "notes": plan.notes,
                 "steps": steps_to_json(plan.steps)},
        "engines": engines, "pe_arrays": pe.description, "slot_bytes": slot_bytes, "min_slots": plan.min_slots,
        "input_bytes": in_bytes, "num_classes": n_classes, "sources_sha256": h.hexdigest(),
        "layers": [{"name": n.name, "kind": n.kind, "op": n.op, "engine": plan.engine_of[n.name],
                    "out_offset": offs.get(n.name, -1), "out_shape": _out_shape(n),
                    "channel_stride": out_plane_words(n) * WORD,
                    "band_rows": buffers.band_rows(n.out_size, plan.tile(n.name)) if n.kind == "conv" else None,
                    "reuse": reuse[n.name] if n.kind == "conv" else None,  # the walk built (the section's)
                    "images": images.get(n.name, 1) if n.kind == "conv" else None,
                    "acc_bits": bounds[n.name]["acc_bits"]} for n in nodes],
    }
    _write(out / "project.json", json.dumps(manifest, indent=1) + "\n", files)
    ddr_buffers = {"images": {"bytes_per_image": img_words * WORD, "plane_bytes": plane_words(first.in_size) * WORD},
                   "activations": {"slot_bytes": slot_bytes, "min_slots": plan.min_slots},
                   "weights": {"bytes": blob_size}, "logits": {"bytes_per_image": logit_words * WORD,
                                                               "num_classes": n_classes}}
    inp = {"shape": [first.in_ch, first.in_size, first.in_size], "dtype": "int8", "layout": "NCHW",
           "scale": float(im.input_scale)}
    regs = register_map(ctx["top_arguments"], plan.clock_mhz, ddr_buffers, inp, ABI_VERSION, ip_names.ip_vlnv())
    _write(out / "register_map.json", json.dumps(regs, indent=1) + "\n", files)
    return Project(out, model_name, plan, manifest, h.hexdigest(), pe, files)


def _out_shape(n: Node) -> list[int]:
    if n.kind in ("gap", "fc"):
        return [n.out_ch]
    return [n.out_ch, n.out_size, n.out_size]


def _write_tcl(out: Path, model_name: str, plan: Plan, pe: PeSource, files: list[Path],
               steps: tuple[str, ...] = ("csim", "csynth", "cosim", "export")) -> None:
    srcs = [f"src/{f}" for f in SRC_FILES]
    ctx = {"model_name": model_name, **ip_names.template_context(), "src_files": srcs, "tb_files": list(TB_FILES),
           "cflags": "-std=c++14 -I$root/src", "tb_cflags": "-std=c++14 -I$root/src -I$root/tb "
           "-DNASH_TB_DATA=\\\"$root/tb_data\\\"",
           "part": plan.part, "period_ns": f"{1000.0 / plan.clock_mhz:.3f}", "axi_latency": AXI_LATENCY,
           # --pe-impl rtl: UG1399 RTL blackboxes (their C models are named inside the JSON, so not added here)
           "blackbox_jsons": pe.blackbox_jsons}
    _write(out / "run_hls.tcl", _tcl("run_hls.tcl.j2", ctx), files)
    write_options(out, steps, files)


def write_options(out: Path, steps: tuple[str, ...] | list[str], files: list[Path] | None = None) -> Path:
    """(Re)write options.tcl: which Vitis HLS steps run_hls.tcl runs."""
    text = _tcl("options.tcl.j2", {s: int(s in steps) for s in ("csim", "csynth", "cosim", "export")})
    path = Path(out) / "options.tcl"
    _write(path, text, files if files is not None else [])
    return path


def clean_sources(out: Path) -> None:
    """Remove previously rendered source folders so a re-render leaves no stale files."""
    for d in ("src", "tb", "compat"):
        shutil.rmtree(Path(out) / d, ignore_errors=True)
