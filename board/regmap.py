"""The kernel's register map on the board side: read ``register_map.json`` (written by ``nash codegen``,
``nash.codegen.hls.register_map`` defines the rule), split pointers into low/high words, and check the map against
the ``.hwh`` hardware handoff and the ``.bit`` header when they exist."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from nash.board.errors import BundleError, RegisterMapError

FORMAT = "nash-register-map"
VERSION = 1
# The kernel's host interface (ports, DDR word format): nash_abi_version() of the generated C model, the
# "abi_version" of register_map.json and of a bundle's manifest.
ABI_VERSION = 2


@dataclass(frozen=True)
class RegisterMap:
    """A loaded ``register_map.json``; ``doc`` is the document itself."""

    doc: dict
    source: str = "register_map.json"

    @property
    def instance(self) -> str:
        return self.doc["instance"]

    @property
    def vlnv(self) -> str | None:
        """The kernel IP's vendor:library:name:version (None in maps written before it was recorded)."""
        return self.doc.get("vlnv")

    @property
    def ctrl(self) -> int:
        return self.doc["control"]["CTRL"]

    def bit(self, name: str) -> int:
        return 1 << self.doc["ctrl_bits"][name]

    @property
    def pointers(self) -> list[dict]:
        return [a for a in self.doc["arguments"] if a["kind"] == "pointer"]

    def scalar(self, name: str) -> int:
        for a in self.doc["arguments"]:
            if a["name"] == name and a["kind"] == "int32":
                return a["offset"]
        raise RegisterMapError(f"{self.source}: no int32 argument {name!r}")

    @property
    def buffers(self) -> dict:
        return self.doc["buffers"]

    def registers(self) -> dict[str, int]:
        """Every named register -> its offset (control registers, then each argument's words)."""
        regs = dict(self.doc["control"])
        for a in self.doc["arguments"]:
            regs.update({r["name"]: r["offset"] for r in a["registers"]})
        return regs


def parse_register_map(doc: dict, source: str = "register_map.json") -> RegisterMap:
    """Check the document's format and fields; a bad one is a one-line error naming the field."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise RegisterMapError(f"{source}: format is not {FORMAT!r}")
    if doc.get("version") != VERSION:
        raise RegisterMapError(f"{source}: version {doc.get('version')!r}, this runtime reads {VERSION}")
    for key in ("instance", "control", "ctrl_bits", "arguments", "buffers", "input", "abi_version", "clock_mhz"):
        if key not in doc:
            raise RegisterMapError(f"{source}: missing field {key!r}")
    return RegisterMap(doc, source)


def load_register_map(path: str | Path) -> RegisterMap:
    p = Path(path)
    try:
        doc = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise RegisterMapError(f"{p}: not a readable JSON register map ({e})") from None
    return parse_register_map(doc, str(p))


def split_pointer(address: int) -> tuple[int, int]:
    """A 64-bit device address as the (low, high) 32-bit words the pointer registers take."""
    if not 0 <= address < 1 << 64:
        raise ValueError(f"device address {address:#x} does not fit 64 bits")
    return address & 0xFFFFFFFF, address >> 32


def hwh_module(hwh: str | Path, instance: str) -> ET.Element:
    """The ``<MODULE INSTANCE=...>`` element of the IP ``instance`` in a Vivado hardware handoff."""
    try:
        root = ET.parse(str(hwh)).getroot()
    except (OSError, ET.ParseError) as e:
        raise BundleError(f"{hwh}: not a readable .hwh hardware handoff ({e})") from None
    for mod in root.iter("MODULE"):
        if mod.get("INSTANCE") == instance:
            return mod
    raise BundleError(f"{hwh}: no IP instance {instance!r} in the block design (wrong .hwh for this kernel?)")


def hwh_registers(module: ET.Element) -> dict[str, int]:
    """Register name -> offset of an IP module of a .hwh (``<REGISTER NAME=...>`` with ``<PROPERTY
    NAME="ADDRESS_OFFSET" VALUE=...>``)."""
    regs = {}
    for reg in module.iter("REGISTER"):
        props = {p.get("NAME"): p.get("VALUE") for p in reg.iter("PROPERTY")}
        if "ADDRESS_OFFSET" in props:
            regs[reg.get("NAME")] = int(props["ADDRESS_OFFSET"], 0)
    return regs


def check_against_hwh(rmap: RegisterMap, hwh: str | Path) -> None:
    """The .hwh's kernel instance must be this IP (its VLNV, where both record it) and every register of the map
    must sit at the same offset; the first difference is named."""
    module = hwh_module(hwh, rmap.instance)
    if rmap.vlnv and module.get("VLNV") and module.get("VLNV") != rmap.vlnv:
        raise RegisterMapError(f"{hwh}: instance {rmap.instance} is IP {module.get('VLNV')}, {rmap.source} is for "
                               f"{rmap.vlnv} (wrong .hwh for this kernel?)")
    got = hwh_registers(module)
    aliases = {"CTRL": ("CTRL", "AP_CTRL"), "GIER": ("GIER", "GIE"), "IP_IER": ("IP_IER", "IER"),
               "IP_ISR": ("IP_ISR", "ISR")}
    for name, off in rmap.registers().items():
        found = next((got[n] for n in aliases.get(name, (name,)) if n in got), None)
        if found is None:
            raise RegisterMapError(f"{hwh}: register {name} (offset {off:#x} in {rmap.source}) is not in the .hwh "
                                   f"register map of {rmap.instance}")
        if found != off:
            raise RegisterMapError(f"{hwh}: register {name} is at {found:#x} in the .hwh, {off:#x} in {rmap.source}")


def bit_header(bit: str | Path) -> dict[str, str]:
    """The text fields of a Xilinx .bit header: ``design`` (field a, up to the first ';'), ``part`` (b), ``date``
    (c), ``time`` (d). Layout: 2-byte length + 9-byte preamble, 2-byte length + 'a', then per field a key byte,
    a 2-byte big-endian length and a NUL-terminated string, until the 'e' field (the bitstream's length)."""
    try:
        data = Path(bit).read_bytes()[:4096]
    except OSError as e:
        raise BundleError(f"{bit}: cannot read the bitstream ({e})") from None
    fields, names = {}, {b"a": "design", b"b": "part", b"c": "date", b"d": "time"}
    try:
        pos = 2 + int.from_bytes(data[0:2], "big")  # preamble
        pos += 2  # the length of the 'a' key (always 1)
        while pos < len(data):
            key = data[pos:pos + 1]
            if key == b"e" or key not in names:
                break
            n = int.from_bytes(data[pos + 1:pos + 3], "big")
            fields[names[key]] = data[pos + 3:pos + 3 + n].rstrip(b"\0").decode("ascii")
            pos += 3 + n
    except (UnicodeDecodeError, ValueError):
        fields = {}
    if "design" not in fields or "part" not in fields:
        raise BundleError(f"{bit}: not a Xilinx .bit file (no design / part fields in its header)")
    fields["design"] = fields["design"].split(";")[0]
    return fields


def check_bit_hwh_pair(bit: str | Path, hwh: str | Path) -> None:
    """The .bit and the .hwh must come from one block design: equal base names (pynq looks the .hwh up by it), the
    bitstream's design (``<bd>_wrapper``) and part equal to the handoff's ``SYSTEMINFO`` name and device."""
    bit, hwh = Path(bit), Path(hwh)
    if bit.stem != hwh.stem:
        raise BundleError(f"{bit}: the .hwh must have the same base name ({bit.stem}.hwh), got {hwh.name}")
    head = bit_header(bit)
    try:
        info = next(ET.parse(str(hwh)).getroot().iter("SYSTEMINFO")).attrib
    except (OSError, ET.ParseError, StopIteration) as e:
        raise BundleError(f"{hwh}: no SYSTEMINFO in the hardware handoff ({e})") from None
    design = head["design"].removesuffix("_wrapper")
    if design != info.get("NAME"):
        raise BundleError(f"{bit}: built from block design {design!r}, but {hwh.name} describes "
                          f"{info.get('NAME')!r} (wrong .bit/.hwh pair)")
    device = info.get("DEVICE", "")
    if device and not head["part"].startswith(device):
        raise BundleError(f"{bit}: built for part {head['part']}, but {hwh.name} describes device {device} "
                          "(wrong .bit/.hwh pair)")
