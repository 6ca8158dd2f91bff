"""The Verilog requant lane (what `nash accel-calibrate --yosys` synthesizes) is bit-exact against the numpy rule
``quant_params.requantize`` on random and extreme operands, simulated with Icarus."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from helpers import require_simulator
from nash.codegen.rtl.requant_lane import RequantLaneConfig, render_requant_lane
from nash.frontend.core.quant_params import requantize

TB = """`timescale 1ns / 1ps
module tb;
    reg clk = 0, rst = 1, vin = 0, relu = 0;
    reg [{acc}-1:0] acc = 0; reg [15:0] mult = 0; reg [{sum}-1:0] bias = 0; reg [5:0] shift = 1;
    wire [7:0] q; wire vout;
    {name} dut(.ap_clk(clk), .ap_rst(rst), .ap_ce(1'b1), .valid_in(vin), .acc(acc), .mult(mult), .bias(bias),
               .shift(shift), .relu(relu), .q(q), .valid_out(vout));
    always #5 clk = ~clk;
    integer fi, fo, r, k;
    reg [63:0] a, m, b, s, u;
    always @(posedge clk) if (vout) $fwrite(fo, "%0d\\n", $signed(q));
    initial begin
        fi = $fopen("in.txt", "r"); fo = $fopen("out.txt", "w");
        @(negedge clk) rst = 0;
        while (!$feof(fi)) begin
            r = $fscanf(fi, "%h %h %h %h %h\\n", a, m, b, s, u);
            if (r == 5) begin
                acc = a; mult = m; bias = b; shift = s; relu = u; vin = 1;
                @(negedge clk);
            end
        end
        vin = 0;
        for (k = 0; k < 10; k = k + 1) @(negedge clk);
        $fclose(fo); $finish;
    end
endmodule
"""


def _vectors(cfg: RequantLaneConfig, n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Operands inside the contract: |acc * M| + |B| + 2^(S-1) < 2^(SUM_W - 1); shifts spread so that results land
    inside [-128, 127] as well as beyond both clamps."""
    amax = (1 << (cfg.acc_bits - 1)) - 1
    acc = rng.integers(-amax - 1, amax + 1, n)
    acc[:8] = [amax, -amax - 1, 0, 1, -1, amax, -amax - 1, 12345]
    mult = rng.integers(-(1 << 15) + 1, 1 << 15, n)
    mult[:8] = [(1 << 15) - 1, (1 << 15) - 1, 7, -(1 << 15) + 1, 1, -(1 << 15) + 1, -(1 << 15) + 1, 0]
    prod_bits = np.array([max(1, int(abs(int(a) * int(m))).bit_length()) for a, m in zip(acc, mult, strict=True)])
    shift = np.clip(prod_bits - rng.integers(2, 12, n), 1, min(40, cfg.sum_bits - 2))
    room = (1 << (cfg.sum_bits - 2)) - 1
    bias = rng.integers(-(1 << 20), 1 << 20, n) << rng.integers(0, 12, n)
    bias = np.clip(bias, -room, room)
    relu = rng.integers(0, 2, n)
    return acc, mult, bias, shift, relu


@pytest.mark.parametrize("acc_bits,sum_bits", [(24, 41), (32, 48)])
def test_requant_lane_is_bit_exact(tmp_path, acc_bits, sum_bits):
    require_simulator("icarus")
    cfg = RequantLaneConfig(acc_bits, sum_bits)
    v = render_requant_lane(cfg, tmp_path)
    acc, mult, bias, shift, relu = _vectors(cfg, 400, np.random.default_rng(acc_bits))
    big = np.abs(acc * mult) + np.abs(bias) + (1 << (shift - 1))
    assert np.all(big < (1 << (sum_bits - 1)))  # the contract the lane is specified for
    with open(tmp_path / "in.txt", "w") as f:
        for row in zip(acc, mult, bias, shift, relu, strict=True):
            f.write(" ".join(f"{int(x) & ((1 << 64) - 1):x}" for x in row) + "\n")
    (tmp_path / "tb.v").write_text(TB.format(acc=acc_bits, sum=sum_bits, name=cfg.name))
    subprocess.run([shutil.which("iverilog"), "-g2012", "-o", "sim", "tb.v", str(v)], cwd=tmp_path, check=True)
    subprocess.run([shutil.which("vvp"), "-n", "sim"], cwd=tmp_path, check=True, capture_output=True, timeout=120)
    got = np.array([int(s) for s in (tmp_path / "out.txt").read_text().split()])
    want = np.empty(len(acc), dtype=np.int64)
    for r in (0, 1):
        sel = relu == r
        want[sel] = requantize(acc[sel][None, :], mult[sel], bias[sel], shift[sel], bool(r))[0]
    assert len(got) == len(acc)
    assert np.array_equal(got, want)
    assert {-128, 127} <= set(want.tolist()) and len(set(want.tolist())) > 50  # clamps and the inside both exercised
