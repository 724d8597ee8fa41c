// InputBuffer: the bytes of a request/command stream not yet dispatched, for protocols that
// parse whole requests (the HTTP API, the TCP publish protocol). Input is parsed straight from
// the loop's shared read buffer; only an incomplete tail is copied here — or, while the
// connection holds input back (too many answers outstanding), everything that arrives, so
// the order is kept.
//
// `process(view)` parses what it can and returns the bytes it used.
// Thread safety: owned by one connection on its loop.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ringcast::net {

class InputBuffer {
 public:
  // New bytes from the socket. `held`: the connection is not taking requests now.
  template <class Process>
  void feed(std::string_view fresh, bool held, Process&& process) {
    if (kept_.empty() && !held) {
      size_t used = process(fresh);  // the common case: no copy
      if (used < fresh.size()) kept_.assign(fresh.substr(used));
    } else {
      kept_.append(fresh);
      replay(process);
    }
  }
  // Offers the kept bytes again (the connection takes requests again).
  template <class Process>
  void replay(Process&& process) {
    size_t used = process(std::string_view(kept_));
    kept_.erase(0, used);
  }
  bool empty() const { return kept_.empty(); }
  void clear() { kept_.clear(); }

 private:
  std::string kept_;
};

}  // namespace ringcast::net
