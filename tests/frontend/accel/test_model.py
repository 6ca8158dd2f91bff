"""Accelerator model: hand-worked layer latency, PE timing (calibrated and default), resources within the board."""

import dataclasses
import json

import numpy as np
import pytest
from nash.frontend.accel.board import load_board
from nash.frontend.accel.calibration import PeTiming, calibration_path, default_pe_latency, load_pe_timing
from nash.frontend.accel.cost_table import load_cost_table
from nash.frontend.accel.model import AccelContext, Configs, EngineModel, budget_vector, resources_dict
from nash.frontend.accel.search import coarse_to_fine, make_context
from nash.frontend.core.graph import Node, lower

PW = Node("pw", "conv", "conv", ("input",), 16, 32, 8, 8, kernel=1, stride=1, padding=0, role="project")
DW = Node("dw", "conv", "conv", ("input",), 32, 32, 8, 8, kernel=3, stride=1, padding=1, groups=32, role="depthwise")
# tm=16, tn=8, dw lanes=16, buffer tile 8, 4 requant lanes, BRAM accumulators
CFG = Configs.from_rows([(16, 8, 16, 8, 4, 0)])
# The hand-worked cases below read the loop nests of hls_templates/src/engine.cpp.j2 / engine_misc.cpp.j2 (the drain
# and requant terms re-derived by hand for the one-bank-per-lane ping-pong accumulators, the drain inside the next
# tile's first MAC loop and the requant stage, issue 13): a pipelined loop costs depth + (trip - 1) x II, an
# inferred burst loop (read_w) adds the DDR round trip (64 on the kv260), the manual-burst streams (read_x,
# write_out: 16 requests in flight) pay it once per pass plus any wait where 16 runs are shorter than it, a DATAFLOW
# region its slowest process + the fill of the others. Depths (cost table): io 2, requant 5, depthwise lane 3, misc
# 3, accumulator add 1. 8x8 maps: 4 words per channel plane.


def _engine(layers, pe=None, board=None):
    return EngineModel("conv", layers, board or load_board("kv260"), load_cost_table(), pe or PeTiming(), bw=16.0)


def _no_latency_board():
    return dataclasses.replace(load_board("kv260"), ddr_latency_cycles=0)


def test_pointwise_latency_hand_worked():
    # Pointwise 16 -> 32, PE latency 2 + log2(8) = 5 (MAC depth 6); 2 output tiles x 2 input tiles; weight words per
    # window position ceil(16*8/16) = 8; requant groups per word ceil(16/4) = 4. Tile 8 = one band of the whole map
    # (band_rows(8, 8) = 8), 4 words per plane. Input reuse: the 2 input tiles' band (2 x 4 words) fits the band
    # buffer (up to 256 words a half), so the band is read and filled once for both output tiles.
    read_x = 64 + 2 * (2 + 8 * 4 - 1)  # 130: whole-map band: per input tile one run of its 8 planes (manual bursts:
    # both requested at the start, one round trip)
    read_w = 64 + 2 + (2 * (16 + 2 * 8) - 1)  # 129: one band x one group: one burst of records + weight tiles
    pad_x = (2 + 16 * 4 - 1) + (2 + 2 * 2 * 64 - 1)  # 322: first fill (16 lanes x 4 words), emit 4 tiles x 64 px
    # 4 MAC loops of 64 pixels (the next weight tile, 8 words, loads inside); output tile 0 drains (4 groups of 4
    # lanes x 64 pixels, one pixel per cycle) inside output tile 1's first MAC loop, which then runs 256 cycles;
    # output tile 1 drains on its own at the end
    mac = 3 * (6 + 64 - 1) + (6 + 256 - 1)  # 468
    drain = 2 + 4 * 64 - 1  # 257
    compute = (2 + 8 - 1) + mac + drain  # 734: + load_w of the first weight tile
    # requant per output tile: 16 scale records, then 4 groups of 4 channels, each a loop over its 64 pixels (the
    # previous group's 4 x 4 words leave inside it), and one loop more for the last group's 16 words
    requant = 2 * ((2 + 16 - 1) + 4 * (5 + 64 - 1) + (5 + 16 - 1))  # 618
    write = 2 * (2 + 16 * 4 - 1) + 64  # 194: whole-map band: per output tile one run of its 16 planes, then the
    # last write response
    assert compute == max(read_x, read_w, pad_x, compute, requant, write)
    fills = (64 + 2) + (64 + 2) + 2 + 5 + 2  # the other processes' start-up (readers: the DDR round trip)
    cyc, tile = _engine([PW]).layer_cycles(CFG)
    assert cyc[0, 0] == compute + fills == 875
    assert tile[0, 0] == 8


def test_ddr_latency_term_hand_worked():
    # The same layer with a 0-cycle round trip: compute is still the slowest process, so only the two DDR readers'
    # fills (the exposed first loads) lose their 64 cycles each: 875 - 2 x 64.
    cyc, _ = _engine([PW], board=_no_latency_board()).layer_cycles(CFG)
    assert cyc[0, 0] == 875 - 2 * 64 == 747


def test_depthwise_latency_hand_worked():
    # Depthwise 32 channels 3x3 pad 1: 2 channel tiles of 16 lanes (each its own walk group: no reuse), one band of
    # the whole map, one weight word per window position (ceil(16/16)), 9 positions.
    read_x = 64 + 2 * (2 + 16 * 4 - 1)  # 194: per tile one run of its 16 planes, one round trip
    read_w = 2 * (64 + 2 + (16 + 9 * 1 - 1))  # 180: per band and group one burst (16 records + 9 weight words)
    pad_x = (2 + 64 - 1) + 2 * (2 + 64 * 9 - 1)  # 1219: first fill, then per tile 64 px x 9 window positions
    # per tile one MAC loop of 576 (tile 0: the next weights inside; tile 1: tile 0's drain of 4 groups x 64 px
    # inside), then tile 1's drain on its own
    compute = (2 + 9 - 1) + 2 * (3 + 64 * 9 - 1) + (2 + 4 * 64 - 1)  # 1423: + load_w of the first tile
    requant = 2 * ((2 + 16 - 1) + 4 * (5 + 64 - 1) + (5 + 16 - 1))  # 618: as the pointwise layer
    write = 2 * (2 + 16 * 4 - 1) + 64  # 194: per tile one run, then the last response
    assert compute == max(read_x, read_w, pad_x, compute, requant, write)
    cyc, tile = _engine([DW]).layer_cycles(CFG)
    assert cyc[0, 0] == compute + (66 + 66 + 2 + 5 + 2) == 1564
    assert tile[0, 0] == 8


def test_row_bands_hand_worked():
    """Tile 4 on the 8x8 pointwise layer: 2 bands of 4 rows (32 pixels, 2 words per plane, not whole planes), so
    every input and output channel plane is its own run (request) per band. With manual bursts (16 requests in
    flight) the round trip is paid once per stream, plus where 16 runs of 3 cycles (48) are shorter than it: every
    run k >= 16 waits for run k - 16's round trip (64 cycles), so from then on 16 runs take 64 + 3 cycles. (Before
    the manual bursts every plane burst paid the round trip: write_out 4288, the layer 4433.)"""
    # read_x: 2 bands x 16 planes (read once: reuse) = 32 runs of 2 words, 2 + 2 - 1 = 3 cycles each; the first 16
    # are requested at the start (data from cycle 64): runs 0-15 end at 64 + 3, ..., 64 + 48 = 112; run 16 is
    # requested when run 0 ends (67), its data at 131; runs 16-31 then end 67 after runs 0-15: 112 + 67 = 179
    read_x = 64 + 16 * 3 + (64 + 3)  # 179
    read_w = 2 * (64 + 2 + (64 - 1))  # 258: the weights are re-read per band
    pad_x = (2 + 16 * 2 - 1) + 2 * (2 + 4 * 32 - 1)  # 291: emit 4 tiles x 32 px per band, next band's fill inside
    # per band 4 MAC loops of 32 px; every output tile's first loop but the layer's first drains the previous tile
    # (4 groups x 32 px: 128 cycles), the last tile drains on its own
    compute = (2 + 8 - 1) + 5 * (6 + 32 - 1) + 3 * (6 + 128 - 1) + (2 + 128 - 1)  # 722
    requant = 2 * 2 * ((2 + 16 - 1) + 4 * (5 + 32 - 1) + (5 + 4 * 2 - 1))  # 692: last group 4 channels x 2 words
    # write_out: 2 bands x 32 planes = 64 runs of 3 cycles; runs 0-15 end at 3, ..., 48; run 16 waits for run 0's
    # response (3 + 64 = 67) and ends at 70, so runs 16-31, 32-47, 48-63 each end 67 after the run 16 earlier: the
    # last at 48 + 3 x 67 = 249; then the last response, 64 later
    write = 16 * 3 + 3 * (64 + 3) + 64  # 313
    assert [read_x, write] == [179, 313]
    assert compute == max(read_x, read_w, pad_x, compute, requant, write)
    fills = (64 + 2) + (64 + 2) + 2 + 5 + 2  # read_x, read_w, pad_x, requant, write_out
    small = Configs.from_rows([(16, 8, 16, 4, 4, 0)])
    cyc, tile = _engine([PW]).layer_cycles(small)
    # now faster than the whole-map band (875, above): its 2-band MAC loops drain in 128-cycle groups
    assert (cyc[0, 0], tile[0, 0]) == (compute + fills, 4) == (863, 4)


def test_write_bound_2x2_layer_hand_worked():
    """A pointwise expand 16 -> 64 on a 2 x 2 map (the shape of the write-bound expand layers of the CIFAR-100 set:
    4 pixels, one word per plane), tm = tn = 16, 16 requant lanes: 4 output tiles of 16 channels, each written as one
    run of 16 words. One burst per tile and image, each paying the 64-cycle round trip, made write_out the slowest
    process (4 x (64 + 2 + 15) = 324, the layer 324 + 66 + 66 + 2 + 7 + 5 = 470); with 16 write requests in flight
    the 4 runs follow one another and only the last response is waited for."""
    ex = Node("ex", "conv", "conv", ("input",), 16, 64, 2, 2, kernel=1, stride=1, padding=0, role="expand")
    cfg = Configs.from_rows([(16, 16, 16, 4, 16, 0)])
    read_x = 64 + (2 + 16 - 1)  # 81: one input tile, whole map: one run of its 16 planes
    read_w = 64 + 2 + (4 * (16 + 16) - 1)  # 193: 4 output tiles x (16 records + one 16-word weight tile)
    pad_x = (2 + 16 - 1) + (2 + 4 * 4 - 1)  # 34: first fill 16 words, then emit 4 tiles x 4 px
    # PE latency 2 + log2(16) = 6, MAC depth 7: MAC loops of max(4 px, 16 next weight words) = 16 trips for tiles
    # 0-2 (tiles 1-2 also drain the previous tile's 4 px inside), tile 3: 4 px and tile 2's 4-px drain; tile 3's
    # drain on its own
    compute = (2 + 16 - 1) + 3 * (7 + 16 - 1) + (7 + 4 - 1) + (2 + 4 - 1)  # 98
    # per tile 16 records, one group of 16 channels over 4 px, then its 16 words
    requant = 4 * ((2 + 16 - 1) + (5 + 4 - 1) + (5 + 16 - 1))  # 180
    write = 4 * (2 + 16 - 1) + 64  # 132: 4 runs back to back, then the last response
    assert read_w == max(read_x, read_w, pad_x, compute, requant, write)
    cyc, _ = _engine([ex]).layer_cycles(cfg)
    assert cyc[0, 0] == read_w + (64 + 2) + 2 + 7 + 5 + 2 == 275


def test_no_input_reuse_rereads_the_band():
    """With a band buffer too small for both input tiles (a 64 x 64 map, 256 words per plane: 2 x 256 > 256 words),
    the input of every output tile is read and filled again: 2 output tiles x 2 input tiles = 4 fills."""
    big = Node("pw", "conv", "conv", ("input",), 16, 32, 64, 64, kernel=1, stride=1, padding=0, role="project")
    em = _engine([big])
    cfg = Configs.from_rows([(16, 8, 16, 64, 4, 0)])
    assert not em.engine_buffers(cfg.row(0)).reuse["pw"]
    read_x = 64 + 4 * (2 + 8 * 256 - 1)  # 8260: per (output tile, input tile) one run of 8 planes
    pad_x = (2 + 8 * 256 - 1) + 4 * (2 + 4096 - 1)  # 18437: each fill (2048 words) hides under a 4096-px emit
    # 4 MAC loops of 4096 px, output tile 0's drain (4 groups x 4096 px) inside output tile 1's first, tile 1's alone
    compute = (2 + 8 - 1) + 3 * (6 + 4096 - 1) + (6 + 4 * 4096 - 1) + (2 + 4 * 4096 - 1)  # 45086
    assert compute > max(read_x, pad_x)
    cyc, _ = em.layer_cycles(cfg)
    assert cyc[0, 0] == compute + (66 + 66 + 2 + 5 + 2) == 45227


def test_partial_requant_group_hand_worked():
    """Re-derived by hand for the one-bank-per-lane accumulators (issue 13): pointwise 8 -> 20 on a 4 x 4 map
    (one band of 16 pixels, one word per plane), tm 16, 8 requant lanes: the output tiles have 16 and 4 channels,
    i.e. 2 + 1 groups of 8 lanes (the last group 4 lanes wide, its other 4 lanes idle). requant_out is the slowest
    process (with the manual-burst writes also with the 64-cycle round trip: write_out paid it per output tile
    before, 150 cycles, the layer 295)."""
    pw = Node("pw2", "conv", "conv", ("input",), 8, 20, 4, 4, kernel=1, stride=1, padding=0, role="project")
    cfg = Configs.from_rows([(16, 8, 16, 4, 8, 0)])

    def by_hand(lat: int) -> tuple[list[int], int]:
        read_x = lat + 2 + (8 - 1)  # one input tile, whole map: one run of its 8 planes
        read_w = lat + 2 + (2 * (16 + 8) - 1)  # 2 output tiles x (16 records + 1 weight tile of 8 words)
        pad_x = (2 + 8 - 1) + (2 + 2 * 16 - 1)  # first fill (8 lanes x 1 word), emit 2 tiles x 16 px (reuse)
        # 2 MAC loops of 16 pixels: the first loads the next 8 weight words inside, the second drains tile 0 (2
        # groups x 16 px) inside; then tile 1's drain (1 group x 16 px) on its own
        mac = (6 + 16 - 1) + (6 + 2 * 16 - 1)
        drain = 2 + 1 * 16 - 1
        compute = (2 + 8 - 1) + mac + drain  # 84
        # per tile: 16 records; tile of 16: group 0 (16 px), group 1 (16 px, group 0's 8 words inside), group 1's
        # 8 words; tile of 4: group 0 (16 px), its 4 words
        requant = ((2 + 16 - 1) + 2 * (5 + 16 - 1) + (5 + 8 - 1)) + ((2 + 16 - 1) + (5 + 16 - 1) + (5 + 4 - 1))
        # one run per output tile (16 and 4 words, 1 word per plane) back to back, then the last response
        write = (2 + 16 - 1) + (2 + 4 - 1) + lat
        procs = [read_x, read_w, pad_x, compute, requant, write]
        fills = [lat + 2, lat + 2, 2, 6, 5, 2]
        k = procs.index(max(procs))
        return procs, max(procs) + sum(fills) - fills[k]

    procs, total = by_hand(64)
    assert procs == [73, 113, 42, 84, 114, 86] and total == 114 + 66 + 66 + 2 + 6 + 2 == 256  # requant_out
    cyc, _ = _engine([pw]).layer_cycles(cfg)
    assert cyc[0, 0] == total
    procs, total = by_hand(0)
    assert max(procs) == procs[4] == 114 and total == 128  # requant_out the slowest
    cyc, _ = _engine([pw], board=_no_latency_board()).layer_cycles(cfg)
    assert cyc[0, 0] == total


def test_images_per_pass_hand_worked():
    """Derived by hand from engine.cpp.j2's pass loop (not from the model): the 8 -> 20 pointwise layer above
    (whole 4 x 4 map, 16 pixels) on an engine whose buffers are sized by PW at tile 4 (bands of 4 rows: 32 pixels
    of accumulators per lane; its two input tiles' 2-word band: 4 words a half). Two images' bands (2 x 16 pixels,
    2 x 1 word) fit, three do not: nb = 2. One pass of 2 images: the weights are read once, the MAC loops run over
    both images' pixels, the reads, drains, requant groups and writes go image by image."""
    pw = Node("pw2", "conv", "conv", ("input",), 8, 20, 4, 4, kernel=1, stride=1, padding=0, role="project")
    cfg = Configs.from_rows([(16, 8, 16, 4, 8, 0)])
    em = _engine([PW, pw])
    assert em.engine_buffers(cfg.row(0), 2).images == {"pw": 1, "pw2": 2}
    assert em.engine_buffers(cfg.row(0), 8).images == {"pw": 1, "pw2": 2}
    read_x = 64 + 2 * (2 + 8 - 1)  # 82: per image one run of its 8 planes, both requested at the start
    read_w = 64 + 2 + (2 * (16 + 8) - 1)  # 113: once per pass, as for one image
    pad_x = (2 + 2 * 8 - 1) + (2 + 2 * 2 * 16 - 1)  # 82: first fill 2 images x 8 words; emit 2 tiles x 2 x 16 px
    # tile 0: one MAC loop over 2 x 16 pixels (the next 8 weight words inside); tile 1: tile 0's drain (2 images x
    # 2 groups x 16 px = 64) inside its MAC loop; tile 1's drain (2 images x 1 group x 16 px) on its own
    compute = (2 + 8 - 1) + (6 + 32 - 1) + (6 + 64 - 1) + (2 + 32 - 1)  # 148
    # per tile its 16 records once, then per image the groups of the one-image case (52 and 28 cycles)
    requant = ((2 + 16 - 1) + 2 * (2 * (5 + 16 - 1) + (5 + 8 - 1))) + ((2 + 16 - 1) + 2 * ((5 + 16 - 1) + (5 + 4 - 1)))
    # per output tile and image one run of its planes (16 words twice, then 4 words twice), back to back (4 runs <
    # 16 in flight), then the last response
    write = 2 * (2 + 16 - 1) + 2 * (2 + 4 - 1) + 64  # 108 (one burst each, each with its round trip, before: 300)
    assert [read_x, read_w, pad_x, compute, requant, write] == [82, 113, 82, 148, 194, 108]
    two = requant + (66 + 66 + 2 + 6 + 2)  # 336 (one image: 256, above)
    cyc, _ = em.layer_cycles(cfg, batch=2)
    assert cyc[0, 1] == two == 336
    # a batch of 3: a pass of 2, then a pass of the last image (the one-image task)
    cyc, _ = em.layer_cycles(cfg, batch=3)
    assert cyc[0, 1] == two + 256
    # PW's own band fills the accumulators: one image per pass, B passes of the one-image task
    one, _ = em.layer_cycles(cfg, batch=1)
    cyc, _ = em.layer_cycles(cfg, batch=4)
    assert cyc[0, 0] == 4 * one[0, 0] and cyc[0, 1] == 2 * two


def test_rereading_walk_flips_hand_worked():
    """A layer whose walk flips at two images per task, both walks derived by hand from docs/accelerator-model.md
    (not from the model). Engine: tm 32, tn 16, tile 4, 4 requant lanes; default PE latency 2 + log2(16) = 6, MAC
    depth d = 7, II 1. Its buffers are sized by A (pointwise 16 -> 32 on 8 x 8, bands of 4 rows: 32 accumulator
    pixels a lane, 2 band words a plane; one output tile, so no reuse) and by F itself: F = 3x3 conv 32 -> 64 on
    a 4 x 4 map (pad 1; one band of the whole map, 16 pixels, 1 word per plane), n_in = 2 input tiles, n_mt = 2
    output tiles, kw = ceil(32 x 16 / 16) = 32 weight words per window position (w_tile = 9 x 32 = 288): its reuse
    band keeps 2 tiles x 1 word, so the band buffer is 2 words a half.

    With reuse a pass holds 2 // 2 = 1 image; re-reading keeps one tile's word per image: 2 // 1 = 2 images (and
    2 x 16 pixels fit the 32 accumulators). One weight tile then serves 32 pixels instead of 16, and the MAC loop,
    bound by the weight words (kw = 32 > 16 pixels), runs as long for two images as for one."""
    a = Node("a", "conv", "conv", ("input",), 16, 32, 8, 8, kernel=1, stride=1, padding=0, role="project")
    f = Node("f", "conv", "conv", ("input",), 32, 64, 4, 4, kernel=3, stride=1, padding=1)
    em = _engine([a, f])
    cfg = Configs.from_rows([(32, 16, 16, 4, 4, 0)])
    buf = em.engine_buffers(cfg.row(0), 2)
    assert (buf.xband_words, buf.acc_pixels, buf.reuse["f"]) == (2, 32, True)
    assert (buf.images["f"], buf.images_rereading) == (1, {"f": 2})
    L, io, d = 64, 2, 7

    def mac(t):
        return d + t - 1

    # reuse, one image per pass (a task of 2 images = 2 passes)
    # read_x / write_out: manual-burst streams (docs/accelerator-model.md): every run of w words takes io + w - 1,
    # and with 16 requests in flight the round trip is paid once when 15 runs outlast it (15 x 17 >= 64)
    read_x = L + 2 * (io + 16 - 1)  # 98: whole plane: per input tile one run of its 16 planes' words
    read_w = L + io + 2 * (32 + 2 * 288) - 1  # 1281: per output tile 32 records + 2 weight tiles, one burst
    pad_x = (io + 32 * 1 - 1) + (io - 1 + 2 * 2 * 16 * 9)  # 610: first fill of all 32 channels, one unit emits
    # every (output tile, input tile) window: 4 x 16 px x 9
    # MAC loops of max(16, 32) x 9 = 288 trips: 2 x (n_in - 1) loops, the second output tile's first one (the
    # first tile's drain, 8 groups x 16 px = 128, inside), the band's first one; the last tile drains alone; the
    # last loop (an (n_in - 1) one) loads no weights: 16 x 9 = 144 trips
    compute = (io + 288 - 1) + 2 * mac(288) + mac(288) + mac(288) + (io + 128 - 1) - (288 - 144)  # 1450
    # per output tile of 32 channels: 32 records, then 8 groups of 4 lanes over 16 pixels (the previous group's
    # 4 words inside), the last group's 4 words
    requant = 2 * ((io + 32 - 1) + 9 * (5 - 1) + 16 + 7 * max(16, 4 * 1) + (32 - 7 * 4) * 1)  # 402
    write = L + 2 * (io + 32 - 1)  # 130: per output tile one run of its 32 planes' words
    assert compute == max(read_x, read_w, pad_x, compute, requant, write) == 1450
    fills = (L + io) + (L + io) + io + 5 + io  # 141: the readers' round trip, pad_x, requant, write
    one_pass = compute + fills  # 1591
    reuse_task = 2 * one_pass  # 3182
    # re-read, both images in one pass: read_x per output tile and image; 4 units (output tile, input tile), each
    # filling 2 images x 16 channels x 1 word inside the 2 x 16 px x 9 emit
    read_x2 = L + 2 * 2 * 2 * (io + 16 - 1)  # 200: per output tile, image and input tile one run
    pad_x2 = (io + 2 * 16 * 1 - 1) + 4 * (io - 1 + 2 * 16 * 9)  # 1189
    # MAC loops of max(2 x 16, 32) x 9 = 288 trips again, now for both images; drains 8 groups x 2 x 16 px = 256;
    # the last loop keeps its 288 trips (32 pixels x 9)
    compute2 = (io + 288 - 1) + 2 * mac(288) + mac(max(288, 256)) + mac(288) + (io + 256 - 1)  # 1722
    requant2 = 2 * ((io + 32 - 1) + 2 * (9 * (5 - 1) + 16 + 7 * max(16, 4 * 1) + (32 - 7 * 4) * 1))  # 738
    write2 = L + 2 * 2 * (io + 32 - 1)  # 196: per output tile and image one run
    assert compute2 == max(read_x2, read_w, pad_x2, compute2, requant2, write2) == 1722
    reread_task = compute2 + fills  # 1863
    assert reread_task < reuse_task
    cyc, _, reuse, nb = em.layer_walks(cfg, batch=2)
    assert (cyc[0, 1], bool(reuse[0, 1]), nb[0, 1]) == (reread_task, False, 2) == (1863, False, 2)
    assert em.walks(cfg.row(0), 2) == ({"a": False, "f": False}, {"a": 1, "f": 2})
    # one image per task: one walk, reuse
    cyc, _, reuse, nb = em.layer_walks(cfg, batch=1)
    assert (cyc[0, 1], bool(reuse[0, 1]), nb[0, 1]) == (one_pass, True, 1) == (1591, True, 1)


def _task_of_batch(em, i: int, tr: int, c: Configs, reuse: bool, nb: int, batch: int) -> float:
    """One configuration's task of ``batch`` images for layer ``i``: floor(batch / nb) passes of nb images and one
    of the rest, each priced by task_cycles alone."""
    lat, ii = em.pe_timing(c.tm, c.tn)

    def one(m):
        return float(em.task_cycles(i, tr, c.tm, c.tn, np.maximum(c.dw, 1), c.rq, np.array([reuse]), lat, ii, m)[0])

    return (batch // nb) * one(nb) + (one(batch % nb) if batch % nb else 0.0)


def test_walk_is_the_faster_of_both_priced_walks():
    """Over many configurations of a CIFAR-sized network at B = 8: every layer's cycles are the faster of its two
    walks priced one by one with task_cycles (reuse at the buffers' images, re-reading at images_rereading; ties
    to reuse), so the read_x floor that skips the second pricing loses nothing."""
    import random

    from nash.frontend.accel.search import full_space
    from nash.frontend.nas.search_space import sample, space_for_dataset

    arch = sample(space_for_dataset("cifar100"), random.Random(1))
    ctx = make_context(lower(arch), "kv260")
    flips = priced = 0
    for em in ctx.engines.values():
        rows = random.Random(2).sample(full_space(em, ctx.board), 40)
        c = Configs.from_rows(rows)
        cyc, tiles, reuse, nb = em.layer_walks(c, 8)
        for k, row in enumerate(rows):
            buf = em.engine_buffers(row, 8)
            for i, n in enumerate(em.layers):
                walk = (buf.reuse[n.name], buf.images.get(n.name, 1))
                if n.name not in buf.images_rereading:  # one walk offered: the buffers'
                    assert (bool(reuse[k, i]), nb[k, i]) == walk
                    continue
                priced += 1
                want = _task_of_batch(em, i, int(tiles[k, i]), c.take([k]), *walk, 8)
                other = _task_of_batch(em, i, int(tiles[k, i]), c.take([k]), False, buf.images_rereading[n.name], 8)
                if other < want:
                    want, walk, flips = other, (False, buf.images_rereading[n.name]), flips + 1
                assert (cyc[k, i], bool(reuse[k, i]), nb[k, i]) == (want, *walk)
    assert priced > flips > 0, (priced, flips)  # both outcomes occur among these configurations


def test_misc_unit_hand_worked():
    """Residual add (a DATAFLOW region), global pooling and fc (loops in sequence), one word (16 lanes) per cycle."""
    add = Node("a", "add", "add", ("x", "y"), 16, 16, 8, 8)
    gap = Node("g", "gap", "gap", ("a",), 32, 32, 4, 1)
    fc = Node("f", "fc", "fc", ("g",), 32, 10, 1, 1)
    ctx = AccelContext.build([PW, add, gap, fc], load_board("kv260"), load_cost_table(), PeTiming())
    # add: 64 words, one chunk: read 2 bursts of 64 (2 x 129), op = 2 scale words (67) + 64 words (66), write 129
    add_c = 2 * (64 + 2 + 63) + (3 + 2)  # the reader is slowest; + op and write fills
    # gap: scale word (66) + one burst of 32 plane words through the sum loop (64 + 3 + 31) + 2 output words (67)
    gap_c = 66 + (64 + 3 + 31) + (64 + 2 + 1)
    # fc: input vector 2 words (67) + 10 classes x (1 record + 2 words) in one burst (64 + 3 + 29) + 5 logit words
    fc_c = (64 + 2 + 1) + (64 + 3 + 29) + (64 + 2 + 4)
    assert list(ctx.misc.layer_cycles()) == [add_c, gap_c, fc_c] == [263, 231, 233]


def test_calibrated_pe_timing_changes_latency(tmp_path):
    # A record with latency 9 and II 2 for the 16x8 conv array: a 64-pixel MAC loop becomes (9 + 1) + (64 - 1) x 2
    # = 136 instead of 69, the one with the drain inside (256 cycles) 10 + 255 x 2 = 520, so compute = 9 + 3 x 136 +
    # 520 + 257 (the last drain) = 1194; + fills 141 = 1335.
    p = tmp_path / "pe_arrays.json"
    p.write_text(json.dumps({"source": "cocotb+icarus",
                             "records": [{"engine": "conv", "tm": 16, "tn": 8, "latency": 9, "ii": 2}]}))
    pe = load_pe_timing(p)
    assert pe.calibrated and "cocotb+icarus" in pe.source
    cyc, tile = _engine([PW], pe).layer_cycles(CFG)
    assert cyc[0, 0] == 1335 and tile[0, 0] == 8


def test_conv_resources_one_dsp_per_mac():
    """No DSP packing: the conv engine's DSPs are one per array PE and depthwise lane, plus the requant lanes."""
    t = load_cost_table()
    res = _engine([PW, DW]).resources(CFG)[0]
    assert res[0] == 16 * 8 * t["conv.pe_dsp"] + 16 * t["conv.dw_lane_dsp"] + 4 * t["requant.lane_dsp"]
    assert t["conv.pe_dsp"] == t["conv.dw_lane_dsp"] == 1  # measured: one DSP48E2 per array PE and per lane


def test_array_and_lane_luts_hand_worked():
    """The shift engine's PE array and depthwise lanes priced per bit of the adder tree, by hand: tm 2 x tn 4 with
    3 lanes. Shift terms +-128 << 7 lie in [-16384, 16384] (16 signed bits), so a 2-term node needs 17 bits and the
    4-term root 18: one row's tree is 17 + 17 + 18 = 52 bits. With 40 LUT per PE, 1 per tree bit, 0.5 per input
    column and 100 per lane: 8 x 40 + 2 x 52 x 1 + 4 x 0.5 + 3 x 100 = 320 + 104 + 2 + 300 = 726 LUT more than with
    those entries at 0 (the rest of the engine: requant lanes, control, m_axi, buffers)."""
    base = load_cost_table()
    keys = ("shift.pe_lut", "tree.lut_per_bit", "array.column_lut", "shift.dw_lane_lut")
    hand = dataclasses.replace(base, values=dict(base.values, **dict(zip(keys, (40.0, 1.0, 0.5, 100.0), strict=True))))
    zero = dataclasses.replace(base, values=dict(base.values, **dict.fromkeys(keys, 0.0)))
    cfg = Configs.from_rows([(2, 4, 3, 8, 1, 0)])

    def lut(table):
        return EngineModel("shift", [PW, DW], load_board("kv260"), table, PeTiming(), bw=16.0).resources(cfg)[0][1]

    assert lut(hand) - lut(zero) == pytest.approx(726.0)


def test_band_buffer_and_byte_mux_luts_hand_worked():
    """The band buffers of CFG (tn 8, 16 depthwise lanes) on [PW, DW], by hand: PW's 2 input tiles x 4 words = 8 words
    a half (reused), DW's one 8 x 8 plane = 4 words; one bank of 128-bit words per lane holds both halves, so 16 and 8
    words deep, distributed RAM at ceil(depth / 64) x 128 LUT a bank: 8 x 128 = 1024 and 16 x 128 = 2048 LUT. The
    window read adds a 16:1 byte mux per lane: (8 + 16) x xband.mux_lut (45, Yosys) = 1080 LUT."""
    t = load_cost_table()
    em = _engine([PW, DW])
    bufs = {b.name: b for b in em.engine_buffers(CFG.row(0)).buffers}
    assert (bufs["xband"].banks, bufs["xband"].depth, bufs["xband"].lut) == (8, 16, 1024)
    assert (bufs["xband_dw"].banks, bufs["xband_dw"].depth, bufs["xband_dw"].lut) == (16, 8, 2048)
    assert t["xband.mux_lut"] == 45.0
    no_mux = dataclasses.replace(t, values=dict(t.values, **{"xband.mux_lut": 0.0}))
    lut = em.resources(CFG)[0][1]
    lut0 = EngineModel("conv", [PW, DW], load_board("kv260"), no_mux, PeTiming(), bw=16.0).resources(CFG)[0][1]
    assert lut - lut0 == pytest.approx(24 * 45.0)


def test_pe_timing_default_and_nearest_record(tmp_path, monkeypatch):
    monkeypatch.delenv("NASH_CALIBRATION", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # no nash-hls/calibration/pe_arrays.json here
    pe = load_pe_timing()
    assert not pe.calibrated and "uncalibrated" in pe.source
    assert [pe.latency("adder", 8, tn) for tn in (1, 2, 3, 4, 8, 16)] == [2, 3, 4, 4, 5, 6]
    assert default_pe_latency(64) == 8
    rec = PeTiming([{"engine": "shift", "tm": 8, "tn": 4, "latency": 6, "ii": 1}], "test")
    assert rec.latency("shift", 8, 4) == 6
    assert rec.latency("shift", 8, 8) == 7  # nearest record (tn 4) + one more adder-tree level
    assert rec.latency("conv", 8, 8) == 5  # no conv record: default formula


def test_calibration_location_ignores_cwd(tmp_path, monkeypatch):
    """Argument, else $NASH_CALIBRATION, else $XDG_CACHE_HOME/nash-hls/calibration/pe_arrays.json (~/.cache when
    XDG_CACHE_HOME is unset or relative); the file found is the same from any working directory."""
    monkeypatch.delenv("NASH_CALIBRATION", raising=False)
    cache = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    want = cache / "nash-hls" / "calibration" / "pe_arrays.json"
    want.parent.mkdir(parents=True)
    want.write_text(json.dumps({"source": "cocotb+icarus",
                                "records": [{"engine": "adder", "tm": 8, "tn": 4, "latency": 7, "ii": 1}]}))
    for cwd in (tmp_path, want.parent):
        monkeypatch.chdir(cwd)
        assert calibration_path() == want
        assert load_pe_timing().latency("adder", 8, 4) == 7
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")  # not absolute: ignored, as the XDG spec says
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert calibration_path() == tmp_path / "home" / ".cache" / "nash-hls" / "calibration" / "pe_arrays.json"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert calibration_path() == tmp_path / "home" / ".cache" / "nash-hls" / "calibration" / "pe_arrays.json"
    monkeypatch.setenv("NASH_CALIBRATION", str(tmp_path / "env.json"))
    assert calibration_path() == tmp_path / "env.json"
    assert calibration_path(tmp_path / "arg.json") == tmp_path / "arg.json"


def test_bad_calibration_file_names_field(tmp_path):
    p = tmp_path / "pe.json"
    p.write_text(json.dumps({"source": "x", "records": [{"engine": "conv", "tm": 8, "tn": 0, "latency": 3, "ii": 1}]}))
    with pytest.raises(ValueError, match=r"records\[0\]\.tn"):
        load_pe_timing(p)


ARCHS = [
    {"input_channels": 3, "input_size": 32, "num_classes": 100,
     "stem": {"op": "conv", "width": 16, "kernel": 3, "stride": 1},
     "stages": [{"width": 24, "stride": 2, "blocks": [{"op": "adder", "kernel": 3, "expand": 4},
                                                      {"op": "shift", "kernel": 5, "expand": 4}]},
                {"width": 40, "stride": 2, "blocks": [{"op": "conv", "kernel": 5, "expand": 6},
                                                      {"op": "adder", "kernel": 3, "expand": 6}]}],
     "head": {"width": 256}},
    {"input_channels": 3, "input_size": 32, "num_classes": 10,
     "stem": {"op": "conv", "width": 24, "kernel": 3, "stride": 1},
     "stages": [{"width": 32, "stride": 2, "blocks": [{"op": "conv", "kernel": 3, "expand": 4}] * 3}],
     "head": {"width": 128}},
]


@pytest.mark.parametrize("board", ["kv260", "zcu104", "ultra96v2"])
@pytest.mark.parametrize("arch", range(len(ARCHS)))
def test_returned_design_within_board(board, arch):
    ctx = make_context(lower(ARCHS[arch]), board)
    r = coarse_to_fine(ctx)
    assert r.design is not None
    b = load_board(board)
    used = resources_dict(r.design.res)
    for k, v in used.items():
        assert v <= b.budget[k] <= b.resources[k], (k, v, b.budget[k])
    # the total is the sum of its parts (engines + misc + shell), recomputed here
    parts = ctx.fixed_resources.copy()
    for e, row in r.design.rows.items():
        parts = parts + ctx.engines[e].resources(Configs.from_rows([row]))[0]
    assert np.allclose(parts, r.design.res)
    assert np.all(parts <= budget_vector(b) + 1e-9)


def test_accumulator_memory_codes_priced_by_hand():
    """[PW, DW] on 8 x 8 maps, tile 8: a band is the whole map, 64 pixels, both ping-pong halves 128 x 32 bits = 4 Kbit
    a bank (above the 1 Kbit of distributed RAM): one BRAM18 (512 x 36) or one URAM (72 x 4096) a bank. 16 array
    lanes and 8 depthwise lanes: code 0 (both BRAM) 16 + 8 BRAM18; 1 (both URAM) 24 URAM; 2 (array in URAM, lanes in
    BRAM) 16 URAM + 8 BRAM18; 3 (the reverse) 16 BRAM18 + 8 URAM. Nothing else changes."""
    from nash.frontend.accel.model import config_dict, config_row

    em = _engine([PW, DW])
    res = em.resources(Configs.from_rows([(16, 8, 8, 8, 4, m) for m in range(4)]))
    b18, ur = res[:, 3] - res[0, 3], res[:, 4] - res[0, 4]
    assert b18.tolist() == [0, -24, -16, -8] and ur.tolist() == [0, 24, 16, 8]
    assert res[0, 4] == 0  # code 0 has no URAM at all
    assert np.array_equal(res[:, :3], np.repeat(res[:1, :3], 4, axis=0))  # DSP, LUT, FF unchanged
    for m, pair in enumerate((("bram", "bram"), ("uram", "uram"), ("uram", "bram"), ("bram", "uram"))):
        cfg = config_dict((16, 8, 8, 8, 4, m))
        assert (cfg["acc_mem"], cfg["acc_dw_mem"]) == pair and config_row(cfg) == (16, 8, 8, 8, 4, m)


def test_task_processes_are_the_region_task_cycles_prices():
    """task_processes lists the six processes in PROCESSES order, and task_cycles is their DATAFLOW region: the
    slowest plus the other five's fills (checked on the hand-worked walk-flip layer, re-reading two images)."""
    from nash.frontend.accel.model import PROCESSES

    a = Node("a", "conv", "conv", ("input",), 16, 32, 8, 8, kernel=1, stride=1, padding=0, role="project")
    f = Node("f", "conv", "conv", ("input",), 32, 64, 4, 4, kernel=3, stride=1, padding=1)
    em = _engine([a, f])
    c = Configs.from_rows([(32, 16, 16, 4, 4, 0)])
    lat, ii = em.pe_timing(c.tm, c.tn)
    procs = em.task_processes(1, 4, c.tm, c.tn, c.dw, c.rq, np.array([False]), lat, ii, 2)
    assert len(procs) == len(PROCESSES) == 6
    cyc = [float(np.asarray(p).reshape(-1)[0]) for p, _ in procs]
    fills = [float(np.asarray(fl).reshape(-1)[0]) for _, fl in procs]
    slow = int(np.argmax(cyc))
    assert PROCESSES[slow] == "compute" and cyc[slow] == 1722  # compute2 of the hand-worked flip test
    region = cyc[slow] + sum(fl for k, fl in enumerate(fills) if k != slow)
    assert region == float(em.task_cycles(1, 4, c.tm, c.tn, c.dw, c.rq, np.array([False]), lat, ii, 2)[0]) == 1863
