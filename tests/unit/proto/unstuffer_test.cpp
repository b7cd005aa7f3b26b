// Unit tests for the POP3 RETR body decoder: dot-unstuffing on tricky lines, the terminator,
// CRLF output for bare-LF input, stray CRs, and the bare-LF / CR / NUL counters.
#include <catch2/catch.hpp>

#include <string>

#include "pop3/unstuffer.hpp"

using pb::pop3::Unstuffer;

TEST_CASE("unstuffer: tricky dot lines", "[pop3][unstuffer]") {
  Unstuffer u;
  std::string out;
  CHECK(u.feed_line("..", true, out));     // a stuffed single dot
  CHECK(u.feed_line("...", true, out));    // a stuffed ".."
  CHECK(u.feed_line(". x", true, out));    // unstuffed anyway: the first dot always goes
  CHECK(u.feed_line(".x", true, out));
  CHECK(u.feed_line("a.b", true, out));    // dots elsewhere untouched
  CHECK(u.feed_line("", true, out));       // empty line is part of the message
  CHECK(u.feed_line(" .", true, out));
  CHECK_FALSE(u.feed_line(".", true, out));  // terminator, not appended
  CHECK(out == ".\r\n..\r\n x\r\nx\r\na.b\r\n\r\n .\r\n");
  CHECK(u.bare_lf_lines() == 0);
  CHECK(u.nul_bytes() == 0);
}

TEST_CASE("unstuffer: terminator alone gives an empty message", "[pop3][unstuffer]") {
  Unstuffer u;
  std::string out;
  CHECK_FALSE(u.feed_line(".", true, out));
  CHECK(out.empty());
}

TEST_CASE("unstuffer: bare LF lines become CRLF and are counted", "[pop3][unstuffer]") {
  Unstuffer u;
  std::string out;
  CHECK(u.feed_line("Subject: x", false, out));
  CHECK(u.feed_line("", true, out));
  CHECK(u.feed_line("..body", false, out));
  CHECK_FALSE(u.feed_line(".", false, out));  // a sloppy terminator still ends the message
  CHECK(out == "Subject: x\r\n\r\n.body\r\n");
  CHECK(u.bare_lf_lines() == 2);
}

TEST_CASE("unstuffer: NUL bytes kept and counted", "[pop3][unstuffer]") {
  Unstuffer u;
  std::string out;
  using namespace std::string_literals;
  CHECK(u.feed_line("a\0b\0"s, true, out));
  CHECK(u.feed_line("\0"s, true, out));
  CHECK(out == "a\0b\0\r\n\0\r\n"s);
  CHECK(u.nul_bytes() == 3);
}

TEST_CASE("unstuffer: CRs before the line end are dropped, CRs inside lines kept, both counted", "[pop3][unstuffer]") {
  Unstuffer u;
  std::string out;
  CHECK(u.feed_line("abc\r", true, out));     // the peer sent "abc\r\r\n"
  CHECK(u.feed_line("a\rb", true, out));      // inner CR kept; the SMTP stuffer deals with it
  CHECK(u.feed_line("x\r\r", true, out));     // every CR before the line end goes, as in Postfix
  CHECK(u.feed_line("\r", true, out));        // a line of CRs alone is an empty line
  CHECK(u.feed_line("\r.\r", false, out));    // neither a terminator nor stuffed: the CR comes first
  CHECK_FALSE(u.feed_line(".\r", true, out));  // ".\r\r\n" still terminates
  CHECK(out == "abc\r\na\rb\r\nx\r\n\r\n\r.\r\n");
  CHECK(u.dropped_crs() == 5);  // not the terminator's
  CHECK(u.inner_crs() == 2);
  CHECK(u.bare_lf_lines() == 1);
}

TEST_CASE("unstuffer: appends to what the caller already has", "[pop3][unstuffer]") {
  Unstuffer u;
  std::string out = "Received: x\r\n";
  CHECK(u.feed_line("Subject: y", true, out));
  CHECK(out == "Received: x\r\nSubject: y\r\n");
}
