// NASH-HLS compatibility shim: a small hls::stream<T, DEPTH> for g++ C simulation only.
// Vitis HLS brings its own hls_stream.h; this file sits in a directory that only the g++ build puts on the include
// path (-isystem), so synthesized sources use the vendor header. Reading an empty stream is a deadlock in hardware:
// here it aborts with a clear message instead of returning garbage. DEPTH = 0 means unbounded (the Vitis default
// depth is decided by the tool); a write to a full bounded stream aborts as well.
#ifndef NASH_COMPAT_HLS_STREAM_H
#define NASH_COMPAT_HLS_STREAM_H

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>

namespace hls {

template <typename T, int DEPTH = 0>
class stream {
 public:
  stream() : name_("hls::stream") {}
  explicit stream(const char* name) : name_(name) {}
  stream(const stream&) = delete;
  stream& operator=(const stream&) = delete;

  bool empty() const { return q_.empty(); }
  bool full() const { return DEPTH > 0 && q_.size() >= static_cast<std::size_t>(DEPTH); }
  std::size_t size() const { return q_.size(); }

  T read() {
    if (q_.empty()) {
      std::fprintf(stderr, "hls::stream '%s': read from an empty stream (would deadlock in hardware)\n", name_.c_str());
      std::abort();
    }
    T v = q_.front();
    q_.pop_front();
    return v;
  }
  void read(T& v) { v = read(); }
  bool read_nb(T& v) {
    if (q_.empty()) return false;
    v = read();
    return true;
  }
  void write(const T& v) {
    if (full()) {
      std::fprintf(stderr, "hls::stream '%s': write to a full stream of depth %d (would stall forever)\n",
                   name_.c_str(), DEPTH);
      std::abort();
    }
    q_.push_back(v);
  }
  bool write_nb(const T& v) {
    if (full()) return false;
    q_.push_back(v);
    return true;
  }
  stream& operator>>(T& v) {
    v = read();
    return *this;
  }
  stream& operator<<(const T& v) {
    write(v);
    return *this;
  }

 private:
  std::deque<T> q_;
  std::string name_;
};

}  // namespace hls

#endif  // NASH_COMPAT_HLS_STREAM_H
