// NASH-HLS: arithmetic helpers shared by every engine (synthesizable; plain C++14 integer types).
// Integer contract: docs/integer-semantics.md. Right shifts of negative int64 values are arithmetic (flooring) in
// g++ and in Vitis HLS; the requant rule relies on it, exactly like numpy's >> in the integer reference.
#ifndef NASH_COMMON_H
#define NASH_COMMON_H

#include <stdint.h>

namespace nash {

// Little-endian int64 from the weights blob (byte-addressed m_axi port; scales are read once per tile).
static inline int64_t rd_i64(const uint8_t* p, uint32_t off) {
#pragma HLS INLINE
  uint64_t v = 0;
rd_byte:
  for (int b = 0; b < 8; ++b) {
#pragma HLS UNROLL
    v |= static_cast<uint64_t>(p[off + b]) << (8 * b);
  }
  return static_cast<int64_t>(v);
}

static inline int8_t clamp8(int64_t v, int64_t lo) {
#pragma HLS INLINE
  return static_cast<int8_t>(v < lo ? lo : (v > 127 ? 127 : v));
}

// (v + 2^(S-1)) >> S: round half up, S in [1, 40].
static inline int64_t rounding_shift(int64_t v, int64_t s) {
#pragma HLS INLINE
  return (v + (static_cast<int64_t>(1) << (s - 1))) >> s;
}

// q = clamp((acc * M + B + 2^(S-1)) >> S, lo, 127), lo = 0 with ReLU else -128; the product is always int64.
static inline int8_t requant(int64_t acc, int64_t mult, int64_t bias, int64_t shift, bool relu) {
#pragma HLS INLINE
  return clamp8(rounding_shift(acc * mult + bias, shift), relu ? 0 : -128);
}

}  // namespace nash

#endif  // NASH_COMMON_H
