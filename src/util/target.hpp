// The request target (RFC 9112 3.2: origin-form "/path?query") split into percent-decoded path
// segments and query parameters. Anything else (absolute-form, bad escapes, NUL) is refused.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pb::target {

struct Target {
  std::string path;                   // as sent, without the query: "/api/queue/17/retry"
  std::vector<std::string> segments;  // decoded: {"api", "queue", "17", "retry"}; "/" gives {}
  std::vector<std::pair<std::string, std::string>> query;  // decoded, '+' is a space

  // The first value of parameter `name`, or nullopt.
  std::optional<std::string> param(std::string_view name) const;
};

// nullopt: not origin-form, a malformed %-escape, or a decoded NUL or control character.
std::optional<Target> parse_target(std::string_view target);

// RFC 3986 2.1 percent-decoding (plus_is_space for query parts, as HTML forms send them).
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space);

}  // namespace pb::target
