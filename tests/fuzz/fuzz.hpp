// Shared helpers of the fuzz targets: splitting the input into lines or fields, and the invariant
// check that turns a broken promise into a crash libFuzzer (or the replay driver) reports.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace pb::fuzz {

// A broken invariant: prints what and a readable rendering of the value, then aborts, so libFuzzer
// saves the input as a crash and the replay test fails. Not assert(): it must work with NDEBUG.
[[noreturn]] inline void fail(const char* file, int line, const char* what, std::string_view detail) {
  std::string shown;
  for (char c : detail.substr(0, 2000)) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", u);
      shown += buf;
    } else {
      shown += c;
    }
  }
  std::fprintf(stderr, "\n%s:%d: invariant broken: %s\n  value: \"%s\"\n", file, line, what, shown.c_str());
  std::abort();
}

#define PB_FUZZ_CHECK(cond, detail) \
  do {                              \
    if (!(cond)) ::pb::fuzz::fail(__FILE__, __LINE__, #cond, (detail)); \
  } while (0)

inline std::string_view view(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Lines as a line-oriented reader delivers them: split at LF, the LF removed; a CR before it is
// left in the line (the parsers are fed "text\r" by the transports when the peer sent CR CR LF,
// and must cope). The last piece counts as a line only if it is not empty.
struct Line {
  std::string_view text;
  bool had_lf = false;
};
inline std::vector<Line> lines(std::string_view s) {
  std::vector<Line> out;
  std::size_t start = 0;
  while (start < s.size()) {
    std::size_t nl = s.find('\n', start);
    if (nl == std::string_view::npos) {
      out.push_back({s.substr(start), false});
      break;
    }
    out.push_back({s.substr(start, nl - start), true});
    start = nl + 1;
  }
  return out;
}

// Fields separated by one byte (the targets use NUL: it rarely matters inside a value, and a
// dictionary entry lets the fuzzer insert it).
inline std::vector<std::string_view> fields(std::string_view s, char sep = '\0') {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    std::size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

inline bool has_control(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

// Every CR is followed by LF and every LF preceded by CR.
inline bool crlf_only(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && (i + 1 == s.size() || s[i + 1] != '\n')) return false;
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return false;
  }
  return true;
}

// Well-formed UTF-8 (RFC 3629: no overlongs, surrogates or code points above U+10FFFF).
inline bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    std::size_t len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    std::uint32_t cp = len == 1 ? b : len == 2 ? (b & 0x1Fu) : len == 3 ? (b & 0x0Fu) : (b & 0x07u);
    for (std::size_t k = 1; k < len; ++k) {
      auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3Fu);
    }
    static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

inline bool is_ascii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

// The longest line (CRLF-separated, terminator excluded).
inline std::size_t longest_line(std::string_view s) {
  std::size_t longest = 0, start = 0;
  while (start <= s.size()) {
    std::size_t end = s.find("\r\n", start);
    if (end == std::string_view::npos) end = s.size();
    longest = std::max(longest, end - start);
    start = end + 2;
  }
  return longest;
}

}  // namespace pb::fuzz
