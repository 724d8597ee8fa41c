#include "bench/client/stats.h"

#include <algorithm>
#include <cstring>

namespace ringcast::bench {
namespace {

struct FailureInfo {
  std::string_view key;
  std::string_view description;
};

constexpr FailureInfo kFailureInfo[kFailureKinds] = {
    {"refused", "connection refused (nothing listens at that address: is the server up?)"},
    {"connect_timeout", "TCP connect timed out"},
    {"handshake_timeout", "connected, but the upgrade got no complete answer in time"},
    {"rejected", "the server refused the WebSocket upgrade"},
    {"bad_handshake", "invalid upgrade answer (not HTTP, or a 101 without a valid accept key)"},
    {"reset_in_handshake", "connection reset during the upgrade"},
    {"closed_in_handshake", "the server closed the connection during the upgrade"},
    {"no_local_address", "out of local ports (EADDRNOTAVAIL): add source addresses with --src"},
    {"no_descriptors", "out of file descriptors (EMFILE): split with --procs"},
    {"unreachable", "network or host unreachable"},
    {"connect_error", "connect failed"},
    {"server_closed", "the server closed an open WebSocket (close frame)"},
    {"dropped", "the server dropped an open connection (FIN without a close frame)"},
    {"reset", "an open connection was reset"},
    {"protocol_error", "the server broke the WebSocket protocol"},
};

}  // namespace

std::string_view failureKey(Failure f) {
  return kFailureInfo[static_cast<size_t>(f)].key;
}
std::string_view failureDescription(Failure f) {
  return kFailureInfo[static_cast<size_t>(f)].description;
}

void CodeCounts::add(int32_t c, uint64_t n) {
  for (size_t i = 0; i < kSlots; ++i) {
    if (count[i] != 0 && code[i] == c) {
      count[i] += n;
      return;
    }
  }
  for (size_t i = 0; i < kSlots; ++i) {
    if (count[i] == 0) {
      code[i] = c;
      count[i] = n;
      return;
    }
  }
  other += n;
}

void CodeCounts::merge(const CodeCounts& o) {
  for (size_t i = 0; i < kSlots; ++i) {
    if (o.count[i] != 0) add(o.code[i], o.count[i]);
  }
  other += o.other;
}

uint64_t Counters::failed() const {
  uint64_t n = 0;
  for (size_t i = 0; i < kFailureKinds; ++i) {
    if (isConnectFailure(static_cast<Failure>(i))) n += failures[i];
  }
  return n;
}

uint64_t Counters::lostOpen() const {
  uint64_t n = 0;
  for (size_t i = 0; i < kFailureKinds; ++i) {
    if (!isConnectFailure(static_cast<Failure>(i))) n += failures[i];
  }
  return n;
}

void Counters::merge(const Counters& o) {
  attempts += o.attempts;
  pending += o.pending;
  opened += o.opened;
  openNow += o.openNow;
  closedOk += o.closedOk;
  for (size_t i = 0; i < kFailureKinds; ++i) failures[i] += o.failures[i];
  rejectedStatus.merge(o.rejectedStatus);
  connectErrno.merge(o.connectErrno);
  serverCloseCode.merge(o.serverCloseCode);
  gaveUp += o.gaveUp;
  sent += o.sent;
  received += o.received;
  bytesReceived += o.bytesReceived;
  compressedConns += o.compressedConns;
  badEchoes += o.badEchoes;
  otherFrames += o.otherFrames;
  pingsAnswered += o.pingsAnswered;
  cycles += o.cycles;
  subscribers += o.subscribers;
  readyNow += o.readyNow;
  deliveries += o.deliveries;
  unique += o.unique;
  duplicates += o.duplicates;
  late += o.late;
  beyondWindow += o.beyondWindow;
  malformed += o.malformed;
  wrongChannel += o.wrongChannel;
  reconnects += o.reconnects;
  resubscribed += o.resubscribed;
  notRecovered += o.notRecovered;
  expected += o.expected;
  lost += o.lost;
  if (o.firstDeliveryNs != 0 && (firstDeliveryNs == 0 || o.firstDeliveryNs < firstDeliveryNs)) {
    firstDeliveryNs = o.firstDeliveryNs;
  }
  lastDeliveryNs = std::max(lastDeliveryNs, o.lastDeliveryNs);
  stalled += o.stalled;
  stalledMessages += o.stalledMessages;
  stalledCutOff += o.stalledCutOff;
  stalledDropped += o.stalledDropped;
  stalledKept += o.stalledKept;
  stalledCloseCode.merge(o.stalledCloseCode);
  published += o.published;
  acked += o.acked;
  publishErrors += o.publishErrors;
  publishUnanswered += o.publishUnanswered;
  publishInflight += o.publishInflight;
  publishStatus.merge(o.publishStatus);
  cpuWindowNs += o.cpuWindowNs;
}

void Stats::merge(const Stats& o) {
  c.merge(o.c);
  latency.merge(o.latency);
  connect.merge(o.connect);
  lifetime.merge(o.lifetime);
}

void Stats::appendTo(std::string& out) const {
  out.append(reinterpret_cast<const char*>(&c), sizeof c);
  latency.appendTo(out);
  connect.appendTo(out);
  lifetime.appendTo(out);
}

bool Stats::readFrom(std::string_view in) {
  if (in.size() < sizeof c) return false;
  std::memcpy(&c, in.data(), sizeof c);
  in.remove_prefix(sizeof c);
  return latency.readFrom(&in) && connect.readFrom(&in) && lifetime.readFrom(&in) && in.empty();
}

}  // namespace ringcast::bench
