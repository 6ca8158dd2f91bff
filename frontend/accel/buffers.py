"""On-chip buffers of a conv-kind engine: the one size function codegen allocates and the model prices.

The generated engines (``hls_templates/src/engine.cpp.j2``, docs/hls-codegen.md) tile a layer's output into *row
bands*: ``band_rows(out_size, tr)`` output rows over the whole map width, so that every band starts on a 16-byte
word of each DDR channel plane (reads and writes stay whole-word bursts). Per engine they hold:

* ``xband`` / ``xband_dw``: the input band of one input-channel tile (or, where it fits, of all the tiles of a
  walk group: read once per band, see :func:`input_reuse`), ping-pong (the next band fills while the current one is
  used), one bank of 128-bit words per lane holding both halves (the fill writes a 16-byte word, 16 pixels of one
  channel, per cycle; the window read reads one word and selects the pixel's byte);
* ``wt`` / ``wd``: the weight tile, ping-pong (the next tile loads during the current MAC loop), one bank per PE (or
  depthwise lane);
* ``acc`` / ``acc_dw``: the accumulators of one band of ``tm`` (``dw``) output channels, one bank per lane (the
  drain reads ``rq`` lanes of one pixel per cycle), ping-pong per output tile in the bank's two halves (the previous
  tile drains while the next one accumulates), each in BRAM or URAM (``acc_mem`` for ``acc``, ``acc_dw_mem`` for
  ``acc_dw``: a few wide array lanes fit the URAM that many depthwise lanes would exhaust);
* ``rq_stage`` / ``rq_stage_dw``: the requant stage that transposes ``rq`` channels of one pixel per cycle into words
  of 16 pixels of one channel, ping-pong (one group requantises while the previous group's words leave): 16 byte
  banks, byte (lane l, pixel p) in bank (l + p) mod 16, ``2 rq ceil(pixels / 16)`` entries each.

With a design batch of B images per task (the section's ``batch``), a layer whose band is small beside these buffers
(sized by the engine's largest layer) folds several images into one pass (:func:`images_per_pass`): one weight tile
then serves ``nb`` images' band pixels. The buffers do not grow with B.

:func:`engine_buffers` returns every buffer's banks x depth x width and its BRAM18 / URAM / LUTRAM cost under the
mapping rules of :func:`memory_blocks` (UG573 block-RAM aspect ratios). Pure Python: ``frontend/accel`` (the model,
with numpy) and ``codegen`` (array sizes in the rendered C++) both call it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from math import gcd

from nash.frontend.core.graph import Node

WORD = 16  # bytes per DDR word (the engines' 128-bit m_axi beat)
BRAM18_MODES = ((1, 16384), (2, 8192), (4, 4096), (9, 2048), (18, 1024), (36, 512))  # (width, depth), UG573
URAM_MODE = (72, 4096)  # UG573
LUTRAM_MAX_BITS = 1024  # cost table lutram.max_bits: smaller banks map to distributed RAM
LUTRAM_BITS_PER_LUT = 64  # cost table lutram.bits_per_lut: one SLICEM LUT6 = 64 x 1
ACC_MEMORIES = ("bram", "uram")
# The accumulator memories of an engine as one small code (the model's Configs.acc_mem): code -> (acc, acc_dw).
# 0 and 1 keep their earlier meaning (both in BRAM, both in URAM); 2 and 3 split them.
ACC_MEM_CODES = (("bram", "bram"), ("uram", "uram"), ("uram", "bram"), ("bram", "uram"))
# The band buffers' rule (docs/accelerator-model.md, "Band buffers", chosen on benchmarks/accel_perf.py): a lane's
# word bank (both halves) is distributed RAM up to XBAND_LUTRAM_WORDS words (one LUT per bit of width), else block
# RAM, which costs the same 4 BRAM18 (512 x 36 mode) per bank up to 512 words; so a walk group's band is kept for
# every output tile (input reuse) while it fits XBAND_REUSE_WORDS words per half.
XBAND_LUTRAM_WORDS = 128
XBAND_REUSE_WORDS = 256


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def band_rows(out_size: int, tr: int) -> int:
    """Output rows per band of a layer for the requested tile side ``tr``: the multiple of ``16 / gcd(W, 16)`` rows
    (W = ``out_size``) nearest below ``tr`` (at least one such multiple), capped at the map, so that every band of
    every output channel plane starts on a whole DDR word."""
    a = WORD // gcd(out_size, WORD)
    return min(out_size, max(a, tr // a * a))


@dataclass(frozen=True)
class Band:
    """Band ``b`` of a layer: output rows [y0, y0 + rows), input words [w0, w0 + words) of each input plane."""

    y0: int
    rows: int
    w0: int
    words: int


def bands(node: Node, tr: int) -> list[Band]:
    """The row bands of a conv-kind layer (the generated code computes the same per band at run time)."""
    return list(_bands(node.out_size, node.in_size, node.stride, node.padding, node.kernel, tr))


@lru_cache(maxsize=1 << 16)
def _bands(r: int, h: int, s: int, p: int, k: int, tr: int) -> tuple[Band, ...]:
    """:func:`bands` of a layer geometry, memoised: the accelerator search asks for the same few geometries (a
    network's layers share them) for every configuration it prices."""
    rows = band_rows(r, tr)
    out = []
    for y0 in range(0, r, rows):
        nr = min(rows, r - y0)
        iy0, iy1 = max(0, y0 * s - p), min(h, (y0 + nr - 1) * s - p + k)
        w0, w1 = iy0 * h // WORD, _ceil(iy1 * h, WORD)
        out.append(Band(y0, nr, w0, w1 - w0))
    return tuple(out)


def walk_tiles(node: Node, tm: int, tn: int, dw: int) -> tuple[int, int]:
    """(input-channel tiles per walk group, output tiles per walk group) of a layer on a tm x tn array (depthwise:
    one tile of ``dw`` channels per group)."""
    if node.depthwise:
        return 1, 1
    return _ceil(node.in_ch // node.groups, tn), _ceil(node.out_ch // node.groups, tm)


def band_words(node: Node, tr: int) -> int:
    """Largest input band of one channel plane, in words."""
    return max(b.words for b in _bands(node.out_size, node.in_size, node.stride, node.padding, node.kernel, tr))


def input_reuse(node: Node, tr: int, tm: int, tn: int, dw: int, depth: int) -> bool:
    """True when the input band of all the tiles of a walk group fits ``depth`` words per lane: the band is then read
    once per band and group and reused by every output tile, else re-read for each output tile."""
    n_in, n_mt = walk_tiles(node, tm, tn, dw)
    return n_mt > 1 and n_in * band_words(node, tr) <= depth


@dataclass(frozen=True)
class Buffer:
    """One on-chip array of an engine: ``banks`` memories of ``depth`` x ``width_bits`` each."""

    name: str
    banks: int
    depth: int
    width_bits: int
    memory: str  # where it maps: "lutram", "bram" or "uram"
    bram18: int  # total over the banks
    uram: int
    lut: int  # LUTs of distributed RAM

    def as_dict(self) -> dict:
        return {"banks": self.banks, "depth": self.depth, "width_bits": self.width_bits, "memory": self.memory,
                "bram18": self.bram18, "uram": self.uram, "lut": self.lut}


def memory_blocks(banks: int, depth: int, width: int, uram: bool = False,
                  lutram_max_bits: float = LUTRAM_MAX_BITS,
                  bits_per_lut: float = LUTRAM_BITS_PER_LUT) -> tuple[str, int, int, int]:
    """(memory, bram18, uram, lut) of ``banks`` memories of ``depth`` x ``width`` bits: at most ``lutram_max_bits``
    per bank in distributed RAM, else URAM when asked, else the cheapest BRAM18 aspect ratio."""
    if banks <= 0 or depth <= 0:
        return "none", 0, 0, 0
    if depth * width <= lutram_max_bits:
        return "lutram", 0, 0, banks * _ceil(depth, int(bits_per_lut)) * width
    if uram:
        return "uram", 0, banks * _ceil(width, URAM_MODE[0]) * _ceil(depth, URAM_MODE[1]), 0
    return "bram", banks * min(_ceil(width, w) * _ceil(depth, d) for w, d in BRAM18_MODES), 0, 0


def acc_mem_code(acc_mem: str, acc_dw_mem: str) -> int:
    """The code of ACC_MEM_CODES for the memories of the array's (``acc``) and the depthwise lanes' (``acc_dw``)
    accumulators."""
    return ACC_MEM_CODES.index((acc_mem, acc_dw_mem))


@lru_cache(maxsize=1 << 16)  # immutable and pure: the accelerator search asks for the same bank shapes many times
def _buffer(name: str, banks: int, depth: int, width: int, uram: bool, lutram_max_bits: float,
            bits_per_lut: float) -> Buffer:
    """One buffer row mapped by :func:`memory_blocks`."""
    return Buffer(name, banks, depth, width, *memory_blocks(banks, depth, width, uram, lutram_max_bits, bits_per_lut))


def _layer_part(layers: Sequence[Node], tiles: Mapping[str, int]) -> tuple:
    """What :func:`engine_buffers` needs of the layers and their tiles alone: (tr per layer, standard layers,
    depthwise layers, accumulator pixels per lane of each, largest k * k of each)."""
    tr = {n.name: tiles.get(n.name, n.out_size) for n in layers}
    std = [n for n in layers if not n.depthwise]
    dws = [n for n in layers if n.depthwise]
    acc_px = max((band_rows(n.out_size, tr[n.name]) * n.out_size for n in std), default=0)
    acc_pxd = max((band_rows(n.out_size, tr[n.name]) * n.out_size for n in dws), default=0)
    kk = max((n.kernel**2 for n in std), default=0)
    kkd = max((n.kernel**2 for n in dws), default=0)
    return tr, std, dws, acc_px, acc_pxd, kk, kkd


@dataclass(frozen=True)
class EngineBuffers:
    """The buffers of one engine and the sizes the generated code declares."""

    buffers: tuple[Buffer, ...]
    xband_words: int  # words per lane of one half of the standard input band buffer
    xband_dw_words: int
    acc_pixels: int  # accumulator entries per output lane (largest band of the standard layers)
    acc_dw_pixels: int
    kk: int  # largest k * k of the standard layers (weight tile depth)
    kk_dw: int
    reuse: Mapping[str, bool]  # layer -> input band read once per band and group
    stage_depth: int = 0  # entries per byte bank of the requant stage: 2 halves x rq lanes x words per band plane
    stage_dw_depth: int = 0
    images: Mapping[str, int] = field(default_factory=dict)  # layer -> images per pass nb (empty: 1 each)
    # layer -> images per pass of the other walk (the input band re-read per output tile), for the layers with reuse
    # whose re-read band lets a pass fold more images than their reuse band: the two walks the accelerator stage
    # prices (model.EngineModel.layer_walks); empty at one image per task
    images_rereading: Mapping[str, int] = field(default_factory=dict)

    @property
    def bram18(self) -> int:
        return sum(b.bram18 for b in self.buffers)

    @property
    def bram36(self) -> int:
        return _ceil(self.bram18, 2)

    @property
    def uram(self) -> int:
        return sum(b.uram for b in self.buffers)

    @property
    def lut(self) -> int:
        return sum(b.lut for b in self.buffers)

    def as_dict(self) -> dict:
        return {b.name: b.as_dict() for b in self.buffers} | {
            "total": {"bram36": self.bram36, "uram": self.uram, "lut": self.lut}}


def images_per_pass(pix: int, words: int, batch: int, acc_pixels: int, band_half_words: int) -> int:
    """Images of a batch one pass of a layer handles (nb): the most images, at most ``batch``, whose band pixels
    (``pix``, the layer's largest band) fit the engine's ``acc_pixels`` accumulators per lane and whose band words
    (``words``: a plane's band words x the input tiles the band buffer keeps) fit its ``band_half_words`` words per
    lane and half. The requant stage and write_out go image by image, so they bound nothing; 1 when even two images
    do not fit."""
    return max(1, min(batch, acc_pixels // max(pix, 1), band_half_words // max(words, 1)))


def engine_buffers(layers: Sequence[Node], tiles: Mapping[str, int], tm: int, tn: int, dw: int, rq: int,
                   acc_bits: int = 32, weight_bits: int = 8, acc_mem: str = "bram",
                   lutram_max_bits: float = LUTRAM_MAX_BITS,
                   bits_per_lut: float = LUTRAM_BITS_PER_LUT, memo: dict | None = None, batch: int = 1, *,
                   acc_dw_mem: str | None = None) -> EngineBuffers:
    """Every buffer of the conv-kind engine that runs ``layers`` (conv-kind nodes) on a ``tm`` x ``tn`` array with
    ``dw`` depthwise lanes and ``rq`` requant lanes; ``tiles``: layer name -> its tile side ``tr`` (a layer without an
    entry uses its whole map); ``acc_mem``: "bram" or "uram" for the array's accumulators, ``acc_dw_mem`` for the
    depthwise lanes' (None: the same as ``acc_mem``); ``lutram_max_bits`` applies to
    every buffer but the band buffers, which follow their own rule (``XBAND_LUTRAM_WORDS``, ``XBAND_REUSE_WORDS``);
    ``batch``: images per task of the design (``images``: each layer's images per pass, :func:`images_per_pass`).

    ``memo``: a dict the caller keeps for one (``layers``, ``tiles``, ``lutram_max_bits``); the parts that depend on
    the layers alone and the band part, which depends on (tm, tn, dw) only, are computed once per key there (the
    accelerator search prices thousands of configurations; the result is the same with or without it)."""
    acc_dw_mem = acc_mem if acc_dw_mem is None else acc_dw_mem
    for what, mem in (("acc_mem", acc_mem), ("acc_dw_mem", acc_dw_mem)):
        if mem not in ACC_MEMORIES:
            raise ValueError(f"{what}: expected one of {list(ACC_MEMORIES)}, got {mem!r}")
    dw, rq = max(1, dw), max(1, rq)
    memo = {} if memo is None else memo
    if "layers" not in memo:
        memo["layers"] = _layer_part(layers, tiles)
    tr, std, dws, acc_px, acc_pxd, kk, kkd = memo["layers"]
    # One input tile per lane is the least the band buffer holds; a layer whose whole walk group fits that depth
    # (or the reuse depth of the rule) keeps it for all its output tiles.
    cap = XBAND_REUSE_WORDS

    def band_depth(group: list[Node]) -> tuple[int, dict[str, bool]]:
        need = max((band_words(n, tr[n.name]) for n in group), default=0)
        limit = max(need, cap)
        reuse = {n.name: input_reuse(n, tr[n.name], tm, tn, dw, limit) for n in group}
        depth = max((band_words(n, tr[n.name]) * (walk_tiles(n, tm, tn, dw)[0] if reuse[n.name] else 1)
                     for n in group), default=0)
        return depth, reuse

    band_key = ("band", tm, tn, dw)
    if band_key not in memo:
        memo[band_key] = band_depth(std), band_depth(dws)
    (xw, reuse), (xwd, reuse_d) = memo[band_key]
    sd, sdd = 2 * rq * _ceil(acc_px, WORD), 2 * rq * _ceil(acc_pxd, WORD)
    u, ud = acc_mem == "uram", acc_dw_mem == "uram"
    rows = (
        ("xband", tn, 2 * xw, WORD * 8, False),
        ("xband_dw", dw, 2 * xwd, WORD * 8, False),
        ("wt", 2 * tm * tn, kk, weight_bits, False),
        ("wd", 2 * dw, kkd, weight_bits, False),
        ("acc", tm, 2 * acc_px, acc_bits, u),
        ("acc_dw", dw, 2 * acc_pxd, acc_bits, ud),
        ("rq_stage", WORD, sd, 8, False),
        ("rq_stage_dw", WORD, sdd, 8, False),
    )
    xlut = XBAND_LUTRAM_WORDS * WORD * 8  # the band banks' own rule: bits of the deepest one in distributed RAM
    bufs = tuple(_buffer(name, banks, depth, width, uram, xlut if name.startswith("xband") else lutram_max_bits,
                         bits_per_lut) for name, banks, depth, width, uram in rows if depth > 0)
    buf = EngineBuffers(bufs, xw, xwd, acc_px, acc_pxd, kk, kkd, reuse | reuse_d, sd, sdd)
    return with_images(layers, tiles, buf, tn, batch, memo) if batch > 1 else buf


def _passes(layers: Sequence[Node], tiles: Mapping[str, int], memo: dict) -> dict[str, tuple[int, int, int, bool]]:
    """Per layer (band pixels, band words of one plane, input channels per group, depthwise), once per memo key."""
    if "passes" not in memo:
        tr = {n.name: tiles.get(n.name, n.out_size) for n in layers}
        memo["passes"] = {n.name: (band_rows(n.out_size, tr[n.name]) * n.out_size, band_words(n, tr[n.name]),
                                   n.in_ch // n.groups, n.depthwise) for n in layers}
    return memo["passes"]


def _pass_bounds(buf: EngineBuffers, dwise: bool) -> tuple[int, int]:
    """(accumulator pixels per lane, band buffer words per lane and half) of the path a layer runs on."""
    return (buf.acc_dw_pixels, buf.xband_dw_words) if dwise else (buf.acc_pixels, buf.xband_words)


def with_images(layers: Sequence[Node], tiles: Mapping[str, int], buf: EngineBuffers, tn: int, batch: int,
                memo: dict | None = None) -> EngineBuffers:
    """``buf`` (the engine's buffers, which do not depend on the batch) with each layer's images per pass at
    ``batch`` images per task (:func:`images_per_pass`) under its walk ``buf.reuse``, and, for the layers with
    reuse, the images per pass of the re-reading walk where they are more (``images_rereading``: one tile's band
    per image instead of the walk group's, in the same buffers); ``memo``: as :func:`engine_buffers`' (same key)."""
    memo = {} if memo is None else memo
    images, rereading = {}, {}
    for name, (pix, words, cg, dwise) in _passes(layers, tiles, memo).items():
        kept = _ceil(cg, tn) if buf.reuse[name] and not dwise else 1  # walk_tiles' input tiles, kept with reuse
        acc, half = _pass_bounds(buf, dwise)
        images[name] = images_per_pass(pix, words * kept, batch, acc, half)
        if kept > 1:
            alone = images_per_pass(pix, words, batch, acc, half)
            if alone > images[name]:
                rereading[name] = alone
    return replace(buf, images=images, images_rereading=rereading)


def with_walks(layers: Sequence[Node], tiles: Mapping[str, int], buf: EngineBuffers, tn: int, batch: int,
               reuse: Mapping[str, bool], images: Mapping[str, int]) -> EngineBuffers:
    """``buf`` with the walks a design chose (the accelerator section's ``layers.<name>.reuse`` / ``images``):
    ``reuse`` per layer (a layer not in it keeps the rule's), ``images`` per layer (a layer not in it: the most that
    its walk fits, :func:`with_images`). Whether they fit the buffers is :func:`walk_problem`'s question."""
    names = {n.name for n in layers}
    walked = replace(buf, reuse={**buf.reuse, **{k: bool(v) for k, v in reuse.items() if k in names}})
    walked = with_images(layers, tiles, walked, tn, batch)
    return replace(walked, images={**walked.images, **{k: int(v) for k, v in images.items() if k in names}},
                   images_rereading={})


def walk_problem(node: Node, tr: int, tn: int, buf: EngineBuffers, batch: int, reuse: bool, nb: int
                 ) -> tuple[str, str] | None:
    """Why a layer cannot run ``nb`` images per pass with input reuse ``reuse`` in the engine's buffers ``buf`` at
    ``batch`` images per task, as (field, problem); None when it can: a pass's images are at most the batch, their
    band pixels fit the accumulators and the band words its walk keeps (the walk group's input tiles with reuse, one
    tile without) fit one half of the band buffer (the generated code declares exactly ``buf``'s arrays)."""
    pix, words = band_rows(node.out_size, tr) * node.out_size, band_words(node, tr)
    acc, half = _pass_bounds(buf, node.depthwise)
    if node.depthwise and reuse:
        return "reuse", "a depthwise layer has no input reuse (each channel tile is its own walk group): expected false"
    if nb > batch:
        return "images", f"{nb} images per pass exceed the section's batch {batch}"
    if nb * pix > acc:
        return "images", f"{nb} images x {pix} band pixels exceed the engine's {acc} accumulator pixels a lane"
    kept = _ceil(node.in_ch // node.groups, tn) if reuse else 1  # walk_tiles' input tiles
    if nb * kept * words > half:
        what = f"{kept} input tiles x {words} band words (input reuse)" if reuse else f"{words} band words"
        return ("reuse" if reuse and kept * words > half else "images",
                f"{nb} images x {what} exceed the engine's band buffer of {half} words a lane and half")
    return None
