// Unit and property tests for the SMTP DATA stuffer: dot-doubling, CR/LF repair, the end marker,
// and stuff -> split -> unstuff round trips over random messages split at every chunk boundary.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "pop3/unstuffer.hpp"
#include "smtp/stuffer.hpp"

using pb::smtp::Stuffer;

namespace {

std::string stuff(const std::vector<std::string_view>& chunks) {
  Stuffer s;
  std::string out;
  for (auto c : chunks) s.feed(c, out);
  s.finish(out);
  return out;
}

std::string stuff_all(std::string_view msg) { return stuff({msg}); }

// What the receiver must get back: every line end CRLF, a final CRLF if the data lacked one.
std::string crlf_normalise(std::string_view m) {
  std::string out;
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (m[i] == '\r') {
      out += "\r\n";
      if (i + 1 < m.size() && m[i + 1] == '\n') ++i;
    } else if (m[i] == '\n') {
      out += "\r\n";
    } else {
      out += m[i];
    }
  }
  if (!out.empty() && (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0)) out += "\r\n";
  return out;
}

// Wire invariants: no bare CR or LF; "CRLF.CRLF" (or a leading ".CRLF") only as the end marker.
void check_wire(const std::string& wire) {
  for (std::size_t i = 0; i < wire.size(); ++i) {
    if (wire[i] == '\r') REQUIRE((i + 1 < wire.size() && wire[i + 1] == '\n'));
    if (wire[i] == '\n') REQUIRE((i > 0 && wire[i - 1] == '\r'));
  }
  if (wire == ".\r\n") return;
  REQUIRE(wire.size() >= 5);
  REQUIRE(wire.compare(0, 3, ".\r\n") != 0);
  REQUIRE(wire.find("\r\n.\r\n") == wire.size() - 5);
}

// The receiving side: split on CRLF, feed the POP3/SMTP unstuffer until the terminator.
std::string unstuff_wire(const std::string& wire) {
  pb::pop3::Unstuffer u;
  std::string out;
  std::size_t pos = 0;
  bool ended = false;
  while (pos < wire.size()) {
    std::size_t eol = wire.find("\r\n", pos);
    REQUIRE(eol != std::string::npos);
    bool more = u.feed_line(std::string_view(wire).substr(pos, eol - pos), true, out);
    pos = eol + 2;
    if (!more) {
      ended = true;
      break;
    }
  }
  REQUIRE(ended);
  REQUIRE(pos == wire.size());  // the terminator was the very last line
  REQUIRE(u.bare_lf_lines() == 0);
  return out;
}

void round_trip(std::string_view msg, const std::vector<std::string_view>& chunks) {
  std::string wire = stuff(chunks);
  check_wire(wire);
  REQUIRE(unstuff_wire(wire) == crlf_normalise(msg));
}

std::string random_message(std::mt19937& rng) {
  static const std::vector<std::string> pieces = {
      "a", "Hello", " ", ".", "..", ".x", "\r\n", "\n", "\r", "\r\n.", "\r\n..", "\n.", "\r.", "\r\n.\r\n",
      "\n.\n", "\r.\r", "\r\r\n", "\n\r", std::string(1, '\0'), "\xC3\xA9", "Subject: x", "\t"};
  std::uniform_int_distribution<std::size_t> count(0, 40);
  std::uniform_int_distribution<std::size_t> pick(0, pieces.size() - 1);
  std::string msg;
  for (std::size_t n = count(rng); n > 0; --n) msg += pieces[pick(rng)];
  return msg;
}

std::vector<std::string_view> random_split(std::string_view msg, std::mt19937& rng) {
  std::vector<std::string_view> chunks;
  std::uniform_int_distribution<std::size_t> len(0, 7);  // 0: empty chunks must be harmless too
  while (!msg.empty()) {
    std::size_t n = std::min(len(rng), msg.size());
    chunks.push_back(msg.substr(0, n));
    msg.remove_prefix(n);
  }
  return chunks;
}

}  // namespace

TEST_CASE("stuffer: dots at line starts are doubled", "[smtp][stuffer]") {
  CHECK(stuff_all(".\r\n") == "..\r\n.\r\n");
  CHECK(stuff_all("a\r\n.\r\nb\r\n") == "a\r\n..\r\nb\r\n.\r\n");
  CHECK(stuff_all("..x\r\n") == "...x\r\n.\r\n");
  CHECK(stuff_all("a.b\r\n.") == "a.b\r\n..\r\n.\r\n");
  CHECK(stuff_all(".start") == "..start\r\n.\r\n");
}

TEST_CASE("stuffer: end marker", "[smtp][stuffer]") {
  CHECK(stuff_all("") == ".\r\n");
  CHECK(stuff_all("x\r\n") == "x\r\n.\r\n");
  CHECK(stuff_all("x") == "x\r\n.\r\n");  // a CRLF is added before the marker
  CHECK(stuff_all("x\r") == "x\r\n.\r\n");
  CHECK(stuff_all("x\n") == "x\r\n.\r\n");
}

TEST_CASE("stuffer: bare CR and bare LF become CRLF", "[smtp][stuffer]") {
  CHECK(stuff_all("a\nb\n") == "a\r\nb\r\n.\r\n");
  CHECK(stuff_all("a\rb\r\n") == "a\r\nb\r\n.\r\n");
  CHECK(stuff_all("a\r\r\nb") == "a\r\n\r\nb\r\n.\r\n");
  CHECK(stuff_all("a\n\rb") == "a\r\n\r\nb\r\n.\r\n");
  // The SMTP smuggling shapes: none may produce an early "CRLF.CRLF".
  CHECK(stuff_all("a\n.\nb") == "a\r\n..\r\nb\r\n.\r\n");
  CHECK(stuff_all("a\r.\rb") == "a\r\n..\r\nb\r\n.\r\n");
  CHECK(stuff_all("a\r\n.\rb") == "a\r\n..\r\nb\r\n.\r\n");
  CHECK(stuff_all("a\n.\r\nb") == "a\r\n..\r\nb\r\n.\r\n");
}

TEST_CASE("stuffer: CRLF split across chunks stays one line end", "[smtp][stuffer]") {
  CHECK(stuff({"a\r", "\nb"}) == "a\r\nb\r\n.\r\n");
  CHECK(stuff({"a\r", "", "\nb"}) == "a\r\nb\r\n.\r\n");  // empty chunk in between
  CHECK(stuff({"a\r", "\r", "\n"}) == "a\r\n\r\n.\r\n");
  CHECK(stuff({"a\r", ".b"}) == "a\r\n..b\r\n.\r\n");   // bare CR, then a dot line
  CHECK(stuff({"a\r", "\n", ".b"}) == "a\r\n..b\r\n.\r\n");
  CHECK(stuff({"a\r\n", ".", ".", "\r\n"}) == "a\r\n...\r\n.\r\n");
}

TEST_CASE("stuffer: reusable after finish", "[smtp][stuffer]") {
  Stuffer s;
  std::string out;
  s.feed("x\r", out);
  s.finish(out);
  s.feed(".y", out);
  s.finish(out);
  CHECK(out == "x\r\n.\r\n..y\r\n.\r\n");
}

TEST_CASE("stuffer: appends only, never rewrites the caller's buffer", "[smtp][stuffer]") {
  Stuffer s;
  std::string out = "DATA-prefix";
  s.feed(".a\r\n", out);
  CHECK(out == "DATA-prefix..a\r\n");
}

TEST_CASE("stuffer: round trip with every single split position", "[smtp][stuffer][property]") {
  const std::vector<std::string> messages = {
      "Subject: t\r\n\r\n.\r\n..\r\n.x\r\nend\r\n",
      "a\r\n.\r\nb",
      "\r\n.\r\n",
      ".\r.\n.\r\n.",
      "x\r\r\n\n\r.\r\n..\r",
      "line1\nline2\r\nline3\rline4",
  };
  for (const std::string& msg : messages) {
    for (std::size_t cut = 0; cut <= msg.size(); ++cut) {
      INFO("message index, cut " << cut);
      std::string_view v(msg);
      round_trip(msg, {v.substr(0, cut), v.substr(cut)});
    }
    // Every chunk size, including one byte at a time.
    for (std::size_t size = 1; size <= msg.size(); ++size) {
      std::vector<std::string_view> chunks;
      for (std::size_t pos = 0; pos < msg.size(); pos += size) chunks.push_back(std::string_view(msg).substr(pos, size));
      round_trip(msg, chunks);
    }
  }
}

TEST_CASE("stuffer: random messages round-trip through stuff and unstuff", "[smtp][stuffer][property]") {
  std::mt19937 rng(20261124);  // fixed seed: failures are reproducible
  for (int iteration = 0; iteration < 3000; ++iteration) {
    std::string msg = random_message(rng);
    INFO("iteration " << iteration);
    round_trip(msg, {msg});
    round_trip(msg, random_split(msg, rng));
    // All two-chunk splits for the shorter ones (every CR|LF boundary gets hit).
    if (msg.size() <= 40) {
      std::string_view v(msg);
      for (std::size_t cut = 0; cut <= v.size(); ++cut) round_trip(msg, {v.substr(0, cut), v.substr(cut)});
    }
  }
}

TEST_CASE("stuffer: large message is linear and exact", "[smtp][stuffer]") {
  std::string line = ".leading dot line of a big message, 64 bytes long......xx\r\n";
  std::string msg;
  for (int i = 0; i < 100000; ++i) msg += line;  // ~6 MB
  Stuffer s;
  std::string out;
  for (std::size_t pos = 0; pos < msg.size(); pos += 65536) s.feed(std::string_view(msg).substr(pos, 65536), out);
  s.finish(out);
  CHECK(out.size() == msg.size() + 100000 + 3);  // one extra dot per line, then ".\r\n"
}

TEST_CASE("stuffer: many bare CRs or LFs in one chunk stay linear", "[smtp][stuffer]") {
  std::string crs, lfs;
  for (int i = 0; i < 200000; ++i) {
    crs += "x\r";
    lfs += ".\n";
  }
  std::string out;
  Stuffer s;
  s.feed(crs, out);  // quadratic rescanning for an LF would take minutes here
  s.finish(out);
  CHECK(out.size() == 200000 * 3 + 3);
  out.clear();
  s.feed(lfs, out);
  s.finish(out);
  CHECK(out.size() == 200000 * 4 + 3);  // "..\r\n" per line
  check_wire(out);
}
