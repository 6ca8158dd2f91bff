"""The s_axilite control register map of ``nash_top``, defined once: ``nash codegen`` writes it as
``register_map.json`` into the project, the deploy bundle carries it, and the board runtime (``nash.board``) drives
the kernel from it and checks it against the ``.hwh`` when there is one.

The rule is Vitis HLS's (UG1399, "s_axilite interface", and the ``x<top>_hw.h`` driver header it generates for
``-flow_target vivado`` with ``ap_ctrl_hs``):

* 0x00 ``CTRL``: bit 0 ap_start, bit 1 ap_done (clear on read), bit 2 ap_idle, bit 3 ap_ready, bit 7 auto_restart;
  0x04 ``GIER`` (global interrupt enable), 0x08 ``IP_IER`` (interrupt enable), 0x0C ``IP_ISR`` (interrupt status).
* The arguments follow from 0x10 in the order of the C signature. Each takes ``ceil(bits / 32)`` 32-bit data
  registers followed by one reserved register: an ``int`` 8 bytes (data, reserved), a 64-bit m_axi pointer
  (``config_interface -m_axi_addr64``, the default) 12 bytes (low word, high word, reserved).
* Register names are those the ``.hwh`` gives them (and pynq's ``register_map`` shows): a scalar by its name, the two
  words of a pointer ``<name>_1`` (low) and ``<name>_2`` (high).

The offsets the HLS tool really assigned are in the generated ``<top>_control_s_axi.v`` and in the ``.hwh``; this
module is the prediction the runtime checks against the ``.hwh`` (a mismatch names the register). The argument list
comes from the render context (:func:`nash.codegen.hls.render.engines_context`), not from re-parsing the C++.
"""

from __future__ import annotations

# The document's format and the kernel ABI version are the runtime's (it reads what codegen writes).
from nash.board.regmap import ABI_VERSION, FORMAT, VERSION

__all__ = ["ABI_VERSION", "FORMAT", "VERSION", "register_map", "argument_registers", "buffer_of"]
TOP = "nash_top"
INSTANCE = "nash_top_0"  # the block-design instance of the kernel IP (Vivado's default name for the first one)
CONTROL = {"CTRL": 0x00, "GIER": 0x04, "IP_IER": 0x08, "IP_ISR": 0x0C}
CTRL_BITS = {"ap_start": 0, "ap_done": 1, "ap_idle": 2, "ap_ready": 3, "auto_restart": 7}
FIRST_ARGUMENT = 0x10
REG_BYTES = 4
RULE = ("Vitis HLS s_axilite (UG1399; x<top>_hw.h): CTRL 0x00, GIER 0x04, IP_IER 0x08, IP_ISR 0x0C; arguments from "
        "0x10 in signature order, each ceil(bits/32) data registers then one reserved register; 64-bit pointers "
        "<name>_1 (low) / <name>_2 (high)")


def buffer_of(port: str) -> str:
    """Which host buffer a pointer argument of ``nash_top`` points at (all ports of one role get the same address:
    the ALIAS groups of the generated top)."""
    for prefix, role in (("img_", "images"), ("act_in_", "activations"), ("act_out_", "activations"),
                         ("wb_", "weights"), ("logits", "logits")):
        if port.startswith(prefix):
            return role
    raise ValueError(f"nash_top argument {port!r} is no known buffer port")


def argument_registers(arguments: list[tuple[str, str]]) -> list[dict]:
    """Registers of the arguments ``[(name, "pointer" | "int32"), ...]`` in signature order (the rule above)."""
    out, off = [], FIRST_ARGUMENT
    for name, kind in arguments:
        if kind == "pointer":
            regs = [{"name": f"{name}_1", "offset": off, "word": "low"},
                    {"name": f"{name}_2", "offset": off + REG_BYTES, "word": "high"}]
            entry = {"name": name, "kind": kind, "bits": 64, "buffer": buffer_of(name)}
        elif kind == "int32":
            regs = [{"name": name, "offset": off, "word": "data"}]
            entry = {"name": name, "kind": kind, "bits": 32}
        else:
            raise ValueError(f"argument {name}: kind {kind!r}, expected 'pointer' or 'int32'")
        out.append({**entry, "offset": off, "registers": regs})
        off += REG_BYTES * (len(regs) + 1)  # the data words, then one reserved word
    return out


def register_map(arguments: list[tuple[str, str]], clock_mhz: float, buffers: dict, input_spec: dict,
                 abi_version: int, vlnv: str) -> dict:
    """The ``register_map.json`` document: control registers, argument registers, the kernel's buffer sizes
    (``buffers``: what the host allocates per role), its input (shape and quantization scale) and the exported IP's
    ``vlnv`` (``ip_names.ip_vlnv()``; the runtime checks it against the .hwh)."""
    args = argument_registers(arguments)
    last = args[-1]
    span = last["offset"] + REG_BYTES * (len(last["registers"]) + 1)
    return {
        "format": FORMAT, "version": VERSION, "rule": RULE, "top": TOP, "instance": INSTANCE, "vlnv": vlnv,
        "abi_version": abi_version, "clock_mhz": clock_mhz,
        "control": dict(CONTROL), "ctrl_bits": dict(CTRL_BITS), "arguments": args,
        "address_span": 1 << (span - 1).bit_length(),  # Vivado sizes s_axi_control to a power of two
        "buffers": buffers, "input": input_spec,
    }
