"""Yosys measurement of the input band buffer's read side and banks (issue 13, word-wide band buffers).

The window read of ``pad_x`` (hls_templates/src/engine.cpp.j2) reads one 128-bit word per lane and selects the byte of
the pixel (a 16:1 byte mux, zero outside the map and on guard lanes). This script synthesizes, with Yosys
``synth_xilinx -family xcup`` (codegen/rtl/yosys_synth.py):

* ``xband_mux``: the word design's read mux of one lane (the cost table's ``xband.mux_lut``);
* ``xband_mux32``: the byte-bank design it replaces (2 halves x 16 byte banks per lane: half and byte select);
* ``xband_bank``: one word bank of 64 and 128 words x 128 bits (one write, one asynchronous read port) in distributed
  RAM, against the cost table's ``lutram.bits_per_lut`` rule.

Writes ``benchmarks/results/xband_mux.json``. About 20 s.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from nash.codegen.rtl.yosys_synth import synthesize

OUT = Path(__file__).parent / "results" / "xband_mux.json"
MUX = """// pad_x window read, one lane: 16:1 byte select of a 128-bit band word, zero outside the map / on guard lanes
module xband_mux(input [127:0] w, input [3:0] s, input en, output [7:0] y);
  assign y = en ? w[8 * s +: 8] : 8'd0;
endmodule
"""
MUX32 = """// the byte-bank read it replaces: select half cur of the ping-pong pair, then byte s
module xband_mux32(input [127:0] w0, input [127:0] w1, input cur, input [3:0] s, input en, output [7:0] y);
  wire [127:0] w = cur ? w1 : w0;
  assign y = en ? w[8 * s +: 8] : 8'd0;
endmodule
"""


def bank(depth: int) -> str:
    aw = max(1, (depth - 1).bit_length())
    return f"""// one band bank: {depth} x 128 bits, one synchronous write port, one asynchronous read port
module xband_bank(input clk, input we, input [{aw - 1}:0] wa, input [127:0] wd, input [{aw - 1}:0] ra,
                  output [127:0] rd);
  reg [127:0] mem [0:{depth - 1}];
  always @(posedge clk) if (we) mem[wa] <= wd;
  assign rd = mem[ra];
endmodule
"""


def main() -> None:
    out: dict = {"modules": {}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cases = [("xband_mux", MUX, "xband_mux"), ("xband_mux32", MUX32, "xband_mux32"),
                 ("xband_bank_64", bank(64), "xband_bank"), ("xband_bank_128", bank(128), "xband_bank")]
        for name, text, top in cases:
            v = work / f"{name}.v"
            v.write_text(text)
            r = synthesize(v, top, work / name)
            out["modules"][name] = {"lut": r.resources["lut"], "ff": r.resources["ff"],
                                    "cells": r.resources["cells"], "seconds": round(r.seconds, 2)}
            out["source"] = r.source
            print(f"{name}: {r.resources['lut']} LUT ({r.resources['cells']})")
    for d in (64, 128):
        m = out["modules"][f"xband_bank_{d}"]
        m["bits_per_lut"] = round(d * 128 / m["lut"], 2)
        m["rule_lut"] = -(-d // 64) * 128  # the cost table's rule: ceil(depth / 64) x width
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
