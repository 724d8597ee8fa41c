// Autobahn sections 9 (limits and performance) and 10 (auto-fragmentation): large messages
// in one frame, in many fragments and in small writes, and long pipelines of small messages,
// all echoed intact as one frame each. Plus the server's message size limit: the shared
// server runs with --max-message-size 16MiB, so 16 MiB passes and one byte more gets 1009,
// whether the excess is declared in one frame header or reached across fragments.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/conformance_fixture.h"

namespace ringcast::test {
namespace {

constexpr size_t kKiB = 1024;
constexpr size_t kMiB = 1024 * 1024;

struct BulkCase {
  std::string id;
  uint8_t opcode;
  size_t length;
  size_t fragmentBytes;  // 0: one frame
  size_t chopBytes;      // 0: one write
};

void PrintTo(const BulkCase& c, std::ostream* os) {
  *os << c.id;
}

std::vector<BulkCase> bulkCases() {
  std::vector<BulkCase> cases;
  for (uint8_t opcode : {op::kText, op::kBinary}) {
    const bool text = opcode == op::kText;
    // 9.1.x/9.2.x: one frame of 64 KiB .. 16 MiB.
    const size_t sizes[] = {64 * kKiB, 256 * kKiB, 1 * kMiB, 4 * kMiB, 8 * kMiB, 16 * kMiB};
    for (size_t i = 0; i < std::size(sizes); ++i) {
      cases.push_back({std::string("Autobahn ") + (text ? "9.1." : "9.2.") + std::to_string(i + 1),
                       opcode, sizes[i], 0, 0});
    }
    // 9.3.x/9.4.x: 4 MiB in fragments of 64 B .. 4 MiB.
    const size_t fragments[] = {64,        256,        1 * kKiB, 4 * kKiB, 16 * kKiB,
                                64 * kKiB, 256 * kKiB, 1 * kMiB, 4 * kMiB};
    for (size_t i = 0; i < std::size(fragments); ++i) {
      cases.push_back({std::string("Autobahn ") + (text ? "9.3." : "9.4.") + std::to_string(i + 1),
                       opcode, 4 * kMiB, fragments[i], 0});
    }
    // 9.5.x/9.6.x: 1 MiB in one frame, written in chops of 64 B .. 2 KiB.
    const size_t chops[] = {64, 128, 256, 512, 1024, 2048};
    for (size_t i = 0; i < std::size(chops); ++i) {
      cases.push_back({std::string("Autobahn ") + (text ? "9.5." : "9.6.") + std::to_string(i + 1),
                       opcode, 1 * kMiB, 0, chops[i]});
    }
  }
  // 10.1.1: 64 KiB of text in fragments of 1300 bytes.
  cases.push_back({"Autobahn 10.1.1", op::kText, 64 * kKiB, 1300, 0});
  // Exactly at the limit (16 MiB) in two fragments; 9.1.6/9.2.6 cover it in one frame.
  cases.push_back({"Limit 16MiB text in two fragments", op::kText, 16 * kMiB, 8 * kMiB, 0});
  cases.push_back({"Limit 16MiB binary in two fragments", op::kBinary, 16 * kMiB, 8 * kMiB, 0});
  return cases;
}

class ConformanceLimits : public ConformanceParamTest<BulkCase> {};

TEST_P(ConformanceLimits, MessageIsEchoedIntact) {
  const BulkCase& c = GetParam();
  auto client = openEcho();
  ASSERT_TRUE(client);
  const std::string payload = c.opcode == op::kText ? textOf(c.length) : binaryOf(c.length);
  const std::string bytes =
      c.fragmentBytes == 0 ? encodeFrame(c.opcode, payload, true, 0, true, client->nextMaskKey())
                           : encodeFragmented(*client, c.opcode, payload, c.fragmentBytes);
  ASSERT_TRUE(client->sendRaw(bytes, c.chopBytes)) << client->error();
  EXPECT_TRUE(isFrame(client->readFrame(WsClient::kBulkTimeout), c.opcode, payload));
  EXPECT_TRUE(closeIsEchoed(*client, close_code::kNormal));
}

INSTANTIATE_TEST_SUITE_P(Rfc6455, ConformanceLimits, ::testing::ValuesIn(bulkCases()),
                         [](const auto& info) { return caseName(info.param.id); });

// 9.7.x/9.8.x: 1000 messages of 0 B .. 4 KiB written back to back by a second thread while
// this one reads the echoes, which must come back complete and in order.
struct PipelineCase {
  std::string id;
  uint8_t opcode;
  size_t length;
};

void PrintTo(const PipelineCase& c, std::ostream* os) {
  *os << c.id;
}

constexpr int kPipelinedMessages = 1000;

class ConformancePipeline : public ConformanceParamTest<PipelineCase> {};

TEST_P(ConformancePipeline, ThousandMessagesEchoedInOrder) {
  const PipelineCase& c = GetParam();
  auto client = openEcho();
  ASSERT_TRUE(client);
  std::vector<std::string> payloads;
  std::string bytes;
  for (int i = 0; i < kPipelinedMessages; ++i) {
    // Each payload starts with its index (when there is room) so a reordering shows.
    std::string p = c.opcode == op::kText ? textOf(c.length) : binaryOf(c.length);
    std::string tag = std::to_string(i) + ":";
    if (tag.size() <= p.size()) p.replace(0, tag.size(), tag);
    bytes += encodeFrame(c.opcode, p, true, 0, true, client->nextMaskKey());
    payloads.push_back(std::move(p));
  }
  bool sent = false;
  std::thread writer([&] { sent = client->sendRaw(bytes); });
  int matched = 0;
  for (int i = 0; i < kPipelinedMessages; ++i) {
    auto echo = isFrame(client->readFrame(WsClient::kBulkTimeout), c.opcode, payloads[i]);
    if (!echo) {
      ADD_FAILURE() << "message #" << i << ": " << echo.message();
      break;
    }
    ++matched;
  }
  writer.join();
  EXPECT_TRUE(sent) << client->error();
  EXPECT_EQ(matched, kPipelinedMessages);
  EXPECT_TRUE(closeIsEchoed(*client, close_code::kNormal));
}

INSTANTIATE_TEST_SUITE_P(Rfc6455, ConformancePipeline,
                         ::testing::Values(PipelineCase{"Autobahn 9.7.1", op::kText, 0},
                                           PipelineCase{"Autobahn 9.7.2", op::kText, 16},
                                           PipelineCase{"Autobahn 9.7.3", op::kText, 64},
                                           PipelineCase{"Autobahn 9.7.4", op::kText, 256},
                                           PipelineCase{"Autobahn 9.7.5", op::kText, 1024},
                                           PipelineCase{"Autobahn 9.7.6", op::kText, 4096},
                                           PipelineCase{"Autobahn 9.8.1", op::kBinary, 0},
                                           PipelineCase{"Autobahn 9.8.2", op::kBinary, 16},
                                           PipelineCase{"Autobahn 9.8.3", op::kBinary, 64},
                                           PipelineCase{"Autobahn 9.8.4", op::kBinary, 256},
                                           PipelineCase{"Autobahn 9.8.5", op::kBinary, 1024},
                                           PipelineCase{"Autobahn 9.8.6", op::kBinary, 4096}),
                         [](const auto& info) { return caseName(info.param.id); });

// One byte over the limit fails with 1009.
class ConformanceMessageTooBig : public ConformanceParamTest<uint8_t> {};

TEST_P(ConformanceMessageTooBig, DeclaredInFrameHeaderFailsBeforePayload) {
  auto client = openEcho();
  ASSERT_TRUE(client);
  // Only the header and 1 KiB of the payload: the length alone is already too much, so the
  // server must not wait for (or buffer) the other 16 MiB.
  std::string start =
      encodeFrameHeader(GetParam(), kMaxMessageBytes + 1, true, 0, client->nextMaskKey());
  start += std::string(kKiB, 'a');
  ASSERT_TRUE(client->sendRaw(start));
  EXPECT_TRUE(failsWith(*client, close_code::kMessageTooBig));
}

TEST_P(ConformanceMessageTooBig, DeclaredInContinuationHeaderFailsBeforePayload) {
  auto client = openEcho();
  ASSERT_TRUE(client);
  const uint8_t opcode = GetParam();
  const std::string first = opcode == op::kText ? textOf(kKiB) : binaryOf(kKiB);
  // The continuation's declared length takes the message one byte past the limit.
  std::string bytes = encodeFrame(opcode, first, false, 0, true, client->nextMaskKey());
  bytes += encodeFrameHeader(op::kContinuation, kMaxMessageBytes - kKiB + 1, true, 0,
                             client->nextMaskKey());
  bytes += std::string(kKiB, 'a');
  ASSERT_TRUE(client->sendRaw(bytes));
  EXPECT_TRUE(failsWith(*client, close_code::kMessageTooBig));
}

TEST_P(ConformanceMessageTooBig, ReachedAcrossFragmentsFails) {
  auto client = openEcho();
  ASSERT_TRUE(client);
  const uint8_t opcode = GetParam();
  const size_t half = kMaxMessageBytes / 2;
  const std::string first = opcode == op::kText ? textOf(half) : binaryOf(half);
  const std::string second = opcode == op::kText ? textOf(half + 1) : binaryOf(half + 1);
  std::string bytes = encodeFrame(opcode, first, false, 0, true, client->nextMaskKey());
  bytes += encodeFrame(op::kContinuation, second, true, 0, true, client->nextMaskKey());
  sendUntilAnswered(*client, bytes);
  EXPECT_TRUE(failsWith(*client, close_code::kMessageTooBig));
}

INSTANTIATE_TEST_SUITE_P(Rfc6455, ConformanceMessageTooBig,
                         ::testing::Values(op::kText, op::kBinary), [](const auto& info) {
                           return info.param == op::kText ? std::string("Text")
                                                          : std::string("Binary");
                         });

}  // namespace
}  // namespace ringcast::test
