#include "push/api_tcp.h"

#include <algorithm>
#include <utility>

#include "core/json.h"
#include "core/log.h"
#include "core/secret.h"
#include "push/client_protocol.h"

namespace ringcast::push {
namespace {

constexpr std::string_view kPong = "PONG\r\n";
constexpr std::string_view kAuthFirst = "unauthorized: the first command must be AUTH <key>";
constexpr std::string_view kWrongKey = "unauthorized: wrong key";

std::string errLine(std::string_view reason) {
  std::string line = "-ERR ";
  line += reason;
  line += "\r\n";
  return line;
}

// A receipt's error code as a reply reason: one word without line breaks, whatever the Hub
// put there.
std::string_view reasonOf(const Receipt& r) {
  std::string_view code = r.errorCode;
  if (code.empty() || code.find_first_of("\r\n") != std::string_view::npos) return "failed";
  return code;
}

}  // namespace

void acceptPublishConnection(net::EventLoop& loop, int fd, Hub* hub, const PublishOptions* options,
                             net::ConnectionCap::Slot slot) {
  new PublishConnection(&loop, fd, hub, options, std::move(slot));  // owned by the loop
}

PublishConnection::PublishConnection(net::EventLoop* loop, int fd, Hub* hub,
                                     const PublishOptions* options, net::ConnectionCap::Slot slot)
    : OrderedReplyConnection(loop, fd),
      hub_(hub),
      options_(options),
      slot_(std::move(slot)),
      authenticated_(options->apiKey.empty()) {
  armIdleDeadline();
}

PublishConnection::~PublishConnection() = default;

void PublishConnection::onData(uint8_t* data, size_t len) {
  if (stopParsing_) return;  // out of sync: input is discarded until the close
  armIdleDeadline();
  feedInput(data, len);
}

void PublishConnection::onDeadline(int64_t) {
  if (!replies_.empty() || inputHeld_) {
    armIdleDeadline();  // we owe replies: the silence is ours, not the feeder's
    return;
  }
  RC_LOG_DEBUG("c-{}-{}: publish connection idle for {} ms", loop()->id(), serial(),
               options_->idleTimeoutMs);
  if (options_->refusals != nullptr) options_->refusals->count(PortRefusals::kPublishIdle);
  refuseAndClose("idle timeout");
  writeReady();
}

void PublishConnection::armIdleDeadline() {
  if (stopParsing_) return;  // closing: closeAfterFlush's linger deadline rules
  if (options_->idleTimeoutMs > 0) setDeadline(loop()->nowMs() + options_->idleTimeoutMs);
}

void PublishConnection::onDrained() {
  if (inputHeld_ && mayTakeCommands(kMaxQueuedReplies / 2)) resumeInput();
}

void PublishConnection::onClosed() {
  OrderedReplyConnection::onClosed();
  replies_.clear();
}

bool PublishConnection::mayTakeCommands(size_t maxReplies) const {
  return replies_.size() < maxReplies && queuedBytes() <= kMaxOutputBytes;
}

size_t PublishConnection::processInput(std::string_view buffer) {
  processing_ = true;
  size_t offset = 0;
  while (!stopParsing_) {
    if (skip_ > 0) {
      // The payload of a command refused as too large: dropped unbuffered, CRLF included.
      size_t n = static_cast<size_t>(std::min<uint64_t>(skip_, buffer.size() - offset));
      offset += n;
      skip_ -= n;
      if (skip_ > 0) break;
      continue;
    }
    if (!mayTakeCommands(kMaxQueuedReplies)) {
      holdInput();
      break;
    }
    TcpCommand command;
    // Until AUTH, a payload limit of 0: a command line announcing one is refused as soon as
    // it is complete, so a caller without the key gets no payload buffered.
    const uint64_t maxPayload = authenticated_ ? options_->maxPayloadBytes : 0;
    TcpParse r = parseTcpCommand(buffer.substr(offset), maxPayload, &command);
    if (r.status == TcpParse::kIncomplete) break;
    if (!authenticated_ &&
        (r.status == TcpParse::kError ? r.inSync : command.kind != TcpCommand::kAuth)) {
      refuseAndClose(kAuthFirst);
      break;
    }
    if (r.status == TcpParse::kError) {
      if (!r.inSync) {
        RC_LOG_DEBUG("c-{}-{}: publish stream out of sync: {}", loop()->id(), serial(), r.error);
        refuseAndClose(r.error);
        break;
      }
      reply(errLine(r.error));
      offset += r.consumed;
      skip_ = r.skip;
      continue;
    }
    offset += r.consumed;
    handleCommand(command);
  }
  processing_ = false;
  writeReady();
  return offset;
}

void PublishConnection::refuseAndClose(std::string_view reason) {
  reply(errLine(reason));
  stopParsing_ = true;
  closeWhenIdle_ = true;
}

void PublishConnection::handleCommand(const TcpCommand& command) {
  if (command.kind == TcpCommand::kPing) {
    reply(kPong);
    return;
  }
  if (command.kind == TcpCommand::kAuth) {
    // Without a key there is nothing to check; with one, every AUTH must carry it.
    if (options_->apiKey.empty()) return;
    if (!secretMatches(command.target, options_->apiKey)) {
      RC_LOG_DEBUG("c-{}-{}: publish connection with a wrong key", loop()->id(), serial());
      refuseAndClose(kWrongKey);
      return;
    }
    authenticated_ = true;
    return;
  }
  if (!json::dataFromBytes(command.payload, &data_)) {
    reply(errLine("not utf-8"));
    return;
  }
  const uint64_t id = firstId_ + replies_.size();
  replies_.emplace_back();
  ++outstanding_;
  ReceiptFn done = [this, weak = std::weak_ptr<char>(alive_), id](const Receipt& r) {
    if (!weak.expired()) onReceipt(id, r);
  };
  switch (command.kind) {
    case TcpCommand::kPub:
      // A feeder hears only of failures: the receipt need not wait for the loops.
      hub_->publish(command.target, data_, kApiSender, ReceiptWait::kAccepted, std::move(done));
      break;
    case TcpCommand::kBcast:
      hub_->broadcast(data_, std::move(done));
      break;
    case TcpCommand::kSend:
      hub_->send({std::string(command.target)}, data_, kApiSender, std::move(done));
      break;
    case TcpCommand::kPing:
    case TcpCommand::kAuth:
      break;
  }
}

void PublishConnection::reply(std::string_view line) {
  Slot& slot = replies_.emplace_back();
  slot.done = true;
  slot.line.assign(line);
}

void PublishConnection::onReceipt(uint64_t id, const Receipt& receipt) {
  if (id < firstId_ || id - firstId_ >= replies_.size()) return;
  Slot& slot = replies_[id - firstId_];
  if (slot.done) return;
  slot.done = true;
  --outstanding_;
  if (!receipt.ok) slot.line = errLine(reasonOf(receipt));
  if (!processing_) writeReady();
}

void PublishConnection::writeReady() {
  std::string out;  // every finished reply at the front, in one write
  while (!replies_.empty() && replies_.front().done) {
    out += replies_.front().line;
    replies_.pop_front();
    ++firstId_;
  }
  if (!isOpen()) return;
  sendCopy(out);
  if (replies_.empty() && closeWhenIdle_) {
    closeAfterFlush(options_->closeTimeoutMs);
    return;
  }
  if (inputHeld_ && !processing_ && mayTakeCommands(kMaxQueuedReplies / 2)) resumeInput();
}

}  // namespace ringcast::push
