"""The manual-burst pieces of the g++ C simulation: the hls::burst_maxi shim (hls_templates/compat/hls_burst_maxi.h)
moves the right words and aborts with a clear message on every misuse the hardware would deadlock or corrupt on; the
code-derived count of a manual-burst stream (nash_common.h ``nash::cyc::Burst``) follows the rule worked out by hand
(docs/hls-codegen.md) and agrees with the model's :func:`maxi_stream` on random run sequences."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest
from helpers import REPO
from nash.codegen.csim.build import CXXFLAGS, ap_types_dir, gxx
from nash.frontend.accel.model import OUTSTANDING, maxi_stream

SHIM = REPO / "hls_templates" / "compat"
SRC = REPO / "hls_templates" / "src"


def _run(tmp_path: Path, body: str, stdin: str = "") -> subprocess.CompletedProcess:
    src = tmp_path / "t.cpp"
    src.write_text('#include <cstdio>\n#include "hls_burst_maxi.h"\n#include "nash_common.h"\n'
                   "int main() {\n" + body + "\n  return 0;\n}\n")
    exe = tmp_path / "t"
    subprocess.run([gxx(), *CXXFLAGS, f"-isystem{SHIM}", f"-I{SRC}", f"-isystem{ap_types_dir()}", str(src), "-o",
                    str(exe)], check=True, capture_output=True, text=True)
    return subprocess.run([str(exe)], input=stdin, capture_output=True, text=True)


def test_shim_moves_the_requested_words(tmp_path):
    r = _run(tmp_path, """
  int mem[8] = {0, 1, 2, 3, 4, 5, 6, 7}, out[8] = {0};
  hls::burst_maxi<int> in(mem), wr(out);
  in.read_request(2, 3);
  in.read_request(6, 2);  // two runs in flight, read in request order
  wr.write_request(1, 5);
  for (int i = 0; i < 5; ++i) wr.write(in.read() * 10);
  hls::burst_maxi<int> copy = wr;  // a copy is the same port
  copy.write_response();
  for (int i = 0; i < 8; ++i) std::printf("%d ", out[i]);""")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0", "20", "30", "40", "60", "70", "0", "0"]


@pytest.mark.parametrize(("body", "message"), [
    ("  hls::burst_maxi<int> p(mem);\n  p.read();", "read() without an outstanding read_request"),
    ("  hls::burst_maxi<int> p(mem);\n  p.read_request(0, 1);\n  p.read();\n  p.read();",
     "read() without an outstanding read_request"),
    ("  hls::burst_maxi<int> p(mem);\n  p.write(1);", "write() without an outstanding write_request"),
    ("  hls::burst_maxi<int> p(mem);\n  p.write_request(0, 1);\n  p.write(1);\n  p.write(2);",
     "more words than requested"),
    ("  hls::burst_maxi<int> p(mem);\n  p.write_response();", "write_response() without a write_request"),
    ("  hls::burst_maxi<int> p(mem);\n  p.write_request(0, 2);\n  p.write(1);\n  p.write_response();",
     "before all words of the oldest write_request were written"),
    ("  hls::burst_maxi<int> p(mem);\n  for (int i = 0; i < 17; ++i) p.read_request(i, 1);",
     "read_request with 16 requests already outstanding"),
    ("  hls::burst_maxi<int> p(mem);\n  for (int i = 0; i < 17; ++i) { p.write_request(i, 1); p.write(i); }",
     "write_request with 16 requests already outstanding"),
    ("  hls::burst_maxi<int> p(mem);\n  p.read_request(0, 0);", "read_request of length 0"),
    ("  { hls::burst_maxi<int> p(mem);\n  p.read_request(0, 2);\n  p.read(); }", "never read"),
    ("  { hls::burst_maxi<int> p(mem);\n  p.write_request(0, 2);\n  p.write(1); }", "never written"),
    ("  { hls::burst_maxi<int> p(mem);\n  p.write_request(0, 1);\n  p.write(1); }", "never taken"),
])
def test_shim_aborts_on_misuse(tmp_path, body, message):
    r = _run(tmp_path, "  int mem[32] = {0};\n" + body)
    assert r.returncode != 0 and message in r.stderr, (r.returncode, r.stderr)


def test_outstanding_limit_is_the_pragmas():
    from nash.codegen.hls.render import MAXI_OUTSTANDING
    assert MAXI_OUTSTANDING == OUTSTANDING == 16
    assert "const int MAXI_OUTSTANDING = 16;" in (SRC / "nash_common.h").read_text()
    assert "#define NASH_MAXI_OUTSTANDING 16" in (SHIM / "hls_burst_maxi.h").read_text()


COUNT = """
  int n, read;
  while (std::scanf("%d %d", &n, &read) == 2) {
    nash::cyc::Burst s(read != 0);
    for (int i = 0; i < n; ++i) {
      int c;
      if (std::scanf("%d", &c) != 1) return 1;
      s.run(static_cast<uint64_t>(c));
    }
    std::printf("%llu\\n", static_cast<unsigned long long>(s.total()));
  }"""


def _counts(tmp_path: Path, streams: list[tuple[list[int], bool]]) -> list[int]:
    stdin = "\n".join(f"{len(c)} {int(rd)} " + " ".join(map(str, c)) for c, rd in streams) + "\n"
    r = _run(tmp_path, COUNT, stdin)
    assert r.returncode == 0, r.stderr
    return [int(v) for v in r.stdout.split()]


def test_code_count_of_a_stream_worked_by_hand(tmp_path):
    """Round trip 64, 16 requests in flight. 32 reads of 3 cycles: the first 16 data arrive at 64 and end at 67, ...,
    112; run 16 is requested when run 0 ends (67), so runs 16-31 end 67 later than runs 0-15: 179. 20 writes of 10
    cycles: 16 runs take 160 > 64, nothing waits: 200 + the last response 64. 20 writes of 2 cycles: runs 0-15 end at
    2, ..., 32; run 16 waits for run 0's response (2 + 64) and ends at 68; runs 17-19 start at runs 1-3's responses
    (4 + 64, 6 + 64, 8 + 64) and end at 70, 72, 74; + 64. No runs: 0."""
    got = _counts(tmp_path, [([3] * 32, True), ([10] * 20, False), ([2] * 20, False), ([], False), ([], True)])
    assert got == [179, 264, 138, 0, 0]


def test_code_count_and_model_agree_on_random_streams(tmp_path):
    rng = random.Random(13)
    streams = []
    for _ in range(60):
        k = rng.randrange(1, 80)
        short = rng.random() < 0.7  # mostly runs shorter than 64 / 15 cycles: the waits matter
        streams.append(([rng.randrange(2, 6 if short else 90) for _ in range(k)], rng.random() < 0.5))
    got = _counts(tmp_path, streams)
    want = [maxi_stream(tuple((1, c) for c in costs), 64, rd) for costs, rd in streams]
    assert got == want
