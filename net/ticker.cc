#include "net/ticker.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/log.h"

namespace ringcast::net {

Ticker::Ticker(EventLoop* loop, std::function<void()> onTick)
    : fd_(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)),
      onTick_(std::move(onTick)) {
  if (fd_ < 0) {
    RC_LOG_ERROR("timerfd_create failed: {}", std::strerror(errno));
    std::abort();
  }
  loop->add(fd_, this);
}

Ticker::~Ticker() {
  ::close(fd_);
}

void Ticker::setPeriodUs(int64_t periodUs) {
  if (periodUs == periodUs_) return;
  periodUs_ = periodUs;
  itimerspec spec{};
  spec.it_interval.tv_sec = periodUs / 1'000'000;
  spec.it_interval.tv_nsec = (periodUs % 1'000'000) * 1000;
  spec.it_value = spec.it_interval;
  ::timerfd_settime(fd_, 0, &spec, nullptr);
}

void Ticker::handleEvents(uint32_t) {
  uint64_t expirations;
  // One read clears every expiration since the last; several missed ticks make one call.
  if (::read(fd_, &expirations, sizeof expirations) > 0 && periodUs_ > 0) onTick_();
}

}  // namespace ringcast::net
