// Decoding UTF-8 one character at a time, strictly (RFC 3629 4: no overlong forms, no surrogates,
// nothing above U+10FFFF, no truncated sequence), for every parser that must not trust peer text.
#pragma once
#include <cstddef>
#include <string_view>
#include <vector>

namespace pb::utf8 {

struct Decoded {
  char32_t cp = 0;
  std::size_t len = 0;  // octets of the character; 0 when the bytes at the position are not one
};

// The character starting at s[i] (i < s.size()).
Decoded decode(std::string_view s, std::size_t i);

// Every character of `s`; each byte that does not start a well-formed sequence becomes U+FFFD.
std::vector<char32_t> code_points(std::string_view s);

constexpr char32_t kReplacement = 0xFFFD;

}  // namespace pb::utf8
