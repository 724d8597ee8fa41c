#include "net/timer_wheel.h"

#include <cassert>

namespace ringcast::net {

TimerWheel::TimerWheel(int64_t nowMs, FireFn fire)
    : slots_(kSlots), currentTick_(nowMs / kTickMs), fire_(fire) {
  for (TimerNode& head : slots_) head.prev = head.next = &head;
}

void TimerWheel::unlink(TimerNode* node) {
  node->prev->next = node->next;
  node->next->prev = node->prev;
  node->prev = node->next = nullptr;
}

void TimerWheel::arm(TimerNode* node, int64_t deadlineMs) {
  if (node->armed()) {
    unlink(node);
  } else {
    ++size_;
  }
  node->deadlineMs = deadlineMs;
  // Round up, and never into a tick already processed (it would wait a whole turn).
  int64_t tick = (deadlineMs + kTickMs - 1) / kTickMs;
  if (tick < currentTick_) tick = currentTick_;
  TimerNode& head = slotFor(tick);
  node->next = &head;
  node->prev = head.prev;
  head.prev->next = node;
  head.prev = node;
}

void TimerWheel::cancel(TimerNode* node) {
  if (!node->armed()) return;
  unlink(node);
  --size_;
}

void TimerWheel::advance(int64_t nowMs) {
  const int64_t nowTick = nowMs / kTickMs;
  // At most one turn: after that every slot has been visited once.
  const int64_t lastTick = nowTick - currentTick_ >= static_cast<int64_t>(kSlots)
                               ? currentTick_ + static_cast<int64_t>(kSlots) - 1
                               : nowTick;
  for (int64_t tick = currentTick_; tick <= lastTick; ++tick) {
    TimerNode& head = slotFor(tick);
    // Detach the slot first: fire() may re-arm nodes into this very slot.
    if (head.next == &head) continue;
    TimerNode pending;
    pending.next = head.next;
    pending.prev = head.prev;
    pending.next->prev = &pending;
    pending.prev->next = &pending;
    head.next = head.prev = &head;
    while (pending.next != &pending) {
      TimerNode* node = pending.next;
      unlink(node);
      --size_;
      if (node->deadlineMs <= nowMs) {
        fire_(node, nowMs);
      } else {
        arm(node, node->deadlineMs);  // a later turn
      }
    }
  }
  currentTick_ = nowTick + 1 > currentTick_ ? nowTick + 1 : currentTick_;
}

int64_t TimerWheel::msUntilNextTick(int64_t nowMs) const {
  if (size_ == 0) return -1;
  int64_t next = currentTick_ * kTickMs;
  return next > nowMs ? next - nowMs : 0;
}

}  // namespace ringcast::net
