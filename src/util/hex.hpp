// Hexadecimal digits for octets, in the case each format demands (xtext, quoted-printable and
// percent-encoding want upper case; digests and boundaries are customarily lower case).
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace pb::hex {

enum class Case { lower, upper };

// Appends the two digits of one octet.
inline void append(unsigned char octet, std::string& out, Case c) {
  const char* digits = c == Case::upper ? "0123456789ABCDEF" : "0123456789abcdef";
  out += digits[octet >> 4];
  out += digits[octet & 15];
}

// Two digits per octet.
inline std::string encode(const unsigned char* data, std::size_t size, Case c) {
  std::string out;
  out.reserve(2 * size);
  for (std::size_t i = 0; i < size; ++i) append(data[i], out, c);
  return out;
}

inline std::string encode(std::string_view bytes, Case c) {
  return encode(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), c);
}

}  // namespace pb::hex
