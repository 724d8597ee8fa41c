#include "ws/close_code.h"

#include <gtest/gtest.h>

namespace ringcast::ws {
namespace {

TEST(CloseCodeTest, ValuesMatchTheRegistry) {
  EXPECT_EQ(kNormal, 1000);
  EXPECT_EQ(kProtocolError, 1002);
  EXPECT_EQ(kNoStatus, 1005);
  EXPECT_EQ(kInvalidPayload, 1007);
  EXPECT_EQ(kMessageTooBig, 1009);
  EXPECT_EQ(kTryAgainLater, 1013);
}

TEST(CloseCodeTest, ReceivedValidityForEveryCode) {
  for (uint32_t code = 0; code <= 0xFFFF; ++code) {
    const bool expected = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                          (code >= 3000 && code <= 4999);
    ASSERT_EQ(isValidReceivedCloseCode(static_cast<uint16_t>(code)), expected) << code;
  }
}

TEST(CloseCodeTest, LocalPseudoCodesAreNeverValidOnTheWire) {
  for (uint16_t code : {1004, 1005, 1006, 1015}) EXPECT_FALSE(isValidReceivedCloseCode(code));
  static_assert(isValidReceivedCloseCode(kNormal) && !isValidReceivedCloseCode(kAbnormal));
}

TEST(CloseCodeTest, Names) {
  EXPECT_EQ(closeCodeName(kNormal), "normal");
  EXPECT_EQ(closeCodeName(kProtocolError), "protocol_error");
  EXPECT_EQ(closeCodeName(kInvalidPayload), "invalid_payload");
  EXPECT_EQ(closeCodeName(kMessageTooBig), "message_too_big");
  EXPECT_EQ(closeCodeName(kNoStatus), "no_status");
  EXPECT_EQ(closeCodeName(3001), "library");
  EXPECT_EQ(closeCodeName(4999), "private");
  EXPECT_EQ(closeCodeName(2000), "unknown");
}

}  // namespace
}  // namespace ringcast::ws
