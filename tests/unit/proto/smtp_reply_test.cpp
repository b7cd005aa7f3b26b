// Unit tests for SMTP reply parsing: single and multi-line replies, enhanced status codes, the
// one-line text(), malformed replies (must throw), and EHLO keyword sets of real servers.
#include <catch2/catch.hpp>

#include <initializer_list>
#include <stdexcept>
#include <string>

#include "smtp/reply.hpp"

using namespace pb::smtp;

namespace {

// Feeds all lines; requires that only the last one completes the reply.
Reply parse(std::initializer_list<const char*> lines) {
  ReplyParser p;
  std::size_t i = 0;
  for (const char* line : lines) {
    ++i;
    bool done = p.feed(line);
    REQUIRE(done == (i == lines.size()));
  }
  return p.take();
}

void require_malformed(std::initializer_list<const char*> lines) {
  ReplyParser p;
  bool threw = false;
  try {
    for (const char* line : lines) p.feed(line);
  } catch (const std::runtime_error& e) {
    threw = true;
    CHECK(std::string(e.what()).rfind("malformed reply: ", 0) == 0);
  }
  CHECK(threw);
}

}  // namespace

TEST_CASE("smtp reply: single line", "[smtp][reply]") {
  Reply r = parse({"250 OK"});
  CHECK(r.code == 250);
  CHECK(r.lines == std::vector<std::string>{"OK"});
  CHECK(r.enhanced.empty());
  CHECK(r.positive());
  CHECK(r.text() == "250 OK");
}

TEST_CASE("smtp reply: code alone and empty texts", "[smtp][reply]") {
  Reply r = parse({"354"});
  CHECK(r.code == 354);
  CHECK(r.lines == std::vector<std::string>{""});
  CHECK(r.text() == "354");

  Reply r2 = parse({"250-", "250 "});
  CHECK(r2.lines.size() == 2);
  CHECK(r2.text() == "250");
}

TEST_CASE("smtp reply: multi-line", "[smtp][reply]") {
  Reply r = parse({"250-mail.example.org", "250-PIPELINING", "250 8BITMIME"});
  CHECK(r.code == 250);
  CHECK(r.lines == std::vector<std::string>{"mail.example.org", "PIPELINING", "8BITMIME"});
  CHECK(r.text() == "250 mail.example.org / PIPELINING / 8BITMIME");
}

TEST_CASE("smtp reply: classes", "[smtp][reply]") {
  Reply t = parse({"451 4.3.0 try later"});
  CHECK(t.transient());
  CHECK_FALSE(t.positive());
  CHECK_FALSE(t.permanent());
  Reply p = parse({"554 5.7.1 no"});
  CHECK(p.permanent());
  Reply i = parse({"354 End data with <CR><LF>.<CR><LF>"});
  CHECK(i.positive());
}

TEST_CASE("smtp reply: enhanced status codes", "[smtp][reply][enhanced]") {
  Reply r = parse({"550 5.1.1 <x@y>: Recipient address rejected: User unknown"});
  CHECK(r.enhanced == "5.1.1");
  CHECK(r.lines.front() == "5.1.1 <x@y>: Recipient address rejected: User unknown");  // code kept
  CHECK(r.text() == "550 5.1.1 <x@y>: Recipient address rejected: User unknown");

  CHECK(parse({"250 2.0.0 Ok: queued as 4ABCD"}).enhanced == "2.0.0");
  CHECK(parse({"421 4.7.0 closing"}).enhanced == "4.7.0");
  CHECK(parse({"550 5.123.456"}).enhanced == "5.123.456");  // nothing after the code

  // Not enhanced codes: wrong class, class mismatch, too many digits, glued text, incomplete.
  CHECK(parse({"250 3.0.0 odd"}).enhanced.empty());
  CHECK(parse({"250 5.0.0 mismatch"}).enhanced.empty());
  CHECK(parse({"550 5.1.1234 long detail"}).enhanced.empty());
  CHECK(parse({"550 5.1234.1 long subject"}).enhanced.empty());
  CHECK(parse({"550 5.1.1x glued"}).enhanced.empty());
  CHECK(parse({"550 5.1 short"}).enhanced.empty());
  CHECK(parse({"550 5..1 empty"}).enhanced.empty());
  CHECK(parse({"550 User unknown"}).enhanced.empty());
}

TEST_CASE("smtp reply: multi-line with repeated enhanced code reads as one line", "[smtp][reply][enhanced]") {
  Reply r = parse({"550-5.1.1 The email account that you tried to reach does not exist.",
                   "550-5.1.1 Please try double-checking the recipient's email address.",
                   "550 5.1.1 https://support.example.com/mail/?p=NoSuchUser x1si"});
  CHECK(r.enhanced == "5.1.1");
  CHECK(r.lines.size() == 3);
  CHECK(r.text() ==
        "550 5.1.1 The email account that you tried to reach does not exist. / Please try "
        "double-checking the recipient's email address. / https://support.example.com/mail/?p=NoSuchUser x1si");
}

TEST_CASE("smtp reply: text() shows control bytes escaped", "[smtp][reply]") {
  Reply r = parse({"550 bad\x01thing"});
  CHECK(r.text() == "550 bad\\x01thing");
}

TEST_CASE("smtp reply: stray trailing CR is ignored", "[smtp][reply]") {
  Reply r = parse({"250-a\r", "250 b\r"});
  CHECK(r.lines == std::vector<std::string>{"a", "b"});
}

TEST_CASE("smtp reply: malformed replies throw", "[smtp][reply][malformed]") {
  require_malformed({""});
  require_malformed({"25"});
  require_malformed({"abc def"});
  require_malformed({"2500 too long code"});
  require_malformed({"250x"});
  require_malformed({"250_OK"});
  require_malformed({"199 informational is not SMTP"});
  require_malformed({"650 out of range"});
  require_malformed({"099 out of range"});
  require_malformed({" 250 leading space"});
  require_malformed({"+OK POP3 server ready"});
  require_malformed({"250-first", "251 second code differs"});
  require_malformed({"250-first", "garbage"});
}

TEST_CASE("smtp reply: error text carries a printable excerpt", "[smtp][reply][malformed]") {
  ReplyParser p;
  try {
    p.feed("xyz\x02\x7f");
    FAIL("no exception");
  } catch (const std::runtime_error& e) {
    std::string what = e.what();
    CHECK(what.find("xyz\\x02\\x7F") != std::string::npos);
    CHECK(what.find('\x02') == std::string::npos);
  }
}

TEST_CASE("smtp reply: an endless reply is cut off", "[smtp][reply][malformed]") {
  ReplyParser p;
  bool threw = false;
  try {
    for (std::size_t i = 0; i <= ReplyParser::kMaxLines + 1; ++i) p.feed("250-more");
  } catch (const std::runtime_error&) {
    threw = true;
  }
  CHECK(threw);
}

TEST_CASE("smtp reply: take() resets for the next reply", "[smtp][reply]") {
  ReplyParser p;
  CHECK_FALSE(p.feed("220-hello"));
  CHECK(p.feed("220 ESMTP"));
  CHECK_THROWS_AS(p.feed("250 too early"), std::logic_error);
  Reply first = p.take();
  CHECK(first.code == 220);
  CHECK(p.feed("550 5.7.1 no"));  // a different code is fine for a new reply
  Reply second = p.take();
  CHECK(second.code == 550);
  CHECK(second.enhanced == "5.7.1");
  CHECK(second.lines.size() == 1);
}

TEST_CASE("smtp EHLO: Postfix", "[smtp][ehlo]") {
  Reply r = parse({"250-mail.example.org", "250-PIPELINING", "250-SIZE 10240000", "250-VRFY", "250-ETRN",
                   "250-STARTTLS", "250-AUTH PLAIN LOGIN", "250-AUTH=PLAIN LOGIN", "250-ENHANCEDSTATUSCODES",
                   "250-8BITMIME", "250-DSN", "250-SMTPUTF8", "250 CHUNKING"});
  Extensions e = parse_ehlo(r);
  CHECK(e.pipelining);
  CHECK(e.starttls);
  CHECK(e.enhancedstatuscodes);
  CHECK(e.eightbitmime);
  CHECK(e.dsn);
  CHECK(e.smtputf8);
  CHECK(e.chunking);
  REQUIRE(e.size);
  CHECK(*e.size == 10240000);
  CHECK(e.auth == std::vector<std::string>{"PLAIN", "LOGIN"});  // no duplicates from AUTH=
  CHECK(e.has_auth("login"));
  CHECK_FALSE(e.has_auth("CRAM-MD5"));
}

TEST_CASE("smtp EHLO: Dovecot submission", "[smtp][ehlo]") {
  Reply r = parse({"250-mail.example.org", "250-8BITMIME", "250-AUTH PLAIN LOGIN", "250-BURL imap",
                   "250-CHUNKING", "250-ENHANCEDSTATUSCODES", "250-SIZE", "250-PIPELINING", "250 SMTPUTF8"});
  Extensions e = parse_ehlo(r);
  CHECK(e.eightbitmime);
  CHECK(e.chunking);
  CHECK(e.enhancedstatuscodes);
  CHECK(e.pipelining);
  CHECK(e.smtputf8);
  CHECK_FALSE(e.starttls);  // already on TLS: not offered again
  CHECK_FALSE(e.dsn);
  REQUIRE(e.size);
  CHECK(*e.size == 0);  // announced without a limit
  CHECK(e.auth == std::vector<std::string>{"PLAIN", "LOGIN"});
}

TEST_CASE("smtp EHLO: Exchange-like", "[smtp][ehlo]") {
  Reply r = parse({"250-EX01.contoso.com Hello [192.0.2.10]", "250-SIZE 37748736", "250-PIPELINING", "250-DSN",
                   "250-ENHANCEDSTATUSCODES", "250-STARTTLS", "250-X-ANONYMOUSTLS", "250-AUTH NTLM LOGIN",
                   "250-X-EXPS GSSAPI NTLM", "250-8BITMIME", "250-BINARYMIME", "250-CHUNKING", "250 XRDST"});
  Extensions e = parse_ehlo(r);
  REQUIRE(e.size);
  CHECK(*e.size == 37748736);
  CHECK(e.pipelining);
  CHECK(e.dsn);
  CHECK(e.enhancedstatuscodes);
  CHECK(e.starttls);
  CHECK(e.eightbitmime);
  CHECK(e.chunking);
  CHECK_FALSE(e.smtputf8);
  CHECK(e.auth == std::vector<std::string>{"NTLM", "LOGIN"});  // X-EXPS is not AUTH
}

TEST_CASE("smtp EHLO: edge cases", "[smtp][ehlo]") {
  // Greeting line never counts as a keyword, even if it looks like one.
  Extensions greet = parse_ehlo(parse({"250-PIPELINING", "250 SIZE 1000"}));
  CHECK_FALSE(greet.pipelining);
  REQUIRE(greet.size);
  CHECK(*greet.size == 1000);

  // Single-line reply (HELO-style): no extensions.
  Extensions bare = parse_ehlo(parse({"250 mail.example.org"}));
  CHECK_FALSE(bare.size);
  CHECK(bare.auth.empty());

  // A refusal carries no extensions.
  CHECK_FALSE(parse_ehlo(parse({"502-5.5.1 no EHLO", "502 5.5.1 PIPELINING"})).pipelining);

  // Lower case keywords, old AUTH= form alone, odd SIZE parameters.
  Extensions lower = parse_ehlo(parse({"250-x", "250-pipelining", "250-auth=cram-md5 plain", "250 size 0"}));
  CHECK(lower.pipelining);
  CHECK(lower.auth == std::vector<std::string>{"CRAM-MD5", "PLAIN"});
  REQUIRE(lower.size);
  CHECK(*lower.size == 0);

  Extensions junk = parse_ehlo(parse({"250-x", "250-SIZE lots", "250 SIZEX 5"}));
  REQUIRE(junk.size);
  CHECK(*junk.size == 0);
}
