#include "core/flags.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

namespace ringcast {
namespace {

TEST(ParseSize, AcceptsUnits) {
  EXPECT_EQ(parseSize("0"), 0u);
  EXPECT_EQ(parseSize("65536"), 65536u);
  EXPECT_EQ(parseSize("512B"), 512u);
  EXPECT_EQ(parseSize("64KiB"), 64u * 1024);
  EXPECT_EQ(parseSize("16MiB"), 16u << 20);
  EXPECT_EQ(parseSize("2GiB"), 2ull << 30);
  EXPECT_EQ(parseSize("5KB"), 5000u);
  EXPECT_EQ(parseSize("3MB"), 3000000u);
}

TEST(ParseSize, RejectsMalformed) {
  for (const char* bad : {"", "MiB", "-1", "16 MiB", "16mib", "1.5MiB", "16MiBs", "x",
                          "99999999999999999999", "18446744073709551615KiB"}) {
    EXPECT_FALSE(parseSize(bad).has_value()) << bad;
  }
}

TEST(ParseDuration, AcceptsUnits) {
  EXPECT_EQ(parseDurationMs("0"), 0);
  EXPECT_EQ(parseDurationMs("500ms"), 500);
  EXPECT_EQ(parseDurationMs("25s"), 25'000);
  EXPECT_EQ(parseDurationMs("2m"), 120'000);
  EXPECT_EQ(parseDurationMs("1h"), 3'600'000);
}

TEST(ParseDuration, RequiresAUnitExceptForZero) {
  for (const char* bad : {"25", "s", "1.5s", "10 s", "10sec", "-1s", ""}) {
    EXPECT_FALSE(parseDurationMs(bad).has_value()) << bad;
  }
}

TEST(FormatFlags, PrintsExactUnitsAndRoundTrips) {
  EXPECT_EQ(formatSize(16u << 20), "16MiB");
  EXPECT_EQ(formatSize(1536), "1536B");
  EXPECT_EQ(formatSize(3072), "3KiB");
  EXPECT_EQ(formatSize(1000), "1000B");
  EXPECT_EQ(formatDurationMs(25'000), "25s");
  EXPECT_EQ(formatDurationMs(1500), "1500ms");
  EXPECT_EQ(formatDurationMs(120'000), "2m");
  for (uint64_t v : {0ull, 1ull, 1023ull, 1024ull, 65536ull, 1ull << 20, (1ull << 20) + 1}) {
    EXPECT_EQ(parseSize(formatSize(v)), v);
  }
}

TEST(FormatFlags, OneLinePerFlagWithEffectiveValues) {
  Flags f;
  f.listen = "127.0.0.1:9000";
  f.maxMessageBytes = 16u << 20;
  f.echo = true;
  std::string text = formatFlags(f);
  EXPECT_NE(text.find("--listen                127.0.0.1:9000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("--max-message-size      16MiB\n"), std::string::npos) << text;
  EXPECT_NE(text.find("--echo                  on\n"), std::string::npos) << text;
  EXPECT_NE(text.find("--idle-timeout          off\n"), std::string::npos) << text;
}

FlagsParse parse(std::vector<const char*> args) {
  args.insert(args.begin(), "ringcast");
  return parseFlags(static_cast<int>(args.size()), args.data());
}

TEST(ParseFlags, DefaultsAreTheStructsAndPrintTheSame) {
  FlagsParse p = parse({"--dev"});
  ASSERT_EQ(p.exitCode, -1) << p.output;
  Flags dev;
  dev.dev = true;
  EXPECT_EQ(formatFlags(p.flags), formatFlags(dev));
  EXPECT_EQ(p.flags.maxOutbufBytes, 1u << 20);
  EXPECT_LE(p.flags.maxMessageBytes, p.flags.maxOutbufBytes);
}

TEST(DefaultNodeId, IsHostNameDashPid) {
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof host - 1), 0);
  EXPECT_EQ(defaultNodeId(), std::string(host) + "-" + std::to_string(::getpid()));
  EXPECT_TRUE(parse({"--dev"}).flags.nodeId.empty()) << "parseFlags itself leaves it to main";
}

TEST(ParseFlags, EveryKindOfFlagSetsItsMember) {
  FlagsParse p = parse({"--listen",
                        "127.0.0.1:0",
                        "--threads",
                        "3",
                        "--max-outbuf",
                        "4MiB",
                        "--max-message-size",
                        "64KiB",
                        "--ping-interval",
                        "0",
                        "--pong-timeout",
                        "1500ms",
                        "--allowed-origins",
                        "https://a.example,https://b.example",
                        "--jwt-secret",
                        "s3cret",
                        "--history-size",
                        "7",
                        "--echo",
                        "--slow-consumer",
                        "drop-oldest"});
  ASSERT_EQ(p.exitCode, -1) << p.output;
  const Flags& f = p.flags;
  EXPECT_EQ(f.listen, "127.0.0.1:0");
  EXPECT_EQ(f.threads, 3);
  EXPECT_EQ(f.maxOutbufBytes, 4u << 20);
  EXPECT_EQ(f.maxMessageBytes, 64u << 10);
  EXPECT_EQ(f.pingIntervalMs, 0);
  EXPECT_EQ(f.pongTimeoutMs, 1500);
  EXPECT_EQ(f.allowedOrigins, (std::vector<std::string>{"https://a.example", "https://b.example"}));
  EXPECT_EQ(f.jwtSecret, "s3cret");
  EXPECT_EQ(f.historySize, 7u);
  EXPECT_TRUE(f.echo);
  EXPECT_EQ(f.slowConsumer, "drop-oldest");
  std::string text = formatFlags(f);
  EXPECT_NE(text.find("--ping-interval         off\n"), std::string::npos) << text;
  EXPECT_NE(text.find("--allowed-origins       https://a.example,https://b.example\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("--jwt-secret            (set)\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("s3cret"), std::string::npos) << "a secret is never printed";
}

TEST(ParseFlags, HelpListsEveryPrintedFlagOnceAndExitsZero) {
  FlagsParse p = parse({"--help"});
  EXPECT_EQ(p.exitCode, 0);
  std::string settings = formatFlags(Flags{});
  size_t lines = 0;
  for (size_t at = settings.find("  --"); at != std::string::npos;
       at = settings.find("  --", at + 1)) {
    std::string name = settings.substr(at + 2, settings.find(' ', at + 2) - at - 2);
    EXPECT_NE(p.output.find("  " + name + " "), std::string::npos) << name;
    ++lines;
  }
  EXPECT_GE(lines, 20u);
  EXPECT_NE(p.output.find("--max-outbuf SIZE=1MiB"), std::string::npos) << p.output;
  EXPECT_NE(p.output.find("--ping-interval DUR=25s"), std::string::npos) << p.output;
  EXPECT_EQ(p.output.find("--jwt-secret TEXT="), std::string::npos) << "secrets have no default";
}

TEST(ParseFlags, BadValuesNameTheFlagAndExitNonZero) {
  FlagsParse size = parse({"--max-outbuf", "3x"});
  EXPECT_EQ(size.exitCode, 2);
  EXPECT_NE(size.output.find("--max-outbuf: '3x' is not a size"), std::string::npos) << size.output;
  FlagsParse duration = parse({"--ping-interval", "25"});
  EXPECT_EQ(duration.exitCode, 2);
  EXPECT_NE(duration.output.find("--ping-interval: '25' is not a duration"), std::string::npos)
      << duration.output;
  FlagsParse range = parse({"--threads", "-1"});
  EXPECT_GT(range.exitCode, 0);
  EXPECT_NE(range.output.find("--threads"), std::string::npos) << range.output;
  FlagsParse member = parse({"--slow-consumer", "ignore"});
  EXPECT_GT(member.exitCode, 0);
  FlagsParse unknown = parse({"--dev", "--no-such-flag"});
  EXPECT_GT(unknown.exitCode, 0);
  FlagsParse ring = parse({"--dev", "--ring-size", "1000"});
  EXPECT_EQ(ring.exitCode, 2);
  EXPECT_NE(ring.output.find("power of two"), std::string::npos) << ring.output;
}

TEST(ParseFlags, MessageSizeAboveOutbufIsRefused) {
  FlagsParse above = parse({"--dev", "--max-message-size", "2MiB", "--max-outbuf", "1MiB"});
  EXPECT_EQ(above.exitCode, 2);
  EXPECT_NE(above.output.find("--max-message-size (2MiB) is above --max-outbuf (1MiB)"),
            std::string::npos)
      << above.output;
  EXPECT_EQ(parse({"--dev", "--max-message-size", "2MiB", "--max-outbuf", "2MiB"}).exitCode, -1);
  EXPECT_EQ(parse({"--dev", "--max-outbuf", "512KiB"}).exitCode, 2)
      << "default message size above it";
  EXPECT_EQ(parse({"--dev", "--max-outbuf", "512KiB", "--max-message-size", "64KiB"}).exitCode, -1);
}

TEST(ParseFlags, NoSecretAndNoDevIsRefusedNamingBoth) {
  for (const char* listen : {"0.0.0.0:8080", "127.0.0.1:8080"}) {
    FlagsParse p = parse({"--listen", listen});
    EXPECT_EQ(p.exitCode, 2) << listen;
    EXPECT_NE(p.output.find("--jwt-secret"), std::string::npos) << p.output;
    EXPECT_NE(p.output.find("--dev"), std::string::npos) << p.output;
    EXPECT_NE(p.output.find(listen), std::string::npos) << p.output;
  }
  FlagsParse both = parse({"--dev", "--jwt-secret", std::string(40, 'k').c_str()});
  EXPECT_EQ(both.exitCode, 2);
  EXPECT_NE(both.output.find("exclude each other"), std::string::npos) << both.output;
}

TEST(ParseFlags, SecretsComeFromFilesOrTheEnvironment) {
  char path[] = "/tmp/ringcast-flags-test-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string secret = std::string(40, 's') + "\n";
  ASSERT_EQ(::write(fd, secret.data(), secret.size()), static_cast<ssize_t>(secret.size()));
  ::close(fd);
  FlagsParse file = parse({"--jwt-secret-file", path, "--api-key-file", path});
  ASSERT_EQ(file.exitCode, -1) << file.output;
  EXPECT_EQ(file.flags.jwtSecret, std::string(40, 's')) << "the trailing newline is dropped";
  EXPECT_EQ(file.flags.apiKey, std::string(40, 's'));
  EXPECT_EQ(formatFlags(file.flags).find(std::string(40, 's')), std::string::npos);

  FlagsParse twice = parse({"--jwt-secret", "x", "--jwt-secret-file", path});
  EXPECT_EQ(twice.exitCode, 2);
  EXPECT_NE(twice.output.find("not both"), std::string::npos) << twice.output;
  ::unlink(path);
  FlagsParse missing = parse({"--jwt-secret-file", path});
  EXPECT_EQ(missing.exitCode, 2);
  EXPECT_NE(missing.output.find("--jwt-secret-file: cannot read"), std::string::npos)
      << missing.output;

  ::setenv(kJwtSecretEnv, "from-the-environment-0123456789abcdef", 1);
  ::setenv(kApiKeyEnv, "api-key-from-env", 1);
  FlagsParse env = parse({});
  ::unsetenv(kJwtSecretEnv);
  ::unsetenv(kApiKeyEnv);
  ASSERT_EQ(env.exitCode, -1) << env.output;
  EXPECT_EQ(env.flags.jwtSecret, "from-the-environment-0123456789abcdef");
  EXPECT_EQ(env.flags.apiKey, "api-key-from-env");
}

TEST(FlagWarnings, ShortSecretAndPublicDevMode) {
  Flags f;
  f.jwtSecret = "short";
  f.listen = "127.0.0.1:8080";
  ASSERT_EQ(flagWarnings(f).size(), 1u);
  EXPECT_NE(flagWarnings(f)[0].find("5 bytes"), std::string::npos) << flagWarnings(f)[0];
  f.jwtSecret = std::string(kMinJwtSecretBytes, 'k');
  EXPECT_TRUE(flagWarnings(f).empty());
  f.jwtSecret.clear();
  f.dev = true;
  EXPECT_TRUE(flagWarnings(f).empty()) << "dev mode on loopback";
  f.listen = "0.0.0.0:8080";
  EXPECT_EQ(flagWarnings(f).size(), 1u);
  EXPECT_TRUE(isLoopbackListen("127.0.0.1:0"));
  EXPECT_TRUE(isLoopbackListen("[::1]:80"));
  EXPECT_TRUE(isLoopbackListen("localhost:80"));
  EXPECT_FALSE(isLoopbackListen("0.0.0.0:8080"));
  EXPECT_FALSE(isLoopbackListen("[::]:8080"));
  EXPECT_FALSE(isLoopbackListen("10.0.0.1:8080"));
}

}  // namespace
}  // namespace ringcast
