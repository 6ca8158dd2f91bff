"""Analytical model of the chunk accelerator: per-layer cycles and per-engine resources.

Engines: ``conv`` (int8 MACs on DSP48E2, optionally two per DSP), ``shift`` and ``adder`` (LUT fabric), each a Tm x Tn
PE array for standard / pointwise layers plus ``dw`` channel-parallel lanes for depthwise layers, with Tr x Tc output
tiles (Tr = Tc = ``tile``), ping-pong input / weight / accumulator buffers, ``rq`` requant lanes in the store path and
one m_axi port; ``misc`` runs residual add, global pooling and the classifier. Every formula is written out in
docs/accelerator-model.md; all functions are vectorised over many engine configurations at once (the search evaluates
thousands).
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
RES = ("dsp", "lut", "ff", "bram18", "uram")  # internal resource vector (BRAM counted in 18K halves: additive)
ACC_BITS = 32
BRAM18_MODES = ((1, 16384), (2, 8192), (4, 4096), (9, 2048), (18, 1024), (36, 512))  # (width, depth), UG573
URAM_MODE = (72, 4096)  # UG573


def engine_of(node: Node) -> str:
    """The engine that runs a layer: conv-kind layers by op type, everything else on the misc unit."""
    return op_spec(node.op).engine if node.kind == "conv" else MISC_ENGINE


@dataclass
class Configs:
    """Engine configurations as parallel integer arrays (one entry per configuration)."""

    tm: np.ndarray
    tn: np.ndarray
    dw: np.ndarray  # depthwise lanes (0 when the engine has no depthwise layer)
    pack: np.ndarray  # 1: two int8 MACs per DSP48E2 (conv engine only)
    tile: np.ndarray  # largest output tile side the buffers hold
    rq: np.ndarray  # requant lanes
    uram: np.ndarray  # 1: accumulator buffers in URAM, 0: in BRAM

    @classmethod
    def from_rows(cls, rows: list[tuple]) -> Configs:
        a = np.array(rows, dtype=np.int64).reshape(-1, 7)
        return cls(*(a[:, i].copy() for i in range(7)))

    def __len__(self) -> int:
        return len(self.tm)

    def take(self, idx) -> Configs:
        return Configs(*(getattr(self, f.name)[idx] for f in fields(self)))

    def row(self, i: int) -> tuple:
        return tuple(int(getattr(self, f.name)[i]) for f in fields(self))


def config_dict(row: tuple) -> dict:
    tm, tn, dw, pack, tile, rq, uram = row
    return {"tm": tm, "tn": tn, "dw_lanes": dw, "dsp_packing": bool(pack), "tr": tile, "tc": tile,
            "requant_lanes": rq, "acc_mem": "uram" if uram else "bram"}


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


class EngineModel:
    """Cycles and resources of one engine over its layers, for arrays of configurations."""

    def __init__(self, engine: str, layers: list[Node], board: Board, table: CostTable, pe: PeTiming, bw: float):
        assert engine in PE_ENGINES
        self.engine, self.layers, self.board, self.t, self.pe, self.bw = engine, layers, board, table, pe, float(bw)
        self.std = [n for n in layers if not n.depthwise]
        self.dws = [n for n in layers if n.depthwise]
        self.is_dw = np.array([n.depthwise for n in layers], dtype=bool)

        def arr(attr):
            return np.array([getattr(n, attr) for n in layers], dtype=np.int64)

        self.R, self.K, self.S = arr("out_size"), arr("kernel"), arr("stride")
        self.G = np.where(self.is_dw, 1, arr("groups"))
        self.M = arr("out_ch") // self.G
        self.N = arr("in_ch") // self.G
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

    def layer_cycles(self, c: Configs) -> tuple[np.ndarray, np.ndarray]:
        """(cycles [n, L], chosen tile side [n, L]). Each layer uses the tile side <= the engine's that is fastest."""
        n = len(c)
        col = lambda v: np.asarray(v, dtype=np.int64)[:, None]  # noqa: E731
        tm, tn, dw, tile, rq = col(c.tm), col(c.tn), col(np.maximum(c.dw, 1)), col(c.tile), col(c.rq)
        lat_a, ii_a = self.pe_timing(c.tm, c.tn)
        lat_d, ii_d = self.pe_timing(np.maximum(c.dw, 1), np.ones(n, np.int64))
        lat_a, ii_a, lat_d, ii_d = col(lat_a), col(ii_a), col(lat_d), col(ii_d)
        R, K, S, G, M, N = self.R, self.K, self.S, self.G, self.M, self.N
        bw = self.bw
        ovh = self.t["cycles.layer_overhead"]
        best = np.full((n, len(self.layers)), np.inf)
        best_t = np.zeros((n, len(self.layers)), np.int64)
        for side in TILES:
            te = np.minimum(side, R)[None, :]
            allowed = te <= tile
            n_sp = _ceil(R[None, :], te) ** 2
            inside = (te - 1) * S + K
            # standard / pointwise / grouped: tm x tn array
            comp = te * te * K * K * ii_a + lat_a
            ld = np.ceil((tn * inside**2 + tm * tn * K * K) / bw)
            step = np.maximum(comp, ld)
            st = np.ceil(tm * te * te / np.minimum(rq, bw))
            per_out = np.maximum(_ceil(N, tn) * step, st)
            std = G * n_sp * _ceil(M, tm) * per_out + ld + st + ovh
            # depthwise: dw channel lanes
            comp_d = te * te * K * K * ii_d + lat_d
            ld_d = np.ceil((dw * inside**2 + dw * K * K) / bw)
            st_d = np.ceil(dw * te * te / np.minimum(rq, bw))
            dwc = n_sp * _ceil(M, dw) * np.maximum(np.maximum(comp_d, ld_d), st_d) + ld_d + st_d + ovh
            cyc = np.where(self.is_dw[None, :], dwc, std)
            cyc = np.where(allowed, cyc, np.inf)
            better = cyc < best
            best = np.where(better, cyc, best)
            best_t = np.where(better, te, best_t)
        return best, best_t

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

    def resources(self, c: Configs) -> np.ndarray:
        """[n, 5] resources (dsp, lut, ff, bram18, uram) of each configuration of this engine."""
        t, k = self.t, engine_spec(self.engine).cost  # the engine's cost-table keys (op registry)
        tm, tn, dw, pack = c.tm, c.tn, c.dw, c.pack
        pes, tree = tm * tn, tm * (tn - 1)
        if k.kind == "dsp":  # one DSP48E2 per MAC, two per DSP when packed
            dsp = np.ceil(pes * np.where(pack > 0, t[k.dsp_packed], t[k.dsp])) + dw * t[k.dsp]
            lut = pes * t[k.lut] + np.where(pack > 0, pes / 2 * t[k.lut_packed_extra], 0.0)
            lut = lut + dw * (t[k.lut] + t["dw.lane_lut"])
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
        in_d, acc_d, kk = self._max_depth(self.std, c.tile)
        in_dd, acc_dd, kkd = self._max_depth(self.dws, c.tile)
        for banks, depth, width, u in (
            (2 * tn, in_d, 8, 0),  # ping-pong input tiles, one bank per input channel lane
            (2 * pes, np.full(len(c), kk), 8, 0),  # ping-pong weight tiles, partitioned over the array
            (2 * tm, acc_d, ACC_BITS, c.uram),  # ping-pong accumulator tiles, one bank per output lane
            (2 * dw, in_dd, 8, 0),  # depthwise lanes: input tiles
            (2 * dw, np.full(len(c), kkd), 8, 0),  # depthwise weights
            (2 * dw, acc_dd, ACC_BITS, c.uram),  # depthwise output tiles before requant
        ):
            bb, uu, ll = mem_blocks(banks, depth, width, u, t)
            b18, ur, lut = b18 + bb, ur + uu, lut + ll
        return np.stack([dsp, lut, ff, b18, ur], axis=1).astype(float)


class MiscModel:
    """The misc unit (residual add, global average pooling, FC): fixed size from the cost table."""

    def __init__(self, layers: list[Node], table: CostTable, bw: float):
        self.layers, self.t, self.bw = layers, table, float(bw)
        self.lanes = int(table["misc.lanes"])

    def layer_cycles(self) -> np.ndarray:
        out = []
        bw, m, ovh = self.bw, self.lanes, self.t["cycles.layer_overhead"]
        for n in self.layers:
            if n.kind == "add":
                e = n.in_ch * n.in_size**2
                cyc = max(np.ceil(2 * e / bw), np.ceil(e / m))
            elif n.kind == "gap":
                e = n.in_ch * n.in_size**2
                cyc = max(np.ceil(e / bw), np.ceil(e / m)) + n.in_ch
            else:  # fc: int8 weights streamed once, int64 logits written
                w = n.in_ch * n.out_ch
                cyc = max(np.ceil(w / bw), np.ceil(w / m)) + np.ceil(8 * n.out_ch / bw)
            out.append(float(cyc + ovh))
        return np.array(out)

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
        return cls(nodes, board, table, pe, engines, MiscModel(groups.get(MISC_ENGINE, []), table, bw), bw)

    @property
    def fixed_resources(self) -> np.ndarray:
        return self.misc.resources() + shell_resources(self.table)
