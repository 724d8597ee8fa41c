// Percent-decoding of the parts of a request target (RFC 3986 2.1): a path segment such as the
// {channel} of an API route, and the values of a query string such as `?token=..&user=..`.
// The one URL decoder of the gateway. Pure functions of their arguments, safe from any thread.
#pragma once

#include <string>
#include <string_view>

namespace ringcast::net {

enum class UrlPart {
  // A path segment: `+` is itself, and a `%` not followed by two hex digits is an error.
  kPath,
  // A query value, read as browsers write it (WHATWG application/x-www-form-urlencoded):
  // `+` is a space, and a `%` not followed by two hex digits is kept as it is.
  kQueryValue,
};

// The value of one hex digit ('0'-'9', 'a'-'f', 'A'-'F'), or -1 for any other character.
int hexDigitValue(char c);

// Replaces *out with `in` decoded as `part`. Returns false (kPath only) on a malformed escape;
// *out is then unspecified.
bool percentDecode(std::string_view in, UrlPart part, std::string* out);

// The decoded (kQueryValue) value of the first `key=value` pair of `query` ("a=1&token=x",
// without the '?'); empty when there is no such pair. A key is compared as sent.
std::string queryParam(std::string_view query, std::string_view key);

}  // namespace ringcast::net
