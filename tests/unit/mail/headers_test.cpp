// Unit tests for the header helpers: collection with unfolding and bounds, RFC 2047 decoding,
// the Received: line (format, folding, sanitising, protocol names), RFC 5322 dates in several time
// zones, and the Message-ID:/Date: a submitted message lacks (added while it streams).
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "mail/addrlist.hpp"
#include "mail/headers.hpp"

using namespace pb::mail;

namespace {

// Sets TZ for one test and restores it afterwards (dates are local time by design).
class ScopedTz {
 public:
  explicit ScopedTz(const char* tz) {
    if (const char* old = std::getenv("TZ")) old_ = old;
    ::setenv("TZ", tz, 1);
    ::tzset();
  }
  ~ScopedTz() {
    if (old_) ::setenv("TZ", old_->c_str(), 1);
    else ::unsetenv("TZ");
    ::tzset();
  }
  ScopedTz(const ScopedTz&) = delete;
  ScopedTz& operator=(const ScopedTz&) = delete;

 private:
  std::optional<std::string> old_;
};

constexpr const char* kCentralEurope = "CET-1CEST,M3.5.0,M10.5.0/3";
constexpr std::int64_t kNov24 = 1795525500;  // 2026-11-24 13:05:00 UTC, a Tuesday
constexpr std::int64_t kJul4 = 1783152547;   // 2026-07-04 08:09:07 UTC, a Saturday

HeaderCollector collect(const std::vector<std::string>& lines, std::size_t max = 64 * 1024) {
  HeaderCollector h(max);
  for (const auto& l : lines) h.feed_line(l);
  return h;
}

std::vector<std::string> split_crlf(const std::string& s) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos < s.size()) {
    std::size_t eol = s.find("\r\n", pos);
    REQUIRE(eol != std::string::npos);
    lines.push_back(s.substr(pos, eol - pos));
    pos = eol + 2;
  }
  return lines;
}

// Every line ends CRLF, no bare CR/LF or other control byte but the folding TAB.
void check_header_shape(const std::string& h, std::size_t max_line = 78) {
  REQUIRE(h.size() >= 2);
  REQUIRE(h.compare(h.size() - 2, 2, "\r\n") == 0);
  for (std::size_t i = 0; i < h.size(); ++i) {
    auto u = static_cast<unsigned char>(h[i]);
    if (h[i] == '\r') REQUIRE(h[i + 1] == '\n');
    else if (h[i] == '\n') REQUIRE(h[i - 1] == '\r');
    else if (h[i] == '\t') REQUIRE((i >= 2 && h[i - 1] == '\n'));
    else REQUIRE((u >= 0x20 && u != 0x7F));
  }
  auto lines = split_crlf(h);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    INFO(lines[i]);
    CHECK(lines[i].size() <= max_line);
    if (i > 0) CHECK(lines[i][0] == '\t');
  }
}

int paren_balance(const std::string& s) {
  int depth = 0;
  for (char c : s) {
    if (c == '(') ++depth;
    if (c == ')') {
      --depth;
      if (depth < 0) return -1;
    }
  }
  return depth;
}

}  // namespace

// --- HeaderCollector ---------------------------------------------------------------------------

TEST_CASE("headers: simple fields, case-insensitive names", "[headers][collector]") {
  auto h = collect({"From: Anna <anna@example.net>", "Subject:   Hello  ", "Message-ID: <1@x>", "",
                    "Subject: body line, not a header"});
  CHECK(h.done());
  CHECK(h.get("from") == "Anna <anna@example.net>");
  CHECK(h.get("SUBJECT") == "Hello");
  CHECK(h.get("message-id") == "<1@x>");
  CHECK_FALSE(h.get("To"));
  CHECK(h.get_all("Subject").size() == 1);
}

TEST_CASE("headers: unfolding keeps the WSP and drops only the line break", "[headers][collector]") {
  auto h = collect({"Subject: a long", " subject line", "\tcontinued", "To: x@y", ""});
  CHECK(h.get("Subject") == "a long subject line\tcontinued");
  CHECK(h.get("To") == "x@y");
}

TEST_CASE("headers: repeated fields in order", "[headers][collector]") {
  auto h = collect({"Received: from a", "  by b", "Received: from c", "X: 1", "received: from d", ""});
  CHECK(h.get_all("Received") == std::vector<std::string>{"from a  by b", "from c", "from d"});
  CHECK(h.get("Received") == "from a  by b");
}

TEST_CASE("headers: malformed lines are skipped with their continuations", "[headers][collector]") {
  auto h = collect({" leading continuation", "From sender@example.net Mon Jan  1 12:00:00 2026", "  cont of junk",
                    "no colon here", ": empty name", "Bad Name: x", "Subject : obsolete space", "Good: yes",
                    "  more", ""});
  CHECK(h.done());
  CHECK_FALSE(h.get("From sender@example.net Mon Jan  1 12"));
  CHECK(h.get("Subject") == "obsolete space");  // RFC 5322 4.5.3 obs-field: WSP before colon
  CHECK(h.get("Good") == "yes  more");
  CHECK_FALSE(h.get("Bad Name"));
  CHECK_FALSE(h.get(""));
}

TEST_CASE("headers: trailing CR and empty values", "[headers][collector]") {
  auto h = collect({"Subject: x\r", "Empty:", "\r"});
  CHECK(h.done());
  CHECK(h.get("Subject") == "x");
  CHECK(h.get("Empty") == "");
}

TEST_CASE("headers: lines after the end are ignored", "[headers][collector]") {
  HeaderCollector h;
  h.feed_line("A: 1");
  CHECK_FALSE(h.done());
  h.feed_line("");
  CHECK(h.done());
  h.feed_line("B: 2");
  h.feed_line(" continuation");
  CHECK_FALSE(h.get("B"));
  CHECK(h.get("A") == "1");
}

TEST_CASE("headers: bounded by max_bytes", "[headers][collector]") {
  HeaderCollector h(100);
  h.feed_line("A: 0123456789");  // 15 bytes with CRLF
  h.feed_line("B: 0123456789");
  for (int i = 0; i < 1000 && !h.done(); ++i) h.feed_line("X: a line that never ends the header block");
  CHECK(h.done());
  CHECK(h.get("A") == "0123456789");
  CHECK(h.get("B") == "0123456789");
  CHECK(h.get_all("X").size() == 1);  // 30 + 44 fit under 100; the next one does not
  h.feed_line("C: after the limit");
  CHECK_FALSE(h.get("C"));
}

TEST_CASE("headers: endless continuation is bounded too", "[headers][collector]") {
  HeaderCollector h(1000);
  h.feed_line("Subject: x");
  for (int i = 0; i < 10000; ++i) h.feed_line(" yyyyyyyyyy");
  CHECK(h.done());
  REQUIRE(h.get("Subject"));
  CHECK(h.get("Subject")->size() < 1000);
}

// --- RFC 2047 ----------------------------------------------------------------------------------

TEST_CASE("rfc2047: UTF-8 B", "[headers][rfc2047]") {
  CHECK(decode_rfc2047("=?UTF-8?B?R3LDvMOfZQ==?=") == "Gr\xC3\xBC\xC3\x9F" "e");
  CHECK(decode_rfc2047("=?utf-8?b?0J/RgNC40LLQtdGCINC80LjRgA==?=") ==
        "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 \xD0\xBC\xD0\xB8\xD1\x80");
  CHECK(decode_rfc2047("Re: =?UTF-8?B?R3LDvMOfZQ?= again") == "Re: Gr\xC3\xBC\xC3\x9F" "e again");  // no padding
}

TEST_CASE("rfc2047: ISO-8859-1 Q with underscores", "[headers][rfc2047]") {
  CHECK(decode_rfc2047("=?ISO-8859-1?Q?Caf=E9_au_lait?=") == "Caf\xC3\xA9 au lait");
  CHECK(decode_rfc2047("=?iso-8859-1?q?=A4_=E4?=") == "\xC2\xA4 \xC3\xA4");
  CHECK(decode_rfc2047("=?US-ASCII*EN?Q?Keith_Moore?=") == "Keith Moore");  // RFC 2231 5 language
}

TEST_CASE("rfc2047: ISO-8859-15 and Windows-1252", "[headers][rfc2047]") {
  CHECK(decode_rfc2047("=?ISO-8859-15?Q?=A4?=") == "\xE2\x82\xAC");  // euro sign
  CHECK(decode_rfc2047("=?windows-1252?Q?=80_=93hi=94?=") == "\xE2\x82\xAC \xE2\x80\x9Chi\xE2\x80\x9D");
  CHECK(decode_rfc2047("=?cp1252?Q?=81?=") == "\xEF\xBF\xBD");  // unassigned byte
  // Latin-1 labels decode as Windows-1252 (WHATWG), so mislabelled curly quotes still show.
  CHECK(decode_rfc2047("=?ISO-8859-1?Q?=93x=94?=") == "\xE2\x80\x9Cx\xE2\x80\x9D");
}

TEST_CASE("rfc2047: adjacent encoded words (RFC 2047 8 examples)", "[headers][rfc2047]") {
  CHECK(decode_rfc2047("(=?ISO-8859-1?Q?a?=)") == "(a)");
  CHECK(decode_rfc2047("(=?ISO-8859-1?Q?a?= b)") == "(a b)");
  CHECK(decode_rfc2047("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)") == "(ab)");
  CHECK(decode_rfc2047("(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)") == "(ab)");
  CHECK(decode_rfc2047("(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)") == "(ab)");
  CHECK(decode_rfc2047("(=?ISO-8859-1?Q?a_b?=)") == "(a b)");
  CHECK(decode_rfc2047("(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)") == "(a =?ISO-8859-2?Q?_b?=)");
  CHECK(decode_rfc2047("a =?UTF-8?Q?b?= c") == "a b c");
  // A multi-byte character split across two words is joined again.
  CHECK(decode_rfc2047("=?UTF-8?Q?Gr=C3?= =?UTF-8?Q?=BC=C3=9Fe?=") == "Gr\xC3\xBC\xC3\x9F" "e");
}

TEST_CASE("rfc2047: malformed or unknown words are left as they are", "[headers][rfc2047]") {
  for (const char* s : {"=?UTF-8?B?###?=", "=?UTF-8?X?abc?=", "=?UTF-8?Q?a=Z?=", "=?UTF-8?Q?a=?=",
                        "=?KOI8-R?B?8NLJ18XU?=", "=?UTF-8?Q?no end", "=?", "=?=?=?", "=??Q?a?=",
                        "=?UTF-8?Q?" "?=", "=?UTF-8?Q?a b?=", "=?UTF 8?Q?a?=", "=?UTF-8?BB?a?=",
                        "=?UTF-8?B?QQ===?=", "plain text", "a = b ? c", ""}) {
    INFO(s);
    CHECK(decode_rfc2047(s) == s);
  }
  // The whitespace around an undecodable word stays.
  CHECK(decode_rfc2047("=?UTF-8?Q?a?= =?BAD?Q?b?= =?UTF-8?Q?c?=") == "a =?BAD?Q?b?= c");
}

TEST_CASE("rfc2047: decoded text is safe to display", "[headers][rfc2047]") {
  CHECK(decode_rfc2047("=?UTF-8?Q?a=0D=0ABcc:_x?=") == "a  Bcc: x");
  CHECK(decode_rfc2047("=?UTF-8?Q?=FF?=") == "\xEF\xBF\xBD");
  CHECK(decode_rfc2047("=?UTF-8?Q?=C0=AF?=") == "\xEF\xBF\xBD\xEF\xBF\xBD");        // overlong
  CHECK(decode_rfc2047("=?UTF-8?Q?=ED=A0=80?=") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  CHECK(decode_rfc2047("=?UTF-8?Q?=F0=9F=98=80?=") == "\xF0\x9F\x98\x80");  // emoji is fine
}

TEST_CASE("rfc2047: hostile input stays linear", "[headers][rfc2047]") {
  std::string s;
  for (int i = 0; i < 20000; ++i) s += "=?a?Q?";
  CHECK(decode_rfc2047(s) == s);
  std::string t = "=?UTF-8?Q?" + std::string(200000, 'x');
  CHECK(decode_rfc2047(t) == t);
}

// --- Received / Date ---------------------------------------------------------------------------

TEST_CASE("date: RFC 5322 format in local time with numeric zone", "[headers][date]") {
  {
    ScopedTz tz(kCentralEurope);
    CHECK(rfc5322_date(kNov24) == "Tue, 24 Nov 2026 14:05:00 +0100");
    CHECK(rfc5322_date(kJul4) == "Sat, 4 Jul 2026 10:09:07 +0200");  // summer time, day unpadded
  }
  {
    ScopedTz tz("UTC0");
    CHECK(rfc5322_date(kNov24) == "Tue, 24 Nov 2026 13:05:00 +0000");
    CHECK(rfc5322_date(0) == "Thu, 1 Jan 1970 00:00:00 +0000");
  }
  {
    ScopedTz tz("EST5");
    CHECK(rfc5322_date(kNov24) == "Tue, 24 Nov 2026 08:05:00 -0500");
  }
  {
    ScopedTz tz("NST3:30");
    CHECK(rfc5322_date(kNov24) == "Tue, 24 Nov 2026 09:35:00 -0330");
  }
  {
    ScopedTz tz("IST-5:30");
    CHECK(rfc5322_date(kNov24) == "Tue, 24 Nov 2026 18:35:00 +0530");
  }
}

// Found by tests/fuzz/dsn_received (regressions/dsn_received/date-year-overflow): a time whose
// year does not fit an int minus 1900 overflowed tm_year + 1900 (undefined behaviour), and
// years outside 1900..9999 gave no valid RFC 5322 date. Such times now give the epoch.
TEST_CASE("date: times beyond 4-digit years give the epoch", "[headers][date]") {
  ScopedTz tz("UTC0");
  const std::string epoch = "Thu, 1 Jan 1970 00:00:00 +0000";
  CHECK(rfc5322_date(67767976233532799) == epoch);  // 2147485547-12-31: tm_year + 1900 overflowed
  CHECK(rfc5322_date(67767976233316800) == epoch);
  CHECK(rfc5322_date(253402300800) == epoch);       // 10000-01-01
  CHECK(rfc5322_date(-2208988801) == epoch);        // 1899-12-31
  CHECK(rfc5322_date(INT64_MAX) == epoch);
  CHECK(rfc5322_date(INT64_MIN) == epoch);
  CHECK(rfc5322_date(253402300799) == "Fri, 31 Dec 9999 23:59:59 +0000");
  CHECK(rfc5322_date(-2208988800) == "Mon, 1 Jan 1900 00:00:00 +0000");
}

TEST_CASE("received: full header, conventional layout", "[headers][received]") {
  ScopedTz tz(kCentralEurope);
  ReceivedInfo info;
  info.from_host = "pop.example.net";
  info.from_addr = "192.0.2.10";
  info.by_host = "gw.office.example";
  info.protocol = "POP3S";
  info.id = "01HZX3K9QW";
  info.for_addr = "anna@office.example";
  info.extra = "account info; uidl 0001abcd";
  std::string h = build_received(info, kNov24);
  CHECK(h ==
        "Received: from pop.example.net (192.0.2.10)\r\n"
        "\tby gw.office.example (postbridge) with POP3S id 01HZX3K9QW\r\n"
        "\t(account info; uidl 0001abcd)\r\n"
        "\tfor <anna@office.example>; Tue, 24 Nov 2026 14:05:00 +0100\r\n");
  check_header_shape(h);
}

TEST_CASE("received: optional parts left out", "[headers][received]") {
  ScopedTz tz("UTC0");
  ReceivedInfo info;
  info.from_host = "mx.example.net";
  info.by_host = "gw.office.example";
  info.protocol = "ESMTPS";
  info.id = "42";
  std::string h = build_received(info, kNov24);
  CHECK(h ==
        "Received: from mx.example.net\r\n"
        "\tby gw.office.example (postbridge) with ESMTPS id 42;\r\n"
        "\tTue, 24 Nov 2026 13:05:00 +0000\r\n");
  check_header_shape(h);

  info.mark = "AbC-12_x.dEf";  // routing::LoopMarker's mark rides in our comment
  CHECK(build_received(info, kNov24) ==
        "Received: from mx.example.net\r\n"
        "\tby gw.office.example (postbridge mark=AbC-12_x.dEf) with ESMTPS id 42;\r\n"
        "\tTue, 24 Nov 2026 13:05:00 +0000\r\n");

  ReceivedInfo none;
  std::string bare = build_received(none, kNov24);
  CHECK(bare == "Received: by localhost (postbridge); Tue, 24 Nov 2026 13:05:00 +0000\r\n");

  ReceivedInfo addr_only;
  addr_only.from_addr = "2001:db8::1";
  addr_only.by_host = "gw";
  CHECK(build_received(addr_only, kNov24).rfind("Received: from unknown (2001:db8::1)\r\n\tby gw ", 0) == 0);
}

TEST_CASE("received: long values fold under 78 columns", "[headers][received]") {
  ScopedTz tz("UTC0");
  ReceivedInfo info;
  info.from_host = "a-rather-long-host-name.pop.mail-provider.example.com";
  info.from_addr = "2001:0db8:85a3:0000:0000:8a2e:0370:7334";
  info.by_host = "gateway-with-long-name.branch-office.internal.example.org";
  info.protocol = "POP3S";
  info.id = "01HZX3K9QWABCDEFGHJKMNPQRS";
  info.for_addr = "someone.with.a.long.name@branch-office.internal.example.org";
  info.extra = "account first-mailbox-of-the-branch-office; uidl "
               "0001abcd0002efgh0003ijkl; fetched after 3 attempts over the slow uplink";
  std::string h = build_received(info, kNov24);
  check_header_shape(h);
  // Unfolded, the tokens are all there in order.
  std::string unfolded;
  for (const auto& l : split_crlf(h)) unfolded += (unfolded.empty() ? "" : " ") + l.substr(l[0] == '\t' ? 1 : 0);
  CHECK(unfolded ==
        "Received: from a-rather-long-host-name.pop.mail-provider.example.com "
        "(2001:0db8:85a3:0000:0000:8a2e:0370:7334) by gateway-with-long-name.branch-office.internal.example.org "
        "(postbridge) with POP3S id 01HZX3K9QWABCDEFGHJKMNPQRS (account first-mailbox-of-the-branch-office; uidl "
        "0001abcd0002efgh0003ijkl; fetched after 3 attempts over the slow uplink) for "
        "<someone.with.a.long.name@branch-office.internal.example.org>; Tue, 24 Nov 2026 13:05:00 +0000");
}

TEST_CASE("received: an over-long token gets its own line", "[headers][received]") {
  ScopedTz tz("UTC0");
  ReceivedInfo info;
  info.from_host = std::string(120, 'h');
  info.by_host = "gw";
  std::string h = build_received(info, kNov24);
  auto lines = split_crlf(h);
  REQUIRE(lines.size() >= 2);
  CHECK(lines[0] == "Received: from " + std::string(120, 'h'));
  CHECK(lines[1].rfind("\tby gw (postbridge);", 0) == 0);
  check_header_shape(h, 998);  // RFC 5322 2.1.1 hard limit
}

TEST_CASE("received: peer values are sanitised", "[headers][received]") {
  ScopedTz tz("UTC0");
  ReceivedInfo info;
  info.from_host = "evil.example\r\nBcc: victim@example.org";
  info.from_addr = "1.2.3.4) (fake";
  info.by_host = "gw\x01";
  info.protocol = "ESMTP; Mon";
  info.id = "a b";
  info.for_addr = "<x@y>\n";
  info.extra = "uidl ((oops) \\) tail) x(\x7f";
  std::string h = build_received(info, kNov24);
  check_header_shape(h);
  CHECK(h.find("Bcc: victim") == std::string::npos);
  CHECK(paren_balance(h) == 0);
  CHECK(h.find(';') == h.rfind(';'));  // the only ";" is the one before the date
  CHECK(h.find("(uidl ((oops) /) tail] x[)") != std::string::npos);
  CHECK(h.find("for <?x@y?>") != std::string::npos);
  CHECK(h.find("id a?b") != std::string::npos);
  std::size_t bad_cap = build_received(ReceivedInfo{std::string(5000, 'x'), "", "gw", "", "", "", "", ""}, 0).size();
  CHECK(bad_cap < 400);  // values are capped
}

// Found by tests/fuzz/dsn_received (regressions/dsn_received/received-stray-bracket): a client's
// EHLO "[192.0.2.1" opened a domain literal that never closed, so a reader of the field
// (received_for) lost the "for" clause behind it. Brackets stay only as a whole address literal.
TEST_CASE("received: a stray bracket cannot hide the for clause", "[headers][received]") {
  ReceivedInfo info;
  info.from_host = "[192.0.2.1";
  info.by_host = "gw.firma.local";
  info.protocol = "ESMTP";
  info.id = "a]b[c";
  info.for_addr = "anna@firma.de";
  std::string h = build_received(info, kNov24);
  check_header_shape(h);
  CHECK(h.find("from ?192.0.2.1\r\n") != std::string::npos);
  CHECK(h.find("id a?b?c") != std::string::npos);
  auto value = h.substr(h.find(':') + 1);
  auto a = received_for(value);
  REQUIRE(a.has_value());
  CHECK(a->str() == "anna@firma.de");

  info.from_host = "[192.0.2.1]";  // an address literal as EHLO argument stays as it is
  CHECK(build_received(info, kNov24).find("from [192.0.2.1]\r\n") != std::string::npos);
}

TEST_CASE("received: protocol names from the IANA Mail Transmission Types registry", "[headers][received]") {
  // RFC 3848 for ESMTP, RFC 6531 3.7.3 for SMTPUTF8 transactions.
  CHECK(smtp_transmission_type(true, false, false, false) == "ESMTP");
  CHECK(smtp_transmission_type(true, false, true, false) == "ESMTPS");
  CHECK(smtp_transmission_type(true, false, false, true) == "ESMTPA");
  CHECK(smtp_transmission_type(true, false, true, true) == "ESMTPSA");
  CHECK(smtp_transmission_type(true, true, false, false) == "UTF8SMTP");
  CHECK(smtp_transmission_type(true, true, true, false) == "UTF8SMTPS");
  CHECK(smtp_transmission_type(true, true, false, true) == "UTF8SMTPA");
  CHECK(smtp_transmission_type(true, true, true, true) == "UTF8SMTPSA");
  CHECK(smtp_transmission_type(false, false, true, false) == "SMTP");  // HELO: no registered suffix
}

TEST_CASE("message-id: time, 64 random bits, the host", "[headers][message-id]") {
  CHECK(make_message_id(1717171717, 0x0123456789abcdefULL, "gw.firma.de") == "<1717171717.0123456789abcdef@gw.firma.de>");
  CHECK(make_message_id(5, 1, "") == "<5.0000000000000001@localhost>");
  CHECK(make_message_id(5, 1, "bad host>\r\n") == "<5.0000000000000001@bad-host--->");
  CHECK(make_message_id(5, 1, ".gw.") == "<5.0000000000000001@gw>");
}

namespace {

struct Completed {
  std::string out;
  bool message_id = false, date = false;
  std::string recorded_id;
};

// Streams `in` through a HeaderCompleter split at `split` (npos: in one piece).
Completed complete(std::string_view in, std::size_t split = std::string_view::npos) {
  HeaderCompleter c("<new@gw.test>", "Mon, 1 Jan 2024 12:00:00 +0100");
  Completed r;
  if (split > in.size()) split = in.size();
  c.feed(in.substr(0, split), r.out);
  c.feed(in.substr(split), r.out);
  c.finish(r.out);
  r.message_id = c.added_message_id();
  r.date = c.added_date();
  r.recorded_id = c.message_id();
  return r;
}

constexpr const char* kAdded = "Message-ID: <new@gw.test>\r\nDate: Mon, 1 Jan 2024 12:00:00 +0100\r\n";

}  // namespace

TEST_CASE("completer: both fields added at the end of the header section", "[headers][completer]") {
  const std::string in = "From: <scanner@firma.de>\r\nSubject: scan\r\n\r\nbody\r\nDate: not a header\r\n";
  const std::string want = "From: <scanner@firma.de>\r\nSubject: scan\r\n" + std::string(kAdded) +
                           "\r\nbody\r\nDate: not a header\r\n";
  for (std::size_t split = 0; split <= in.size(); ++split) {
    INFO("split at " << split);
    auto r = complete(in, split);
    CHECK(r.out == want);
    CHECK(r.message_id);
    CHECK(r.date);
    CHECK(r.recorded_id == "<new@gw.test>");
  }
}

TEST_CASE("completer: fields the author wrote are kept, in any case and form", "[headers][completer]") {
  auto both = complete("message-id: <own@client.test>\r\nDATE : Tue, 2 Jan 2024 08:00:00 +0000\r\n\r\nbody\r\n");
  CHECK(both.out == "message-id: <own@client.test>\r\nDATE : Tue, 2 Jan 2024 08:00:00 +0000\r\n\r\nbody\r\n");
  CHECK_FALSE(both.message_id);
  CHECK_FALSE(both.date);
  CHECK(both.recorded_id == "<own@client.test>");
  // Folded or empty: present all the same (RFC 5322 3.6 allows one of each; ours would be a second).
  auto folded = complete("Message-ID:\r\n <own@client.test>\r\nDate:\r\n\r\n");
  CHECK_FALSE(folded.message_id);
  CHECK_FALSE(folded.date);
  CHECK(folded.recorded_id == "<own@client.test>");
  // Only the missing one is added.
  auto date_only = complete("Subject: x\r\nMessage-Id: <own@client.test>\r\n\r\n");
  CHECK(date_only.out == "Subject: x\r\nMessage-Id: <own@client.test>\r\nDate: Mon, 1 Jan 2024 12:00:00 +0100\r\n\r\n");
  CHECK(date_only.date);
  CHECK_FALSE(date_only.message_id);
}

TEST_CASE("completer: continuation and malformed lines are not fields", "[headers][completer]") {
  auto r = complete("Subject: a\r\n Message-ID: <x@y>\r\nDate <no colon>\r\n\r\n");
  CHECK(r.message_id);
  CHECK(r.date);
  CHECK(r.out == "Subject: a\r\n Message-ID: <x@y>\r\nDate <no colon>\r\n" + std::string(kAdded) + "\r\n");
}

TEST_CASE("completer: a message without an empty line is all header: the fields go at its end", "[headers][completer]") {
  CHECK(complete("Subject: only a header\r\n").out == "Subject: only a header\r\n" + std::string(kAdded));
  // BDAT need not end with CRLF: the last line gets one first.
  CHECK(complete("Subject: no line end").out == "Subject: no line end\r\n" + std::string(kAdded));
  CHECK(complete("").out == kAdded);
  CHECK(complete("\r\nbody only\r\n").out == std::string(kAdded) + "\r\nbody only\r\n");
}

TEST_CASE("completer: a header line over the limit stops the checking, nothing is added", "[headers][completer]") {
  HeaderCompleter c("<new@gw.test>", "date", 100);
  std::string out;
  const std::string in = "X-Long: " + std::string(200, 'x') + "\r\n\r\nbody\r\n";
  c.feed(std::string_view(in).substr(0, 150), out);  // held back: no line end yet, over the limit
  c.feed(std::string_view(in).substr(150), out);
  c.finish(out);
  CHECK(out == in);
  CHECK_FALSE(c.added_message_id());
  CHECK_FALSE(c.added_date());
}
