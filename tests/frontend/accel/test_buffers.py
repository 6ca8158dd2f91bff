"""The engines' buffer function (frontend/accel/buffers.py): bands, reuse and memory mapping worked out by hand."""

from __future__ import annotations

import pytest
from nash.frontend.accel.buffers import (
    Band,
    band_rows,
    bands,
    engine_buffers,
    images_per_pass,
    memory_blocks,
    walk_problem,
    with_walks,
)
from nash.frontend.core.graph import Node


def conv(name: str, cin: int, cout: int, size: int, k: int = 3, s: int = 1, groups: int = 1) -> Node:
    return Node(name, "conv", "conv", ("input",), cin, cout, size, -(-size // s), k, s, k // 2, groups)


@pytest.mark.parametrize(("width", "tr", "rows"), [
    (32, 5, 5),  # every row of 32 bytes is two whole words
    (16, 3, 3),
    (8, 5, 4),  # 2 rows = one word: the multiple of 2 below 5
    (8, 1, 2),  # at least one multiple
    (28, 8, 8),  # 16 / gcd(28, 16) = 4 rows = 7 words
    (7, 4, 7),  # 16 rows would be needed: the whole map
    (4, 32, 4),  # capped at the map
])
def test_band_rows_start_on_whole_words(width, tr, rows):
    assert band_rows(width, tr) == rows
    assert rows * width % 16 == 0 or rows == width


def test_bands_with_halo_by_hand():
    # 16 x 16, k = 3, pad 1, bands of 8 rows: rows 0-7 read input rows 0..8 (bytes 0..143 -> words 0..8),
    # rows 8-15 read input rows 7..15 (bytes 112..255 -> words 7..15)
    assert bands(conv("a", 3, 4, 16), 8) == [Band(0, 8, 0, 9), Band(8, 8, 7, 9)]
    # stride 2, 16 -> 8, bands of 4 output rows (16 / gcd(8, 16) = 2): rows 0-3 need input rows 0..7 (iy1 =
    # 3 * 2 - 1 + 3 = 8), rows 4-7 need 7..15
    assert bands(conv("b", 3, 4, 16, s=2), 4) == [Band(0, 4, 0, 8), Band(4, 4, 7, 9)]
    # the whole map in one band: every plane word
    assert bands(conv("c", 3, 4, 6), 8) == [Band(0, 6, 0, 3)]


def test_memory_mapping_rules():
    assert memory_blocks(4, 16, 8) == ("lutram", 0, 0, 4 * 1 * 8)  # 128 bits a bank
    assert memory_blocks(2, 1024, 32) == ("bram", 4, 0, 0)  # 1024 x 32: two 512 x 36 BRAM18 per bank
    assert memory_blocks(2, 1024, 32, uram=True) == ("uram", 0, 2, 0)
    assert memory_blocks(1, 2048, 8) == ("bram", 1, 0, 0)  # 2048 x 9 mode
    assert memory_blocks(0, 10, 8) == ("none", 0, 0, 0)


def test_engine_buffers_by_hand():
    a = conv("a", 3, 12, 16)  # two output tiles of 8 on 8 x 8: its band is reused
    b = conv("b", 12, 12, 8, k=1)
    buf = engine_buffers([a, b], {"a": 8, "b": 8}, 8, 8, 8, 2)
    assert buf.reuse == {"a": True, "b": True}
    # a: 1 input tile x 9 words; b: 2 input tiles x 4 words (8 x 8 map, one band)
    assert buf.xband_words == 9 and buf.acc_pixels == 8 * 16 and buf.kk == 9
    by = {x.name: x for x in buf.buffers}
    assert set(by) == {"xband", "wt", "acc", "rq_stage"}  # no depthwise layer
    # one bank of 128-bit words per lane (tn = 8), both halves of 9 words: 18 deep, distributed RAM (<= 128 words),
    # ceil(18 / 64) x 128 = 128 LUT a bank (the 2 x 8 x 16 byte banks of 9 x 8 bits it replaces: 256 x 8 = 2048 LUT)
    assert (by["xband"].banks, by["xband"].depth, by["xband"].width_bits) == (8, 18, 128)
    assert (by["xband"].memory, by["xband"].lut, by["xband"].bram18) == ("lutram", 8 * 128, 0)
    # one accumulator bank per lane (the drain reads 2 lanes of one pixel per cycle) holding two halves (ping-pong
    # per output tile) of the band's 128 pixels
    assert (by["acc"].banks, by["acc"].depth, by["acc"].width_bits) == (8, 256, 32)
    assert by["acc"].memory == "bram" and by["acc"].bram18 == 8  # 256 x 32 = 8 Kbit > 1 Kbit: one BRAM18 a bank
    # the requant stage: 16 byte banks of 2 halves x 2 lanes x 8 words (128 pixels / 16) = 32 bytes: 256 bits each,
    # distributed RAM of ceil(32 / 64) x 8 = 8 LUTs a bank
    stage = by["rq_stage"]
    assert (stage.banks, stage.depth, stage.width_bits, stage.memory, stage.lut) == (16, 32, 8, "lutram", 128)
    assert buf.stage_depth == 32 and buf.stage_dw_depth == 0
    assert buf.bram36 == 4  # the 8 accumulator BRAM18
    uram = engine_buffers([a, b], {"a": 8, "b": 8}, 8, 8, 8, 2, acc_mem="uram")
    assert uram.bram36 == 0 and uram.uram == 8  # one URAM a lane
    # a smaller tile: bands of 4 rows -> 64 accumulators a lane and half, 4 Kbit: still one BRAM18 a lane; 16
    # pixels (a 2 x 8 band: 2 x 16 x 32 = 1 Kbit) is the largest band whose accumulators stay in distributed RAM
    small = engine_buffers([a, b], {"a": 4, "b": 4}, 8, 8, 8, 2)
    assert small.acc_pixels == 64 and small.bram36 == 4
    tiny = engine_buffers([b], {"b": 2}, 8, 8, 8, 2)
    assert tiny.acc_pixels == 16 and tiny.bram36 == 0 and {x.memory for x in tiny.buffers} == {"lutram"}


def test_images_per_pass_by_hand():
    """The buffers of test_engine_buffers_by_hand (sized by a: 128 accumulator pixels a lane, 9 band words a half)
    with a 2 x 2 layer c beside them; the images a pass folds, worked out by hand from those two bounds: a fills
    the accumulators (128 // 128 = 1); b's two kept input tiles of 4 words fill 8 of the 9 words (9 // 8 = 1, though
    its 64 pixels would allow 2); c (4 pixels, 1 word, one input tile) is bounded by the batch, then by the 9 words.
    The buffers themselves do not change with the batch."""
    a = conv("a", 3, 12, 16)
    b = conv("b", 12, 12, 8, k=1)
    c = conv("c", 8, 16, 2)
    tiles = {"a": 8, "b": 8, "c": 8}
    one = engine_buffers([a, b, c], tiles, 8, 8, 8, 2)
    assert (one.acc_pixels, one.xband_words, one.images) == (128, 9, {})  # batch 1: one image per pass
    assert engine_buffers([a, b, c], tiles, 8, 8, 8, 2, batch=8).images == {"a": 1, "b": 1, "c": 8}
    big = engine_buffers([a, b, c], tiles, 8, 8, 8, 2, batch=32)
    assert big.images == {"a": 1, "b": 1, "c": 9}
    assert big.buffers == one.buffers and big.bram18 == one.bram18 and big.lut == one.lut
    assert images_per_pass(4, 1, 32, 128, 9) == 9 and images_per_pass(64, 8, 8, 128, 9) == 1
    assert images_per_pass(200, 1, 8, 128, 9) == 1  # even one band over the buffers runs one image per pass


def test_rereading_walk_and_its_fit_by_hand():
    """The engine of test_images_per_pass_by_hand (128 accumulator pixels a lane, 9 band words a half) at B = 8.
    b (12 -> 12 on 8 x 8: 2 input tiles of 4 words, 2 output tiles) keeps both tiles with reuse: 8 words, one image
    per pass; re-reading its band per output tile keeps one tile's 4 words per image: 9 // 4 = 2 images, and
    2 x 64 pixels fit the 128 accumulators: the other walk the model prices. a and c have one input tile each: both
    walks keep one tile, so nothing is offered. with_walks takes a design's walks; walk_problem says why one does
    not fit."""
    a = conv("a", 3, 12, 16)
    b = conv("b", 12, 12, 8, k=1)
    c = conv("c", 8, 16, 2)
    tiles = {"a": 8, "b": 8, "c": 8}
    buf = engine_buffers([a, b, c], tiles, 8, 8, 8, 2, batch=8)
    assert (buf.images, buf.images_rereading) == ({"a": 1, "b": 1, "c": 8}, {"b": 2})
    assert engine_buffers([a, b, c], tiles, 8, 8, 8, 2).images_rereading == {}  # one image per task: one walk
    walked = with_walks([a, b, c], tiles, buf, 8, 8, {"b": False}, {})
    assert (walked.reuse, walked.images) == ({"a": True, "b": False, "c": True}, {"a": 1, "b": 2, "c": 8})
    assert walked.buffers == buf.buffers  # the walks do not change the buffers
    assert with_walks([a, b, c], tiles, buf, 8, 8, {}, {"c": 4, "x": 3}).images == {"a": 1, "b": 1, "c": 4}
    assert walk_problem(b, 8, 8, buf, 8, False, 2) is None and walk_problem(b, 8, 8, buf, 8, True, 1) is None
    assert walk_problem(b, 8, 8, buf, 8, False, 3) == (
        "images", "3 images x 64 band pixels exceed the engine's 128 accumulator pixels a lane")
    assert walk_problem(b, 8, 8, buf, 8, True, 2) == (
        "images", "2 images x 2 input tiles x 4 band words (input reuse) exceed the engine's band buffer of 9 words "
                  "a lane and half")
    assert walk_problem(c, 8, 8, buf, 8, False, 9) == ("images", "9 images per pass exceed the section's batch 8")
    assert walk_problem(c, 8, 8, buf, 16, False, 10) == (
        "images", "10 images x 1 band words exceed the engine's band buffer of 9 words a lane and half")
    d = conv("d", 24, 16, 8, k=1)  # 3 input tiles x 4 words: its reuse band alone exceeds the 9 words
    assert walk_problem(d, 8, 8, buf, 8, True, 1)[0] == "reuse" and walk_problem(d, 8, 8, buf, 8, False, 1) is None
    dw = Node("dw", "conv", "conv", ("input",), 8, 8, 8, 8, 3, 1, 1, 8)
    assert walk_problem(dw, 8, 8, buf, 8, True, 1)[0] == "reuse"


def test_reuse_needs_the_buffer():
    big = conv("big", 256, 32, 32, k=3)  # 32 input tiles of 8 x (whole map: 64 words) does not fit 256 words
    buf = engine_buffers([big], {"big": 32}, 8, 8, 8, 1)
    assert buf.reuse == {"big": False} and buf.xband_words == 64
    xb = next(b for b in buf.buffers if b.name == "xband")
    # 2 x 64 words: at the 128 words of distributed RAM, ceil(128 / 64) x 128 = 256 LUT a lane
    assert (xb.depth, xb.memory, xb.bram18, xb.lut) == (128, "lutram", 0, 8 * 256)
    with pytest.raises(ValueError, match="acc_mem"):
        engine_buffers([big], {}, 8, 8, 8, 1, acc_mem="dram")


def test_deep_band_maps_to_block_ram_and_lifts_reuse():
    """Pointwise 32 -> 64 on a 32 x 32 map (64 words a plane, one band), tm = tn = 8: 4 input tiles x 64 = 256 words
    fit the 256-word reuse depth, so the band is kept for the 8 output tiles; its bank, 2 x 256 words x 128 bits, is
    deeper than the 128 words of distributed RAM and maps to block RAM: the 512 x 36 mode, ceil(128 / 36) = 4 BRAM18
    a lane (1024 x 18 would need 8, 2048 x 9 fifteen). A fifth input tile (40 channels: 320 words) does not fit: no
    reuse, one tile's 64 words a half: 2 x 64 words, distributed RAM, ceil(128 / 64) x 128 = 256 LUT a lane. A
    16 x 16 map with 5 tiles reused: 80 words a half, 160 deep: block RAM again, 4 BRAM18 a lane. (The byte banks
    the word banks replace were 2 x 16 banks a lane of 256 x 8 bits: 32 BRAM18 a lane, which is why their depth was
    capped at 128 words.) A band of at most 64 words a half stays in distributed RAM."""
    deep = conv("deep", 32, 64, 32, k=1)
    buf = engine_buffers([deep], {"deep": 32}, 8, 8, 8, 1)
    xb = next(b for b in buf.buffers if b.name == "xband")
    assert buf.reuse == {"deep": True} and buf.xband_words == 256
    assert (xb.banks, xb.depth, xb.memory, xb.bram18, xb.lut) == (8, 512, "bram", 8 * 4, 0)
    wide = conv("wide", 40, 64, 32, k=1)
    buf = engine_buffers([wide], {"wide": 32}, 8, 8, 8, 1)
    xb = next(b for b in buf.buffers if b.name == "xband")
    assert buf.reuse == {"wide": False} and buf.xband_words == 64
    assert (xb.depth, xb.memory, xb.bram18, xb.lut) == (128, "lutram", 0, 8 * 256)
    small = conv("small", 40, 64, 16, k=1)  # 16 x 16: 16 words a plane; 5 input tiles x 16 = 80 words: reused
    buf = engine_buffers([small], {"small": 16}, 8, 8, 8, 1)
    xb = next(b for b in buf.buffers if b.name == "xband")
    assert buf.reuse == {"small": True} and buf.xband_words == 5 * 16
    assert (xb.depth, xb.memory, xb.bram18) == (160, "bram", 8 * 4)
    one = conv("one", 8, 64, 16, k=1)  # one input tile of 16 words: 32 words deep, distributed RAM
    buf = engine_buffers([one], {"one": 16}, 8, 8, 8, 1)
    xb = next(b for b in buf.buffers if b.name == "xband")
    assert buf.xband_words == 16 and (xb.depth, xb.memory, xb.lut) == (32, "lutram", 8 * 128)


@pytest.mark.parametrize("space", ["digits", "cifar32"])
def test_searched_designs_fit_the_board_memory(space):
    """The buffers the generated code allocates for searched designs (the section's engines and per-layer tiles),
    plus the fixed m_axi and misc-unit BRAM of the cost table, fit the KV260: 144 BRAM36, 64 URAM."""
    import random

    from nash.frontend.accel.board import load_board
    from nash.frontend.accel.cost_table import load_cost_table
    from nash.frontend.accel.model import engine_of
    from nash.frontend.accel.section import section_for
    from nash.frontend.core.graph import lower
    from nash.frontend.nas.search_space import get_space, sample

    board, table = load_board("kv260"), load_cost_table(None)
    rng = random.Random(1)
    for _ in range(2):
        nodes = lower(sample(get_space(space), rng))
        acc = section_for(nodes)
        bram36 = table["misc.bram36"] + table["maxi.bram36"]
        uram = 0
        for e, cfg in acc["engines"].items():
            if e == "misc" or cfg is None:
                continue
            layers = [n for n in nodes if n.kind == "conv" and engine_of(n) == e]
            buf = engine_buffers(layers, {n.name: acc["layers"][n.name]["tr"] for n in layers}, cfg["tm"], cfg["tn"],
                                 cfg["dw_lanes"], cfg["requant_lanes"], 32, 8, cfg["acc_mem"],
                                 table["lutram.max_bits"], table["lutram.bits_per_lut"], acc_dw_mem=cfg["acc_dw_mem"])
            bram36 += buf.bram36 + table["maxi.bram36"]
            uram += buf.uram
        assert bram36 <= board.resources["bram"] == 144 and uram <= board.resources["uram"] == 64


def test_accumulators_each_in_their_own_memory_by_hand():
    """An engine with a standard and a depthwise layer (16 x 16 maps, bands of 8 rows: 128 pixels a lane, both
    ping-pong halves 256 x 32 bits = 8 Kbit a bank, above the 1 Kbit of distributed RAM). A bank is one BRAM18 (the
    512 x 36 mode) or one URAM (72 x 4096). tm = 8 array lanes, dw = 16 depthwise lanes: the array's accumulators
    are 8 banks, the lanes' 16, and each goes where its own field says; the other buffers do not move."""
    a = conv("a", 16, 16, 16)
    d = conv("d", 16, 16, 16, groups=16)
    assert d.depthwise and not a.depthwise
    tiles = {"a": 8, "d": 8}
    by_mem = {(m, md): engine_buffers([a, d], tiles, 8, 8, 16, 2, acc_mem=m, acc_dw_mem=md)
              for m in ("bram", "uram") for md in ("bram", "uram")}
    for (m, md), buf in by_mem.items():
        rows = {x.name: x for x in buf.buffers}
        assert (rows["acc"].banks, rows["acc"].depth, rows["acc"].width_bits) == (8, 256, 32)
        assert (rows["acc_dw"].banks, rows["acc_dw"].depth, rows["acc_dw"].width_bits) == (16, 256, 32)
        assert (rows["acc"].memory, rows["acc_dw"].memory) == (m, md)
        assert (rows["acc"].bram18, rows["acc"].uram) == ((8, 0) if m == "bram" else (0, 8))
        assert (rows["acc_dw"].bram18, rows["acc_dw"].uram) == ((16, 0) if md == "bram" else (0, 16))
    both_bram = by_mem["bram", "bram"]
    rest = both_bram.bram18 - 8 - 16  # every other buffer's BRAM18, the same in all four
    assert (by_mem["uram", "bram"].bram18, by_mem["uram", "bram"].uram) == (rest + 16, 8)
    assert (by_mem["bram", "uram"].bram18, by_mem["bram", "uram"].uram) == (rest + 8, 16)
    assert (by_mem["uram", "uram"].bram18, by_mem["uram", "uram"].uram) == (rest, 24)
    # acc_dw_mem left out: the one acc_mem places both (the rule before version 4 of the section)
    assert engine_buffers([a, d], tiles, 8, 8, 16, 2, acc_mem="uram") == by_mem["uram", "uram"]
    with pytest.raises(ValueError, match="acc_dw_mem: expected one of"):
        engine_buffers([a, d], tiles, 8, 8, 16, 2, acc_dw_mem="dram")


def test_acc_mem_codes_name_each_pair_once():
    from nash.frontend.accel.buffers import ACC_MEM_CODES, acc_mem_code

    assert ACC_MEM_CODES[0] == ("bram", "bram") and ACC_MEM_CODES[1] == ("uram", "uram")  # the old 0 / 1
    assert sorted(ACC_MEM_CODES) == sorted((m, md) for m in ("bram", "uram") for md in ("bram", "uram"))
    assert [acc_mem_code(*p) for p in ACC_MEM_CODES] == [0, 1, 2, 3]
