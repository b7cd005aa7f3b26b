// String helpers; ASCII only on purpose: protocol keywords are ASCII (RFC 5321 2.4, RFC 1939 3).
#include "util/text.hpp"

#include <algorithm>
#include <cctype>

#include "util/hex.hpp"
#include "util/utf8.hpp"

namespace pb::text {

namespace {
char lc(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }
}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lc(a[i]) != lc(b[i])) return false;
  return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lc(c);
  return out;
}

std::string to_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split_ws(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    std::size_t start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

namespace {

// Bytes a terminal may act on: C0 controls and DEL (ECMA-48 5), and the C1 controls U+0080..U+009F
// (C2 80..C2 9F in UTF-8), which some terminals honour like ESC sequences.
bool is_control(std::string_view seq) {
  const auto b = static_cast<unsigned char>(seq[0]);
  if (seq.size() == 1) return b < 0x20 || b == 0x7F;
  return seq.size() == 2 && b == 0xC2 && static_cast<unsigned char>(seq[1]) < 0xA0;
}

void append_escaped(std::string_view bytes, std::string& out) {
  for (char c : bytes) {
    out += "\\x";
    hex::append(static_cast<unsigned char>(c), out, hex::Case::upper);
  }
}

}  // namespace

std::string printable(std::string_view s, std::size_t max) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    if (out.size() >= max) {
      out += "…";
      break;
    }
    // Not UTF-8 (0 octets): a stray continuation byte such as 0x9B, the 8-bit CSI, an overlong
    // form, a surrogate or a truncated sequence.
    const std::size_t n = utf8::decode(s, i).len;
    if (n == 0) {
      append_escaped(s.substr(i, 1), out);  // not UTF-8: shown byte by byte, never passed through
      ++i;
      continue;
    }
    std::string_view seq = s.substr(i, n);
    if (is_control(seq)) append_escaped(seq, out);
    else out += seq;  // whole characters only: the cap never splits one
    i += n;
  }
  return out;
}

void append_utf8(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t sub = prev[j - 1] + (lc(a[i - 1]) == lc(b[j - 1]) ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace pb::text
