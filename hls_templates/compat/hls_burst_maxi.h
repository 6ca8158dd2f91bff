// NASH-HLS compatibility shim: hls::burst_maxi<T> (UG1399 "Using Manual Burst") for g++ C simulation only.
// Vitis HLS brings its own hls_burst_maxi.h; this file sits in a directory that only the g++ build puts on the include
// path (-isystem), so synthesized sources use the vendor header. It implements the manual-burst protocol on a plain
// array and aborts with a clear message where the hardware would deadlock or misbehave:
//   * read() without an outstanding read_request, or past the words it requested;
//   * write() without an outstanding write_request, or more words than it reserved;
//   * write_response() with no request whose words are all written (responses come in request order);
//   * a request while NASH_MAXI_OUTSTANDING requests of that direction are outstanding (the generated pragmas'
//     num_read_outstanding / num_write_outstanding: the request would wait forever for a slot that only the caller
//     can free), and a request of length 0;
//   * at the end (the last copy of the port destroyed): words requested but not read, reserved but not written, or
//     responses not taken.
// Copies share one state, so a port passed by value to a sub-function is the same port (as on the device).
#ifndef NASH_COMPAT_HLS_BURST_MAXI_H
#define NASH_COMPAT_HLS_BURST_MAXI_H

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>

#ifndef NASH_MAXI_OUTSTANDING
#define NASH_MAXI_OUTSTANDING 16
#endif

namespace hls {

template <typename T>
class burst_maxi {
 public:
  burst_maxi(T* p) : s_(std::make_shared<State>(p)) {}  // implicit, as the vendor's: callers pass the raw pointer

  void read_request(std::size_t offset, std::size_t len) {
    check_request("read_request", len, s_->reads.size());
    s_->reads.push_back(Run{offset, len, 0});
  }

  T read() {
    if (s_->reads.empty()) fail("read() without an outstanding read_request");
    Run& r = s_->reads.front();
    const T v = s_->base[r.offset + r.done];
    if (++r.done == r.len) s_->reads.pop_front();
    return v;
  }

  void write_request(std::size_t offset, std::size_t len) {
    check_request("write_request", len, s_->writes.size() + s_->responses.size());
    s_->writes.push_back(Run{offset, len, 0});
  }

  void write(const T& v) {
    if (s_->writes.empty()) fail("write() without an outstanding write_request (or more words than requested)");
    Run& r = s_->writes.front();
    s_->base[r.offset + r.done] = v;
    if (++r.done == r.len) {
      s_->responses.push_back(r);
      s_->writes.pop_front();
    }
  }

  void write_response() {
    if (s_->responses.empty())
      fail(s_->writes.empty() ? "write_response() without a write_request"
                              : "write_response() before all words of the oldest write_request were written");
    s_->responses.pop_front();
  }

 private:
  struct Run {
    std::size_t offset, len, done;
  };
  struct State {
    explicit State(T* p) : base(p) {}
    ~State() {
      if (!reads.empty()) fail("words requested by read_request were never read");
      if (!writes.empty()) fail("words reserved by write_request were never written");
      if (!responses.empty()) fail("write responses were never taken (write_response)");
    }
    T* base;
    std::deque<Run> reads;      // read requests whose words are not all read
    std::deque<Run> writes;     // write requests whose words are not all written
    std::deque<Run> responses;  // written requests whose response is not taken
  };

  static void fail(const char* what) {
    std::fprintf(stderr, "hls::burst_maxi: %s (would deadlock or corrupt memory in hardware)\n", what);
    std::abort();
  }

  static void check_request(const char* what, std::size_t len, std::size_t outstanding) {
    if (len == 0) {
      std::fprintf(stderr, "hls::burst_maxi: %s of length 0\n", what);
      std::abort();
    }
    if (outstanding >= static_cast<std::size_t>(NASH_MAXI_OUTSTANDING)) {
      std::fprintf(stderr, "hls::burst_maxi: %s with %d requests already outstanding (the port's limit: it would "
                   "wait forever)\n", what, NASH_MAXI_OUTSTANDING);
      std::abort();
    }
  }

  std::shared_ptr<State> s_;
};

}  // namespace hls

#endif  // NASH_COMPAT_HLS_BURST_MAXI_H
