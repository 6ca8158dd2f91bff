"""Analytical model of the chunk accelerator: per-layer cycles and per-engine resources.

Engines: ``conv`` (int8 MACs on DSP48E2, one per DSP), ``shift`` and ``adder`` (LUT fabric), each a Tm x Tn PE array
for standard / pointwise layers plus ``dw`` channel-parallel lanes for depthwise layers, with Tr x Tc output tiles
(Tr = Tc = ``tile``), ``rq`` requant lanes in the store path and one m_axi port; ``misc`` runs residual add, global
pooling and the classifier.

The cycle model follows the loop nests the HLS templates emit (hls_templates/src/engine.cpp.j2, engine_misc.cpp.j2):
a layer task is a DATAFLOW region of processes (read_x, read_w, pad_x, compute, requant_out, write_out); each process
is a sequence of pipelined loops, a pipelined loop costs depth + (trip - 1) x II, every loop over an m_axi pointer
adds the DDR round trip (the board's ``ddr.latency_cycles``), and the region costs its slowest process plus the
start-up fill of the others. Every term is written out in docs/accelerator-model.md; the functions are vectorised
over many engine configurations at once (the search evaluates thousands).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from nash.frontend.accel.board import Board
from nash.frontend.accel.calibration import PeTiming
from nash.frontend.accel.cost_table import CostTable
from nash.frontend.core.graph import Node
from nash.frontend.core.op_registry import MISC_ENGINE, PE_ENGINES, engine_spec, op_spec

TILES = (4, 8, 16, 32)  # output tile side Tr = Tc candidates
# The generated engines run every layer over its whole map today (hls_templates/src/engine.cpp.j2 reads no tr/tc):
# the model then prices exactly that (every layer's tile = its map, buffers for whole maps). Set True when codegen's
# spatial tiles land (issue 12): each layer then takes the fastest tile in TILES that the engine's buffers hold.
SPATIAL_TILES = False
RES = ("dsp", "lut", "ff", "bram18", "uram")  # internal resource vector (BRAM counted in 18K halves: additive)
ACC_BITS = 32
BRAM18_MODES = ((1, 16384), (2, 8192), (4, 4096), (9, 2048), (18, 1024), (36, 512))  # (width, depth), UG573
URAM_MODE = (72, 4096)  # UG573
WORD = 16  # bytes per m_axi beat: the engines move 128-bit words
CHUNK = 64  # words per residual-add read chunk (engine_misc.cpp.j2: one maximum-length AXI burst per input)


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
    uram: np.ndarray  # 1: accumulator buffers in URAM, 0: in BRAM

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


def config_dict(row: tuple) -> dict:
    """A configuration row as the accelerator section's engine fields."""
    tm, tn, dw, tile, rq, uram = row
    return {"tm": tm, "tn": tn, "dw_lanes": dw, "tr": tile, "tc": tile, "requant_lanes": rq,
            "acc_mem": "uram" if uram else "bram"}


def _ceil(a, b):
    return -(-a // b)


def mem_blocks(banks, depth, width: int, uram, t: CostTable):
    """(bram18, uram, lut) of ``banks`` memories of ``depth`` x ``width`` bits (small ones in LUTRAM)."""
    banks, depth, uram = np.asarray(banks), np.asarray(depth), np.asarray(uram)
    small = depth * width <= t["lutram.max_bits"]
    lut = np.where(small, banks * _ceil(depth, int(t["lutram.bits_per_lut"])) * width, 0)
    b18 = np.min([_ceil(width, w) * _ceil(depth, d) for w, d in BRAM18_MODES], axis=0)
    ur = _ceil(width, URAM_MODE[0]) * _ceil(depth, URAM_MODE[1])
    use_u = (~small) & (uram > 0)
    return (np.where(small | use_u, 0, banks * b18), np.where(use_u, banks * ur, 0), lut)


@dataclass(frozen=True)
class LoopTiming:
    """The timing constants of the loop nests: DDR round trip, pipeline depths, and beat cost.

    ``lat``: cycles from an m_axi request to its first beat (the board's ``ddr.latency_cycles``), paid once per burst
    loop (16 outstanding requests let one loop's bursts overlap). ``beat``: cycles per 16-byte word of a burst (1, or
    more when the DDR share of the port is below 16 bytes per cycle). Depths (cost table ``cycles.*_depth``): ``io``
    read / write / buffer-copy / drain / scale-record loops, ``rq`` the requant loop, ``dw`` the depthwise lane loop,
    ``misc`` the misc unit's loops, ``acc`` the accumulator add after the PE array.
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
        """The output tile sides a layer may use: TILES with spatial tiling, else the whole map (the largest map of
        the engine, capped per layer at its own map)."""
        return TILES if SPATIAL_TILES else (int(self.R.max()),)

    def layer_cycles(self, c: Configs) -> tuple[np.ndarray, np.ndarray]:
        """(cycles [n, L], chosen tile side [n, L]). Each layer uses the tile side <= the engine's that is fastest."""
        n = len(c)
        col = lambda v: np.asarray(v, dtype=np.int64)[:, None]  # noqa: E731
        tm, tn, dw, tile, rq = col(c.tm), col(c.tn), col(np.maximum(c.dw, 1)), col(c.tile), col(c.rq)
        lat_a, ii_a = self.pe_timing(c.tm, c.tn)
        lat_a, ii_a = col(lat_a), col(ii_a)
        best = np.full((n, len(self.layers)), np.inf)
        best_t = np.zeros((n, len(self.layers)), np.int64)
        for side in self.tile_sides():
            te = np.minimum(side, self.R)[None, :]
            cyc = self.task_cycles(te, tm, tn, dw, rq, lat_a, ii_a)
            cyc = np.where(te <= tile, cyc, np.inf)
            better = cyc < best
            best = np.where(better, cyc, best)
            best_t = np.where(better, te, best_t)
        return best, best_t

    def task_cycles(self, te, tm, tn, dw, rq, pe_lat, pe_ii) -> np.ndarray:
        """Cycles of every layer task ([n, L]) with output tiles of side ``te`` ([1, L]), following the processes of
        engine.cpp.j2 (run_standard / run_depthwise). A tile as large as the map is the whole-map walk the code runs
        today; smaller tiles repeat the same region per spatial tile, over the tile's input window (halo included)."""
        T = self.timing
        R, K, S, G, M, N = self.R, self.K, self.S, self.G, self.M, self.N
        kk = K * K
        whole = te == R
        n_sp = _ceil(R, te) ** 2
        side_in = np.where(whole, self.H + 2 * self.pad, (te - 1) * S + K)  # padded input pixels per row
        in_w = np.where(whole, _ceil(self.H * self.H, WORD), _ceil(((te - 1) * S + K) ** 2, WORD))  # words / plane
        out_w = _ceil(te * te, WORD)  # words per output channel plane of one tile
        pix = side_in * side_in
        rg = _ceil(WORD, rq)  # requant cycles per written word
        beats = T.beat

        # standard / pointwise / grouped: Tm x Tn array; n_out output tiles, each over n_in input tiles
        n_out, n_in = G * _ceil(M, tm), _ceil(N, tn)
        tiles = n_out * n_in
        kw = _ceil(tm * tn, WORD)  # weight words per window position
        mac_depth = pe_lat + T.acc
        direct = (K == 1) & (S == 1)  # 1x1 stride 1: pixels stream into the MAC loop, no tile buffer fill
        read_x = tiles * (T.lat + T.io - beats) + n_out * N * in_w * beats
        read_w = T.burst(n_out * (tm + n_in * kk * kw), T.io)
        pad_x = tiles * (2 * T.io - 2 + pix) + n_out * N * in_w
        per_in = (T.io - 1 + kk * kw) + np.where(direct, 0, T.io - 1 + pix) + (mac_depth + (te * te * kk - 1) * pe_ii)
        drained = G * M * out_w * rg  # one rq-lane group per cycle over every valid output word
        compute = tiles * per_in + n_out * (T.io - 1) + drained
        requant = n_out * (T.io - 1 + tm + T.rq - 1) + drained
        write = T.burst(G * M * out_w, T.io)
        std = region([(read_x, T.lat + T.io), (read_w, T.lat + T.io), (pad_x, T.io), (compute, mac_depth),
                      (requant, T.rq), (write, T.io)])

        # depthwise: dw channel lanes, one input tile per channel tile
        C = self.C_out
        d_out = _ceil(C, dw)
        dww = _ceil(dw, WORD)
        read_xd = d_out * (T.lat + T.io - beats) + C * in_w * beats
        read_wd = T.burst(d_out * (dw + kk * dww), T.io)
        pad_xd = d_out * (2 * T.io - 2 + pix) + C * in_w
        per_d = (T.io - 1 + kk * dww) + (T.io - 1 + pix) + (T.dw - 1 + te * te * kk) + (T.io - 1)
        drained_d = C * out_w * rg
        compute_d = d_out * per_d + drained_d
        requant_d = d_out * (T.io - 1 + dw + T.rq - 1) + drained_d
        write_d = T.burst(C * out_w, T.io)
        dwc = region([(read_xd, T.lat + T.io), (read_wd, T.lat + T.io), (pad_xd, T.io), (compute_d, T.dw),
                      (requant_d, T.rq), (write_d, T.io)])
        return n_sp * np.where(self.is_dw[None, :], dwc, std)

    def _max_depth(self, layers: list[Node], tile: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """(largest input-tile depth, largest output-tile depth, largest k*k) over ``layers`` for each tile side."""
        if not layers:
            z = np.zeros(len(tile), np.int64)
            return z, z, 0
        R = np.array([n.out_size for n in layers])[None, :]
        S = np.array([n.stride for n in layers])[None, :]
        K = np.array([n.kernel for n in layers])[None, :]
        te = np.minimum(tile[:, None], R)
        return ((te - 1) * S + K).max(axis=1) ** 2, (te * te).max(axis=1), int((K * K).max())

    def buffers(self, c: Configs) -> dict[str, tuple]:
        """The engine's on-chip buffers: name -> (banks, depth, width bits, in URAM) per configuration.

        The one buffer-size function of the model (the section's ``buffers`` and the resource count both use it):
        ping-pong tile buffers of the output tile side ``c.tile``. Codegen's tile buffers
        (``frontend/accel/buffers.py``, issue 12) replace this pricing when they land.
        """
        in_d, acc_d, kk = self._max_depth(self.std, c.tile)
        in_dd, acc_dd, kkd = self._max_depth(self.dws, c.tile)
        none = np.zeros(len(c), np.int64)
        return {
            "input": (2 * c.tn, in_d, 8, none),  # ping-pong input tiles, one bank per input channel lane
            "weight": (2 * c.tm * c.tn, np.full(len(c), kk), 8, none),  # weight tiles, partitioned over the array
            "acc": (2 * c.tm, acc_d, ACC_BITS, c.uram),  # accumulator tiles, one bank per output lane
            "dw_input": (2 * c.dw, in_dd, 8, none),  # depthwise lanes: input tiles
            "dw_weight": (2 * c.dw, np.full(len(c), kkd), 8, none),  # depthwise weights
            "dw_acc": (2 * c.dw, acc_dd, ACC_BITS, c.uram),  # depthwise output tiles before requant
        }

    def resources(self, c: Configs) -> np.ndarray:
        """[n, 5] resources (dsp, lut, ff, bram18, uram) of each configuration of this engine."""
        t, k = self.t, engine_spec(self.engine).cost  # the engine's cost-table keys (op registry)
        tm, tn, dw = c.tm, c.tn, c.dw
        pes, tree = tm * tn, tm * (tn - 1)
        if k.kind == "dsp":  # one DSP48E2 per int8 MAC (array and depthwise lanes)
            dsp = (pes + dw) * t[k.dsp]
            lut = pes * t[k.lut] + dw * (t[k.lut] + t["dw.lane_lut"])
            ff = (pes + dw) * t[k.ff] + dw * t["dw.lane_ff"]
        else:  # LUT fabric only
            dsp = np.zeros(len(c))
            lut = (pes + dw) * t[k.lut] + dw * t["dw.lane_lut"]
            ff = (pes + dw) * t[k.ff] + dw * t["dw.lane_ff"]
        lut = lut + tree * t["tree.adder_lut"]
        ff = ff + tree * t["tree.adder_ff"]
        dsp = dsp + c.rq * t["requant.lane_dsp"]
        lut = lut + c.rq * t["requant.lane_lut"] + t["engine.ctrl_lut"] + t["maxi.lut"]
        ff = ff + c.rq * t["requant.lane_ff"] + t["engine.ctrl_ff"] + t["maxi.ff"]
        b18 = np.full(len(c), 2 * t["maxi.bram36"])
        ur = np.zeros(len(c))
        for banks, depth, width, u in self.buffers(c).values():
            bb, uu, ll = mem_blocks(banks, depth, width, u, t)
            b18, ur, lut = b18 + bb, ur + uu, lut + ll
        return np.stack([dsp, lut, ff, b18, ur], axis=1).astype(float)


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

    def layer_cycles(self) -> np.ndarray:
        return np.array([self.task_cycles(n) for n in self.layers])

    def resources(self) -> np.ndarray:
        t = self.t
        return np.array([t["misc.dsp"], t["misc.lut"] + t["maxi.lut"], t["misc.ff"] + t["maxi.ff"],
                         2 * (t["misc.bram36"] + t["maxi.bram36"]), 0.0])


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
