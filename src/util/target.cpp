// Request-target parsing: origin-form only (RFC 9112 3.2.1), %-escapes decoded per segment so an
// encoded "/" never creates a new segment, control characters refused.
#include "util/target.hpp"

namespace pb::target {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    auto at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;  // "%" or "%4" at the end
      int hi = hex_value(s[i + 1]);
      int lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    // Control characters have no business in names, ids or search words (and NUL would cut C strings).
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return std::nullopt;
    out.push_back(c);
  }
  return out;
}

std::optional<std::string> Target::param(std::string_view name) const {
  for (const auto& [k, v] : query)
    if (k == name) return v;
  return std::nullopt;
}

std::optional<Target> parse_target(std::string_view target) {
  if (target.empty() || target.front() != '/') return std::nullopt;  // RFC 9112 3.2.1 origin-form
  Target t;
  auto q = target.find('?');
  t.path = std::string(target.substr(0, q));
  auto fragment = t.path.find('#');
  if (fragment != std::string::npos) return std::nullopt;  // a fragment is never sent (RFC 9110 4.2.4)
  for (auto seg : split(std::string_view(t.path).substr(1), '/')) {
    auto decoded = percent_decode(seg, false);
    if (!decoded) return std::nullopt;
    t.segments.push_back(std::move(*decoded));
  }
  // "/" and a trailing slash ("/api/status/") leave an empty last segment: drop it.
  if (!t.segments.empty() && t.segments.back().empty()) t.segments.pop_back();
  if (q == std::string_view::npos) return t;
  for (auto pair : split(target.substr(q + 1), '&')) {
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
    if (!key || !value) return std::nullopt;
    t.query.emplace_back(std::move(*key), std::move(*value));
  }
  return t;
}

}  // namespace pb::target
