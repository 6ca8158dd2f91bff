"""Analytical model of the chunk accelerator: per-layer cycles and per-engine resources.

Engines: ``conv`` (int8 MACs on DSP48E2, one per DSP), ``shift`` and ``adder`` (LUT fabric), each a Tm x Tn PE array
for standard / pointwise layers plus ``dw`` channel-parallel lanes for depthwise layers, with output row bands of
``tr`` rows over the whole width (buffers.band_rows), ``rq`` requant lanes in the store path and one m_axi port;
``misc`` runs residual add, global pooling and the classifier.

The cycle model follows the loop nests the HLS templates emit (hls_templates/src/engine.cpp.j2, engine_misc.cpp.j2):
a layer task is a DATAFLOW region of processes (read_x, read_w, pad_x, compute, requant_out, write_out); each process
is a sequence of pipelined loops, a pipelined loop costs depth + (trip - 1) x II, every loop over an m_axi pointer
adds the DDR round trip (the board's ``ddr.latency_cycles``), and the region costs its slowest process plus the
start-up fill of the others. Every term is written out in docs/accelerator-model.md; the functions are vectorised
over many engine configurations at once (the search evaluates thousands).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache

import numpy as np
from nash.frontend.accel.array_cost import array_price
from nash.frontend.accel.board import Board
from nash.frontend.accel.buffers import (
    ACC_MEM_CODES,
    Band,
    EngineBuffers,
    acc_mem_code,
    bands,
    engine_buffers,
    with_images,
)
from nash.frontend.accel.calibration import PeTiming
from nash.frontend.accel.cost_table import CostTable, unit_scale
from nash.frontend.core.graph import Node
from nash.frontend.core.op_registry import MISC_ENGINE, PE_ENGINES, engine_spec, op_spec

TILES = (4, 8, 16, 32)  # output tile side Tr = Tc candidates
# The generated engines tile every layer into row bands (hls_templates/src/engine.cpp.j2, issue 12): a configuration's
# tile side is every layer's tr (capped at its map). False prices whole-map walks only (one band per layer).
SPATIAL_TILES = True
RES = ("dsp", "lut", "ff", "bram18", "uram")  # internal resource vector (BRAM counted in 18K halves: additive)
ACC_BITS = 32
WORD = 16  # bytes per m_axi beat: the engines move 128-bit words
CHUNK = 64  # words per residual-add read chunk (engine_misc.cpp.j2: one maximum-length AXI burst per input)
PROCESSES = ("read_x", "read_w", "pad_x", "compute", "requant_out", "write_out")  # a PE layer task's processes
OUTSTANDING = 16  # m_axi requests in flight per port and direction (codegen render.MAXI_OUTSTANDING, the pragmas)


def engine_of(node: Node) -> str:
    """The engine that runs a layer: conv-kind layers by op type, everything else on the misc unit."""
    return op_spec(node.op).engine if node.kind == "conv" else MISC_ENGINE


@dataclass
class Configs:
    """Engine configurations as parallel integer arrays (one entry per configuration)."""

    tm: np.ndarray
    tn: np.ndarray
    dw: np.ndarray  # depthwise lanes (0 when the engine has no depthwise layer)
    tile: np.ndarray  # largest output tile side the buffers hold
    rq: np.ndarray  # requant lanes
    acc_mem: np.ndarray  # accumulator memories, a code of buffers.ACC_MEM_CODES: 0 both BRAM, 1 both URAM,
    # 2 the array's (acc) in URAM and the depthwise lanes' (acc_dw) in BRAM, 3 the reverse

    @classmethod
    def from_rows(cls, rows: list[tuple]) -> Configs:
        n = len(fields(cls))
        a = np.array(rows, dtype=np.int64).reshape(-1, n)
        return cls(*(a[:, i].copy() for i in range(n)))

    def __len__(self) -> int:
        return len(self.tm)

    def take(self, idx) -> Configs:
        return Configs(*(getattr(self, f.name)[idx] for f in fields(self)))

    def row(self, i: int) -> tuple:
        return tuple(int(getattr(self, f.name)[i]) for f in fields(self))

    def rows(self) -> list[tuple]:
        """Every configuration as a row of Python ints (what :meth:`row` gives, for all at once)."""
        return list(zip(*(getattr(self, f.name).tolist() for f in fields(self)), strict=True))


def config_dict(row: tuple) -> dict:
    """A configuration row as the accelerator section's engine fields."""
    tm, tn, dw, tile, rq, mem = row
    acc, acc_dw = ACC_MEM_CODES[mem]
    return {"tm": tm, "tn": tn, "dw_lanes": dw, "tr": tile, "requant_lanes": rq, "acc_mem": acc,
            "acc_dw_mem": acc_dw}


def config_row(cfg: dict) -> tuple:
    """The configuration row of an accelerator section's engine fields (the inverse of :func:`config_dict`)."""
    return (cfg["tm"], cfg["tn"], cfg["dw_lanes"], cfg["tr"], cfg["requant_lanes"],
            acc_mem_code(cfg["acc_mem"], cfg["acc_dw_mem"]))


def _ceil(a, b):
    return -(-a // b)


@dataclass(frozen=True)
class LoopTiming:
    """The timing constants of the loop nests: DDR round trip, pipeline depths, and beat cost.

    ``lat``: cycles from an m_axi request to its first beat (the board's ``ddr.latency_cycles``), paid once per
    inferred burst loop (read_w, the misc unit) and once per manual-burst stream (:func:`maxi_stream`). ``beat``:
    cycles per 16-byte word of a burst (1, or more when the DDR share of the port is below 16 bytes per cycle).
    Depths (cost table ``cycles.*_depth``): ``io`` read / write / buffer-copy / drain / scale-record loops, ``rq``
    the requant loop, ``dw`` the depthwise lane loop, ``misc`` the misc unit's loops, ``acc`` the accumulator
    add after the PE array.
    """

    lat: float
    beat: float
    io: float
    rq: float
    dw: float
    misc: float
    acc: float

    @classmethod
    def of(cls, board: Board, table: CostTable, bw: float) -> LoopTiming:
        return cls(float(board.ddr_latency_cycles), max(1.0, WORD / float(bw)), table["cycles.io_depth"],
                   table["cycles.requant_depth"], table["cycles.dw_depth"], table["cycles.misc_depth"],
                   table["cycles.acc_depth"])

    def pipe(self, trip, depth, ii=1):
        """A pipelined loop: depth + (trip - 1) x II (0 cycles when it does not run)."""
        return np.where(np.asarray(trip) > 0, depth + (np.asarray(trip) - 1) * ii, 0)

    def burst(self, words, depth):
        """A loop over an m_axi pointer: the round trip, then ``words`` beats through a pipeline of ``depth``."""
        return np.where(np.asarray(words) > 0, self.lat + depth + (np.asarray(words) - 1) * self.beat, 0)


def maxi_stream(runs: tuple[tuple[int, float], ...], lat: float, read: bool, n: int = OUTSTANDING) -> float:
    """Cycles of a manual-burst stream (engine.cpp.j2 read_planes / write_out, hls::burst_maxi): ``runs`` = ((count,
    cycles), ...) in issue order, each run one request whose words take ``cycles`` (its pipelined loop). Run k starts
    when run k - 1 is done and, for k >= n, ``lat`` after run k - n ended (a read requests run k when run k - n ends;
    a write takes run k - n's response before requesting run k); the first n reads are requested at the start (their
    data ``lat`` later); a write stream ends with its last response, ``lat`` after its last word. The same rule as the
    code-derived count (nash_common.h ``cyc::Burst``)."""
    runs = tuple((int(c), float(t)) for c, t in runs if c > 0)
    if not runs:
        return 0.0
    total = sum(c * t for c, t in runs)
    if (n - 1) * min(t for _, t in runs) >= lat:  # every n - 1 runs outlast a round trip: no run ever waits
        return lat + total
    return _maxi_walk(runs, float(lat), read, n)


@lru_cache(maxsize=4096)
def _maxi_walk(runs: tuple[tuple[int, float], ...], lat: float, read: bool, n: int) -> float:
    """:func:`maxi_stream` run by run (streams where a round trip outlasts n - 1 runs)."""
    ends = [0.0] * n
    t, k = 0.0, 0
    for count, cycles in runs:
        for _ in range(count):
            ready = ends[k % n] + lat if k >= n else (lat if read else 0.0)
            t = max(t, ready) + cycles
            ends[k % n] = t
            k += 1
    return t if read else t + lat


def region(procs: list[tuple[np.ndarray, float | np.ndarray]]) -> np.ndarray:
    """A DATAFLOW region of (cycles, fill) processes: the slowest process plus the fill (start-up delay) of every
    other one (the code-derived count's rule, docs/hls-codegen.md)."""
    cyc = np.stack(np.broadcast_arrays(*[c for c, _ in procs]))
    fill = np.stack(np.broadcast_arrays(*[np.asarray(f, dtype=float) for _, f in procs], cyc[0]))[:-1]
    k = np.argmax(cyc, axis=0)
    slow_fill = np.take_along_axis(fill, k[None], axis=0)[0]
    return cyc.max(axis=0) + fill.sum(axis=0) - slow_fill


class EngineModel:
    """Cycles and resources of one engine over its layers, for arrays of configurations."""

    def __init__(self, engine: str, layers: list[Node], board: Board, table: CostTable, pe: PeTiming, bw: float):
        assert engine in PE_ENGINES
        self.engine, self.layers, self.board, self.t, self.pe, self.bw = engine, layers, board, table, pe, float(bw)
        self.timing = LoopTiming.of(board, table, bw)
        self.std = [n for n in layers if not n.depthwise]
        self.dws = [n for n in layers if n.depthwise]
        self.is_dw = np.array([n.depthwise for n in layers], dtype=bool)

        def arr(attr):
            return np.array([getattr(n, attr) for n in layers], dtype=np.int64)

        self.R, self.K, self.S = arr("out_size"), arr("kernel"), arr("stride")
        self.H, self.pad = arr("in_size"), arr("padding")
        self.G = np.where(self.is_dw, 1, arr("groups"))
        self.M = arr("out_ch") // self.G
        self.N = arr("in_ch") // self.G
        self.C_out = arr("out_ch")
        self._pe_cache: dict[tuple[int, int], tuple[int, int]] = {}
        self._buf_cache: dict[tuple, EngineBuffers] = {}
        self._buf_memo: dict[int, tuple[dict, dict]] = {}  # tile side -> (layer tiles, engine_buffers' memo)
        self._band_cache: dict[tuple[int, int], list[Band]] = {}
        self._stream_cache: dict[tuple, tuple[float, float]] = {}  # (layer, tr, lanes, nb, reuse) -> read_x, write

    @property
    def has_dw(self) -> bool:
        return bool(self.dws)

    def pe_timing(self, tm: np.ndarray, tn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lat, ii = np.empty(len(tm), np.int64), np.empty(len(tm), np.int64)
        for i, (a, b) in enumerate(zip(tm.tolist(), tn.tolist(), strict=True)):
            key = (a, b)
            if key not in self._pe_cache:
                self._pe_cache[key] = (self.pe.latency(self.engine, a, b), self.pe.ii(self.engine, a, b))
            lat[i], ii[i] = self._pe_cache[key]
        return lat, ii

    def tile_sides(self) -> tuple[int, ...]:
        """The output tile sides ``tr`` a configuration may give its layers: TILES with spatial tiling (row bands of
        :func:`~nash.frontend.accel.buffers.band_rows` rows), else the whole map (the engine's largest map)."""
        return TILES if SPATIAL_TILES else (int(self.R.max()),)

    def layer_tiles(self, tile: int) -> dict[str, int]:
        """The ``tr`` of every layer for a configuration of tile side ``tile``: that side, capped at the layer's map
        (the engines round it to whole-word row bands)."""
        return {n.name: min(int(tile), n.out_size) for n in self.layers}

    def engine_buffers(self, row: tuple, batch: int = 1) -> EngineBuffers:
        """The buffers codegen allocates for a configuration row (tm, tn, dw, tile, rq, acc_mem) in a design of
        ``batch`` images per task: the one buffer function :func:`nash.frontend.accel.buffers.engine_buffers`, cached
        per configuration (the search asks for the same rows many times)."""
        key = tuple(int(v) for v in row)
        tm, tn, dw, tile, rq, mem = key
        if tile not in self._buf_memo:  # engine_buffers' memo of one (layers, tiles)
            self._buf_memo[tile] = (self.layer_tiles(tile), {})
        tiles, memo = self._buf_memo[tile]
        if key not in self._buf_cache:
            self._buf_cache[key] = engine_buffers(
                self.layers, tiles, tm, tn, dw, rq, ACC_BITS, 8, ACC_MEM_CODES[mem][0], self.t["lutram.max_bits"],
                self.t["lutram.bits_per_lut"], memo=memo, acc_dw_mem=ACC_MEM_CODES[mem][1])
        if batch <= 1:
            return self._buf_cache[key]
        bkey = (*key, int(batch))  # the same buffers, with the layers' images per pass at this batch
        if bkey not in self._buf_cache:
            self._buf_cache[bkey] = with_images(self.layers, tiles, self._buf_cache[key], tn, int(batch), memo)
        return self._buf_cache[bkey]

    def _bands(self, i: int, tr: int) -> list[Band]:
        key = (i, tr)
        if key not in self._band_cache:
            self._band_cache[key] = bands(self.layers[i], tr)
        return self._band_cache[key]

    def layer_cycles(self, c: Configs, batch: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """(cycles [n, L], tile side tr [n, L]) of :meth:`layer_walks`: every layer runs in row bands of the
        configuration's tile side (capped at its map), in the walk of the fewer cycles."""
        cyc, tiles, _, _ = self.layer_walks(c, batch)
        return cyc, tiles

    def layer_walks(self, c: Configs, batch: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(cycles [n, L], tile side tr [n, L], input reuse [n, L], images per pass nb [n, L]) of every layer: row
        bands of the configuration's tile side (capped at its map), the input reuse the configuration's buffers allow;
        a task serves ``batch`` images in ceil(batch / nb) passes of nb images each, each pass one DATAFLOW region
        (the engine function's pass loop), the last one over the rest of the batch.

        The walk is decided here, once per configuration and batch, by pricing: a layer with reuse whose re-reading
        walk (input band re-read per output tile, one tile's band per image in the same buffers) folds more images
        into a pass (``buffers.images_rereading``) runs that walk when its task takes fewer cycles (ties: reuse).
        Only those layers are priced twice, so the search stays fast; at equal images per pass the reuse walk is
        kept (it reads each input band once instead of once per output tile)."""
        n, L = len(c), len(self.layers)
        lat_a, ii_a = self.pe_timing(c.tm, c.tn)
        cyc = np.zeros((n, L))
        tiles = np.minimum(np.asarray(c.tile, np.int64)[:, None], self.R[None, :])
        reuse = np.zeros((n, L), dtype=bool)
        nb = np.ones((n, L), dtype=np.int64)
        nb_reread = np.zeros((n, L), dtype=np.int64)  # images per pass of the re-reading walk; 0: not offered
        for k, row in enumerate(c.rows()):  # one buffer look-up per configuration
            b = self.engine_buffers(row, batch)
            reuse[k] = [b.reuse[m.name] for m in self.layers]
            nb[k] = [b.images.get(m.name, 1) for m in self.layers]
            if b.images_rereading:
                nb_reread[k] = [b.images_rereading.get(m.name, 0) for m in self.layers]
        dw = np.maximum(c.dw, 1)

        def task(k, i, side, walk_reuse, walk_nb):  # a task of `batch` images: full passes + the rest
            args = (c.tm[k], c.tn[k], dw[k], c.rq[k], walk_reuse, lat_a[k], ii_a[k])
            full, rest = batch // walk_nb, batch % walk_nb
            out = full * self.task_cycles(i, side, *args, walk_nb)
            if np.any(rest > 0):  # the last pass over the batch's remaining images
                out = out + np.where(rest > 0, self.task_cycles(i, side, *args, np.maximum(rest, 1)), 0.0)
            return out

        for side in np.unique(tiles):
            sel_k, sel_i = np.nonzero(tiles == side)
            for i in np.unique(sel_i):
                k = sel_k[sel_i == i]
                cyc[k, i] = task(k, i, int(side), reuse[k, i], nb[k, i])
                alt = k[nb_reread[k, i] > 0]
                if len(alt):  # price the re-reading walk only where its read_x alone does not already lose
                    alt = alt[self._rereading_floor(i, int(side), c.tm[alt], c.tn[alt], batch) < cyc[alt, i]]
                if len(alt):
                    other = task(alt, i, int(side), np.zeros(len(alt), bool), nb_reread[alt, i])
                    win = other < cyc[alt, i]
                    cyc[alt[win], i] = other[win]
                    reuse[alt[win], i] = False
                    nb[alt[win], i] = nb_reread[alt[win], i]
        return cyc, tiles, reuse, nb

    def walks(self, row: tuple, batch: int = 1) -> tuple[dict[str, bool], dict[str, int]]:
        """(input reuse, images per pass) per layer of a configuration row at ``batch`` images per task: the walks
        :meth:`layer_walks` prices and decides (what the accelerator section records, and codegen builds)."""
        _, _, reuse, nb = self.layer_walks(Configs.from_rows([row]), batch)
        return ({m.name: bool(v) for m, v in zip(self.layers, reuse[0], strict=True)},
                {m.name: int(v) for m, v in zip(self.layers, nb[0], strict=True)})

    def _rereading_floor(self, i: int, tr: int, tm, tn, batch: int) -> np.ndarray:
        """A lower bound of the re-reading walk's task over ``batch`` images for standard layer ``i``: its read_x
        alone (every pass a DATAFLOW region at least as long as its slowest process), which re-reads each image's
        bands once per output tile whatever the images per pass, every word at least one beat of the port (a run of
        w words takes io + (w - 1) beat >= w beat, :meth:`_runs`): batch x n_mt x (one image's band words) x beat."""
        node = self.layers[i]
        n_mt = _ceil(node.out_ch // node.groups, tm)
        words = node.in_ch * sum(band.words for band in self._bands(i, tr))
        return batch * n_mt * words * self.timing.beat

    def task_cycles(self, i: int, tr: int, tm, tn, dw, rq, reuse, pe_lat, pe_ii, nb=1) -> np.ndarray:
        """Cycles of one pass of layer ``i`` over ``nb`` images with row bands of side ``tr``, for arrays of
        configurations: the DATAFLOW region of run_standard / run_depthwise (hls_templates/src/engine.cpp.j2),
        process by process, band by band (docs/accelerator-model.md). Per (band, output tile, input tile) one weight
        tile serves the nb images' band pixels; the reads, drains, requant groups and writes go image by image."""
        return region(self.task_processes(i, tr, tm, tn, dw, rq, reuse, pe_lat, pe_ii, nb))

    def task_processes(self, i: int, tr: int, tm, tn, dw, rq, reuse, pe_lat, pe_ii, nb=1) -> list[tuple]:
        """The processes of :meth:`task_cycles`' DATAFLOW region as (cycles, fill) pairs, in the order of
        :data:`PROCESSES` (what :func:`region` prices; benchmarks read which one is the slowest)."""
        T = self.timing
        node = self.layers[i]
        bl = self._bands(i, tr)
        tm, tn, dw, rq = (np.asarray(v, np.int64) for v in (tm, tn, dw, rq))
        nb = np.broadcast_to(np.asarray(nb, np.int64), tm.shape)
        reuse = np.asarray(reuse, bool)
        R, kk = node.out_size, node.kernel**2
        lat, io, beat = T.lat, T.io, T.beat
        if node.depthwise:  # dw-lane channel tiles, each its own walk group (no reuse)
            C = node.out_ch
            n_out = _ceil(C, dw)
            n_in, n_mt, n_grp, lanes, cg = np.ones_like(dw), np.ones_like(dw), n_out, dw, C
            ww = _ceil(dw, WORD)  # weight words per window position
            d_mac = np.full(len(dw), T.dw)
            # pad_x units of a band: every channel tile in turn; channels of each (count, channels)
            units = [(n_out - 1, dw), (np.ones_like(dw), C - (n_out - 1) * dw)]
            c_first = np.minimum(dw, C)
            u_band = n_out
            emit_k = np.ones_like(dw)
            reuse = np.zeros_like(reuse)
            out_tiles = [(n_out - 1, dw), (np.ones_like(dw), C - (n_out - 1) * dw)]  # (count, channels) per band
        else:
            G = node.groups
            cg, mg = node.in_ch // G, node.out_ch // G
            n_in, n_mt = _ceil(cg, tn), _ceil(mg, tm)
            n_out, n_grp, lanes = G * n_mt, np.full(len(tm), G), tm
            ww = _ceil(tm * tn, WORD)
            d_mac = pe_lat + T.acc
            last = cg - (n_in - 1) * tn
            rep = np.where(reuse, 1, G * n_mt)  # pad_x units per band
            units = [(np.where(reuse, 0, rep * (n_in - 1)), tn), (np.where(reuse, G, rep), np.where(reuse, cg, last))]
            c_first = np.where(reuse, cg, np.minimum(tn, cg))
            u_band = np.where(reuse, G, rep * n_in)
            emit_k = np.where(reuse, n_mt * n_in, 1)  # tiles whose windows one unit emits
            out_tiles = [(G * (n_mt - 1), tm), (np.full(len(tm), G), mg - (n_mt - 1) * tm)]
        w_tile = kk * ww

        read_w = pad_x = requant = np.zeros(len(tm))
        compute = io + kk * ww - 1.0  # load_w: the first weight tile
        pad_x = np.where(c_first * bl[0].words > 0, io + nb * c_first * bl[0].words - 1, 0).astype(float)
        (n_full, m_full), (n_last, m_last) = out_tiles  # per band: full output tiles, then per group its last one

        def mac_loop(trip):  # one MAC loop (compute_std's mac / compute_dw's dw_mac)
            return d_mac + (trip - 1) * pe_ii

        # The drains (one output tile's ceil(mv / rq) groups x its band's pixels, one group's rq lanes of one pixel
        # per cycle) run inside the next output tile's first MAC loop (trip: the longest of the MACs, the next weight
        # tile's words and the drain); the layer's last tile drains on its own. d_prev: the drain of the previous
        # band's last tile, d_before: of the tile before the layer's last one.
        d_prev = d_before = np.zeros(len(tm))
        for b, band in enumerate(bl):
            pix = band.rows * R
            ow = _ceil(pix, WORD)
            read_w = read_w + n_grp * (lat + io + (n_mt * (lanes + n_in * w_tile) - 1) * beat)
            e = emit_k * nb * pix * kk
            nxt = bl[b + 1].words if b + 1 < len(bl) else 0
            fills = sum(cnt * np.maximum(e, nb * ch * band.words) for cnt, ch in units)
            pad_x = pad_x + u_band * (io - 1) + fills - np.maximum(e, nb * c_first * band.words) + \
                np.maximum(e, nb * c_first * nxt)
            # requant_out per output tile of mv channels (nq = ceil(mv / rq) groups): the lanes' records, then per
            # image and group a loop over its pixels (the previous group's rq ow words leave inside it) and one loop
            # more for the image's last group's words
            for cnt, mv in out_tiles:
                nq = _ceil(mv, rq)
                requant = requant + cnt * ((io + lanes - 1) + nb * ((nq + 1) * (T.rq - 1) + pix
                                           + (nq - 1) * np.maximum(pix, rq * ow) + (mv - (nq - 1) * rq) * ow))
            mac = np.maximum(nb * pix, ww) * kk
            d_full, d_last = _ceil(m_full, rq) * nb * pix, _ceil(m_last, rq) * nb * pix
            compute = compute + n_out * (n_in - 1) * mac_loop(mac) + n_full * mac_loop(np.maximum(mac, d_full)) \
                + (n_last - 1) * mac_loop(np.maximum(mac, d_last)) + mac_loop(np.maximum(mac, d_prev))
            d_before = np.where(n_full > 0, d_full, np.where(n_last > 1, d_last, d_prev))
            d_prev = d_last
        compute = compute + io + d_prev - 1  # the last tile's drain
        # read_x and write_out: one manual-burst stream each per pass (maxi_stream)
        lanes_in, lanes_out = (dw, dw) if node.depthwise else (tn, tm)
        read_x, write = self._streams(i, tr, lanes_in, lanes_out, nb, reuse)
        # the last MAC loop loads no next weight tile; it drains the tile before when it is a first loop (n_in = 1)
        pix_l = nb * bl[-1].rows * R
        d_x = np.where(n_in == 1, d_before, 0)
        compute = compute - (np.maximum(np.maximum(pix_l, ww) * kk, d_x) - np.maximum(pix_l * kk, d_x)) * pe_ii
        if node.depthwise:
            d_mac = T.dw
        return [(read_x, lat + io), (read_w, lat + io), (pad_x, io), (compute, d_mac), (requant, T.rq), (write, io)]

    def _streams(self, i: int, tr: int, lanes_in, lanes_out, nb, reuse) -> tuple[np.ndarray, np.ndarray]:
        """(read_x, write_out) cycles of one pass of layer ``i`` per configuration: :func:`maxi_stream` over the runs
        of :meth:`_runs`, cached per distinct (input lanes, output lanes, images, reuse)."""
        T = self.timing
        rd, wr = np.empty(len(lanes_in)), np.empty(len(lanes_in))
        keys = zip(np.asarray(lanes_in).tolist(), np.asarray(lanes_out).tolist(), np.asarray(nb).tolist(),
                   np.asarray(reuse).tolist(), strict=True)
        for k, key in enumerate(keys):
            ck = (i, tr, *key)
            if ck not in self._stream_cache:
                r_runs, w_runs = self._runs(i, tr, *key)
                self._stream_cache[ck] = (maxi_stream(r_runs, T.lat, True), maxi_stream(w_runs, T.lat, False))
            rd[k], wr[k] = self._stream_cache[ck]
        return rd, wr

    def _runs(self, i: int, tr: int, p: int, m: int, nb: int, reuse: bool) -> tuple[tuple, tuple]:
        """The runs (requests) of read_planes and write_out in one pass of nb images, in the loop nests' order, as
        ((count, cycles), ...): a run of w words takes io + (w - 1) beat. ``p`` input lanes (tn, or the depthwise
        lanes), ``m`` output lanes (tm, or the depthwise lanes). Reads: per band, unit, image and input tile one run per
        valid channel plane (its band words), or one run of the tile when the band is the whole map; writes: per band,
        output tile and image one run per output plane, or one of the tile for a whole-map band."""
        node, T = self.layers[i], self.timing
        in_cs, out_cs = _ceil(node.in_size**2, WORD), _ceil(node.out_size**2, WORD)
        if node.depthwise:  # every p-channel tile is its own walk group, one input tile, no reuse
            g_n, cg, mg, reuse = 1, node.out_ch, node.out_ch, False
            p = m = min(p, node.out_ch)
        else:
            g_n, cg, mg = node.groups, node.in_ch // node.groups, node.out_ch // node.groups
        n_in, n_mt = _ceil(cg, p), _ceil(mg, m)
        last_in, last_out = cg - (n_in - 1) * p, mg - (n_mt - 1) * m
        units = 1 if reuse else n_mt  # input tiles re-read per output tile without reuse (depthwise: n_mt tiles)
        rd: list[tuple[int, int]] = []
        wr: list[tuple[int, int]] = []
        for band in self._bands(i, tr):
            if band.words == in_cs:  # one run per input tile (its planes are contiguous)
                if node.depthwise:
                    tiles = [(nb * (n_mt - 1), p * in_cs), (nb, last_in * in_cs)]
                elif reuse:  # per group and image its n_in tiles
                    tiles = g_n * nb * [(n_in - 1, p * in_cs), (1, last_in * in_cs)]
                else:  # per group, output tile and input tile: the nb images
                    tiles = g_n * n_mt * [(nb * (n_in - 1), p * in_cs), (nb, last_in * in_cs)]
                rd += tiles
            else:  # one run per channel plane: the same band words each
                rd.append((nb * g_n * units * cg if not node.depthwise else nb * cg, band.words))
            ow = _ceil(band.rows * node.out_size, WORD)
            if ow == out_cs:  # one run per output tile and image
                wr += g_n * [(nb * (n_mt - 1), m * out_cs), (nb, last_out * out_cs)]
            else:
                wr.append((nb * g_n * mg, ow))

        def cycles(runs: list[tuple[int, int]]) -> tuple:
            merged: list[list[int]] = []
            for count, words in runs:
                if count <= 0:
                    continue
                if merged and merged[-1][1] == words:
                    merged[-1][0] += count
                else:
                    merged.append([count, words])
            return tuple((c, T.io + (w - 1) * T.beat) for c, w in merged)

        return cycles(rd), cycles(wr)

    def buffers(self, c: Configs) -> dict[str, tuple]:
        """The engine's on-chip buffers: name -> (banks, depth, width bits, in URAM) per configuration, from
        :meth:`engine_buffers` (the buffers codegen allocates)."""
        out: dict[str, list] = {}
        for row in c.rows():
            for b in self.engine_buffers(row).buffers:
                out.setdefault(b.name, []).append((b.banks, b.depth, b.width_bits, int(b.memory == "uram")))
        return {name: tuple(np.array(v) for v in zip(*rows, strict=True)) for name, rows in out.items()}

    def resources(self, c: Configs) -> np.ndarray:
        """[n, 5] resources (dsp, lut, ff, bram18, uram) of each configuration of this engine."""
        t, e = self.t, self.engine
        tm, tn, dw = c.tm, c.tn, c.dw
        # the PE array (PEs, the per-bit adder tree, the shared input columns: accel/array_cost.py) and the depthwise
        # lanes (each its own op, input registers and accumulator; DSPs only on the conv engine)
        lane_dsp = t[f"{e}.dw_lane_dsp"] if engine_spec(e).cost.kind == "dsp" else 0.0
        dsp = array_price(t.values, e, tm, tn, "dsp") + dw * lane_dsp
        lut = array_price(t.values, e, tm, tn, "lut") + dw * t[f"{e}.dw_lane_lut"]
        ff = array_price(t.values, e, tm, tn, "ff") + dw * t[f"{e}.dw_lane_ff"]
        dsp = dsp + c.rq * t["requant.lane_dsp"]
        lut = lut + c.rq * t["requant.lane_lut"] + t["engine.ctrl_lut"] + t["maxi.lut"]
        lut = lut + (tn + dw) * t["xband.mux_lut"]  # pad_x: per lane the byte select of the band word it reads
        ff = ff + c.rq * t["requant.lane_ff"] + t["engine.ctrl_ff"] + t["maxi.ff"]
        b18 = np.full(len(c), 2 * t["maxi.bram36"])
        ur = np.zeros(len(c))
        bufs = [self.engine_buffers(row) for row in c.rows()]
        b18 = b18 + np.array([b.bram18 for b in bufs])
        ur = ur + np.array([b.uram for b in bufs])
        lut = lut + np.array([b.lut for b in bufs])
        return np.stack([dsp, lut, ff, b18, ur], axis=1).astype(float) * unit_scale(t, self.engine)


class MiscModel:
    """The misc unit (residual add, global average pooling, FC), following engine_misc.cpp.j2: every loop moves one
    16-byte word (``misc.lanes`` = 16 lanes) per cycle; its size is fixed (cost table)."""

    def __init__(self, layers: list[Node], table: CostTable, timing: LoopTiming):
        self.layers, self.t, self.timing = layers, table, timing
        self.lanes = int(table["misc.lanes"])

    def task_cycles(self, n: Node) -> float:
        """Cycles of one misc layer task (run_add: a DATAFLOW region; run_gap / run_fc: loops one after another)."""
        T = self.timing
        word = max(1.0, WORD / self.lanes) * T.beat  # cycles per word: 16 lanes and the port's DDR share
        if n.kind == "add":
            w = n.in_ch * _ceil(n.in_size**2, WORD)
            chunks = _ceil(w, CHUNK)  # per chunk one burst of each input
            read = chunks * 2 * (T.lat + T.io - word) + 2 * w * word
            op = T.burst(2, T.io) + T.pipe(w, T.misc)  # the two scale words, then 16 lanes per word
            write = T.burst(w, T.io)
            return float(region([(read, T.lat + T.io), (op, T.misc), (write, T.io)]))
        if n.kind == "gap":
            w = n.in_ch * _ceil(n.in_size**2, WORD)
            return float(T.burst(1, T.io) + T.lat + T.pipe(w, T.misc, word) + T.burst(_ceil(n.in_ch, WORD), T.io))
        # fc: the input vector, then per class its bias record and weight row in one burst, then the logits
        w_in = _ceil(n.in_ch, WORD)
        logit_words = _ceil(n.out_ch, 2)  # int64 logits, two per word
        return float(T.burst(w_in, T.io) + T.lat + T.pipe(n.out_ch * (1 + w_in), T.misc, word)
                     + T.burst(logit_words, T.io))

    def layer_cycles(self, batch: int = 1) -> np.ndarray:
        """Cycles of each misc layer's task over ``batch`` images (engine_misc.cpp.j2 runs them one by one)."""
        return np.array([batch * self.task_cycles(n) for n in self.layers])

    def resources(self) -> np.ndarray:
        t = self.t
        return np.array([t["misc.dsp"], t["misc.lut"] + t["maxi.lut"], t["misc.ff"] + t["maxi.ff"],
                         2 * (t["misc.bram36"] + t["maxi.bram36"]), 0.0]) * unit_scale(t, MISC_ENGINE)


def shell_resources(table: CostTable) -> np.ndarray:
    """Fixed PL cost outside the engines (control, schedule FSM, interconnect)."""
    return np.array([0.0, table["shell.lut"], table["shell.ff"], 0.0, 0.0])


def budget_vector(board: Board) -> np.ndarray:
    """The board's usable resources in the internal order (BRAM as 18K halves)."""
    b = board.budget
    return np.array([b["dsp"], b["lut"], b["ff"], 2 * b["bram"], b["uram"]], dtype=float)


def resources_dict(vec: np.ndarray) -> dict[str, int]:
    """Internal resource vector -> {"dsp", "lut", "ff", "bram" (BRAM36), "uram"}."""
    v = [int(np.ceil(x - 1e-9)) for x in vec]
    return {"dsp": v[0], "lut": v[1], "ff": v[2], "bram": (v[3] + 1) // 2, "uram": v[4]}


@dataclass
class AccelContext:
    """Everything the search needs about one (network, board) pair."""

    nodes: list[Node]
    board: Board
    table: CostTable
    pe: PeTiming
    engines: dict[str, EngineModel]  # PE engines that have layers
    misc: MiscModel
    bw: float

    @classmethod
    def build(cls, nodes: list[Node], board: Board, table: CostTable, pe: PeTiming) -> AccelContext:
        groups: dict[str, list[Node]] = {}
        for n in nodes:
            groups.setdefault(engine_of(n), []).append(n)
        n_ports = len([e for e in PE_ENGINES if e in groups]) + 1
        bw = board.port_bytes_per_cycle(n_ports)
        engines = {e: EngineModel(e, groups[e], board, table, pe, bw) for e in PE_ENGINES if e in groups}
        misc = MiscModel(groups.get(MISC_ENGINE, []), table, LoopTiming.of(board, table, bw))
        return cls(nodes, board, table, pe, engines, misc, bw)

    @property
    def fixed_resources(self) -> np.ndarray:
        return self.misc.resources() + shell_resources(self.table)
