// Fuzz target: everything a POP3 server sends, as the client's parsers see it (src/pop3/reply,
// src/pop3/unstuffer). Promises checked: no crash or UB, and each parser's stated contract.
//
// The input is a server byte stream. Every line goes through parse_status, apop_timestamp,
// parse_list_line and parse_uidl_line; the lines after the first "+OK" and up to "." are a CAPA
// listing; the whole stream is also fed to the RETR unstuffer.
#include <charconv>
#include <string>

#include "fuzz.hpp"
#include "pop3/reply.hpp"
#include "pop3/unstuffer.hpp"
#include "util/text.hpp"

using namespace pb;
using pb::fuzz::Line;

namespace {

bool upper(std::string_view s) {
  for (char c : s)
    if (c >= 'a' && c <= 'z') return false;
  return true;
}

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

void check_status(std::string_view line) {
  auto st = pop3::parse_status(line);
  if (!st) return;
  // +OK / -ERR in any case, then the end, a space or a tab ("+OKAY" is not a status).
  PB_FUZZ_CHECK(st->ok ? text::istarts_with(line, "+OK") : text::istarts_with(line, "-ERR"), line);
  auto code = static_cast<int>(st->code);
  PB_FUZZ_CHECK(code >= static_cast<int>(pop3::RespCode::none) && code <= static_cast<int>(pop3::RespCode::other), line);
  PB_FUZZ_CHECK((st->code == pop3::RespCode::none) == st->code_text.empty(), line);
  PB_FUZZ_CHECK(st->code_text.find_first_of("[] \t\r\n") == std::string::npos, st->code_text);
  PB_FUZZ_CHECK(st->text.empty() || (!is_blank(st->text.front()) && !is_blank(st->text.back())), st->text);
  // The text is a part of the line, never made up.
  PB_FUZZ_CHECK(line.find(st->text) != std::string_view::npos, st->text);
  // Parsing is stable: the status rebuilt from its parts parses to the same parts.
  std::string again = st->ok ? "+OK" : "-ERR";
  if (!st->code_text.empty()) again += " [" + st->code_text + "]";
  if (!st->text.empty()) again += " " + st->text;
  auto st2 = pop3::parse_status(again);
  PB_FUZZ_CHECK(st2.has_value(), again);
  PB_FUZZ_CHECK(st2->ok == st->ok && st2->code == st->code && st2->code_text == st->code_text, again);
  // A text starting with "[" that was not a code would be read as one the second time.
  if (st->code_text.empty() && !st->text.empty() && st->text.front() == '[') return;
  PB_FUZZ_CHECK(st2->text == st->text, again);

  std::string stamp = pop3::apop_timestamp(st->text);
  if (!stamp.empty()) {
    PB_FUZZ_CHECK(stamp.size() >= 3 && stamp.front() == '<' && stamp.back() == '>', stamp);
    PB_FUZZ_CHECK(stamp.find('@') != std::string::npos, stamp);
    PB_FUZZ_CHECK(stamp.find_first_of(" \t\r\n") == std::string::npos, stamp);
    PB_FUZZ_CHECK(st->text.find(stamp) != std::string::npos, stamp);
  }
}

void check_listing_line(std::string_view line) {
  if (auto e = pop3::parse_list_line(line)) {
    PB_FUZZ_CHECK(e->number > 0, line);
    auto again = pop3::parse_list_line(std::to_string(e->number) + " " + std::to_string(e->size));
    PB_FUZZ_CHECK(again && again->number == e->number && again->size == e->size, line);
  }
  if (auto e = pop3::parse_uidl_line(line)) {
    PB_FUZZ_CHECK(e->number > 0, line);
    PB_FUZZ_CHECK(!e->uid.empty() && e->uid.size() <= 70, e->uid);
    for (char c : e->uid) PB_FUZZ_CHECK(c >= 0x21 && c <= 0x7e, e->uid);
    auto again = pop3::parse_uidl_line(std::to_string(e->number) + " " + e->uid);
    PB_FUZZ_CHECK(again && again->number == e->number && again->uid == e->uid, line);
  }
}

void check_capa(const std::vector<std::string>& listing) {
  pop3::Capabilities caps = pop3::parse_capa(listing);
  for (std::size_t i = 0; i < caps.sasl.size(); ++i) {
    PB_FUZZ_CHECK(!caps.sasl[i].empty() && upper(caps.sasl[i]), caps.sasl[i]);
    PB_FUZZ_CHECK(caps.sasl[i].find_first_of(" \t") == std::string::npos, caps.sasl[i]);
    PB_FUZZ_CHECK(caps.has_sasl(text::to_lower(caps.sasl[i])), caps.sasl[i]);
    for (std::size_t k = 0; k < i; ++k) PB_FUZZ_CHECK(caps.sasl[k] != caps.sasl[i], caps.sasl[i]);
  }
  if (caps.login_delay_s) PB_FUZZ_CHECK(*caps.login_delay_s >= 0, "LOGIN-DELAY");
}

// The RETR decoder over the whole stream: each line comes out once, dot-unstuffed, with CRLF.
void check_unstuffer(const std::vector<Line>& lines) {
  pop3::Unstuffer u;
  std::string out;
  std::size_t expected = 0, bare = 0, nuls = 0, dropped = 0, inner = 0;
  for (const Line& l : lines) {
    std::string_view text = l.text;
    bool crlf = !text.empty() && text.back() == '\r';  // what the line reader reports
    if (crlf) text.remove_suffix(1);
    std::size_t before = out.size();
    bool more = u.feed_line(text, crlf, out);
    std::string_view t = text;
    std::size_t crs = 0;
    for (; !t.empty() && t.back() == '\r'; ++crs) t.remove_suffix(1);  // every CR before the line end
    if (!more) {
      PB_FUZZ_CHECK(t == ".", text);
      PB_FUZZ_CHECK(out.size() == before, text);
      break;
    }
    if (!t.empty() && t.front() == '.') t.remove_prefix(1);
    PB_FUZZ_CHECK(std::string_view(out).substr(before) == std::string(t) + "\r\n", text);
    expected += t.size() + 2;
    bare += crlf ? 0 : 1;
    dropped += crs;
    inner += static_cast<std::size_t>(std::count(t.begin(), t.end(), '\r'));
    nuls += static_cast<std::size_t>(std::count(t.begin(), t.end(), '\0'));
  }
  PB_FUZZ_CHECK(out.size() == expected, out);
  PB_FUZZ_CHECK(u.bare_lf_lines() == bare, out);
  PB_FUZZ_CHECK(u.dropped_crs() == dropped, out);
  PB_FUZZ_CHECK(u.inner_crs() == inner, out);
  PB_FUZZ_CHECK(u.nul_bytes() == nuls, out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto lines = fuzz::lines(fuzz::view(data, size));
  std::vector<std::string> capa;
  enum { before, in_capa, after } phase = before;
  for (const Line& l : lines) {
    std::string_view line = l.text;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    check_status(line);
    check_listing_line(line);
    if (phase == in_capa) {
      if (line == ".") phase = after;
      else capa.emplace_back(!line.empty() && line.front() == '.' ? line.substr(1) : line);
    } else if (phase == before && text::istarts_with(line, "+OK")) {
      phase = in_capa;
    }
  }
  check_capa(capa);
  check_unstuffer(lines);
  return 0;
}
