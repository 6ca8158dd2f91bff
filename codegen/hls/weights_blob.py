"""The packed weights/scales blob the host loads into DDR (layout: ``docs/weights-blob.md``).

A 64-byte little-endian header (magic, version, header size, payload size, CRC32 of the payload, number of layers,
layout id), then per layer 64-byte-aligned sections, laid out in 16-byte words as the engines burst them
(conv-kind layers tile-major for the lanes of their engine, each channel's scales in one 16-byte record). Section
offsets are absolute byte offsets from the start of the blob; they are known at codegen time (they depend on the
architecture and the engines' lanes) and appear both in the generated layer table and in the JSON manifest. The
layout id (first 8 bytes of the SHA-256 of the section table, tilings included) ties a blob to the generated code
that indexes it.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from nash.frontend.core.errors import UserInputError
from nash.frontend.core.graph import Node
from nash.frontend.core.op_registry import SHIFT_EXP_MAX_LIMIT, op_spec, shift_exp_bits

MAGIC = b"NASHBLOB"
VERSION = 2
HEADER_SIZE = 64
ALIGN = 64
WORD = 16  # bytes per DDR word (the engines' m_axi beat)
RECORD = 16  # bytes per channel scale record: bias int64 [0, 8), multiplier int16 [8, 10), shift uint8 [10]
_HEADER = struct.Struct("<8sIIQIIQ")  # magic, version, header_size, payload_size, crc32, n_layers, layout_id

# Shift weights: one byte per weight, the PE arrays' code (sign & 3) << exp_bits | e with exp_bits =
# max(1, bit_length(E)); sign two's complement in 2 bits (+1 = 1, -1 = 3, 0 = 0), value sign * 2^-e.


class BlobError(UserInputError):
    """A weights blob that does not fit the generated code; the message names the problem."""


@dataclass(frozen=True)
class Tiling:
    """Lanes of the engine that runs a conv-kind layer: its section is laid out tile by tile for them."""

    tm: int
    tn: int
    dw: int


DEFAULT_TILING = Tiling(8, 8, 8)  # the plan's fallback 8 x 8 arrays (depthwise lanes = tn)


@dataclass(frozen=True)
class Walk:
    """The tile walk of a conv-kind layer task (docs/hls-codegen.md), shared by the blob and the engines."""

    n_out: int  # output tiles: groups x n_mt (standard) or channel tiles (depthwise)
    n_in: int  # input-channel tiles per output tile (1 for depthwise)
    n_mt: int  # output tiles per group (1 for depthwise)
    walk_cg: int  # input channels per walk group: C / g (standard) or the depthwise lanes
    lanes: int  # scale records per output tile: tm (standard) or the depthwise lanes
    kk: int  # k * k
    tile_words: int  # words per weight tile: kk x ceil(tm * tn / 16) or kk x ceil(dw / 16)

    @property
    def words(self) -> int:
        """Words of the layer's whole section: per output tile its records then its n_in weight tiles."""
        return self.n_out * (self.lanes + self.n_in * self.tile_words)


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def conv_walk(node: Node, t: Tiling) -> Walk:
    kk = node.kernel**2
    if node.depthwise:
        return Walk(_ceil(node.in_ch, t.dw), 1, 1, t.dw, t.dw, kk, kk * _ceil(t.dw, WORD))
    mg, cg = node.out_ch // node.groups, node.in_ch // node.groups
    n_mt = _ceil(mg, t.tm)
    return Walk(node.groups * n_mt, _ceil(cg, t.tn), n_mt, cg, t.tm, kk, kk * _ceil(t.tm * t.tn, WORD))


@dataclass(frozen=True)
class Section:
    layer: str
    name: str  # tiles | classes | scalars
    dtype: str  # uint8 (word-structured bytes) | int64
    offset: int  # absolute byte offset from the start of the blob
    count: int  # elements

    @property
    def nbytes(self) -> int:
        return self.count * (8 if self.dtype == "int64" else 1)


def section_specs(node: Node, tiling: Tiling = DEFAULT_TILING) -> list[tuple[str, str, int]]:
    """(name, dtype, count) of every section of a layer, in blob order."""
    if node.kind == "conv":
        return [("tiles", "uint8", conv_walk(node, tiling).words * WORD)]
    if node.kind == "add":
        return [("scalars", "int64", 3)]  # mult_a, mult_b, shift
    if node.kind == "gap":
        return [("scalars", "int64", 2)]  # mult, shift
    if node.kind == "fc":
        return [("classes", "uint8", node.out_ch * (1 + _ceil(node.in_ch, WORD)) * WORD)]
    raise BlobError(f"layer {node.name}: unknown kind {node.kind!r}")


def _align(v: int) -> int:
    return (v + ALIGN - 1) // ALIGN * ALIGN


def _tiling(tilings: Mapping[str, Tiling] | None, node: Node) -> Tiling:
    return (tilings or {}).get(node.name, DEFAULT_TILING)


def layout(nodes: list[Node], tilings: Mapping[str, Tiling] | None = None) -> tuple[list[Section], int, int]:
    """Sections of every layer, the total blob size and the layout id (which covers the tilings)."""
    sections, desc, off = [], [], HEADER_SIZE
    for n in nodes:
        t = _tiling(tilings, n) if n.kind == "conv" else None
        for name, dt, count in section_specs(n, t or DEFAULT_TILING):
            sections.append(Section(n.name, name, dt, off, count))
            desc.append([n.name, name, dt, off, count, None if t is None else [t.tm, t.tn, t.dw]])
            off = _align(off + count * (8 if dt == "int64" else 1))
    layout_id = int.from_bytes(hashlib.sha256(json.dumps(desc).encode()).digest()[:8], "little")
    return sections, off, layout_id


def scale_records(p: Mapping[str, np.ndarray]) -> np.ndarray:
    """uint8 [M, 16]: one record per output channel (bias int64, multiplier int16, shift uint8, zeros)."""
    bias = np.asarray(p["bias"], dtype="<i8").ravel()
    rec = np.zeros((bias.size, RECORD), dtype=np.uint8)
    rec[:, 0:8] = bias.view(np.uint8).reshape(-1, 8)
    if "mult" in p:
        rec[:, 8:10] = np.asarray(p["mult"], dtype="<i2").ravel().view(np.uint8).reshape(-1, 2)
        rec[:, 10] = np.asarray(p["shift"], dtype=np.int64).ravel().astype(np.uint8)
    return rec


def _pad_to(a: np.ndarray, axis: int, size: int) -> np.ndarray:
    pad = [(0, 0)] * a.ndim
    pad[axis] = (0, size - a.shape[axis])
    return np.pad(a, pad)


def _conv_tiles(node: Node, w: np.ndarray, rec: np.ndarray, t: Tiling) -> np.ndarray:
    """The tile-major section bytes: per output tile its scale records then its weight tiles, each weight tile
    [k*k][ceil(lanes / 16) words] with byte (m * tn + n) (standard) or n (depthwise) of each window position."""
    wk = conv_walk(node, t)
    kk = wk.kk
    if node.depthwise:
        x = _pad_to(w.reshape(node.in_ch, kk), 0, wk.n_out * t.dw).reshape(wk.n_out, t.dw, kk)
        x = _pad_to(x.transpose(0, 2, 1), 2, _ceil(t.dw, WORD) * WORD).reshape(wk.n_out, -1)
        r = _pad_to(rec, 0, wk.n_out * t.dw).reshape(wk.n_out, -1)
    else:
        g, mg, cg = node.groups, node.out_ch // node.groups, node.in_ch // node.groups
        x = w.reshape(g, mg, cg, kk)
        x = _pad_to(_pad_to(x, 1, wk.n_mt * t.tm), 2, wk.n_in * t.tn)
        x = x.reshape(g, wk.n_mt, t.tm, wk.n_in, t.tn, kk).transpose(0, 1, 3, 5, 2, 4)
        x = x.reshape(g, wk.n_mt, wk.n_in, kk, t.tm * t.tn)
        x = _pad_to(x, 4, _ceil(t.tm * t.tn, WORD) * WORD).reshape(wk.n_out, -1)
        r = _pad_to(rec.reshape(g, mg, RECORD), 1, wk.n_mt * t.tm).reshape(wk.n_out, -1)
    return np.concatenate([r, x], axis=1).ravel()


def _fc_classes(node: Node, p: Mapping[str, np.ndarray]) -> np.ndarray:
    """Per class: its record (bias) then its weight row padded to whole words."""
    w = (np.asarray(p["weight"], dtype=np.int64) & 0xFF).astype(np.uint8)
    w = _pad_to(w, 1, _ceil(node.in_ch, WORD) * WORD)
    return np.concatenate([scale_records(p), w], axis=1).ravel()


def encode_shift(sign: np.ndarray, exp: np.ndarray, exp_max: int) -> np.ndarray:
    """Pack shift weights (sign in {-1,0,1}, e in [0, E]) into one byte each; a zero weight is the code 0."""
    sign = np.asarray(sign, dtype=np.int64)
    exp = np.asarray(exp, dtype=np.int64)
    if np.any(np.abs(sign) > 1) or np.any((exp < 0) | (exp > min(exp_max, SHIFT_EXP_MAX_LIMIT))):
        raise BlobError(f"shift weights out of range (sign in {{-1,0,1}}, exponent in [0, {exp_max}])")
    code = ((sign & 3) << shift_exp_bits(exp_max)) | np.where(sign != 0, exp, 0)
    return code.astype(np.uint8)


def _conv_weight_bytes(node: Node, p: Mapping[str, np.ndarray]) -> np.ndarray:
    spec = op_spec(node.op)
    if spec.code_encoder:  # shift: (sign, e) -> one code byte
        w = spec.resolve("code_encoder")(*spec.weight_args(p))
    else:
        w = np.asarray(p["weight"])
        if w.min(initial=0) < -128 or w.max(initial=0) > 127:
            raise BlobError(f"layer {node.name} section tiles: weights outside int8")
    return (np.asarray(w, dtype=np.int64) & 0xFF).astype(np.uint8)


def _section_bytes(node: Node, p: Mapping[str, np.ndarray], s: Section, tiling: Tiling) -> bytes:
    if node.kind == "conv":
        v = _conv_tiles(node, _conv_weight_bytes(node, p), scale_records(p), tiling)
    elif node.kind == "fc":
        v = _fc_classes(node, p)
    elif node.kind == "add":
        v = np.array([int(p["mult_a"]), int(p["mult_b"]), int(p["shift"])], dtype="<i8")
    else:
        v = np.array([int(p["mult"]), int(p["shift"])], dtype="<i8")
    b = v.tobytes()
    if len(b) != s.nbytes:
        raise BlobError(f"layer {s.layer} section {s.name}: expected {s.nbytes} bytes, got {len(b)}")
    return b


def pack(nodes: list[Node], params: Mapping[str, Mapping[str, np.ndarray]],
         tilings: Mapping[str, Tiling] | None = None) -> tuple[bytes, dict]:
    """The blob and its JSON manifest for an integer model; ``tilings`` (layer name -> lanes of its engine,
    default 8 x 8) lays out the conv-kind sections for the generated engines."""
    sections, total, layout_id = layout(nodes, tilings)
    by_name = {n.name: n for n in nodes}
    buf = bytearray(total)
    for s in sections:
        node = by_name[s.layer]
        buf[s.offset:s.offset + s.nbytes] = _section_bytes(node, params[s.layer], s, _tiling(tilings, node))
    payload = bytes(buf[HEADER_SIZE:])
    crc = zlib.crc32(payload) & 0xFFFFFFFF
    buf[:_HEADER.size] = _HEADER.pack(MAGIC, VERSION, HEADER_SIZE, len(payload), crc, len(nodes), layout_id)
    manifest = {
        "format": "nash-weights-blob", "version": VERSION, "header_size": HEADER_SIZE, "alignment": ALIGN,
        "size": total, "payload_size": len(payload), "crc32": crc, "layout_id": f"{layout_id:016x}",
        "n_layers": len(nodes),
        "sections": [{"layer": s.layer, "name": s.name, "dtype": s.dtype, "offset": s.offset, "count": s.count}
                     for s in sections],
        "tilings": {k: {"tm": t.tm, "tn": t.tn, "dw": t.dw} for k, t in sorted((tilings or {}).items())},
    }
    return bytes(buf), manifest


def check(blob: bytes, layout_id: int | None = None, n_layers: int | None = None, source: str = "blob") -> dict:
    """Validate a blob's header and CRC (and, when given, that it matches the generated code's layout)."""
    if len(blob) < HEADER_SIZE:
        raise BlobError(f"{source}: {len(blob)} bytes, shorter than the {HEADER_SIZE}-byte header")
    magic, ver, hsize, psize, crc, nl, lid = _HEADER.unpack_from(blob)
    if magic != MAGIC:
        raise BlobError(f"{source}: bad magic {magic!r}, expected {MAGIC!r} (not a nash weights blob)")
    if ver != VERSION:
        raise BlobError(f"{source}: blob version {ver}, expected {VERSION}")
    if hsize != HEADER_SIZE:
        raise BlobError(f"{source}: header size {hsize}, expected {HEADER_SIZE}")
    if psize != len(blob) - HEADER_SIZE:
        raise BlobError(f"{source}: header says payload of {psize} bytes, file has {len(blob) - HEADER_SIZE} "
                        "(truncated or padded)")
    actual = zlib.crc32(blob[HEADER_SIZE:]) & 0xFFFFFFFF
    if actual != crc:
        raise BlobError(f"{source}: payload CRC32 {actual:08x} does not match the header's {crc:08x} (corrupted)")
    if n_layers is not None and nl != n_layers:
        raise BlobError(f"{source}: blob has {nl} layers, the generated code expects {n_layers}")
    if layout_id is not None and lid != layout_id:
        raise BlobError(f"{source}: layout id {lid:016x} does not match the generated code's {layout_id:016x} "
                        "(blob made for another architecture)")
    return {"version": ver, "payload_size": psize, "crc32": crc, "n_layers": nl, "layout_id": lid}
