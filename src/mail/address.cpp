// Mailbox parsing per RFC 5321 4.1.2 with the RFC 6531 UTF-8 extensions; strict: anything the
// grammar does not allow (display names, brackets, spaces outside quotes, bad UTF-8) is rejected.
#include "mail/address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdint>

namespace pb::mail {
namespace {

// RFC 5321 4.5.3.1.1 / 4.5.3.1.2: size limits in octets.
constexpr std::size_t kMaxLocal = 64;
constexpr std::size_t kMaxDomain = 255;
constexpr std::size_t kMaxLabel = 63;  // RFC 1035 2.3.4

bool is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

// RFC 5322 3.2.3 atext (RFC 5321 4.1.2 refers to it).
bool is_atext(unsigned char c) {
  constexpr std::string_view specials = "!#$%&'*+-/=?^_`{|}~";  // not strchr: it matches NUL
  return is_alpha(c) || is_digit(c) || specials.find(static_cast<char>(c)) != specials.npos;
}

// Length of the well-formed UTF-8 sequence starting at s[i] that encodes a non-ASCII,
// non-control code point (RFC 3629 4, RFC 6531 3.3 UTF8-non-ascii); 0 if malformed.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = at(i);
  std::size_t len = 0;
  std::uint32_t cp = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    cp = c & 0x1Fu;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    cp = c & 0x0Fu;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    cp = c & 0x07u;
  } else
    return 0;  // ASCII, stray continuation byte, or overlong/out-of-range lead byte
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    if ((at(i + k) & 0xC0u) != 0x80u) return 0;
    cp = (cp << 6) | (at(i + k) & 0x3Fu);
  }
  bool overlong = (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
  bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
  bool c1_control = cp >= 0x80 && cp <= 0x9F;  // C1 controls are control characters too
  if (overlong || surrogate || c1_control || cp > 0x10FFFF) return 0;
  return len;
}

// Advances i over one atext character or one UTF-8 sequence; false if s[i] is neither.
bool skip_atext_char(std::string_view s, std::size_t& i) {
  auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    if (!is_atext(c)) return false;
    ++i;
    return true;
  }
  std::size_t n = utf8_sequence(s, i);
  if (n == 0) return false;
  i += n;
  return true;
}

// RFC 5321 4.1.2 Dot-string = Atom *("." Atom): no empty atoms, so no leading, trailing or
// consecutive dots.
bool valid_dot_string(std::string_view s) {
  if (s.empty()) return false;
  std::size_t i = 0;
  bool atom_started = false;
  while (i < s.size()) {
    if (s[i] == '.') {
      if (!atom_started) return false;
      atom_started = false;
      ++i;
      continue;
    }
    if (!skip_atext_char(s, i)) return false;
    atom_started = true;
  }
  return atom_started;
}

// RFC 5321 4.1.2 Quoted-string = DQUOTE *QcontentSMTP DQUOTE, with qtextSMTP %d32-33 / %d35-91 /
// %d93-126 (+ UTF-8 per RFC 6531) and quoted-pairSMTP = "\" %d32-126. Returns the length of the
// quoted string at the start of s (quotes included), or 0 if s does not start with a valid one.
std::size_t quoted_string_length(std::string_view s) {
  if (s.empty() || s[0] != '"') return 0;
  std::size_t i = 1;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"') return i + 1;
    if (c == '\\') {
      if (i + 1 >= s.size()) return 0;
      auto q = static_cast<unsigned char>(s[i + 1]);
      if (q < 32 || q > 126) return 0;
      i += 2;
    } else if (c >= 0x80) {
      std::size_t n = utf8_sequence(s, i);
      if (n == 0) return 0;
      i += n;
    } else if (c < 32 || c == 127) {
      return 0;  // control characters are not qtextSMTP
    } else {
      ++i;
    }
  }
  return 0;  // no closing quote
}

// RFC 5321 4.1.2 sub-domain = Let-dig [Ldh-str]; RFC 6531 3.3 adds U-labels, which we accept as
// any well-formed UTF-8 letters in place of Let-dig.
bool valid_label(std::string_view label) {
  if (label.empty() || label.size() > kMaxLabel) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  std::size_t i = 0;
  while (i < label.size()) {
    auto c = static_cast<unsigned char>(label[i]);
    if (c < 0x80) {
      if (!is_alpha(c) && !is_digit(c) && c != '-') return false;
      ++i;
      continue;
    }
    std::size_t n = utf8_sequence(label, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

bool valid_domain_name(std::string_view d) {
  if (d.empty() || d.size() > kMaxDomain) return false;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = d.find('.', start);
    std::string_view label = d.substr(start, dot == std::string_view::npos ? d.npos : dot - start);
    if (!valid_label(label)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// RFC 5321 4.1.3 IPv4-address-literal = Snum 3("." Snum), Snum = 1*3DIGIT (0..255).
bool valid_ipv4(std::string_view s) {
  int parts = 0;
  std::size_t i = 0;
  while (true) {
    std::size_t start = i;
    unsigned value = 0;
    while (i < s.size() && is_digit(static_cast<unsigned char>(s[i])) && i - start < 3) {
      value = value * 10 + static_cast<unsigned>(s[i] - '0');
      ++i;
    }
    if (i == start || value > 255) return false;
    ++parts;
    if (i == s.size()) return parts == 4;
    if (s[i] != '.' || parts == 4) return false;
    ++i;
  }
}

// RFC 5321 4.1.3 IPv6-address-literal = "IPv6:" IPv6-addr. inet_pton implements the same
// full/compressed/IPv4-embedded forms. General-address-literal tags are not supported.
bool valid_ipv6(std::string_view s) {
  constexpr std::string_view tag = "IPv6:";
  if (s.size() <= tag.size() || s.size() > tag.size() + 45) return false;
  for (std::size_t k = 0; k < tag.size(); ++k) {
    auto a = static_cast<unsigned char>(s[k]);
    auto b = static_cast<unsigned char>(tag[k]);
    if ((is_alpha(a) ? (a | 0x20) : a) != (is_alpha(b) ? (b | 0x20) : b)) return false;
  }
  std::string addr(s.substr(tag.size()));
  // inet_pton reads a C string: "2001:db8::" NUL "garbage" would pass as "2001:db8::".
  if (addr.find_first_not_of("0123456789abcdefABCDEF:.") != std::string::npos) return false;
  unsigned char buf[16];
  return ::inet_pton(AF_INET6, addr.c_str(), buf) == 1;
}

bool valid_address_literal(std::string_view d) {
  if (d.size() < 3 || d.front() != '[' || d.back() != ']') return false;
  std::string_view inner = d.substr(1, d.size() - 2);
  return valid_ipv4(inner) || valid_ipv6(inner);
}

bool valid_domain(std::string_view d) {
  if (!d.empty() && d.front() == '[') return valid_address_literal(d);
  return valid_domain_name(d);
}

}  // namespace

std::optional<Address> Address::parse(std::string_view text) {
  // The local part ends at the closing quote of a Quoted-string, or else at the first "@":
  // a second unquoted "@" then lands in the domain, where it is not allowed.
  std::size_t at = 0;
  if (!text.empty() && text.front() == '"') {
    at = quoted_string_length(text);
    if (at <= 2) return std::nullopt;  // malformed or empty ("") local part
  } else {
    at = text.find('@');
    if (at == std::string_view::npos || !valid_dot_string(text.substr(0, at))) return std::nullopt;
  }
  if (at >= text.size() || text[at] != '@') return std::nullopt;
  std::string_view local = text.substr(0, at);
  std::string_view domain = text.substr(at + 1);
  if (local.size() > kMaxLocal || !valid_domain(domain)) return std::nullopt;
  Address a;
  a.local_ = std::string(local);
  a.domain_ = std::string(domain);
  return a;
}

bool Address::is_ascii() const {
  auto ascii = [](const std::string& s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  };
  return ascii(local_) && ascii(domain_);
}

}  // namespace pb::mail
