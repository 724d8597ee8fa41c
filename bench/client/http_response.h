// ResponseParser: incremental HTTP/1.1 response parser for the bench client's two HTTP
// conversations: the WebSocket upgrade answer and the publish API's answers on a keep-alive,
// pipelined connection. A pure function of bytes plus a few offsets to resume from: the
// caller keeps every byte of the current response in one buffer (it only grows at the end)
// and calls parse() after each read. Bodies are skipped, not kept (the bench only needs the
// status); Content-Length and chunked bodies are understood, a body delimited by the close
// of the connection is not (it cannot be pipelined) and is reported as an error.
//
// Thread safety: owned by one connection on one loop thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ringcast::bench {

struct ResponseHead {
  int status = 0;
  std::string_view reason;  // reason phrase, e.g. "Not Found"
  bool keepAlive = true;    // false when the server announced Connection: close (or HTTP/1.0)
  bool chunked = false;
  int64_t contentLength = -1;   // -1 when absent
  std::string_view accept;      // Sec-WebSocket-Accept
  std::string_view upgrade;     // Upgrade
  std::string_view extensions;  // Sec-WebSocket-Extensions
  size_t headBytes = 0;         // status line + fields + blank line
};

class ResponseParser {
 public:
  enum class Status { kComplete, kIncomplete, kError };
  struct Result {
    Status status = Status::kIncomplete;
    size_t consumed = 0;     // kComplete: bytes of this response, body included
    int httpStatus = 0;      // kComplete: its status code
    bool keepAlive = true;   // kComplete: the connection stays usable after it
    std::string_view error;  // kError: short, static
  };

  // `maxHeadBytes` bounds the status line and fields.
  explicit ResponseParser(size_t maxHeadBytes = 16 * 1024) : maxHeadBytes_(maxHeadBytes) {}

  // REQUIRES: `buffer` starts at the first byte of the current response and, between calls
  // for one response, only grew at its end. `headOnly`: the response ends with its head
  // (an upgrade answer: what follows belongs to the next protocol). *head is written once
  // the head is complete, with views into `buffer`. After kComplete the parser is ready for
  // the next response (pass the bytes after `consumed`).
  Result parse(std::string_view buffer, ResponseHead* head, bool headOnly);

 private:
  Result fail(std::string_view why) {
    failed_ = why;
    return {Status::kError, 0, 0, false, why};
  }
  Result complete(size_t consumed);
  bool parseHead(std::string_view headText, ResponseHead* head);
  Result scanChunks(std::string_view buffer);
  void reset();

  size_t maxHeadBytes_;
  size_t scanned_ = 0;    // bytes of the head searched for the blank line so far
  size_t headBytes_ = 0;  // 0 until the head is complete
  int status_ = 0;        // of the current response, once its head is complete
  bool keepAlive_ = true;
  int64_t bodyBytes_ = -1;  // Content-Length of the current response, -1 for chunked
  size_t chunkAt_ = 0;      // chunked: offset of the next chunk-size line
  bool inTrailer_ = false;  // chunked: the last chunk was seen, reading trailer lines
  std::string_view failed_;
};

}  // namespace ringcast::bench
