#include "push/ordered_reply_connection.h"

namespace ringcast::push {

OrderedReplyConnection::OrderedReplyConnection(net::EventLoop* loop, int fd)
    : TcpConnection(loop, fd) {
  setUrgentWrites();  // answers do not wait behind a fan-out pass
}

void OrderedReplyConnection::goAway() {
  loop()->assertInLoopThread();
  if (!isOpen()) return;
  stopParsing_ = true;
  closeWhenIdle_ = true;
  input_.clear();
  writeReady();
}

void OrderedReplyConnection::feedInput(const uint8_t* data, size_t len) {
  std::string_view bytes(reinterpret_cast<const char*>(data), len);
  feeding_ = true;
  input_.feed(bytes, inputHeld_, [this](std::string_view b) { return processInput(b); });
  feeding_ = false;
  finishPass();
}

void OrderedReplyConnection::resumeInput() {
  resumeWanted_ = true;
  // From inside a pass (an answer that arrives at once), the resume waits for the pass to
  // end: the bytes it has not used yet are kept only then, and must be replayed too.
  if (!feeding_) finishPass();
}

void OrderedReplyConnection::finishPass() {
  while (resumeWanted_ && !stopParsing_) {
    resumeWanted_ = false;
    inputHeld_ = false;
    feeding_ = true;
    input_.replay([this](std::string_view b) { return processInput(b); });
    feeding_ = false;
  }
  resumeWanted_ = false;
  if (stopParsing_) input_.clear();
  if (!inputHeld_) resumeReading();
}

void OrderedReplyConnection::onClosed() {
  alive_.reset();  // late receipts see the expired token and do nothing
  input_.clear();
}

}  // namespace ringcast::push
