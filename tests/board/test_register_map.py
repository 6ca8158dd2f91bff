"""The s_axilite register map: hand-worked offsets of the Vitis HLS rule, the map codegen writes against the
rendered top's signature (read back from the C++ as an independent check), and the .hwh / .bit checks."""

from __future__ import annotations

import json
import re
import struct

import pytest
from helpers import REPO
from nash.board.errors import BundleError, RegisterMapError
from nash.board.regmap import bit_header, check_against_hwh, check_bit_hwh_pair, parse_register_map
from nash.codegen.hls.register_map import argument_registers

TINY = REPO / "examples" / "tiny_hybrid.json"


def test_offsets_by_hand():
    # the Vitis HLS vadd layout: a 0x10/0x14 (0x18 reserved), b 0x1c/0x20, c 0x28/0x2c, n 0x34 (0x38 reserved)
    regs = argument_registers([("img_a", "pointer"), ("wb_b", "pointer"), ("logits", "pointer"), ("n", "int32"),
                               ("m", "int32")])
    assert [(r["name"], r["offset"]) for a in regs for r in a["registers"]] == [
        ("img_a_1", 0x10), ("img_a_2", 0x14), ("wb_b_1", 0x1C), ("wb_b_2", 0x20), ("logits_1", 0x28),
        ("logits_2", 0x2C), ("n", 0x34), ("m", 0x3C)]
    assert [a["buffer"] for a in regs[:3]] == ["images", "weights", "logits"]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    from nash.codegen.hls.project import generate

    out = tmp_path_factory.mktemp("proj")
    generate(TINY, out)
    return out


def test_codegen_map_follows_the_rendered_signature(project):
    doc = json.loads((project / "register_map.json").read_text())
    rmap = parse_register_map(doc)
    top = (project / "src" / "top.cpp").read_text()
    sig = re.search(r"void nash_top\((.*?)\)\s*\{", top, re.S).group(1)
    names = [p.split()[-1].lstrip("*") for p in sig.split(",")]
    assert [a["name"] for a in doc["arguments"]] == names
    assert doc["arguments"][0]["registers"][0]["offset"] == 0x10
    assert rmap.scalar("n_slots") == rmap.scalar("n_images") + 8
    ptrs = len(rmap.pointers)
    assert rmap.scalar("n_images") == 0x10 + 12 * ptrs
    assert doc["buffers"]["weights"]["bytes"] == (project / "weights.bin").stat().st_size


def _hwh(regs: dict[str, int], instance="nash_top_0", name="nash_bd", device="xck26", vlnv=None) -> str:
    body = "".join(f'<REGISTER NAME="{n}"><PROPERTY NAME="ADDRESS_OFFSET" VALUE="{o:#x}"/>'
                   f'<PROPERTY NAME="SIZE" VALUE="32"/></REGISTER>' for n, o in regs.items())
    return (f'<?xml version="1.0"?><EDKSYSTEM><SYSTEMINFO ARCH="zynquplus" DEVICE="{device}" NAME="{name}" '
            f'PACKAGE="sfvc784" SPEEDGRADE="-2LV"/><MODULES><MODULE INSTANCE="{instance}" MODTYPE="nash_top"'
            + (f' VLNV="{vlnv}"' if vlnv else "") + ">"
            f'<PARAMETERS/><REGISTERS>{body}</REGISTERS></MODULE></MODULES></EDKSYSTEM>')


def test_hwh_check_names_the_register(project, tmp_path):
    rmap = parse_register_map(json.loads((project / "register_map.json").read_text()))
    regs = rmap.registers()
    good = tmp_path / "good.hwh"
    good.write_text(_hwh(regs))
    check_against_hwh(rmap, good)
    moved = dict(regs, wb_conv_2=regs["wb_conv_2"] + 4)
    bad = tmp_path / "bad.hwh"
    bad.write_text(_hwh(moved))
    with pytest.raises(RegisterMapError, match=r"register wb_conv_2 is at 0x[0-9a-f]+ in the .hwh"):
        check_against_hwh(rmap, bad)
    other = tmp_path / "other.hwh"
    other.write_text(_hwh(regs, instance="something_else_0"))
    with pytest.raises(BundleError, match="no IP instance 'nash_top_0'"):
        check_against_hwh(rmap, other)


def test_map_records_the_exported_ip_and_the_hwh_check_compares_it(project, tmp_path):
    # the VLNV the HLS script exports the IP under, read back from the rendered run_hls.tcl
    tcl = (project / "run_hls.tcl").read_text()
    opts = dict(re.findall(r"-(vendor|library|version)\s+\"?([\w.]+)", tcl.split("export_design", 1)[1]))
    top = re.search(r"set_top\s+(\w+)", tcl).group(1)
    exported = f"{opts['vendor']}:{opts['library']}:{top}:{opts['version']}"
    rmap = parse_register_map(json.loads((project / "register_map.json").read_text()))
    assert rmap.vlnv == exported
    regs = rmap.registers()
    same = tmp_path / "same.hwh"
    same.write_text(_hwh(regs, vlnv=exported))
    check_against_hwh(rmap, same)
    foreign = tmp_path / "foreign.hwh"
    foreign.write_text(_hwh(regs, vlnv="xilinx.com:hls:vadd:1.0"))
    with pytest.raises(RegisterMapError, match=r"is IP xilinx.com:hls:vadd:1.0, .* is for " + re.escape(exported)):
        check_against_hwh(rmap, foreign)


def _bit(design: str, part: str) -> bytes:
    def field(key: bytes, text: str) -> bytes:
        s = text.encode() + b"\0"
        return key + struct.pack(">H", len(s)) + s

    head = struct.pack(">H", 9) + bytes([0x0F, 0xF0] * 4 + [0]) + struct.pack(">H", 1)
    return (head + field(b"a", f"{design};UserID=0XFFFFFFFF;Version=2022.2")[0:] + field(b"b", part)
            + field(b"c", "2026/12/01") + field(b"d", "12:00:00") + b"e" + struct.pack(">I", 4) + b"\xff" * 4)


def test_bit_header_and_pairs(tmp_path):
    bit = tmp_path / "nash.bit"
    bit.write_bytes(_bit("nash_bd_wrapper", "xck26-sfvc784-2LV-c"))
    assert bit_header(bit) == {"design": "nash_bd_wrapper", "part": "xck26-sfvc784-2LV-c", "date": "2026/12/01",
                               "time": "12:00:00"}
    hwh = tmp_path / "nash.hwh"
    hwh.write_text(_hwh({}))
    check_bit_hwh_pair(bit, hwh)
    hwh.write_text(_hwh({}, name="other_bd"))
    with pytest.raises(BundleError, match="wrong .bit/.hwh pair") as e:
        check_bit_hwh_pair(bit, hwh)
    assert "\n" not in str(e.value)
    hwh.write_text(_hwh({}, device="xczu9eg"))
    with pytest.raises(BundleError, match="built for part xck26"):
        check_bit_hwh_pair(bit, hwh)
    other = tmp_path / "other.hwh"
    other.write_text(_hwh({}))
    with pytest.raises(BundleError, match="same base name"):
        check_bit_hwh_pair(bit, other)
    junk = tmp_path / "junk.bit"
    junk.write_bytes(b"\0" * 64)
    with pytest.raises(BundleError, match="not a Xilinx .bit"):
        bit_header(junk)
