#include "core/shared_frame.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace ringcast {
namespace {

TEST(SharedFrame, CopiesBytesAndCountsReferences) {
  FrameRef a(SharedFrame::copyOf("hello"));
  EXPECT_EQ(a->view(), "hello");
  EXPECT_EQ(a->refCount(), 1u);
  FrameRef b = a.share();
  EXPECT_EQ(a.get(), b.get());
  EXPECT_EQ(a->refCount(), 2u);
  b.reset();
  EXPECT_FALSE(b);
  EXPECT_EQ(a->refCount(), 1u);
  FrameRef c = std::move(a);
  EXPECT_FALSE(a);
  EXPECT_EQ(c->refCount(), 1u);
  SharedFrame* raw = c.detach();
  EXPECT_FALSE(c);
  EXPECT_EQ(raw->refCount(), 1u);
  raw->release();  // the sanitizer build reports a leak or double free if counting is wrong
}

TEST(SharedFrame, ReleasedConcurrentlyFromManyThreads) {
  FrameRef frame(SharedFrame::copyOf(std::string(1000, 'x')));
  constexpr int kThreads = 4, kRefsEach = 10000;
  std::vector<std::vector<FrameRef>> refs(kThreads);
  for (auto& v : refs) {
    for (int i = 0; i < kRefsEach; ++i) v.push_back(frame.share());
  }
  EXPECT_EQ(frame->refCount(), 1u + kThreads * kRefsEach);
  std::vector<std::thread> threads;
  for (auto& v : refs) threads.emplace_back([&v] { v.clear(); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(frame->refCount(), 1u);
}

}  // namespace
}  // namespace ringcast
