// ringcast-pub: a command-line publisher and admin client for a ringcast gateway. It speaks
// the HTTP API (--api, every command) and the TCP publish protocol (--tcp: publish, broadcast,
// send), and signs client tokens (token). Blocking sockets, one request per run.
//
// Exit status: 0 on success, 1 when the gateway answered with an error, 2 on a usage error,
// 3 when the gateway could not be reached or the connection failed.
#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/flags.h"
#include "core/json.h"
#include "push/auth.h"
#include "push/client_protocol.h"

namespace {

using namespace ringcast;

constexpr int kExitOk = 0;
constexpr int kExitErrorReply = 1;
constexpr int kExitUsage = 2;
constexpr int kExitConnection = 3;

// A failure with its exit status and message, carried up to main.
struct Failure {
  int status;
  std::string message;
};

struct Endpoint {
  std::string host;
  std::string port;
};

// "http://127.0.0.1:8081", "127.0.0.1:8081", "http://[::1]:8081/" -> host and port.
std::optional<Endpoint> parseHostPort(std::string_view text, std::string_view defaultPort) {
  if (text.substr(0, 7) == "http://") text.remove_prefix(7);
  if (size_t slash = text.find('/'); slash != std::string_view::npos) {
    if (text.substr(slash) != "/") return std::nullopt;  // no path prefix is supported
    text = text.substr(0, slash);
  }
  Endpoint e;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    e.host = std::string(text.substr(1, close - 1));
    text.remove_prefix(close + 1);
    if (!text.empty() && text.front() != ':') return std::nullopt;
  } else {
    size_t colon = text.rfind(':');
    e.host = std::string(text.substr(0, colon));
    text = colon == std::string_view::npos ? std::string_view() : text.substr(colon);
  }
  e.port = text.empty() ? std::string(defaultPort) : std::string(text.substr(1));
  if (e.host.empty() || e.port.empty()) return std::nullopt;
  for (char c : e.port) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  return e;
}

// A connected blocking socket with send and receive timeouts, or a Failure.
int connectTo(const Endpoint& e, int64_t timeoutMs, Failure* failure) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  if (int rc = ::getaddrinfo(e.host.c_str(), e.port.c_str(), &hints, &list); rc != 0) {
    *failure = {kExitConnection, "cannot resolve " + e.host + ": " + ::gai_strerror(rc)};
    return -1;
  }
  std::string lastError = "no address";
  int fd = -1;
  for (addrinfo* ai = list; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      lastError = std::strerror(errno);
      continue;
    }
    timeval tv{};
    tv.tv_sec = timeoutMs / 1000;
    tv.tv_usec = static_cast<suseconds_t>((timeoutMs % 1000) * 1000);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      lastError = std::strerror(errno);
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(list);
  if (fd < 0) {
    *failure = {kExitConnection, "cannot connect to " + e.host + ":" + e.port + ": " + lastError};
  }
  return fd;
}

bool writeAll(int fd, std::string_view bytes, Failure* failure) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *failure = {kExitConnection, std::string("write failed: ") +
                                       (n < 0 ? std::strerror(errno) : "connection closed")};
      return false;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Appends what one read() returns; 0 at EOF; -1 with *failure set on an error or timeout.
ssize_t readSome(int fd, std::string* into, Failure* failure) {
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *failure = {kExitConnection, errno == EAGAIN || errno == EWOULDBLOCK
                                       ? std::string("timed out waiting for the gateway")
                                       : std::string("read failed: ") + std::strerror(errno)};
      return -1;
    }
    into->append(buf, static_cast<size_t>(n));
    return n;
  }
}

std::string percentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~' || c == ':' || c == '@') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::vector<std::string> splitList(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

struct HttpReply {
  int status = 0;
  std::string body;
};

// One request on its own connection (Connection: close), read to the end.
bool httpRequest(const Endpoint& e, int64_t timeoutMs, std::string_view method,
                 std::string_view path, std::string_view apiKey, std::string_view body,
                 HttpReply* reply, Failure* failure) {
  int fd = connectTo(e, timeoutMs, failure);
  if (fd < 0) return false;
  std::string request;
  request.append(method).append(" ").append(path).append(" HTTP/1.1\r\n");
  bool bracket = e.host.find(':') != std::string::npos;
  request.append("Host: ")
      .append(bracket ? "[" : "")
      .append(e.host)
      .append(bracket ? "]:" : ":")
      .append(e.port)
      .append("\r\n");
  if (!apiKey.empty()) request.append("Authorization: Bearer ").append(apiKey).append("\r\n");
  if (method == "POST") {
    request.append("Content-Type: application/json\r\nContent-Length: ")
        .append(std::to_string(body.size()))
        .append("\r\n");
  }
  request.append("Connection: close\r\n\r\n").append(body);
  std::string in;
  bool ok = writeAll(fd, request, failure);
  while (ok) {
    ssize_t n = readSome(fd, &in, failure);
    if (n < 0) ok = false;
    if (n <= 0) break;
  }
  ::close(fd);
  if (!ok) return false;
  size_t headerEnd = in.find("\r\n\r\n");
  if (in.substr(0, 9) != "HTTP/1.1 " || in.size() < 12 || headerEnd == std::string::npos) {
    *failure = {kExitConnection, in.empty() ? "the gateway closed the connection without a reply"
                                            : "the reply is not HTTP/1.1"};
    return false;
  }
  reply->status = std::atoi(in.substr(9, 3).c_str());
  reply->body = in.substr(headerEnd + 4);
  return true;
}

// The TCP protocol: the commands, then PING; replies up to PONG. Returns the -ERR reasons.
bool tcpCommands(const Endpoint& e, int64_t timeoutMs, std::string_view commands,
                 std::vector<std::string>* errors, Failure* failure) {
  int fd = connectTo(e, timeoutMs, failure);
  if (fd < 0) return false;
  std::string out(commands);
  out += "PING\r\n";
  bool ok = writeAll(fd, out, failure);
  std::string in;
  bool ponged = false;
  while (ok && !ponged) {
    size_t eol;
    while ((eol = in.find("\r\n")) != std::string::npos) {
      std::string line = in.substr(0, eol);
      in.erase(0, eol + 2);
      if (line == "PONG") {
        ponged = true;
        break;
      }
      errors->push_back(line.substr(0, 5) == "-ERR " ? line.substr(5) : line);
    }
    if (ponged) break;
    ssize_t n = readSome(fd, &in, failure);
    if (n < 0) ok = false;
    if (n == 0) {
      // Closed before PONG: the stream lost sync; what it said is in `errors`.
      if (errors->empty()) *failure = {kExitConnection, "the gateway closed the connection"};
      ok = !errors->empty();
      break;
    }
  }
  ::close(fd);
  return ok;
}

std::string readStdin() {
  std::string data((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  return data;
}

struct Options {
  std::string api = "http://127.0.0.1:8081";
  std::string tcp;
  std::string apiKey;
  std::string timeout = "10s";
  // Positionals of the chosen command.
  std::string target;  // channel or user (comma-separated lists for publish and send)
  std::string data;
  // token
  std::string secret, sub, name, subs, pubs, expIn;
  bool noSend = false;
};

std::string jsonString(std::string_view s) {
  std::string out;
  json::appendString(out, s);
  return out;
}

int printReply(const HttpReply& reply) {
  std::fwrite(reply.body.data(), 1, reply.body.size(), stdout);
  if (reply.body.empty() || reply.body.back() != '\n') std::fputc('\n', stdout);
  if (reply.status >= 200 && reply.status < 300) return kExitOk;
  std::fprintf(stderr, "ringcast-pub: the gateway answered %d\n", reply.status);
  return kExitErrorReply;
}

int fail(const Failure& f) {
  std::fprintf(stderr, "ringcast-pub: %s\n", f.message.c_str());
  return f.status;
}

int runToken(const Options& o) {
  if (!push::isValidUserName(o.sub)) return fail({kExitUsage, "--sub: not a valid user name"});
  std::string payload = "{\"sub\":" + jsonString(o.sub);
  if (!o.name.empty()) payload += ",\"name\":" + jsonString(o.name);
  for (auto [claim, text] : {std::pair{"subs", &o.subs}, std::pair{"pubs", &o.pubs}}) {
    if (text->empty()) continue;
    payload += std::string(",\"") + claim + "\":[";
    bool first = true;
    for (const std::string& pattern : splitList(*text)) {
      if (!push::isValidChannelPattern(pattern)) {
        return fail({kExitUsage, std::string("--") + claim + ": '" + pattern +
                                     "' is not a channel name or a prefix ending in *"});
      }
      payload += (first ? "" : ",") + jsonString(pattern);
      first = false;
    }
    payload += "]";
  }
  if (o.noSend) payload += ",\"send\":false";
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  payload += ",\"iat\":" + std::to_string(now);
  if (!o.expIn.empty()) {
    std::optional<int64_t> ms = parseDurationMs(o.expIn);
    if (!ms || *ms <= 0) return fail({kExitUsage, "--exp-in: expected a duration like 30m or 1h"});
    payload += ",\"exp\":" + std::to_string(now + *ms / 1000);
  }
  payload += "}";
  std::printf("%s\n", push::signToken(payload, o.secret).c_str());
  return kExitOk;
}

// DATA as JSON text (the same rule the gateway applies to raw payloads), or a Failure.
bool dataJson(const std::string& raw, std::string* out, Failure* failure) {
  if (!json::dataFromBytes(raw, out)) {
    *failure = {kExitUsage, "DATA is not valid UTF-8"};
    return false;
  }
  return true;
}

int runHttp(const std::string& command, const Options& o, int64_t timeoutMs) {
  std::optional<Endpoint> e = parseHostPort(o.api, "80");
  if (!e) return fail({kExitUsage, "--api: expected http://HOST:PORT, got '" + o.api + "'"});
  std::string method = "POST", path, body, data;
  Failure failure;
  if (command == "publish" || command == "broadcast" || command == "send") {
    if (!dataJson(o.data, &data, &failure)) return fail(failure);
  }
  auto targetJson = [&](std::string_view one, std::string_view many) {
    std::vector<std::string> names = splitList(o.target);
    std::string out = "\"";
    if (names.size() == 1) {
      out.append(one).append("\":").append(jsonString(names[0]));
      return out;
    }
    out.append(many).append("\":[");
    for (size_t i = 0; i < names.size(); ++i) out += (i ? "," : "") + jsonString(names[i]);
    return out + "]";
  };
  if (command == "publish") {
    path = "/api/publish";
    body = "{" + targetJson("channel", "channels") + ",\"data\":" + data + "}";
  } else if (command == "broadcast") {
    path = "/api/broadcast";
    body = "{\"data\":" + data + "}";
  } else if (command == "send") {
    path = "/api/send";
    body = "{" + targetJson("to", "to") + ",\"data\":" + data + "}";
  } else if (command == "disconnect") {
    path = "/api/disconnect";
    body = "{\"user\":" + jsonString(o.target) + "}";
  } else {
    method = "GET";
    if (command == "presence") {
      path = "/api/presence/" + percentEncode(o.target);
    } else {
      path = "/api/" + command;  // users, channels, stats
    }
  }
  HttpReply reply;
  if (!httpRequest(*e, timeoutMs, method, path, o.apiKey, body, &reply, &failure)) {
    return fail(failure);
  }
  return printReply(reply);
}

int runTcp(const std::string& command, const Options& o, int64_t timeoutMs) {
  std::optional<Endpoint> e = parseHostPort(o.tcp, "8082");
  if (!e || o.tcp.find("://") != std::string::npos) {
    return fail({kExitUsage, "--tcp: expected HOST:PORT, got '" + o.tcp + "'"});
  }
  if (command != "publish" && command != "broadcast" && command != "send") {
    return fail({kExitUsage, command + " needs the HTTP API (--api); --tcp only publishes"});
  }
  std::string payload = o.data;
  std::string commands;
  if (!o.apiKey.empty()) {
    if (o.apiKey.find_first_of(" \r\n") != std::string::npos) {
      return fail({kExitUsage, "--api-key: a key with spaces or line breaks cannot go in AUTH"});
    }
    commands = "AUTH " + o.apiKey + "\r\n";
  }
  const std::string length = std::to_string(payload.size());
  if (command == "broadcast") {
    commands += "BCAST " + length + "\r\n" + payload + "\r\n";
  } else {
    for (const std::string& name : splitList(o.target)) {
      commands += (command == "publish" ? "PUB " : "SEND ") + name + " " + length + "\r\n";
      commands += payload + "\r\n";
    }
  }
  std::vector<std::string> errors;
  Failure failure;
  if (!tcpCommands(*e, timeoutMs, commands, &errors, &failure)) return fail(failure);
  if (errors.empty()) {
    std::printf("{\"ok\":true}\n");
    return kExitOk;
  }
  // The same error shape as the HTTP API; the first failure is the error, its reason up to
  // a colon as a snake_case code ("invalid channel name" -> "invalid_channel_name",
  // "unauthorized: wrong key" -> "unauthorized").
  std::string code = errors[0].substr(0, errors[0].find(':'));
  for (char& c : code) {
    if (c == ' ') c = '_';
  }
  std::string out = "{\"ok\":false,\"error\":{\"code\":" + jsonString(code) +
                    ",\"message\":" + jsonString("-ERR " + errors[0]) + "}}";
  std::printf("%s\n", out.c_str());
  std::fprintf(stderr, "ringcast-pub: the gateway answered -ERR %s\n", errors[0].c_str());
  return kExitErrorReply;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{
      "ringcast-pub: publish to a ringcast gateway and query it.\n"
      "DATA is sent as JSON when it parses as JSON, else as a JSON string; '-' reads it from\n"
      "stdin (put -- before a DATA that starts with '-'). CHANNEL and USER may be\n"
      "comma-separated lists. Prints the gateway's JSON reply. `ringcast-pub COMMAND --help`\n"
      "shows a command's arguments.\n"
      "Exit status: 0 ok, 1 error reply, 2 usage error, 3 gateway unreachable.",
      "ringcast-pub"};
  app.fallthrough();
  app.require_subcommand(1);
  app.add_option("--api", o.api, "HTTP API address (the gateway's --api-listen)")
      ->capture_default_str();
  app.add_option("--tcp", o.tcp,
                 "use the TCP publish protocol at HOST:PORT (the gateway's --publish-listen) "
                 "for publish, broadcast and send; prints {\"ok\":true} once all were accepted");
  app.add_option("--api-key", o.apiKey,
                 "sent as Authorization: Bearer KEY, with --tcp as AUTH KEY (the gateway's "
                 "--api-key)");
  app.add_option("--timeout", o.timeout, "give up on a connect, write or reply after this long")
      ->capture_default_str();

  auto* publish = app.add_subcommand("publish", "publish DATA on CHANNEL (a list: every one)");
  publish->add_option("CHANNEL", o.target, "channel name, or a comma-separated list")->required();
  publish->add_option("DATA", o.data, "the message: JSON, text, or - for stdin")->required();
  auto* broadcast = app.add_subcommand("broadcast", "send DATA as a notice to every connection");
  broadcast->add_option("DATA", o.data, "the notice: JSON, text, or - for stdin")->required();
  auto* send = app.add_subcommand("send", "send DATA directly to USER's connections");
  send->add_option("USER", o.target, "user name, or a comma-separated list")->required();
  send->add_option("DATA", o.data, "the message: JSON, text, or - for stdin")->required();
  auto* disconnect = app.add_subcommand("disconnect", "close every connection of USER");
  disconnect->add_option("USER", o.target, "user name")->required();
  auto* presence = app.add_subcommand("presence", "who is subscribed to CHANNEL");
  presence->add_option("CHANNEL", o.target, "channel name")->required();
  app.add_subcommand("users", "users online, with their connection counts");
  app.add_subcommand("channels", "channels with subscribers and their last offsets");
  app.add_subcommand("stats", "the gateway's counters");
  auto* token = app.add_subcommand("token", "print an HS256 client token (no gateway needed)");
  token->add_option("--secret", o.secret, "the gateway's --jwt-secret")->required();
  token->add_option("--sub", o.sub, "user id (the sub claim)")->required();
  token->add_option("--name", o.name, "display name");
  token->add_option("--subs", o.subs,
                    "channels the user may subscribe to: names or prefixes ending in *, "
                    "comma-separated (default: any)");
  token->add_option("--pubs", o.pubs,
                    "channels the user may publish to, same form (default: none)");
  token->add_option("--exp-in", o.expIn, "expires after this long, e.g. 30m, 1h (default: never)");
  token->add_flag("--no-send", o.noSend, "forbid direct sends (\"send\":false)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  const std::string command = app.get_subcommands().front()->get_name();
  if (command == "token") return runToken(o);

  std::optional<int64_t> timeoutMs = parseDurationMs(o.timeout);
  if (!timeoutMs || *timeoutMs <= 0) {
    return fail({kExitUsage, "--timeout: expected a duration like 500ms or 10s"});
  }
  if (o.data == "-") o.data = readStdin();
  return o.tcp.empty() ? runHttp(command, o, *timeoutMs) : runTcp(command, o, *timeoutMs);
}
