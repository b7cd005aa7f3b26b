// Address::parse against a table of RFC 5321 4.1.2 / RFC 6531 mailboxes, valid and invalid.
// Promises: every row states why it is (in)valid, and valid rows round-trip through str().
#include "mail/address.hpp"

#include <catch2/catch.hpp>
#include <string>

using pb::mail::Address;

namespace {

struct Case {
  std::string input;
  bool valid;
  const char* why;
};

const Case kCases[] = {
    // valid
    {"user@example.net", true, "plain dot-atom"},
    {"first.last@example.net", true, "dots between atoms"},
    {"a@b", true, "single-label domain"},
    {"postmaster@localhost", true, "postmaster at a host name"},
    {"user+tag@sub.example.co.uk", true, "plus tag, several labels"},
    {"!#$%&'*+-/=?^_`{|}~@example.net", true, "every atext special"},
    {"User@Example.NET", true, "case is kept"},
    {"x@my-host.example", true, "hyphen inside a label"},
    {"x@123.example", true, "label starting with a digit"},
    {"\"quoted local\"@example.net", true, "quoted-string with a space"},
    {"\"a@b\"@example.net", true, "@ inside quotes"},
    {"\"a\\\"b\"@example.net", true, "quoted-pair escaping a quote"},
    {"\"a..b\"@example.net", true, "consecutive dots inside quotes"},
    {"user@[127.0.0.1]", true, "IPv4 address literal"},
    {"user@[IPv6:2001:db8::1]", true, "IPv6 address literal"},
    {"user@[IPv6:::ffff:192.0.2.1]", true, "IPv6 with embedded IPv4"},
    {"jörg@example.net", true, "UTF-8 local part (RFC 6531)"},
    {"info@bücher.de", true, "UTF-8 domain label (RFC 6531)"},
    {"用户@例子.广告", true, "non-Latin UTF-8 everywhere"},
    {std::string(64, 'a') + "@example.net", true, "local part of exactly 64 octets"},
    // invalid
    {"", false, "empty"},
    {"user", false, "missing @"},
    {"@example.net", false, "empty local part"},
    {"user@", false, "empty domain"},
    {"\"\"@example.net", false, "empty quoted local part"},
    {"us er@example.net", false, "space outside quotes"},
    {"user@exa mple.net", false, "space in domain"},
    {" user@example.net", false, "leading space"},
    {"<user@example.net>", false, "angle brackets"},
    {"John Doe <john@example.net>", false, "display name"},
    {"a..b@example.net", false, "consecutive dots"},
    {".a@example.net", false, "leading dot"},
    {"a.@example.net", false, "trailing dot in local part"},
    {"a@b@example.net", false, "two unquoted @"},
    {"user@example..net", false, "empty domain label"},
    {"user@example.net.", false, "trailing dot in domain"},
    {"user@-example.net", false, "label starts with hyphen"},
    {"user@example-.net", false, "label ends with hyphen"},
    {"user@exa_mple.net", false, "underscore in domain"},
    {"us\ter@example.net", false, "control char in local part"},
    {"\"a\x01\"@example.net", false, "control char inside quotes"},
    {"\"abc@example.net", false, "unterminated quote"},
    {"\"a\"b@example.net", false, "text after the closing quote"},
    {"user@[256.0.0.1]", false, "IPv4 octet out of range"},
    {"user@[1.2.3]", false, "IPv4 with three octets"},
    {"user@[IPv6:1::2::3]", false, "two :: in IPv6"},
    {"user@[example.net]", false, "name inside brackets"},
    {"user@[127.0.0.1", false, "unclosed address literal"},
    {std::string(65, 'a') + "@example.net", false, "local part over 64 octets"},
    {"a@" + std::string(64, 'b') + ".net", false, "label over 63 octets"},
    {"user@\xC3(.net", false, "malformed UTF-8 in domain"},
    {"\xC0\xAF@example.net", false, "overlong UTF-8"},
    {"\xED\xA0\x80@example.net", false, "UTF-16 surrogate encoded as UTF-8"},
    {"\xC2\x85@example.net", false, "C1 control character"},
    {std::string("us\0er@example.net", 17), false, "NUL byte"},
};

}  // namespace

TEST_CASE("Address::parse accepts and rejects per RFC 5321 4.1.2 and RFC 6531", "[address]") {
  for (const Case& c : kCases) {
    INFO("input: \"" << c.input << "\" — " << c.why);
    auto a = Address::parse(c.input);
    CHECK(a.has_value() == c.valid);
    if (a) CHECK(a->str() == c.input);
  }
}

TEST_CASE("Address keeps local part and domain apart, case preserved", "[address]") {
  auto a = Address::parse("Info.Desk@Firma.Example");
  REQUIRE(a);
  CHECK(a->local() == "Info.Desk");
  CHECK(a->domain() == "Firma.Example");

  auto q = Address::parse("\"a@b\"@example.net");
  REQUIRE(q);
  CHECK(q->local() == "\"a@b\"");
  CHECK(q->domain() == "example.net");
}

TEST_CASE("Address::is_ascii reports when SMTPUTF8 is needed", "[address]") {
  CHECK(Address::parse("user@example.net")->is_ascii());
  CHECK(Address::parse("user@[IPv6:::1]")->is_ascii());
  CHECK_FALSE(Address::parse("jörg@example.net")->is_ascii());
  CHECK_FALSE(Address::parse("info@bücher.de")->is_ascii());
}

TEST_CASE("Address domain limit is 255 octets", "[address]") {
  std::string label(63, 'x');
  std::string domain = label + "." + label + "." + label + "." + std::string(61, 'y');  // 253
  CHECK(Address::parse("a@" + domain));
  std::string too_long = domain + ".zzz";  // 257
  CHECK_FALSE(Address::parse("a@" + too_long));
}

TEST_CASE("Address equality compares both parts exactly", "[address]") {
  CHECK(*Address::parse("a@example.net") == *Address::parse("a@example.net"));
  CHECK_FALSE(*Address::parse("a@example.net") == *Address::parse("a@Example.net"));
}

// Found by tests/fuzz/smtp_command (regressions/smtp_command/ipv6-literal-nul): inet_pton saw the
// literal only up to its first NUL, so "user@[IPv6:2001:db8::<NUL>...1]" became an Address, NUL
// bytes and all, and the SMTP listener took it as a sender or recipient.
TEST_CASE("Address rejects an IPv6 literal with a NUL or other byte inet_pton would not see", "[address]") {
  using namespace std::string_literals;
  CHECK_FALSE(Address::parse("user@[IPv6:2001:db8::\0\0\x31]"s).has_value());
  CHECK_FALSE(Address::parse("user@[IPv6:2001:db8::1\0]"s).has_value());
  CHECK_FALSE(Address::parse("user@[IPv6:2001:db8:: 1]").has_value());
  CHECK(Address::parse("user@[IPv6:2001:DB8::1]").has_value());
}
