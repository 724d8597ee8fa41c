#include "bench/client/http_response.h"

#include <charconv>

#include "net/http_parser.h"

namespace ringcast::bench {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool hasToken(std::string_view list, std::string_view token) {
  for (std::string_view e = http::nextListElement(&list); !e.empty();
       e = http::nextListElement(&list)) {
    if (http::equalsIgnoreCase(e, token)) return true;
  }
  return false;
}

}  // namespace

void ResponseParser::reset() {
  status_ = 0;
  keepAlive_ = true;
  scanned_ = 0;
  headBytes_ = 0;
  bodyBytes_ = -1;
  chunkAt_ = 0;
  inTrailer_ = false;
}

ResponseParser::Result ResponseParser::parse(std::string_view buffer, ResponseHead* head,
                                             bool headOnly) {
  if (!failed_.empty()) return {Status::kError, 0, 0, false, failed_};
  if (headBytes_ == 0) {
    const size_t from = scanned_ >= 3 ? scanned_ - 3 : 0;
    const size_t end = buffer.find("\r\n\r\n", from);
    if (end == std::string_view::npos) {
      scanned_ = buffer.size();
      if (buffer.size() > maxHeadBytes_) return fail("response head too large");
      return {};
    }
    if (end + 4 > maxHeadBytes_) return fail("response head too large");
    if (!parseHead(buffer.substr(0, end + 2), head)) return {Status::kError, 0, 0, false, failed_};
    headBytes_ = end + 4;
    head->headBytes = headBytes_;
    status_ = head->status;
    keepAlive_ = head->keepAlive;
    const bool noBody = headOnly || (head->status >= 100 && head->status < 200) ||
                        head->status == 204 || head->status == 304;
    if (noBody) return complete(headBytes_);
    if (head->chunked) {
      chunkAt_ = headBytes_;
    } else if (head->contentLength >= 0) {
      bodyBytes_ = head->contentLength;
    } else {
      return fail("response without Content-Length or chunked body");
    }
  }
  if (bodyBytes_ >= 0) {
    const size_t total = headBytes_ + static_cast<size_t>(bodyBytes_);
    if (buffer.size() < total) return {};
    return complete(total);
  }
  return scanChunks(buffer);
}

ResponseParser::Result ResponseParser::complete(size_t consumed) {
  Result r{Status::kComplete, consumed, status_, keepAlive_, {}};
  reset();
  return r;
}

ResponseParser::Result ResponseParser::scanChunks(std::string_view buffer) {
  while (true) {
    const size_t eol = buffer.find("\r\n", chunkAt_);
    if (eol == std::string_view::npos) {
      if (buffer.size() - chunkAt_ > maxHeadBytes_) return fail("chunk line too long");
      return {};
    }
    if (inTrailer_) {
      const bool blank = eol == chunkAt_;
      chunkAt_ = eol + 2;
      if (blank) return complete(chunkAt_);
      continue;
    }
    std::string_view line = buffer.substr(chunkAt_, eol - chunkAt_);
    if (size_t semi = line.find(';'); semi != std::string_view::npos) line = line.substr(0, semi);
    line = trim(line);
    uint64_t size = 0;
    auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), size, 16);
    if (line.empty() || ec != std::errc() || ptr != line.data() + line.size()) {
      return fail("bad chunk size");
    }
    if (size == 0) {
      inTrailer_ = true;
      chunkAt_ = eol + 2;
      continue;
    }
    const size_t next = eol + 2 + size + 2;  // data and its CRLF
    if (buffer.size() < next) return {};
    if (buffer.substr(next - 2, 2) != "\r\n") return fail("chunk data without CRLF");
    chunkAt_ = next;
  }
}

bool ResponseParser::parseHead(std::string_view text, ResponseHead* head) {
  *head = ResponseHead{};
  size_t eol = text.find("\r\n");
  std::string_view line = text.substr(0, eol);
  // "HTTP/1.1 101 Switching Protocols"
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[8] != ' ') {
    failed_ = "not an HTTP/1.x response";
    return false;
  }
  const bool http10 = line[7] == '0';
  int status = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') {
      failed_ = "bad status code";
      return false;
    }
    status = status * 10 + (line[i] - '0');
  }
  if (line.size() > 12 && line[12] != ' ') {
    failed_ = "bad status line";
    return false;
  }
  head->status = status;
  head->reason = line.size() > 13 ? line.substr(13) : std::string_view();
  head->keepAlive = !http10;
  size_t pos = eol + 2;
  while (pos < text.size()) {
    eol = text.find("\r\n", pos);
    line = text.substr(pos, eol - pos);
    pos = eol + 2;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      failed_ = "bad header line";
      return false;
    }
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    if (http::equalsIgnoreCase(name, "content-length")) {
      int64_t n = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || ec != std::errc() || ptr != value.data() + value.size() || n < 0 ||
          (head->contentLength >= 0 && head->contentLength != n)) {
        failed_ = "bad Content-Length";
        return false;
      }
      head->contentLength = n;
    } else if (http::equalsIgnoreCase(name, "transfer-encoding")) {
      head->chunked = hasToken(value, "chunked");
    } else if (http::equalsIgnoreCase(name, "connection")) {
      if (hasToken(value, "close")) head->keepAlive = false;
      if (hasToken(value, "keep-alive")) head->keepAlive = true;
    } else if (http::equalsIgnoreCase(name, "sec-websocket-accept")) {
      head->accept = value;
    } else if (http::equalsIgnoreCase(name, "upgrade")) {
      head->upgrade = value;
    } else if (http::equalsIgnoreCase(name, "sec-websocket-extensions")) {
      head->extensions = value;
    }
  }
  return true;
}

}  // namespace ringcast::bench
