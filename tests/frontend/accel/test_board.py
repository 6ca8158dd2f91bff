"""Board descriptions: known boards, usable fractions, clear errors."""

import json

import pytest
from nash.frontend.accel.board import BoardError, known_boards, load_board


def test_kv260_facts():
    b = load_board("kv260")
    assert b.part == "xck26-sfvc784-2LV-c"
    assert b.resources == {"lut": 117120, "ff": 234240, "dsp": 1248, "bram": 144, "uram": 64}
    assert b.budget["dsp"] == int(1248 * b.usable_fraction["dsp"])


def test_other_boards_and_override():
    assert {"kv260", "zcu104", "ultra96v2"} <= set(known_boards())
    u = load_board("ultra96v2", usable_fraction=0.5)
    assert u.resources["uram"] == 0 and u.budget["dsp"] == 180
    assert load_board("zcu104", clock_mhz=250).clock_mhz == 250


def test_unknown_board_lists_known():
    with pytest.raises(BoardError, match=r"unknown board 'kv999'.*kv260.*zcu104"):
        load_board("kv999")


def test_bad_board_file_names_field(tmp_path):
    data = json.loads(load_board.__globals__["BOARDS_DIR"].joinpath("kv260.json").read_text())
    data["resources"]["dsp"] = -1
    p = tmp_path / "b.json"
    p.write_text(json.dumps(data))
    with pytest.raises(BoardError, match=r"b\.json: field 'resources\.dsp'"):
        load_board(p)
    with pytest.raises(BoardError, match="usable fraction"):
        load_board("kv260", usable_fraction=1.5)
