// NASH-HLS: the DDR word type and the arithmetic helpers shared by every engine (synthesizable).
// Integer contract: docs/integer-semantics.md. DDR is only accessed as 128-bit words (nash::word_t): one m_axi beat
// of the Zynq UltraScale+ HP ports, 16 int8 values, byte j in bits [8j + 7, 8j] (little-endian, as the host writes
// them). Right shifts of negative values are arithmetic (flooring) in g++ and in Vitis HLS, as numpy's >> is.
#ifndef NASH_COMMON_H
#define NASH_COMMON_H

#include <stdint.h>

// g++ -O2 flags ap_types' own constructors (storage read before it is set, a false positive inside the vendor
// header): silenced for that header only, our code keeps the warnings.
#if defined(__GNUC__) && !defined(__clang__) && !defined(__SYNTHESIS__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include "ap_int.h"
#pragma GCC diagnostic pop
#else
#include "ap_int.h"
#endif

namespace nash {

typedef ap_uint<128> word_t;
const int WORD_BYTES = 16;
// Requests in flight per m_axi port and direction: the generated pragmas' num_read_outstanding /
// num_write_outstanding (render.MAXI_OUTSTANDING). The PE engines' manual bursts (hls::burst_maxi) keep at most this
// many requests outstanding: reads request this many runs ahead, writes take the oldest response before one more.
const int MAXI_OUTSTANDING = 16;

// Word <-> 16 bytes (wires in hardware; two 64-bit halves keep g++ C simulation fast).
static inline void unpack16(const word_t& w, int8_t b[16]) {
#pragma HLS INLINE
  const uint64_t lo = w.to_uint64(), hi = (w >> 64).to_uint64();
unpack:
  for (int j = 0; j < 8; ++j) {
#pragma HLS UNROLL
    b[j] = static_cast<int8_t>(static_cast<uint8_t>(lo >> (8 * j)));
    b[8 + j] = static_cast<int8_t>(static_cast<uint8_t>(hi >> (8 * j)));
  }
}

static inline word_t pack16(const int8_t b[16]) {
#pragma HLS INLINE
  uint64_t lo = 0, hi = 0;
pack:
  for (int j = 0; j < 8; ++j) {
#pragma HLS UNROLL
    lo |= static_cast<uint64_t>(static_cast<uint8_t>(b[j])) << (8 * j);
    hi |= static_cast<uint64_t>(static_cast<uint8_t>(b[8 + j])) << (8 * j);
  }
  return (word_t(hi) << 64) | word_t(lo);
}

// The 64-bit half h (0: bytes 0-7) of a word, as int64.
static inline int64_t i64_of(const word_t& w, int half) {
#pragma HLS INLINE
  return static_cast<int64_t>((half ? w >> 64 : w).to_uint64());
}

// Byte j (0-15) of a word, as int8: a 16:1 byte mux in hardware (the band buffers' window read).
static inline int8_t byte_of(const word_t& w, int j) {
#pragma HLS INLINE
  return static_cast<int8_t>(static_cast<uint8_t>(static_cast<uint64_t>(i64_of(w, j >> 3)) >> (8 * (j & 7))));
}

// A channel's 16-byte scale record (docs/weights-blob.md): bias int64 in bytes 0-7, multiplier int16 in bytes 8-9,
// shift in byte 10.
struct Scale {
  int64_t bias;
  int16_t mult;
  uint8_t shift;
};

static inline Scale scale_of(const word_t& rec) {
#pragma HLS INLINE
  const uint64_t hi = (rec >> 64).to_uint64();
  Scale s;
  s.bias = static_cast<int64_t>(rec.to_uint64());
  s.mult = static_cast<int16_t>(static_cast<uint16_t>(hi));
  s.shift = static_cast<uint8_t>(hi >> 16) & 63;
  return s;
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

// Requant of one accumulator with its channel's scale: q = clamp((acc * M + B + 2^(S-1)) >> S, lo, 127), lo = 0 with
// ReLU else -128. Contract widths: acc ACC_W bits x a 16-bit multiplier, a 6-bit shift; SUM_W is the proven width of
// the whole requant sum (codegen: integer.bounds product_bits), so every partial sum and the bias fit in it.
template <int ACC_W, int SUM_W>
static inline int8_t requant(int64_t acc, const Scale& sc, bool relu) {
#pragma HLS INLINE
  const ap_int<ACC_W> a = acc;
  const ap_int<16> m = sc.mult;
  const ap_uint<6> s = sc.shift;
  ap_int<SUM_W> v = a * m;
  v += ap_int<SUM_W>(sc.bias);
  v += ap_int<SUM_W>(1) << (s - 1);
  v >>= s;
  const int64_t r = v.to_int64();
  return clamp8(r, relu ? 0 : -128);
}

}  // namespace nash

// Code-derived cycle counters (docs/hls-codegen.md, "Code-derived cycle count"): compiled only outside synthesis
// (the macros are empty for Vitis HLS). Each engine task is counted from the loops it really runs: a pipelined loop
// takes depth + (trip - 1) x II, a burst loop adds the m_axi latency, a DATAFLOW region its slowest process plus the
// other processes' fill. The state and the C API live in tb/nash_capi.cpp (not synthesized).
#ifndef __SYNTHESIS__
namespace nash {
namespace cyc {
const int AXI_LAT = 64;  // m_axi latency: the value of the generated INTERFACE pragmas and Tcl (render.AXI_LATENCY)
const int D_IO = 2;      // assumed depth of a read / write / buffer-copy loop (address + data register)
const int D_RQ = 5;      // assumed depth of the requant loop (ACC_W x 16 multiply, bias add, shift, clamp)
const int D_DW = 3;      // assumed depth of the depthwise lane loop (one op + the accumulator add)
const int D_MISC = 3;    // assumed depth of the misc unit's 16-lane loops (add, pooling sum, fc MACs)
const int D_ACC = 1;     // the accumulator add after the PE array: the MAC loop's depth is pe_latency + D_ACC

inline uint64_t pipe(int64_t trip, int64_t ii, int64_t depth) { return trip > 0 ? depth + (trip - 1) * ii : 0; }
inline uint64_t burst(int64_t beats, int64_t depth) { return beats > 0 ? AXI_LAT + pipe(beats, 1, depth) : 0; }
// A manual-burst stream of one process (hls::burst_maxi, docs/hls-codegen.md): runs (one request each, its words
// through a pipelined loop of the given cycles) one after another, at most MAXI_OUTSTANDING requests in flight. Run
// k starts when run k - 1's words are done and, k >= N, when run k - N has made its round trip: a read's request for
// run k is issued when run k - N ends (its data arrives AXI_LAT later), a write takes run k - N's response (AXI_LAT
// after its last word) before requesting run k. The first N reads are requested at the start (their data AXI_LAT
// later); a write stream ends with the drain of the last response (AXI_LAT after its last word). So the round trip
// is exposed once per stream, and again only where N runs take fewer than AXI_LAT cycles.
struct Burst {
  uint64_t t;                        // end of the last run's words
  uint64_t ends[MAXI_OUTSTANDING];   // ends of the last N runs (run k at k mod N)
  uint64_t k;                        // runs so far
  bool read;
  explicit Burst(bool is_read) : t(0), k(0), read(is_read) {}
  void run(uint64_t cycles) {
    const uint64_t slot = k % MAXI_OUTSTANDING;
    const uint64_t ready = k >= static_cast<uint64_t>(MAXI_OUTSTANDING) ? ends[slot] + AXI_LAT : (read ? AXI_LAT : 0);
    t = (ready > t ? ready : t) + cycles;
    ends[slot] = t;
    ++k;
  }
  uint64_t total() const { return read || k == 0 ? t : t + AXI_LAT; }
};
void add(uint64_t n);                // to the running process (inside a region) or to the task
void proc_begin();                   // a DATAFLOW process starts
void proc_end(uint64_t fill);        // ... ends; fill: cycles before its first output reaches the next process
void region_begin();                 // a DATAFLOW region starts
void region_end();                   // ... ends: task += slowest process + the other processes' fill
void task_begin(int layer);          // an engine starts one layer task
void task_end();                     // ... ends: the layer's count is stored
uint64_t mac_depth(int tn);          // depth of the PE-array MAC loop of the running layer (pe_latency + D_ACC)
}  // namespace cyc
}  // namespace nash
#endif
// -DNASH_NO_CYCLES compiles the counters out of a C simulation build too (the test that they change no output).
#if !defined(__SYNTHESIS__) && !defined(NASH_NO_CYCLES)
#define NASH_CYCLES(n) ::nash::cyc::add(n)
#define NASH_PIPE(trip, ii, depth) ::nash::cyc::add(::nash::cyc::pipe(trip, ii, depth))
#define NASH_BURST(beats, depth) ::nash::cyc::add(::nash::cyc::burst(beats, depth))
#define NASH_MAXI_STREAM(name, is_read) ::nash::cyc::Burst name(is_read)
#define NASH_MAXI_RUN(name, beats, depth) name.run(::nash::cyc::pipe(beats, 1, depth))
#define NASH_MAXI_END(name) ::nash::cyc::add(name.total())
#define NASH_PROC_BEGIN() ::nash::cyc::proc_begin()
#define NASH_PROC_END(fill) ::nash::cyc::proc_end(fill)
#define NASH_REGION_BEGIN() ::nash::cyc::region_begin()
#define NASH_REGION_END() ::nash::cyc::region_end()
#define NASH_TASK_BEGIN(layer) ::nash::cyc::task_begin(layer)
#define NASH_TASK_END() ::nash::cyc::task_end()
#else
#define NASH_CYCLES(n)
#define NASH_PIPE(trip, ii, depth)
#define NASH_BURST(beats, depth)
#define NASH_MAXI_STREAM(name, is_read)
#define NASH_MAXI_RUN(name, beats, depth)
#define NASH_MAXI_END(name)
#define NASH_PROC_BEGIN()
#define NASH_PROC_END(fill)
#define NASH_REGION_BEGIN()
#define NASH_REGION_END()
#define NASH_TASK_BEGIN(layer)
#define NASH_TASK_END()
#endif

#endif  // NASH_COMMON_H
