"""The engines' requant at the contract widths (ap_int<ACC_W> x ap_int<16>, an ap_int<SUM_W> sum, a 6-bit shift), fed
through the blob's 16-byte scale records, equals the numpy integer reference on random and extreme operands: the
largest accumulators, |M| = 2^15 - 1, S = 1 and 40, biases at the proven bound."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from nash.codegen import templates
from nash.codegen.hls.weights_blob import scale_records
from nash.codegen.rtl.pe_arrays import find_ap_types
from nash.frontend.core.quant_params import MAX_SHIFT, MULT_BITS, requantize
from nash.frontend.integer.bounds import signed_bits

PROGRAM = r"""#include <cstdio>
#include "nash_common.h"
int main() {
  long long acc;
  int relu;
  int b[16];
  while (std::scanf("%lld %d", &acc, &relu) == 2) {
    int8_t rec[16];
    for (int j = 0; j < 16; ++j) {
      if (std::scanf("%d", &b[j]) != 1) return 2;
      rec[j] = static_cast<int8_t>(b[j]);
    }
    std::printf("%d\n", nash::requant<T_ACC, T_SUM>(acc, nash::scale_of(nash::pack16(rec)), relu != 0));
  }
  return 0;
}
"""


def _cases(acc_bits: int, bias_bits: int, n: int, seed: int):
    rng = np.random.default_rng(seed)
    a_max = (1 << (acc_bits - 1)) - 1
    m_max = (1 << MULT_BITS) - 1
    b_max = (1 << (bias_bits - 1)) - 1
    acc = rng.integers(-a_max - 1, a_max + 1, n)
    acc[:4] = [-a_max - 1, a_max, 0, -1]
    mult = rng.integers(-m_max, m_max + 1, n)
    mult[:4] = [-m_max, m_max, m_max, -m_max]
    bias = rng.integers(-b_max, b_max + 1, n)
    bias[:4] = [b_max, -b_max, 0, b_max]
    shift = rng.integers(1, MAX_SHIFT + 1, n)
    shift[:4] = [1, MAX_SHIFT, 1, MAX_SHIFT]
    relu = rng.integers(0, 2, n)
    big = (a_max + 1) * m_max + b_max + (1 << (MAX_SHIFT - 1))
    return acc, mult, bias, shift, relu, signed_bits(-big, big)


@pytest.mark.parametrize("acc_bits,bias_bits", [(14, 30), (20, 44), (32, 48), (40, 56)])
def test_requant_contract_widths_match_the_reference(tmp_path, acc_bits, bias_bits):
    gxx, ap = shutil.which("g++"), find_ap_types()
    if gxx is None or ap is None:
        pytest.skip("needs g++ and ap_int.h (pip install --no-deps hls4ml==1.3.0; make install does)")
    acc, mult, bias, shift, relu, sum_bits = _cases(acc_bits, bias_bits, 400, acc_bits)
    assert sum_bits <= 64
    (tmp_path / "nash_common.h").write_text(templates.source("hls_templates/src/nash_common.h"))
    (tmp_path / "t.cpp").write_text(PROGRAM)
    exe = tmp_path / "t"
    subprocess.run([gxx, "-std=c++14", "-O2", "-Wall", "-Wextra", "-Werror", "-Wno-unknown-pragmas",
                    "-Wno-unused-label", f"-isystem{ap}", f"-I{tmp_path}", f"-DT_ACC={acc_bits}",
                    f"-DT_SUM={sum_bits}", str(tmp_path / "t.cpp"), "-o", str(exe)], check=True)
    rec = scale_records({"bias": bias, "mult": mult, "shift": shift})
    lines = [" ".join([str(int(a)), str(int(r)), *map(str, rec[i].astype(np.int8))])
             for i, (a, r) in enumerate(zip(acc, relu, strict=True))]
    out = subprocess.run([str(exe)], input="\n".join(lines) + "\n", capture_output=True, text=True, check=True)
    got = np.array([int(v) for v in out.stdout.split()])
    for relu_on in (0, 1):  # the reference per ReLU setting, one channel per case
        sel = relu == relu_on
        exp = requantize(acc[sel].reshape(1, -1), mult[sel], bias[sel], shift[sel], bool(relu_on)).ravel()
        np.testing.assert_array_equal(got[sel], exp)
