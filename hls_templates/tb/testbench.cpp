// NASH-HLS standalone testbench (also the Vitis HLS csim/cosim testbench, added with add_files -tb).
// Usage: nash_csim [BLOB INPUTS N LOGITS_OUT [EXPECTED]]
//   BLOB: weights blob; INPUTS: N int8 images (raw NCHW); LOGITS_OUT: int64 logits (raw, little-endian);
//   EXPECTED: int64 golden logits from the integer reference: the exit code is 1 on any mismatch.
// Without arguments it runs the images in NASH_TB_DATA (rendered at codegen time) against their golden logits.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "nash_capi.h"

#ifndef NASH_TB_DATA
#define NASH_TB_DATA "tb_data"
#endif

static bool read_file(const std::string& path, std::vector<unsigned char>& out) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  unsigned char buf[1 << 16];
  size_t n;
  out.clear();
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.insert(out.end(), buf, buf + n);
  std::fclose(f);
  return true;
}

int main(int argc, char** argv) {
  const std::string dir = NASH_TB_DATA;
  std::string blob_path = dir + "/weights.bin", in_path = dir + "/inputs.bin", out_path = dir + "/csim_logits.bin";
  std::string exp_path = dir + "/expected_logits.bin";
  int n = -1;
  if (argc >= 5) {
    blob_path = argv[1];
    in_path = argv[2];
    n = std::atoi(argv[3]);
    out_path = argv[4];
    exp_path = argc >= 6 ? argv[5] : "";
  } else if (argc != 1) {
    std::fprintf(stderr, "usage: %s [BLOB INPUTS N LOGITS_OUT [EXPECTED]]\n", argv[0]);
    return 2;
  }
  std::vector<unsigned char> blob, in, expected;
  if (!read_file(blob_path, blob)) {
    std::fprintf(stderr, "cannot read weights blob %s\n", blob_path.c_str());
    return 2;
  }
  if (!read_file(in_path, in)) {
    std::fprintf(stderr, "cannot read inputs %s\n", in_path.c_str());
    return 2;
  }
  const size_t per = static_cast<size_t>(nash_input_bytes());
  if (n < 0) n = static_cast<int>(in.size() / per);
  if (in.size() < per * static_cast<size_t>(n)) {
    std::fprintf(stderr, "%s holds %zu bytes, need %d images of %zu bytes\n", in_path.c_str(), in.size(), n, per);
    return 2;
  }
  const int nc = nash_num_classes();
  std::vector<long long> logits(static_cast<size_t>(n) * nc + 1, 0);
  const int err = nash_predict(reinterpret_cast<const int8_t*>(in.data()), n, blob.data(), blob.size(),
                               reinterpret_cast<int64_t*>(logits.data()));
  if (err) {
    std::fprintf(stderr, "nash_predict: %s (%s)\n", nash_error_string(err), blob_path.c_str());
    return 3;
  }
  FILE* f = std::fopen(out_path.c_str(), "wb");
  if (!f || std::fwrite(logits.data(), sizeof(long long), static_cast<size_t>(n) * nc, f) != static_cast<size_t>(n) * nc) {
    std::fprintf(stderr, "cannot write %s\n", out_path.c_str());
    if (f) std::fclose(f);
    return 2;
  }
  std::fclose(f);
  if (exp_path.empty()) return 0;
  if (!read_file(exp_path, expected) || expected.size() != logits.size() * sizeof(long long) - sizeof(long long)) {
    std::fprintf(stderr, "cannot read %d x %d expected logits from %s\n", n, nc, exp_path.c_str());
    return 2;
  }
  const long long* e = reinterpret_cast<const long long*>(expected.data());
  int bad = 0;
  for (int i = 0; i < n * nc; ++i) {
    if (logits[i] != e[i]) {
      if (bad == 0) std::fprintf(stderr, "MISMATCH image %d class %d: got %lld expected %lld\n", i / nc, i % nc, logits[i], e[i]);
      ++bad;
    }
  }
  std::printf("nash csim: %d images, %d mismatching logits\n", n, bad);
  return bad ? 1 : 0;
}
