// Endpoint and CIDR parsing with inet_pton (the same grammar the socket layer accepts); every
// address is compared in one 16-byte form, IPv4 as IPv4-mapped IPv6 (RFC 4291 2.5.5.2).
#include "util/inet.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <utility>
#include <vector>

#include "util/text.hpp"

namespace pb::inet {
namespace {

using Bytes = std::array<std::uint8_t, 16>;

struct Ip {
  Bytes bytes{};  // IPv4 as ::ffff:a.b.c.d
  bool v4 = false;
};

constexpr std::size_t kMaxLiteral = 64;  // longer than any address text (INET6_ADDRSTRLEN 46)

std::optional<Ip> parse_ip(std::string_view text) {
  if (text.empty() || text.size() > kMaxLiteral) return std::nullopt;
  std::string s(text);  // inet_pton needs a NUL-terminated string
  Ip ip;
  std::uint8_t v4[4];
  if (::inet_pton(AF_INET, s.c_str(), v4) == 1) {
    ip.v4 = true;
    ip.bytes[10] = ip.bytes[11] = 0xFF;
    std::copy(std::begin(v4), std::end(v4), ip.bytes.begin() + 12);
    return ip;
  }
  if (::inet_pton(AF_INET6, s.c_str(), ip.bytes.data()) == 1) return ip;
  return std::nullopt;
}

bool is_v4_mapped(const Bytes& b) {
  return std::all_of(b.begin(), b.begin() + 10, [](std::uint8_t x) { return x == 0; }) &&
         b[10] == 0xFF && b[11] == 0xFF;
}

// Keeps the first `bits` bits of b, zeroes the rest.
Bytes mask(Bytes b, int bits) {
  for (int i = 0; i < 16; ++i) {
    int keep = std::clamp(bits - i * 8, 0, 8);
    auto m = static_cast<std::uint8_t>(keep == 0 ? 0 : 0xFF << (8 - keep));
    b[static_cast<std::size_t>(i)] &= m;
  }
  return b;
}

// RFC 1035 2.3.1 / RFC 1123 2.1 host name: labels of letters, digits and '-', not starting or
// ending with '-', 1..63 octets each, 253 in all. ASCII only: the socket resolver does no IDN.
bool valid_dns_name(std::string_view h) {
  if (h.empty() || h.size() > 253) return false;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = h.find('.', start);
    std::string_view label = h.substr(start, dot == h.npos ? h.npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    bool ok = std::all_of(label.begin(), label.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
    });
    if (!ok) return false;
    if (dot == h.npos) return true;
    start = dot + 1;
  }
}

// Digits only, 1..65535; no sign, no spaces.
std::optional<std::uint16_t> parse_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  unsigned value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// A bare host for "host:port": an IPv4 literal or a DNS name. All-numeric dotted text must be
// a valid IPv4 address ("256.1.1.1" is a typo, not a name).
bool valid_plain_host(std::string_view h) {
  bool numeric = !h.empty() && std::all_of(h.begin(), h.end(), [](char c) {
    return (c >= '0' && c <= '9') || c == '.';
  });
  if (numeric) {
    auto ip = parse_ip(h);
    return ip && ip->v4;
  }
  return valid_dns_name(h);
}

// "addr" or "addr/len" into network bytes and a 128-bit-space prefix; false if malformed or,
// unless allow_host_bits, if bits beyond the prefix are set.
bool parse_cidr(std::string_view text, bool allow_host_bits, Bytes& net, int& bits, bool& v4) {
  std::size_t slash = text.find('/');
  auto ip = parse_ip(text.substr(0, slash));
  if (!ip) return false;
  int max = ip->v4 ? 32 : 128;
  int len = max;
  if (slash != text.npos) {
    std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return false;
    len = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return false;
      len = len * 10 + (c - '0');
    }
    if (len > max) return false;
  }
  bits = ip->v4 ? len + 96 : len;
  net = mask(ip->bytes, bits);
  v4 = ip->v4;
  return allow_host_bits || net == ip->bytes;
}

// The one text form of an address: dotted quad, or RFC 5952 IPv6 (what inet_ntop writes).
std::string canonical(const Ip& ip) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ip.v4)
    ::inet_ntop(AF_INET, ip.bytes.data() + 12, buf, sizeof buf);
  else
    ::inet_ntop(AF_INET6, ip.bytes.data(), buf, sizeof buf);
  return buf;
}

// ---- reach: ranges as intervals of 32-bit IPv4 addresses or 64-bit IPv6 network prefixes

using Interval = std::pair<std::uint64_t, std::uint64_t>;  // first, last (inclusive)

// The big-endian number in bytes [from, from + n) of b.
std::uint64_t number(const Bytes& b, std::size_t from, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = from; i < from + n; ++i) v = (v << 8) | b[i];
  return v;
}

Bytes bytes_of(std::string_view literal) { return parse_ip(literal)->bytes; }

// The part of [first, last] inside [lo, hi] (byte arrays compare as big-endian numbers), or nullopt.
std::optional<std::pair<Bytes, Bytes>> clip(const Bytes& first, const Bytes& last, const Bytes& lo, const Bytes& hi) {
  Bytes a = std::max(first, lo), b = std::min(last, hi);
  if (b < a) return std::nullopt;
  return std::make_pair(a, b);
}

std::vector<Interval> merged(std::vector<Interval> v) {
  std::sort(v.begin(), v.end());
  std::vector<Interval> out;
  for (const auto& i : v) {
    if (!out.empty() && (out.back().second == UINT64_MAX || i.first <= out.back().second + 1))
      out.back().second = std::max(out.back().second, i.second);
    else
      out.push_back(i);
  }
  return out;
}

// How many values of the disjoint `covered` lie outside every block of the disjoint `excluded`.
std::uint64_t count_outside(const std::vector<Interval>& covered, const std::vector<Interval>& excluded) {
  std::uint64_t n = 0;
  for (const auto& [first, last] : covered) {
    n += last - first + 1;
    for (const auto& [xf, xl] : excluded) {
      std::uint64_t a = std::max(first, xf), b = std::min(last, xl);
      if (a <= b) n -= b - a + 1;
    }
  }
  return n;
}

Interval v4_block(const char* cidr) {
  auto c = Cidr::parse(cidr);
  return {number(c->first(), 12, 4), number(c->last(), 12, 4)};
}

// RFC 6890 with its IANA registry: the IPv4 blocks no internet client sends from.
const std::vector<Interval>& non_public_ipv4() {
  static const std::vector<Interval> blocks = [] {
    std::vector<Interval> v;
    for (const char* b : {"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
                          "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15",
                          "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4"})
      v.push_back(v4_block(b));
    return v;
  }();
  return blocks;
}

}  // namespace

std::string HostPort::str() const {
  std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port) out += ":" + std::to_string(*port);
  return out;
}

std::optional<HostPort> parse_host_port(std::string_view text) {
  std::string_view host, port;
  HostPort out;
  if (!text.empty() && text.front() == '[') {  // RFC 3986 3.2.2 IP-literal
    std::size_t close = text.find(']');
    if (close == text.npos || (close + 1 < text.size() && text[close + 1] != ':')) return std::nullopt;
    host = text.substr(1, close - 1);
    port = close + 1 < text.size() ? text.substr(close + 2) : std::string_view();
    auto ip = parse_ip(host);
    if (!ip || ip->v4) return std::nullopt;
    out.host = canonical(*ip);
    out.ip = true;
  } else {
    std::size_t colon = text.find(':');
    if (colon != text.npos && text.find(':', colon + 1) != text.npos) return std::nullopt;
    host = text.substr(0, colon);
    port = colon == text.npos ? std::string_view() : text.substr(colon + 1);
    if (host.size() > 1 && host.back() == '.') host.remove_suffix(1);
    if (!valid_plain_host(host)) return std::nullopt;
    auto ip = parse_ip(host);
    out.host = ip ? canonical(*ip) : text::to_lower(host);
    out.ip = ip.has_value();
  }
  if (!port.empty()) {  // RFC 3986 3.2.3: an empty port is the same as none
    out.port = parse_port(port);
    if (!out.port) return std::nullopt;
  }
  return out;
}

Reach internet_reach(const std::vector<Cidr>& ranges) {
  static const Bytes v4_lo = bytes_of("::ffff:0.0.0.0"), v4_hi = bytes_of("::ffff:255.255.255.255");
  static const Bytes global_lo = bytes_of("2000::"), global_hi = bytes_of("3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
  static const Bytes doc_first = bytes_of("2001:db8::");
  std::vector<Interval> v4, v6;
  for (const Cidr& c : ranges) {
    if (auto part = clip(c.first(), c.last(), v4_lo, v4_hi))
      v4.emplace_back(number(part->first, 12, 4), number(part->second, 12, 4));
    if (auto part = clip(c.first(), c.last(), global_lo, global_hi))
      v6.emplace_back(number(part->first, 0, 8), number(part->second, 0, 8));
  }
  const std::uint64_t doc = number(doc_first, 0, 8);
  Reach r;
  r.public_ipv4 = count_outside(merged(std::move(v4)), non_public_ipv4());
  r.global_ipv6_64s = count_outside(merged(std::move(v6)), {{doc, doc + 0xFFFF'FFFFu}});
  return r;
}

std::string Endpoint::str() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::optional<Endpoint> parse_endpoint(std::string_view text) {
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    std::size_t close = text.find(']');
    if (close == text.npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    auto ip = parse_ip(host);
    if (!ip || ip->v4) return std::nullopt;  // brackets are for IPv6 literals only
  } else {
    std::size_t colon = text.find(':');
    if (colon == text.npos || text.find(':', colon + 1) != text.npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (!valid_plain_host(host)) return std::nullopt;
  }
  auto p = parse_port(port);
  if (!p) return std::nullopt;
  return Endpoint{std::string(host), *p};
}

bool is_ip_literal(std::string_view text) { return parse_ip(text).has_value(); }

bool is_loopback_literal(std::string_view host) {
  if (text::iequals(host, "localhost")) return true;
  auto ip = parse_ip(host);
  if (!ip) return false;
  if (is_v4_mapped(ip->bytes)) return ip->bytes[12] == 127;  // 127.0.0.0/8 (RFC 1122 3.2.1.3)
  Bytes one{};
  one[15] = 1;
  return ip->bytes == one;  // ::1 (RFC 4291 2.5.3)
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  Cidr c;
  if (!parse_cidr(text, false, c.net_, c.bits_, c.v4_)) return std::nullopt;
  return c;
}

std::optional<Cidr> Cidr::parse_masked(std::string_view text) {
  Cidr c;
  if (!parse_cidr(text, true, c.net_, c.bits_, c.v4_)) return std::nullopt;
  return c;
}

bool Cidr::contains(std::string_view ip_literal) const {
  std::size_t zone = ip_literal.find('%');  // RFC 4007 11: the zone does not change the address
  auto ip = parse_ip(ip_literal.substr(0, zone));
  if (!ip || (zone != ip_literal.npos && ip->v4)) return false;
  return mask(ip->bytes, bits_) == net_;
}

Bytes Cidr::last() const {
  Bytes b = net_;
  for (int i = 0; i < 16; ++i) {
    int keep = std::clamp(bits_ - i * 8, 0, 8);
    b[static_cast<std::size_t>(i)] |= static_cast<std::uint8_t>(0xFF >> keep);
  }
  return b;
}

std::string Cidr::str() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (v4_)
    ::inet_ntop(AF_INET, net_.data() + 12, buf, sizeof buf);
  else
    ::inet_ntop(AF_INET6, net_.data(), buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(prefix_length());
}

}  // namespace pb::inet
