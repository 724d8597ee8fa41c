// Messages on the pipes between the bench's parent process and its workers: a 1-byte type,
// a 4-byte length and the payload. Workers send counters snapshots, their final Stats, or a
// fatal error; the parent sends the phase changes (go, stop, finish with the expected
// counts). Both sides are single-threaded here: the worker's main thread and the parent.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ringcast::bench {

enum class MsgType : uint8_t {
  // worker -> parent
  kSnapshot = 1,  // Counters as bytes
  kResult = 2,    // Stats::appendTo
  kFatal = 3,     // text
  // parent -> worker
  kGo = 10,      // the measured phase begins
  kStop = 11,    // it ends: stop traffic, close, send kResult
  kFinish = 12,  // fanout: like kStop, payload = expected count per publisher (uint64 each)
};

// Writes one whole message (blocking; retries EINTR). False if the pipe is gone.
bool writeMessage(int fd, MsgType type, std::string_view payload);

class MessageReader {
 public:
  // Appends what one read() returns. False on EOF or error.
  bool readFrom(int fd);
  // Takes the next complete message, if any.
  bool next(MsgType* type, std::string* payload);

 private:
  std::string buffer_;
};

}  // namespace ringcast::bench
