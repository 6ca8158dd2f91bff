"""The packed weights/scales blob the host loads into DDR (layout: ``docs/weights-blob.md``).

A 64-byte little-endian header (magic, version, header size, payload size, CRC32 of the payload, number of layers,
layout id), then per layer 64-byte-aligned sections. Section offsets are absolute byte offsets from the start of the
blob; they are known at codegen time (they depend only on the architecture) and appear both in the generated layer
table and in the JSON manifest. The layout id (first 8 bytes of the SHA-256 of the section table) ties a blob to the
generated code that indexes it.
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
VERSION = 1
HEADER_SIZE = 64
ALIGN = 64
_HEADER = struct.Struct("<8sIIQIIQ")  # magic, version, header_size, payload_size, crc32, n_layers, layout_id

# Shift weights: one byte per weight, the PE arrays' code (sign & 3) << exp_bits | e with exp_bits =
# max(1, bit_length(E)); sign two's complement in 2 bits (+1 = 1, -1 = 3, 0 = 0), value sign * 2^-e.


class BlobError(UserInputError):
    """A weights blob that does not fit the generated code; the message names the problem."""


@dataclass(frozen=True)
class Section:
    layer: str
    name: str  # weight | mult | bias | shift | mult_a | mult_b | ...
    dtype: str  # int8 | uint8 | int64
    offset: int  # absolute byte offset from the start of the blob
    count: int  # elements

    @property
    def nbytes(self) -> int:
        return self.count * (8 if self.dtype == "int64" else 1)


def section_specs(node: Node) -> list[tuple[str, str, int]]:
    """(name, dtype, count) of every section of a layer, in blob order."""
    if node.kind == "conv":
        w = node.out_ch * (node.in_ch // node.groups) * node.kernel**2
        wdt = op_spec(node.op).code_dtype
        m = node.out_ch
        return [("weight", wdt, w), ("mult", "int64", m), ("bias", "int64", m), ("shift", "int64", m)]
    if node.kind == "add":
        return [("scalars", "int64", 3)]  # mult_a, mult_b, shift
    if node.kind == "gap":
        return [("scalars", "int64", 2)]  # mult, shift
    if node.kind == "fc":
        return [("weight", "int8", node.out_ch * node.in_ch), ("bias", "int64", node.out_ch)]
    raise BlobError(f"layer {node.name}: unknown kind {node.kind!r}")


def _align(v: int) -> int:
    return (v + ALIGN - 1) // ALIGN * ALIGN


def layout(nodes: list[Node]) -> tuple[list[Section], int, int]:
    """Sections of every layer, the total blob size and the layout id."""
    sections, off = [], HEADER_SIZE
    for n in nodes:
        for name, dt, count in section_specs(n):
            sections.append(Section(n.name, name, dt, off, count))
            off = _align(off + count * (8 if dt == "int64" else 1))
    desc = json.dumps([[s.layer, s.name, s.dtype, s.offset, s.count] for s in sections]).encode()
    layout_id = int.from_bytes(hashlib.sha256(desc).digest()[:8], "little")
    return sections, off, layout_id


def encode_shift(sign: np.ndarray, exp: np.ndarray, exp_max: int) -> np.ndarray:
    """Pack shift weights (sign in {-1,0,1}, e in [0, E]) into one byte each; a zero weight is the code 0."""
    sign = np.asarray(sign, dtype=np.int64)
    exp = np.asarray(exp, dtype=np.int64)
    if np.any(np.abs(sign) > 1) or np.any((exp < 0) | (exp > min(exp_max, SHIFT_EXP_MAX_LIMIT))):
        raise BlobError(f"shift weights out of range (sign in {{-1,0,1}}, exponent in [0, {exp_max}])")
    code = ((sign & 3) << shift_exp_bits(exp_max)) | np.where(sign != 0, exp, 0)
    return code.astype(np.uint8)


def _section_values(node: Node, p: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    if node.kind == "conv" and name == "weight":
        spec = op_spec(node.op)
        if spec.code_encoder:  # shift: (sign, e) -> one code byte
            return spec.resolve("code_encoder")(*spec.weight_args(p)).ravel()
        return np.asarray(p["weight"]).ravel()
    if node.kind == "add":
        return np.array([int(p["mult_a"]), int(p["mult_b"]), int(p["shift"])])
    if node.kind == "gap":
        return np.array([int(p["mult"]), int(p["shift"])])
    return np.asarray(p[name]).ravel()


def pack(nodes: list[Node], params: Mapping[str, Mapping[str, np.ndarray]]) -> tuple[bytes, dict]:
    """The blob and its JSON manifest for an integer model."""
    sections, total, layout_id = layout(nodes)
    by_name = {n.name: n for n in nodes}
    buf = bytearray(total)
    for s in sections:
        v = _section_values(by_name[s.layer], params[s.layer], s.name)
        if v.size != s.count:
            raise BlobError(f"layer {s.layer} section {s.name}: expected {s.count} values, got {v.size}")
        if s.dtype == "int8" and (v.min(initial=0) < -128 or v.max(initial=0) > 127):
            raise BlobError(f"layer {s.layer} section {s.name}: values outside int8")
        buf[s.offset:s.offset + s.nbytes] = np.asarray(v).astype(
            {"int8": "<i1", "uint8": "<u1", "int64": "<i8"}[s.dtype]).tobytes()
    payload = bytes(buf[HEADER_SIZE:])
    crc = zlib.crc32(payload) & 0xFFFFFFFF
    buf[:_HEADER.size] = _HEADER.pack(MAGIC, VERSION, HEADER_SIZE, len(payload), crc, len(nodes), layout_id)
    manifest = {
        "format": "nash-weights-blob", "version": VERSION, "header_size": HEADER_SIZE, "alignment": ALIGN,
        "size": total, "payload_size": len(payload), "crc32": crc, "layout_id": f"{layout_id:016x}",
        "n_layers": len(nodes),
        "sections": [{"layer": s.layer, "name": s.name, "dtype": s.dtype, "offset": s.offset, "count": s.count}
                     for s in sections],
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
