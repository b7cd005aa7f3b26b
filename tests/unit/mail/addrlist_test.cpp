// The header address parser: RFC 5322 3.4 forms (display names, groups, comments, quoted local
// parts), RFC 2047 names, obsolete syntax, the breakages real mailers produce, and garbage that
// must be reported without crashing or inventing addresses. Also the Received: "for" clause.
#include "mail/addrlist.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

using pb::mail::parse_address_list;
using pb::mail::received_for;

namespace {

std::vector<std::string> addrs(std::string_view value) {
  std::vector<std::string> out;
  for (const auto& m : parse_address_list(value).mailboxes) out.push_back(m.address.str());
  return out;
}

using V = std::vector<std::string>;

}  // namespace

TEST_CASE("addrlist: plain forms", "[addrlist]") {
  CHECK(addrs("anna@firma.de") == V{"anna@firma.de"});
  CHECK(addrs("  <anna@firma.de>  ") == V{"anna@firma.de"});
  CHECK(addrs("Anna Schmidt <anna@firma.de>, ben@firma.de") == V{"anna@firma.de", "ben@firma.de"});
  CHECK(addrs("a@x.de,,, ,b@y.de,") == V{"a@x.de", "b@y.de"});  // RFC 5322 4.4 obs-addr-list
  CHECK(addrs("").empty());
  CHECK(parse_address_list("").problems.empty());
}

TEST_CASE("addrlist: display names are decoded for people", "[addrlist]") {
  auto l = parse_address_list("\"Schmidt, Anna\" <anna@firma.de>");
  REQUIRE(l.mailboxes.size() == 1);
  CHECK(l.mailboxes[0].display == "Schmidt, Anna");
  l = parse_address_list("=?UTF-8?Q?J=C3=B6rg?= =?UTF-8?Q?_M=C3=BCller?= <j@firma.de>");
  REQUIRE(l.mailboxes.size() == 1);
  CHECK(l.mailboxes[0].display == "Jörg Müller");
  l = parse_address_list("anna@firma.de (Anna (the boss) Schmidt)");
  REQUIRE(l.mailboxes.size() == 1);
  CHECK(l.mailboxes[0].display == "Anna (the boss) Schmidt");
  l = parse_address_list("John Q. Public <jqp@example.com>");  // obs-phrase: a dot in a name
  REQUIRE(l.mailboxes.size() == 1);
  CHECK(l.mailboxes[0].display == "John Q. Public");
  CHECK(l.problems.empty());
}

TEST_CASE("addrlist: groups", "[addrlist]") {
  auto l = parse_address_list("Team: anna@firma.de, \"Ben\" <ben@firma.de>;, solo@x.de");
  REQUIRE(l.mailboxes.size() == 3);
  CHECK(l.mailboxes[0].group == "Team");
  CHECK(l.mailboxes[1].group == "Team");
  CHECK(l.mailboxes[1].display == "Ben");
  CHECK(l.mailboxes[2].group.empty());
  CHECK(l.problems.empty());
  CHECK(addrs("undisclosed-recipients:;").empty());
  CHECK(parse_address_list("undisclosed-recipients:;").problems.empty());
  l = parse_address_list("Team: a@x.de, b@x.de");  // no ";": tolerated, reported
  CHECK(l.mailboxes.size() == 2);
  CHECK(l.problems.size() == 1);
  l = parse_address_list("Outer: Inner: a@x.de; ;");  // nested groups are not allowed
  CHECK(l.mailboxes.empty());
  CHECK_FALSE(l.problems.empty());
}

TEST_CASE("addrlist: local parts", "[addrlist]") {
  CHECK(addrs("\"anna.schmidt\"@firma.de") == V{"anna.schmidt@firma.de"});  // quotes not needed
  CHECK(addrs("\"john doe\"@firma.de") == V{"\"john doe\"@firma.de"});       // quotes needed
  CHECK(addrs("\"a\\\"b\"@firma.de") == V{"\"a\\\"b\"@firma.de"});
  CHECK(addrs("john . doe @ firma . de") == V{"john.doe@firma.de"});  // obs CFWS around dots
  CHECK(addrs("anna(comment)@(more)firma.de") == V{"anna@firma.de"});
  CHECK(addrs("<@route1.example,@route2.example:anna@firma.de>") == V{"anna@firma.de"});
  CHECK(addrs("anna@[192.0.2.1]") == V{"anna@[192.0.2.1]"});
  CHECK(addrs("jörg@müller.de") == V{"jörg@müller.de"});  // RFC 6532
}

TEST_CASE("addrlist: common breakages are recovered and reported", "[addrlist]") {
  struct Broken {
    const char* value;
    V want;
  };
  const Broken table[] = {
      {"Schmidt, Anna <anna@firma.de>", {"anna@firma.de"}},         // unquoted comma in the name
      {"Anna <anna@firma.de", {"anna@firma.de"}},                   // no closing bracket
      {"Anna Schmidt anna@firma.de", {"anna@firma.de"}},            // no brackets at all
      {"anna@firma.de <anna@firma.de>", {"anna@firma.de"}},         // address as its own name
      {"\"unclosed <anna@firma.de>", {}},                            // the quote swallows the rest
      {"anna@firma.de ben@firma.de", {"anna@firma.de"}},            // missing comma: second skipped
      {"<anna@firma.de>>, ben@firma.de", {"anna@firma.de", "ben@firma.de"}},
  };
  for (const auto& b : table) {
    INFO(b.value);
    auto l = parse_address_list(b.value);
    V got;
    for (const auto& m : l.mailboxes) got.push_back(m.address.str());
    CHECK(got == b.want);
    CHECK_FALSE(l.problems.empty());
  }
}

TEST_CASE("addrlist: an encoded word with raw specials is one word", "[addrlist]") {
  auto l = parse_address_list("=?utf-8?q?a,b@c?= <anna@firma.de>");
  REQUIRE(l.mailboxes.size() == 1);
  CHECK(l.mailboxes[0].address.str() == "anna@firma.de");
  CHECK(l.mailboxes[0].display == "a,b@c");
  CHECK(l.problems.empty());
}

TEST_CASE("addrlist: garbage yields problems, never an invented address", "[addrlist]") {
  for (const char* g : {"<<<>>>", ";;;", "@@", "<>", "@firma.de", "anna@", "(unclosed", "[1.2.3.4",
                        "a@b@c.de", "<a@b@c.de>", "\x01\x02\x7f", "anna@firma..de", "<anna>", "a@-bad-.de"}) {
    INFO(g);
    auto l = parse_address_list(g);
    CHECK(l.mailboxes.empty());
    CHECK_FALSE(l.problems.empty());
  }
}

TEST_CASE("addrlist: random bytes never crash and stay bounded", "[addrlist]") {
  std::mt19937 rng(4711);
  const std::string alphabet = "ab@.<>,;:\"()[]\\ \t=?QB\x80\xc3\xa4\x01";
  for (int round = 0; round < 3000; ++round) {
    std::string s;
    std::size_t n = rng() % 200;
    for (std::size_t i = 0; i < n; ++i) s.push_back(alphabet[rng() % alphabet.size()]);
    auto l = parse_address_list(s, 50);
    CHECK(l.mailboxes.size() <= 50);
    for (const auto& m : l.mailboxes) CHECK(pb::mail::Address::parse(m.address.str()).has_value());
  }
}

TEST_CASE("addrlist: the mailbox cap", "[addrlist]") {
  std::string many;
  for (int i = 0; i < 30; ++i) many += "u" + std::to_string(i) + "@x.de, ";
  auto l = parse_address_list(many, 10);
  CHECK(l.mailboxes.size() == 10);
  REQUIRE(l.problems.size() == 1);
  CHECK(l.problems[0] == "more than 10 addresses: the rest is ignored");
}

TEST_CASE("received_for: the recipient of a trace line", "[addrlist]") {
  auto one = [](std::string_view v) { auto a = received_for(v); return a ? a->str() : std::string("-"); };
  CHECK(one("from a by b with ESMTP id 1 for <anna@firma.de>; Tue, 1 Dec 2026 08:00:00 +0100") == "anna@firma.de");
  CHECK(one("from a by b for anna@firma.de; Tue, 1 Dec 2026 08:00:00 +0100") == "anna@firma.de");
  CHECK(one("from a (a [1.2.3.4]) (using TLSv1.3)\r\n\tby b (Postfix) with ESMTPS id X\r\n\tFOR <Ben@Firma.de>;\r\n"
            "\tTue, 1 Dec 2026") == "Ben@Firma.de");
  CHECK(one("from a by b for <anna@firma.de> (Google Transport Security); Tue, 1 Dec 2026") == "anna@firma.de");
  CHECK(one("from a by b with LMTP id x; Tue, 1 Dec 2026") == "-");
  CHECK(one("from a by b for multiple recipients; Tue, 1 Dec 2026") == "-");
  CHECK(one("from for.example by b; x") == "-");
  CHECK(one("(comment for <x@y.de>) from a by b; Tue") == "-");  // inside a comment: not a clause
  CHECK(one("garbage ; ; for") == "-");
}

// Found by tests/fuzz/dsn_received (regressions/dsn_received/received-for-inside-a-token): "for"
// glued to an address by a special ("EHLO for:anna@firma.de" in our own "from" clause) was read
// as the for clause, ahead of the real one. RFC 5321 4.4: For = CFWS "FOR" CFWS (Path / Mailbox).
TEST_CASE("received_for: for needs white space on both sides", "[addrlist]") {
  auto one = [](std::string_view v) { auto a = received_for(v); return a ? a->str() : std::string("-"); };
  CHECK(one("from for:evil@x.example (1.2.3.4) by gw (postbridge) for <anna@firma.de>; x") == "anna@firma.de");
  CHECK(one("from gw with For:m@x.example id 1 for <anna@firma.de>; x") == "anna@firma.de");
  CHECK(one("from gw by b x,for,evil@x.example for <anna@firma.de>; x") == "anna@firma.de");
  CHECK(one("from a by b for:evil@x.example; x") == "-");
  CHECK(one("from a by b (c)for(d)<anna@firma.de>; x") == "anna@firma.de");  // comments are CFWS
}

// Found by tests/fuzz/headers_address (regressions/headers_address/control-byte-in-problem): a
// quoted local part without @domain was echoed raw, so a CR, LF or NUL of the header reached the
// problem text, which the router logs as one line and the status page shows.
TEST_CASE("addrlist: problems never carry control bytes of the field", "[addrlist]") {
  using namespace std::string_literals;
  for (const std::string& g : {"<\"a\rX-Injected: 1\">"s, "<\"nul\0byte\">"s, "\"q\x01\" <\"x\ny\">"s}) {
    INFO(g);
    auto l = parse_address_list(g);
    REQUIRE_FALSE(l.problems.empty());
    for (const auto& p : l.problems)
      for (char c : p) CHECK((static_cast<unsigned char>(c) >= 0x20 && c != 0x7f));
  }
}
