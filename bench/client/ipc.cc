#include "bench/client/ipc.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ringcast::bench {

bool writeMessage(int fd, MsgType type, std::string_view payload) {
  std::string msg;
  msg.reserve(5 + payload.size());
  msg.push_back(static_cast<char>(type));
  const uint32_t len = static_cast<uint32_t>(payload.size());
  msg.append(reinterpret_cast<const char*>(&len), 4);
  msg.append(payload);
  size_t done = 0;
  while (done < msg.size()) {
    ssize_t n = ::write(fd, msg.data() + done, msg.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

bool MessageReader::readFrom(int fd) {
  char chunk[16384];
  while (true) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }
}

bool MessageReader::next(MsgType* type, std::string* payload) {
  if (buffer_.size() < 5) return false;
  uint32_t len;
  std::memcpy(&len, buffer_.data() + 1, 4);
  if (buffer_.size() < 5 + size_t{len}) return false;
  *type = static_cast<MsgType>(buffer_[0]);
  payload->assign(buffer_, 5, len);
  buffer_.erase(0, 5 + size_t{len});
  return true;
}

}  // namespace ringcast::bench
