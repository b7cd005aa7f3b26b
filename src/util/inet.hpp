// Typed network values for the configuration and the listener, without Asio: listen endpoints
// ("127.0.0.1:2525", "[::1]:2525") and CIDR ranges; parsers reject anything malformed.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pb::inet {

// A TCP endpoint to listen on or connect to. host is an IPv4 literal, an IPv6 literal (kept
// without brackets) or a DNS name; port is 1..65535.
struct Endpoint {
  std::string host;
  std::uint16_t port = 0;

  std::string str() const;  // "127.0.0.1:2525", "[::1]:2525", "localhost:2525"
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

// "127.0.0.1:2525", "[::1]:2525", "localhost:2525". The port is required; an IPv6 literal
// needs brackets ("::1:2525" is ambiguous and refused), a name must be a valid DNS name.
std::optional<Endpoint> parse_endpoint(std::string_view text);

// A host with an optional port as an HTTP client names it: the Host header (RFC 9110 7.2) or the
// authority of an Origin (RFC 6454 6.1), and the [web] hostnames entries that must match them.
// "gw.firma.local", "GW.Firma.Local.:8443", "192.168.1.5", "[::1]:8025". A name is lower-cased and
// loses one trailing dot (the same name to DNS, RFC 1034 3.1); an address literal is written the
// one canonical way (inet_ntop; IPv6 without brackets), so equal hosts compare equal as text.
struct HostPort {
  std::string host;
  std::optional<std::uint16_t> port;  // nullopt: none given ("host" or "host:")
  bool ip = false;                    // host is an address literal

  std::string str() const;  // "gw.firma.local", "[::1]:8025"
  friend bool operator==(const HostPort&, const HostPort&) = default;
};

// Nullopt for anything else: user info, a path, an IPv6 literal without brackets, a zone id, a
// name that is not a valid DNS name, port 0 or above 65535.
std::optional<HostPort> parse_host_port(std::string_view text);

// True for an IPv4 or IPv6 address literal (no brackets, no zone id).
bool is_ip_literal(std::string_view text);

// True for 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104 and the name "localhost" (any case):
// addresses only this machine can connect from.
bool is_loopback_literal(std::string_view host);

// An address range: "10.0.0.0/8", "::1/128", "fe80::/10"; a bare address is /32 or /128.
// IPv4 is treated as the IPv4-mapped IPv6 range ::ffff:0:0/96 (RFC 4291 2.5.5.2), so
// "127.0.0.1/32" contains "::ffff:127.0.0.1" (how a dual-stack socket reports IPv4 peers).
class Cidr {
 public:
  // Strict: host bits beyond the prefix must be zero ("10.0.0.1/8" is refused, so a typo
  // cannot silently allow a larger range than the admin read).
  static std::optional<Cidr> parse(std::string_view text);
  // Lenient: clears host bits ("10.1.2.3/8" -> 10.0.0.0/8). For "did you mean" hints.
  static std::optional<Cidr> parse_masked(std::string_view text);

  // ip_literal: an IPv4 or IPv6 address as text; a zone id ("fe80::1%eth0") is ignored.
  // Anything that is not an address is not contained.
  bool contains(std::string_view ip_literal) const;

  // The first and last address of the range in the 128-bit space (IPv4 as IPv4-mapped).
  std::array<std::uint8_t, 16> first() const { return net_; }
  std::array<std::uint8_t, 16> last() const;

  bool is_ipv4() const { return v4_; }
  int prefix_length() const { return v4_ ? bits_ - 96 : bits_; }  // as written
  std::string str() const;                                        // "10.0.0.0/8", "fe80::/10"

  friend bool operator==(const Cidr&, const Cidr&) = default;

 private:
  std::array<std::uint8_t, 16> net_{};  // network address, IPv4 stored IPv4-mapped
  int bits_ = 0;                        // prefix length in the 128-bit space
  bool v4_ = false;
};

// How much of the internet a list of ranges lets in, each address counted once however the ranges
// overlap or are written: IPv4-mapped IPv6 ranges count as the IPv4 they map (RFC 4291 2.5.5.2),
// and a wide IPv6 range (::/0) counts the IPv4 space it contains too.
struct Reach {
  // Public IPv4 addresses: all 2^32 except the special-purpose blocks that are not reachable
  // from the internet (RFC 6890 and its registry: private, loopback, link-local, shared
  // 100.64.0.0/10, documentation, benchmarking, multicast, reserved) — about 3.7 billion.
  std::uint64_t public_ipv4 = 0;
  // Global unicast IPv6 (2000::/3, RFC 4291 2.4) without the documentation prefix 2001:db8::/32
  // (RFC 3849), counted in /64 networks (2^61 in all); a range longer than /64 counts its /64.
  std::uint64_t global_ipv6_64s = 0;
};
Reach internet_reach(const std::vector<Cidr>& ranges);

}  // namespace pb::inet
