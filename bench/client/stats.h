// Stats: everything one loop of the bench client counts, in a form that is summed across
// loops and processes: plain counters (Counters, trivially copyable so it crosses the pipe
// between processes as bytes) and three histograms. Each loop owns one Stats and writes it
// without atomics; the process reads it after the loop stopped, or a copy the loop
// published (see Shard::snapshot).
//
// Failure kinds name every way a connection can fail or end early, with a JSON key and a
// sentence for the report, so that each failure is counted by kind and explained once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "bench/client/histogram.h"

namespace ringcast::bench {

enum class Failure : uint8_t {
  // Before the WebSocket opened.
  kRefused,            // ECONNREFUSED: nothing listens there
  kConnectTimeout,     // no answer to the SYN in time
  kHandshakeTimeout,   // connected, but no complete upgrade answer in time
  kRejected,           // the server answered the upgrade with a non-101 status (by status)
  kBadHandshake,       // a 101 that is not a valid WebSocket accept, or not HTTP at all
  kResetInHandshake,   // RST before the upgrade answer
  kClosedInHandshake,  // FIN before the upgrade answer
  kNoLocalAddress,     // EADDRNOTAVAIL: out of ephemeral ports (use --src)
  kNoDescriptors,      // EMFILE/ENFILE: out of file descriptors (use --procs)
  kUnreachable,        // ENETUNREACH/EHOSTUNREACH
  kConnectError,       // any other connect error (by errno)
  // After the WebSocket opened (the connection was lost before the bench closed it).
  kServerClosed,   // the server sent a close frame
  kDropped,        // FIN without a close frame
  kReset,          // RST
  kProtocolError,  // the server broke RFC 6455 (bad frame, masked frame, bad UTF-8)
  kCount,
};
constexpr size_t kFailureKinds = static_cast<size_t>(Failure::kCount);

std::string_view failureKey(Failure f);          // "refused", for JSON
std::string_view failureDescription(Failure f);  // a sentence for the report
// Failures before the WebSocket opened (as opposed to losses of open connections).
inline bool isConnectFailure(Failure f) {
  return f < Failure::kServerClosed;
}

// A small fixed table of (code, count): HTTP statuses of rejected upgrades, errnos of
// connect errors, close codes of server closes.
struct CodeCounts {
  static constexpr size_t kSlots = 8;
  int32_t code[kSlots] = {};
  uint64_t count[kSlots] = {};
  uint64_t other = 0;  // codes that did not fit in the table
  void add(int32_t c, uint64_t n = 1);
  void merge(const CodeCounts& o);
};

struct Counters {
  // Connections.
  uint64_t attempts = 0;  // connects started
  uint64_t pending = 0;   // attempts not yet opened or failed (a level, not a count)
  uint64_t opened = 0;    // upgrades completed
  uint64_t openNow = 0;   // open right now (a level)
  uint64_t closedOk = 0;  // closed by the bench with a complete close handshake
  uint64_t failures[kFailureKinds] = {};
  CodeCounts rejectedStatus;   // kRejected by HTTP status
  CodeCounts connectErrno;     // kConnectError by errno
  CodeCounts serverCloseCode;  // kServerClosed by close code
  uint64_t gaveUp = 0;         // loops that stopped trying: every attempt failed

  // Messages (echo round trips, fanout deliveries, handshake cycles).
  uint64_t sent = 0;
  uint64_t received = 0;         // data messages received in the measured window
  uint64_t bytesReceived = 0;    // on the wire (compressed where negotiated), whole run
  uint64_t compressedConns = 0;  // upgrades that negotiated permessage-deflate
  uint64_t badEchoes = 0;        // echo replies of the wrong size or opcode
  uint64_t otherFrames = 0;      // data messages without a marker (fanout) or outside the window
  uint64_t pingsAnswered = 0;
  uint64_t cycles = 0;  // handshake mode: connect + upgrade + close completed

  // Fanout subscribers.
  uint64_t subscribers = 0;  // subscribers that became ready (their losses count)
  uint64_t readyNow = 0;     // ready right now (a level)
  uint64_t deliveries = 0;   // markers received
  uint64_t unique = 0;
  uint64_t duplicates = 0;
  uint64_t late = 0;          // out of order: arrived after a later message
  uint64_t beyondWindow = 0;  // out of order by more than SeqTracker::kWindow
  uint64_t malformed = 0;     // "#rcb:" that was not a valid marker, or an unknown publisher
  uint64_t wrongChannel = 0;  // a marker of another channel than the subscriber's
  // --reconnect: subscribers that lost their connection and came back.
  uint64_t reconnects = 0;      // reconnect attempts started
  uint64_t resubscribed = 0;    // resubscribe replies (with since) received
  uint64_t notRecovered = 0;    // of them with recovered:false (a gap the server could not fill)
  uint64_t expected = 0;        // filled in at the end: sum over subscribers of published
  uint64_t lost = 0;            // filled in at the end
  int64_t firstDeliveryNs = 0;  // CLOCK_MONOTONIC; 0 = none
  int64_t lastDeliveryNs = 0;

  // Fanout subscribers that stop reading once subscribed (--stalled); outside the loss
  // accounting. How each ended is known once it read what reached it, at the end.
  uint64_t stalled = 0;          // stalled subscribers that subscribed
  uint64_t stalledMessages = 0;  // data messages they read at the end
  uint64_t stalledCutOff = 0;    // the server closed them first (code in stalledCloseCode)
  uint64_t stalledDropped = 0;   // ended without a close frame from the server (FIN, RST)
  uint64_t stalledKept = 0;      // still subscribed at the end: answered the bench's close
  CodeCounts stalledCloseCode;

  // Publishers (the parent's publisher loop).
  uint64_t published = 0;          // messages written
  uint64_t acked = 0;              // HTTP: answered 2xx
  uint64_t publishErrors = 0;      // HTTP: answered otherwise (by status below)
  uint64_t publishUnanswered = 0;  // HTTP: in flight on a connection that went away
  uint64_t publishInflight = 0;    // a level
  CodeCounts publishStatus;

  // CPU time of this process in the measured window (filled in by the worker).
  int64_t cpuWindowNs = 0;

  uint64_t failed() const;    // connect failures (never opened)
  uint64_t lostOpen() const;  // open connections lost before the bench closed them
  void merge(const Counters& o);
};
static_assert(std::is_trivially_copyable_v<Counters>);

struct Stats {
  Counters c;
  Histogram latency;   // ns: echo round trip, fanout publish-to-delivery, handshake upgrade
  Histogram connect;   // ns: connect start -> upgrade complete
  Histogram lifetime;  // ms: how long connections lost before the end had been open

  void merge(const Stats& o);
  void appendTo(std::string& out) const;
  bool readFrom(std::string_view in);
};

}  // namespace ringcast::bench
