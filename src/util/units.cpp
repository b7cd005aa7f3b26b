// Duration and size parsing; strict: unknown units, overflow and empty input are rejected.
#include "util/units.hpp"

#include <cctype>
#include <cstdio>
#include <limits>

namespace pb {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Reads digits at s[i..]; false on overflow or no digits.
bool read_number(std::string_view s, std::size_t& i, std::uint64_t& out) {
  std::size_t start = i;
  out = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
    std::uint64_t d = static_cast<std::uint64_t>(s[i] - '0');
    if (out > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return false;
    out = out * 10 + d;
    ++i;
  }
  return i > start;
}

}  // namespace

std::optional<Duration> parse_duration(std::string_view text) {
  std::string s = lower(text);
  if (s.empty()) return std::nullopt;
  std::uint64_t total_ms = 0;
  std::size_t i = 0;
  bool bare = true;
  while (i < s.size()) {
    std::uint64_t n = 0;
    if (!read_number(s, i, n)) return std::nullopt;
    std::uint64_t unit_ms = 1000;
    if (i < s.size()) {
      bare = false;
      if (s.compare(i, 2, "ms") == 0) { unit_ms = 1; i += 2; }
      else if (s[i] == 's') { unit_ms = 1000; ++i; }
      else if (s[i] == 'm') { unit_ms = 60'000; ++i; }
      else if (s[i] == 'h') { unit_ms = 3'600'000; ++i; }
      else if (s[i] == 'd') { unit_ms = 86'400'000; ++i; }
      else return std::nullopt;
    } else if (!bare) {
      return std::nullopt;  // "1h30" — a unit is required after the first component
    }
    if (n > std::numeric_limits<std::uint64_t>::max() / unit_ms) return std::nullopt;
    total_ms += n * unit_ms;
    if (total_ms > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
  }
  return Duration(static_cast<std::int64_t>(total_ms));
}

std::optional<ByteSize> parse_size(std::string_view text) {
  std::string s = lower(text);
  std::size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  std::uint64_t n = 0;
  if (!read_number(s, i, n)) return std::nullopt;
  while (i < s.size() && s[i] == ' ') ++i;
  std::string unit = s.substr(i);
  std::uint64_t mult = 0;
  if (unit.empty() || unit == "b" || unit == "bytes") mult = 1;
  else if (unit == "k" || unit == "kb") mult = 1000;
  else if (unit == "kib") mult = 1024;
  else if (unit == "m" || unit == "mb") mult = 1000 * 1000;
  else if (unit == "mib") mult = 1024 * 1024;
  else if (unit == "g" || unit == "gb") mult = 1000ULL * 1000 * 1000;
  else if (unit == "gib") mult = 1024ULL * 1024 * 1024;
  else return std::nullopt;
  if (n > std::numeric_limits<std::uint64_t>::max() / mult) return std::nullopt;
  return ByteSize{n * mult};
}

std::string format_duration(Duration d) {
  auto ms = d.count();
  if (ms < 1000 && ms != 0) return std::to_string(ms) + "ms";
  auto s = ms / 1000;
  std::string out;
  if (s >= 86400 && s % 86400 == 0) return std::to_string(s / 86400) + "d";
  if (s >= 3600) { out += std::to_string(s / 3600) + "h"; s %= 3600; }
  if (s >= 60) { out += std::to_string(s / 60) + "m"; s %= 60; }
  if (s > 0 || out.empty()) out += std::to_string(s) + "s";
  return out;
}

std::string format_size(ByteSize s) {
  char buf[64];
  double b = static_cast<double>(s.bytes);
  if (s.bytes >= 1000ULL * 1000 * 1000) std::snprintf(buf, sizeof buf, "%.1f GB", b / 1e9);
  else if (s.bytes >= 1000ULL * 1000) std::snprintf(buf, sizeof buf, "%.1f MB", b / 1e6);
  else if (s.bytes >= 1000) std::snprintf(buf, sizeof buf, "%.1f KB", b / 1e3);
  else std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(s.bytes));
  return buf;
}

}  // namespace pb
