// parse_endpoint, is_loopback_literal, Cidr and internet_reach against tables of valid and invalid input;
// every row says why. Promises: valid endpoints and ranges round-trip through str().
#include "util/inet.hpp"

#include <catch2/catch.hpp>
#include <initializer_list>
#include <string>
#include <vector>

using namespace pb::inet;

namespace {

struct EndpointCase {
  const char* input;
  bool valid;
  const char* host;
  std::uint16_t port;
  const char* why;
};

const EndpointCase kEndpoints[] = {
    {"127.0.0.1:2525", true, "127.0.0.1", 2525, "IPv4 literal"},
    {"0.0.0.0:25", true, "0.0.0.0", 25, "IPv4 wildcard"},
    {"[::1]:2525", true, "::1", 2525, "IPv6 literal in brackets"},
    {"[::]:587", true, "::", 587, "IPv6 wildcard"},
    {"[fe80::1:2]:65535", true, "fe80::1:2", 65535, "highest port"},
    {"[::ffff:127.0.0.1]:25", true, "::ffff:127.0.0.1", 25, "IPv4-mapped IPv6"},
    {"localhost:2525", true, "localhost", 2525, "host name"},
    {"mail.firma.local:1", true, "mail.firma.local", 1, "dotted name, lowest port"},
    {"gw-1.example:025", true, "gw-1.example", 25, "leading zero in port"},
    {"127.0.0.1", false, "", 0, "no port"},
    {"127.0.0.1:", false, "", 0, "empty port"},
    {":25", false, "", 0, "empty host"},
    {"127.0.0.1:0", false, "", 0, "port 0"},
    {"127.0.0.1:65536", false, "", 0, "port too large"},
    {"127.0.0.1:123456", false, "", 0, "port too long"},
    {"127.0.0.1:+25", false, "", 0, "sign in port"},
    {"127.0.0.1: 25", false, "", 0, "space in port"},
    {"::1:2525", false, "", 0, "IPv6 without brackets is ambiguous"},
    {"[::1]", false, "", 0, "brackets without port"},
    {"[::1]2525", false, "", 0, "no colon after bracket"},
    {"[127.0.0.1]:25", false, "", 0, "brackets around IPv4"},
    {"[localhost]:25", false, "", 0, "brackets around a name"},
    {"[::1:25", false, "", 0, "unclosed bracket"},
    {"256.0.0.1:25", false, "", 0, "numeric but not an IPv4 address"},
    {"1.2.3:25", false, "", 0, "three-part numeric"},
    {"mail server:25", false, "", 0, "space in name"},
    {"-gw.example:25", false, "", 0, "label starts with '-'"},
    {"gw..example:25", false, "", 0, "empty label"},
    {"gw_1.example:25", false, "", 0, "underscore"},
    {"müller.example:25", false, "", 0, "non-ASCII name (no IDN in the resolver)"},
    {"*:25", false, "", 0, "wildcard name"},
    {"", false, "", 0, "empty"},
};

struct CidrCase {
  const char* input;
  const char* normalised;  // nullptr: invalid (strict parse)
  const char* why;
};

const CidrCase kCidrs[] = {
    {"127.0.0.1/32", "127.0.0.1/32", "one IPv4 address"},
    {"127.0.0.1", "127.0.0.1/32", "bare IPv4 = /32"},
    {"10.0.0.0/8", "10.0.0.0/8", "IPv4 network"},
    {"0.0.0.0/0", "0.0.0.0/0", "everything IPv4"},
    {"192.168.1.0/024", "192.168.1.0/24", "leading zero in length"},
    {"::1/128", "::1/128", "one IPv6 address"},
    {"::1", "::1/128", "bare IPv6 = /128"},
    {"fe80::/10", "fe80::/10", "IPv6 network"},
    {"FD00::/8", "fd00::/8", "upper-case hex"},
    {"::/0", "::/0", "everything IPv6"},
    {"::ffff:10.0.0.0/104", "::ffff:10.0.0.0/104", "IPv4-mapped range written as IPv6"},
    {"10.0.0.1/8", nullptr, "host bits set"},
    {"fe80::1/10", nullptr, "IPv6 host bits set"},
    {"10.0.0.0/33", nullptr, "IPv4 length > 32"},
    {"::/129", nullptr, "IPv6 length > 128"},
    {"10.0.0.0/", nullptr, "empty length"},
    {"10.0.0.0/-1", nullptr, "negative length"},
    {"10.0.0.0/8/8", nullptr, "two slashes"},
    {"10.0.0.0 /8", nullptr, "space"},
    {"10.0.0/8", nullptr, "three-part IPv4"},
    {"fe80::%eth0/10", nullptr, "zone id"},
    {"office", nullptr, "a name"},
    {"", nullptr, "empty"},
};

struct ContainsCase {
  const char* cidr;
  const char* ip;
  bool inside;
  const char* why;
};

const ContainsCase kContains[] = {
    {"127.0.0.1/32", "127.0.0.1", true, "the address itself"},
    {"127.0.0.1/32", "127.0.0.2", false, "neighbour"},
    {"127.0.0.1/32", "::ffff:127.0.0.1", true, "IPv4-mapped form of the address"},
    {"127.0.0.1/32", "::ffff:127.0.0.2", false, "IPv4-mapped neighbour"},
    {"127.0.0.1/32", "::1", false, "IPv6 loopback is not IPv4 loopback"},
    {"10.0.0.0/8", "10.255.255.255", true, "last address"},
    {"10.0.0.0/8", "11.0.0.0", false, "next network"},
    {"192.168.1.0/24", "192.168.1.200", true, "inside /24"},
    {"192.168.1.0/25", "192.168.1.200", false, "outside /25"},
    {"0.0.0.0/0", "203.0.113.9", true, "everything"},
    {"0.0.0.0/0", "2001:db8::1", false, "IPv4 range, IPv6 address"},
    {"::1/128", "::1", true, "IPv6 loopback"},
    {"::1/128", "0:0:0:0:0:0:0:1", true, "uncompressed form"},
    {"fe80::/10", "fe80::1%eth0", true, "zone id ignored"},
    {"fe80::/10", "febf:ffff::1", true, "top of fe80::/10"},
    {"fe80::/10", "fec0::1", false, "just outside"},
    {"::/0", "10.0.0.1", true, "IPv4 is inside ::/0 as ::ffff:10.0.0.1"},
    {"::ffff:0:0/96", "8.8.8.8", true, "all of IPv4 as mapped range"},
    {"10.0.0.0/8", "10.0.0.1%eth0", false, "zone id on IPv4 is malformed"},
    {"10.0.0.0/8", "10.0.0.1:25", false, "address with port is not an address"},
    {"10.0.0.0/8", "", false, "empty"},
    {"10.0.0.0/8", "ten", false, "garbage"},
};

}  // namespace

TEST_CASE("inet: parse_endpoint table", "[inet]") {
  for (const auto& c : kEndpoints) {
    INFO(c.input << " (" << c.why << ")");
    auto ep = parse_endpoint(c.input);
    REQUIRE(ep.has_value() == c.valid);
    if (!ep) continue;
    CHECK(ep->host == c.host);
    CHECK(ep->port == c.port);
    auto again = parse_endpoint(ep->str());
    REQUIRE(again.has_value());
    CHECK(*again == *ep);
  }
  CHECK(parse_endpoint("[::1]:2525")->str() == "[::1]:2525");
  CHECK(parse_endpoint("localhost:025")->str() == "localhost:25");
}

TEST_CASE("inet: is_loopback_literal", "[inet]") {
  for (const char* yes : {"127.0.0.1", "127.255.0.9", "::1", "0:0::1", "::ffff:127.0.0.2",
                          "localhost", "LocalHost"}) {
    INFO(yes);
    CHECK(is_loopback_literal(yes));
  }
  for (const char* no : {"0.0.0.0", "::", "128.0.0.1", "192.168.1.5", "::2", "::ffff:10.0.0.1",
                         "localhost.example", "localhost.", "", "mail.firma.local", "[::1]"}) {
    INFO(no);
    CHECK_FALSE(is_loopback_literal(no));
  }
}

TEST_CASE("inet: is_ip_literal", "[inet]") {
  CHECK(is_ip_literal("10.1.2.3"));
  CHECK(is_ip_literal("2001:db8::1"));
  CHECK_FALSE(is_ip_literal("10.1.2"));
  CHECK_FALSE(is_ip_literal("[::1]"));
  CHECK_FALSE(is_ip_literal("localhost"));
  CHECK_FALSE(is_ip_literal(std::string(100, '1')));
}

TEST_CASE("inet: Cidr::parse table, strict about host bits", "[inet]") {
  for (const auto& c : kCidrs) {
    INFO(c.input << " (" << c.why << ")");
    auto cidr = Cidr::parse(c.input);
    REQUIRE(cidr.has_value() == (c.normalised != nullptr));
    if (!cidr) continue;
    CHECK(cidr->str() == c.normalised);
    CHECK(Cidr::parse(cidr->str()) == cidr);
  }
}

TEST_CASE("inet: Cidr::parse_masked clears host bits", "[inet]") {
  CHECK(Cidr::parse_masked("10.1.2.3/8")->str() == "10.0.0.0/8");
  CHECK(Cidr::parse_masked("192.168.1.77/24")->str() == "192.168.1.0/24");
  CHECK(Cidr::parse_masked("192.168.1.77/23")->str() == "192.168.0.0/23");
  CHECK(Cidr::parse_masked("fe80::1/10")->str() == "fe80::/10");
  CHECK(Cidr::parse_masked("2001:db8:1:2::5/33")->str() == "2001:db8::/33");
  CHECK(Cidr::parse_masked("1.2.3.4/0")->str() == "0.0.0.0/0");
  CHECK_FALSE(Cidr::parse_masked("10.0.0.1/33"));
}

TEST_CASE("inet: Cidr prefix_length and family as written", "[inet]") {
  auto v4 = *Cidr::parse("10.0.0.0/8");
  CHECK(v4.is_ipv4());
  CHECK(v4.prefix_length() == 8);
  auto v6 = *Cidr::parse("fe80::/10");
  CHECK_FALSE(v6.is_ipv4());
  CHECK(v6.prefix_length() == 10);
  CHECK(*Cidr::parse("10.0.0.0/8") == *Cidr::parse("10.0.0.0/08"));
  CHECK_FALSE(*Cidr::parse("10.0.0.0/8") == *Cidr::parse("10.0.0.0/16"));
}

TEST_CASE("inet: Cidr::contains table", "[inet]") {
  for (const auto& c : kContains) {
    INFO(c.cidr << " contains " << c.ip << "? (" << c.why << ")");
    auto cidr = Cidr::parse(c.cidr);
    REQUIRE(cidr.has_value());
    CHECK(cidr->contains(c.ip) == c.inside);
  }
}

namespace {

Reach reach_of(std::initializer_list<const char*> texts) {
  std::vector<Cidr> ranges;
  for (const char* t : texts) ranges.push_back(*Cidr::parse(t));
  return internet_reach(ranges);
}

// 2^32 minus RFC 6890's blocks that are not reachable from the internet.
constexpr std::uint64_t kPublicIpv4 = 4294967296ull - 3 * (1ull << 24) /* 0/8 10/8 127/8 */ - (1ull << 22) -
                                      (1ull << 16) - (1ull << 20) - 2 * 256 - (1ull << 16) - (1ull << 17) - 2 * 256 -
                                      2 * (1ull << 28) /* 224/4 240/4 */;
constexpr std::uint64_t kGlobal64s = (1ull << 61) - (1ull << 32);  // 2000::/3 without 2001:db8::/32

}  // namespace

TEST_CASE("inet: Cidr::first and last span the range in the 128-bit space", "[inet][reach]") {
  auto c = *Cidr::parse("192.168.1.0/24");
  CHECK(c.contains("192.168.1.0"));
  CHECK(c.first()[15] == 0);
  CHECK(c.last()[15] == 255);
  CHECK(c.last()[14] == 1);
  CHECK(c.last()[10] == 0xFF);  // IPv4 stays IPv4-mapped
  auto all = *Cidr::parse("::/0");
  for (auto b : all.last()) CHECK(b == 0xFF);
}

TEST_CASE("inet: internet_reach counts the union once, IPv4-mapped as IPv4", "[inet][reach]") {
  CHECK(reach_of({"0.0.0.0/0"}).public_ipv4 == kPublicIpv4);
  CHECK(reach_of({"::ffff:0.0.0.0/97", "::ffff:128.0.0.0/97"}).public_ipv4 == kPublicIpv4);
  CHECK(reach_of({"::ffff:0:0/96"}).public_ipv4 == kPublicIpv4);
  CHECK(reach_of({"::/0"}).public_ipv4 == kPublicIpv4);  // contains the mapped space too
  CHECK(reach_of({"::/0"}).global_ipv6_64s == kGlobal64s);
  CHECK(reach_of({"2000::/4", "3000::/4"}).global_ipv6_64s == kGlobal64s);
  CHECK(reach_of({"2000::/3", "2000::/4", "2a01::/16"}).global_ipv6_64s == kGlobal64s);  // overlaps once
  CHECK(reach_of({"11.0.0.0/9", "11.128.0.0/9"}).public_ipv4 == (1ull << 24));
  CHECK(reach_of({"11.0.0.0/9", "11.0.0.0/10", "::ffff:11.0.0.0/106"}).public_ipv4 == (1ull << 23));
  CHECK(reach_of({"10.0.0.0/7"}).public_ipv4 == (1ull << 24));  // 11/8 of it is public
  CHECK(reach_of({"2a01:4f8::/48"}).global_ipv6_64s == 65536);
  CHECK(reach_of({"2a01:4f8::1/128"}).global_ipv6_64s == 1);  // its /64
  CHECK(reach_of({"198.51.100.7", "203.0.113.1"}).public_ipv4 == 0);
}

TEST_CASE("inet: internet_reach leaves out private, special and documentation ranges", "[inet][reach]") {
  auto r = reach_of({"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8",
                     "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4", "fc00::/7", "fe80::/10", "::1", "2001:db8::/32"});
  CHECK(r.public_ipv4 == 0);
  CHECK(r.global_ipv6_64s == 0);
  CHECK(reach_of({"8.8.8.8"}).public_ipv4 == 1);
  CHECK(reach_of({}).public_ipv4 == 0);
}
