#include "net/write_queue.h"

#include <gtest/gtest.h>

#include <string>

namespace ringcast::net {
namespace {

std::string gather(const WriteQueue& q) {
  iovec iov[64];
  int n = q.fill(iov, 64);
  std::string out;
  for (int i = 0; i < n; ++i) out.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
  return out;
}

TEST(WriteQueue, EmptyQueueOwnsNothing) {
  WriteQueue q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
  iovec iov[4];
  EXPECT_EQ(q.fill(iov, 4), 0);
  q.push(FrameRef(SharedFrame::copyOf("")));  // empty frames are not queued
  EXPECT_TRUE(q.empty());
}

TEST(WriteQueue, PartialWritesKeepOrderAndOffsets) {
  WriteQueue q;
  q.push(FrameRef(SharedFrame::copyOf("abc")));
  q.push(FrameRef(SharedFrame::copyOf("defgh")));
  q.push(FrameRef(SharedFrame::copyOf("ij")));
  EXPECT_EQ(q.bytes(), 10u);
  EXPECT_EQ(gather(q), "abcdefghij");
  q.consume(4);  // "abc" and "d"
  EXPECT_EQ(q.frames(), 2u);
  EXPECT_EQ(q.bytes(), 6u);
  EXPECT_EQ(gather(q), "efghij");
  q.consume(6);
  EXPECT_TRUE(q.empty());
}

TEST(WriteQueue, SharesFramesWithoutCopying) {
  FrameRef frame(SharedFrame::copyOf("shared"));
  WriteQueue a, b;
  a.push(frame.share());
  b.push(frame.share());
  EXPECT_EQ(frame->refCount(), 3u);
  iovec iov[1];
  a.fill(iov, 1);
  EXPECT_EQ(iov[0].iov_base, frame->data());
  a.consume(6);
  EXPECT_EQ(frame->refCount(), 2u);
  b.clear();
  EXPECT_EQ(frame->refCount(), 1u);
}

TEST(WriteQueue, GrowsAcrossTheRingBoundary) {
  WriteQueue q;
  std::string expected;
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 7; ++i) {
      std::string s = std::to_string(round) + ":" + std::to_string(i) + ";";
      q.push(FrameRef(SharedFrame::copyOf(s)));
      expected += s;
    }
    ASSERT_EQ(gather(q), expected);
    size_t n = expected.size() / 2;  // a partial write, as a socket would do
    q.consume(n);
    expected.erase(0, n);
    EXPECT_EQ(q.bytes(), expected.size());
  }
  EXPECT_EQ(gather(q), expected);
}

TEST(WriteQueue, CopyFrontGathersAcrossFramesFromTheWrittenOffset) {
  WriteQueue q;
  q.push(FrameRef(SharedFrame::copyOf("abc")));
  q.push(FrameRef(SharedFrame::copyOf("defgh")));
  q.push(FrameRef(SharedFrame::copyOf("ij")));
  q.consume(2);
  char out[16];
  EXPECT_EQ(q.copyFront(reinterpret_cast<uint8_t*>(out), sizeof out), 8u);
  EXPECT_EQ(std::string(out, 8), "cdefghij");
  EXPECT_EQ(q.copyFront(reinterpret_cast<uint8_t*>(out), 4), 4u);  // stops mid-frame
  EXPECT_EQ(std::string(out, 4), "cdef");
  EXPECT_EQ(q.bytes(), 8u);  // copying consumes nothing
}

TEST(WriteQueue, FillStopsAtMaxIovecs) {
  WriteQueue q;
  for (int i = 0; i < 10; ++i) q.push(FrameRef(SharedFrame::copyOf("x")));
  iovec iov[3];
  EXPECT_EQ(q.fill(iov, 3), 3);
}

TEST(WriteQueue, DropQueuedKeepsAPartlyWrittenFrame) {
  WriteQueue q;
  q.push(FrameRef(SharedFrame::copyOf("first")));
  q.push(FrameRef(SharedFrame::copyOf("second")));
  q.push(FrameRef(SharedFrame::copyOf("third")));
  q.consume(2);
  EXPECT_EQ(q.dropQueued(true), 2u);
  EXPECT_EQ(gather(q), "rst");
  EXPECT_EQ(q.bytes(), 3u);
  EXPECT_EQ(q.dropQueued(false), 1u);
  EXPECT_TRUE(q.empty());
}

TEST(WriteQueue, DropQueuedCountsTheMessagesAFrameCarries) {
  WriteQueue q;
  q.push(FrameRef(SharedFrame::copyOf("partly written")));
  SharedFrame* joined = SharedFrame::copyOf("m1m2m3");
  joined->setMessages(3);
  q.push(FrameRef(joined));
  q.push(FrameRef(SharedFrame::copyOf("one")));
  q.consume(1);
  EXPECT_EQ(q.dropQueued(true), 4u) << "a joined frame of 3 messages and a plain one";
  EXPECT_EQ(q.frames(), 1u);
}

TEST(WriteQueue, OneFrameWaitsInPlaceAndARingComesAndGoesWithMore) {
  WriteQueue q;
  q.push(FrameRef(SharedFrame::copyOf("one")));
  EXPECT_EQ(q.heapBytes(), 0u);  // a single frame needs no array
  q.consume(1);                  // partly written, still in place
  EXPECT_EQ(gather(q), "ne");
  q.push(FrameRef(SharedFrame::copyOf("two")));
  EXPECT_GT(q.heapBytes(), 0u);  // the second frame moves both into a ring, in order
  EXPECT_EQ(gather(q), "netwo");
  q.consume(5);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.heapBytes(), 0u);  // drained: the ring is given back
  q.push(FrameRef(SharedFrame::copyOf("again")));
  EXPECT_EQ(q.heapBytes(), 0u);
  EXPECT_EQ(q.dropQueued(false), 1u);
  EXPECT_TRUE(q.empty());
  q.push(FrameRef(SharedFrame::copyOf("a")));
  q.push(FrameRef(SharedFrame::copyOf("b")));
  q.clear();
  EXPECT_EQ(q.heapBytes(), 0u);
  EXPECT_EQ(q.bytes(), 0u);
}

}  // namespace
}  // namespace ringcast::net
