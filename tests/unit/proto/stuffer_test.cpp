// Unit and property tests for the SMTP DATA stuffer: dot-doubling, CR/LF repair, the end marker,
// folding and breaking of long lines, the change counts, and stuff -> split -> unstuff round trips
// over random messages split at every chunk boundary.
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

// What the receiver must get back from a message without long lines: every line end CRLF, a bare
// CR a space (a CR at the very end is the line end), a final CRLF if the data lacked one.
std::string crlf_normalise(std::string_view m) {
  std::string out;
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (m[i] == '\r' && i + 1 < m.size() && m[i + 1] == '\n') {
      out += "\r\n";
      ++i;
    } else if (m[i] == '\r') {
      out += i + 1 == m.size() ? "\r\n" : " ";
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

// The longest line of the wire, its doubled dot not counted (RFC 5321 4.5.3.1.6).
std::size_t longest_line(const std::string& wire) {
  std::size_t longest = 0;
  for (std::size_t pos = 0; pos < wire.size();) {
    std::size_t eol = wire.find("\r\n", pos);
    if (eol == std::string::npos) eol = wire.size();
    std::size_t len = eol - pos;
    if (wire.compare(pos, 2, "..") == 0) --len;
    longest = std::max(longest, len);
    pos = eol + 2;
  }
  return longest;
}

// Undoes folding (RFC 5322 2.2.3: a CRLF before white space goes) and, with `inserted_space`, the
// space that a break inserts too; the doubled dots stay.
std::string unfold(const std::string& wire, bool inserted_space = false) {
  std::string out;
  for (std::size_t i = 0; i < wire.size(); ++i) {
    if (wire.compare(i, 2, "\r\n") == 0 && i + 2 < wire.size() && (wire[i + 2] == ' ' || wire[i + 2] == '\t')) {
      i += inserted_space ? 2 : 1;
      continue;
    }
    out += wire[i];
  }
  return out;
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

TEST_CASE("stuffer: a bare LF becomes CRLF, a bare CR a space", "[smtp][stuffer]") {
  CHECK(stuff_all("a\nb\n") == "a\r\nb\r\n.\r\n");
  CHECK(stuff_all("a\rb\r\n") == "a b\r\n.\r\n");  // one line, as it was: not split in two
  CHECK(stuff_all("a\r\r\nb") == "a \r\nb\r\n.\r\n");
  CHECK(stuff_all("a\n\rb") == "a\r\n b\r\n.\r\n");
  CHECK(stuff_all("Subject: a\rb\r\nTo: x\r\n\r\nbody") == "Subject: a b\r\nTo: x\r\n\r\nbody\r\n.\r\n");
  // The SMTP smuggling shapes: none may produce an early "CRLF.CRLF".
  CHECK(stuff_all("a\n.\nb") == "a\r\n..\r\nb\r\n.\r\n");
  CHECK(stuff_all("a\r.\rb") == "a . b\r\n.\r\n");
  CHECK(stuff_all("a\r\n.\rb") == "a\r\n.. b\r\n.\r\n");
  CHECK(stuff_all("a\n.\r\nb") == "a\r\n..\r\nb\r\n.\r\n");
}

TEST_CASE("stuffer: changes are counted per message", "[smtp][stuffer]") {
  Stuffer s;
  std::string out;
  s.feed("a\rb\r\nc\nd\r\r\n", out);
  s.feed("e\r", out);
  s.feed("f\r", out);
  s.feed("\n", out);
  CHECK(s.changes().bare_cr == 3);  // a|b, d|CRLF, e|f
  CHECK(s.changes().bare_lf == 1);
  CHECK(s.changes().long_lines == 0);
  s.finish(out);
  CHECK(s.changes().bare_cr == 3);  // still there after finish()
  CHECK(pb::smtp::describe(s.changes()) == "3 bare CRs sent as spaces (RFC 5321 2.3.8), 1 bare LF sent as CRLF (RFC 5321 2.3.8)");
  s.feed("clean\r\n", out);  // the next message starts from zero
  CHECK_FALSE(s.changes().any());
  CHECK(pb::smtp::describe(s.changes()).empty());
  s.finish(out);
  CHECK_FALSE(s.changes().any());
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
  std::string crs, lfs, spaced;
  for (int i = 0; i < 200000; ++i) {
    crs += "x\r";
    lfs += ".\n";
    spaced += i == 0 ? "x" : " x";
  }
  std::string out;
  Stuffer s;
  s.feed(crs, out);  // quadratic rescanning for an LF would take minutes here
  s.finish(out);
  check_wire(out);
  CHECK(longest_line(out) <= Stuffer::kMaxLine);
  CHECK(s.changes().bare_cr == 199999);  // the last CR ends the line
  CHECK(unfold(out) == spaced + "\r\n.\r\n");  // one header line, folded at its spaces
  out.clear();
  s.feed(lfs, out);
  s.finish(out);
  CHECK(out.size() == 200000 * 4 + 3);  // "..\r\n" per line
  check_wire(out);
}

TEST_CASE("stuffer: a body line over 998 octets is broken with CRLF SP", "[smtp][stuffer]") {
  const std::string head = "Subject: long\r\n\r\n";
  std::string exact(998, 'a');
  CHECK(stuff_all(head + exact + "\r\n") == head + exact + "\r\n.\r\n");  // at the limit: untouched
  CHECK(stuff_all(head + exact + "b\r\n") == head + exact + "\r\n b\r\n.\r\n");

  std::string line;
  for (int i = 0; line.size() < 20000; ++i) line += std::to_string(i % 10);
  Stuffer s;
  std::string out;
  s.feed(head + line + "\r\nafter\r\n", out);
  s.finish(out);
  check_wire(out);
  CHECK(longest_line(out) == Stuffer::kMaxLine);
  CHECK(s.changes().long_lines == 1);  // one line, however many pieces
  CHECK(pb::smtp::describe(s.changes()) == "1 line over 998 octets broken (RFC 5322 2.1.1)");
  // Each piece after the first starts with the inserted space; without them the line is intact.
  CHECK(unfold(out, true) == head + line + "\r\nafter\r\n.\r\n");
  CHECK(out.find("\r\n \r\n") == std::string::npos);
}

TEST_CASE("stuffer: a long header line is folded at white space", "[smtp][stuffer]") {
  std::string value;
  for (int i = 0; value.size() < 5000; ++i) value += " word" + std::to_string(i);
  const std::string msg = "X-Long:" + value + "\r\nSubject: s\r\n\r\nbody\r\n";
  Stuffer s;
  std::string out;
  s.feed(msg, out);
  s.finish(out);
  check_wire(out);
  CHECK(longest_line(out) <= Stuffer::kMaxLine);
  CHECK(out.find("\r\n ") != std::string::npos);
  CHECK(s.changes().long_lines == 1);
  CHECK(unfold(out) == msg + ".\r\n");  // RFC 5322 2.2.3: unfolding gives the very same line back
  // Folded as late as the limit allows: the first piece ends right before its last space.
  std::string first = out.substr(0, out.find("\r\n"));
  CHECK(first.size() > Stuffer::kMaxLine - 10);
  CHECK(msg[first.size()] == ' ');
}

TEST_CASE("stuffer: a header line without white space is broken like a body line", "[smtp][stuffer]") {
  const std::string token(3000, 'T');
  const std::string msg = "X-Token:" + token + "\r\n\r\nbody\r\n";
  std::string out = stuff_all(msg);
  check_wire(out);
  CHECK(longest_line(out) == Stuffer::kMaxLine);
  CHECK(unfold(out, true) == msg + ".\r\n");
  // A continuation line's leading white space is no place to fold at: it would leave an empty line.
  const std::string indented = "X-Cont: a\r\n     " + token + "\r\n\r\n";
  CHECK(stuff_all(indented) == "X-Cont: a\r\n     " + token.substr(0, 993) + "\r\n " + token.substr(0, 997) + "\r\n " +
                                  token.substr(0, 997) + "\r\n " + token.substr(0, 13) + "\r\n\r\n.\r\n");
}

TEST_CASE("stuffer: white space in the body is not a fold point", "[smtp][stuffer]") {
  std::string words;
  for (int i = 0; words.size() < 1500; ++i) words += "w" + std::to_string(i) + " ";
  std::string out = stuff_all("S: x\r\n\r\n" + words + "\r\n");
  // Broken at exactly 998 octets, mid-word: the body has no folding (RFC 5322 2.2.3 is about headers).
  CHECK(out.substr(8, 998) == words.substr(0, 998));
  CHECK(out.compare(8 + 998, 3, "\r\n ") == 0);
}

TEST_CASE("stuffer: a break never cuts a UTF-8 sequence", "[smtp][stuffer]") {
  const std::string e_acute = "\xC3\xA9", euro = "\xE2\x82\xAC", emoji = "\xF0\x9F\x98\x80";
  for (const std::string& ch : {e_acute, euro, emoji}) {
    for (std::size_t lead = Stuffer::kMaxLine - 4; lead <= Stuffer::kMaxLine; ++lead) {
      INFO("sequence of " << ch.size() << " octets at column " << lead);
      std::string line = std::string(lead, 'a') + ch + std::string(50, 'z');
      std::string out = stuff_all("\r\n" + line + "\r\n");  // body: the header section is empty
      std::string first = out.substr(2, out.find("\r\n", 2) - 2);
      bool fits = lead + ch.size() <= Stuffer::kMaxLine;
      CHECK(first.size() == (fits ? Stuffer::kMaxLine : lead));
      CHECK(unfold(out, true) == "\r\n" + line + "\r\n.\r\n");
    }
  }
}

TEST_CASE("stuffer: a long line that starts with a dot", "[smtp][stuffer]") {
  std::string line = "." + std::string(1500, 'd');
  std::string out = stuff_all("\r\n" + line + "\r\n");
  // The doubled dot does not count (RFC 5321 4.5.3.1.6): 998 octets of the line, then the break.
  CHECK(out.compare(0, 2 + 999 + 3, "\r\n." + line.substr(0, 998) + "\r\n ") == 0);
  CHECK(unstuff_wire(out) == "\r\n" + line.substr(0, 998) + "\r\n " + line.substr(998) + "\r\n");
}

TEST_CASE("stuffer: long lines come out the same however the input is split", "[smtp][stuffer][property]") {
  std::mt19937 rng(998);
  std::uniform_int_distribution<int> kind(0, 9);
  for (int iteration = 0; iteration < 200; ++iteration) {
    std::string msg;
    for (int part = 0; part < 12; ++part) {
      switch (kind(rng)) {
        case 0: msg += "\r\n"; break;
        case 1: msg += std::string(rng() % 2500, 'x'); break;
        case 2: msg += " "; break;
        case 3: msg += "\r"; break;
        case 4: msg += "\n."; break;
        case 5: msg += "\xE2\x82\xAC"; break;
        case 6: msg += "\t"; break;
        default: msg += std::string(rng() % 1200, 'a' + static_cast<char>(rng() % 26)); break;
      }
    }
    INFO("iteration " << iteration);
    std::string whole = stuff_all(msg);
    check_wire(whole);
    REQUIRE(longest_line(whole) <= Stuffer::kMaxLine);
    REQUIRE(stuff(random_split(msg, rng)) == whole);
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < msg.size(); ++i) bytes.push_back(std::string_view(msg).substr(i, 1));
    REQUIRE(stuff(bytes) == whole);
  }
}
