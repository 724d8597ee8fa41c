#include "core/secret.h"

#include <gtest/gtest.h>

namespace ringcast {
namespace {

TEST(SecretMatches, OnlyTheWholeSecret) {
  EXPECT_TRUE(secretMatches("s3cret-key", "s3cret-key"));
  EXPECT_FALSE(secretMatches("s3cret-kez", "s3cret-key"));   // the last byte
  EXPECT_FALSE(secretMatches("S3cret-key", "s3cret-key"));   // the first, case included
  EXPECT_FALSE(secretMatches("s3cret", "s3cret-key"));       // a prefix
  EXPECT_FALSE(secretMatches("s3cret-key2", "s3cret-key"));  // longer
  EXPECT_FALSE(secretMatches("", "s3cret-key"));
  EXPECT_FALSE(secretMatches(std::string_view("s3cret-key\0", 11), "s3cret-key"));
}

TEST(SecretMatches, AnEmptySecretMatchesNothing) {
  EXPECT_FALSE(secretMatches("", ""));
  EXPECT_FALSE(secretMatches("x", ""));
}

}  // namespace
}  // namespace ringcast
