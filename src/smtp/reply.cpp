// SMTP/LMTP reply parser and EHLO keyword reader (RFC 5321 4.2, 4.1.1.1; RFC 3463; RFC 2034).
// Strict about the reply code (that is what the protocol depends on), lenient about the text.
#include "smtp/reply.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>

#include "util/display.hpp"
#include "util/text.hpp"

namespace pb::smtp {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

[[noreturn]] void malformed(std::string_view why, std::string_view line) {
  throw std::runtime_error("malformed reply: " + std::string(why) + ": \"" + text::printable(line, 200) + "\"");
}

// Length of a run of 1..max digits at the start of s (0 if none or too many).
std::size_t digit_run(std::string_view s, std::size_t max) {
  std::size_t n = 0;
  while (n < s.size() && is_digit(s[n])) ++n;
  return n <= max ? n : 0;
}

// RFC 3463 2: status-code = class "." subject "." detail; class 2/4/5, subject and detail 1*3digit.
// Returns the code's length at the start of text, 0 if there is none.
std::size_t enhanced_length(std::string_view text) {
  if (text.size() < 5 || (text[0] != '2' && text[0] != '4' && text[0] != '5') || text[1] != '.') return 0;
  std::size_t pos = 2;
  std::size_t subject = digit_run(text.substr(pos), 3);
  if (subject == 0) return 0;
  pos += subject;
  if (pos >= text.size() || text[pos] != '.') return 0;
  ++pos;
  std::size_t detail = digit_run(text.substr(pos), 3);
  if (detail == 0) return 0;
  pos += detail;
  if (pos < text.size() && text[pos] != ' ' && text[pos] != '\t') return 0;  // "5.1.10x" is not one
  return pos;
}

}  // namespace

std::string Reply::text() const {
  std::string out = std::to_string(code);
  bool first = true;
  for (const std::string& line : lines) {
    std::string_view t = line;
    // Servers repeat the enhanced code on every line (RFC 2034 4); once is enough for a reader.
    if (!first && !enhanced.empty() && t.substr(0, enhanced.size()) == enhanced &&
        enhanced_length(t) == enhanced.size())
      t = text::trim(t.substr(enhanced.size()));
    if (t.empty()) continue;
    out += first ? " " : " / ";
    out += t;
    first = false;
  }
  // The SMTP client's errors, logs, the queue's LAST REPLY and the doctor all show this text:
  // C0 and C1 controls are escaped here, where the server's words enter.
  return display::safe(out, 2000);
}

bool ReplyParser::feed(std::string_view line) {
  if (complete_) throw std::logic_error("ReplyParser::feed after a complete reply without take()");
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // tolerate CR CR LF
  // RFC 5321 4.2: Reply-line = *( Reply-code "-" [ textstring ] CRLF )
  //                            Reply-code [ SP textstring ] CRLF
  if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]))
    malformed("no 3-digit code", line);
  if (line[0] < '2' || line[0] > '5') malformed("code not 2xx-5xx", line);
  if (line.size() > 3 && line[3] != ' ' && line[3] != '-') malformed("bad separator after code", line);
  int code = 0;
  std::from_chars(line.data(), line.data() + 3, code);
  if (started_ && code != cur_.code) malformed("code changed within a multi-line reply", line);
  if (cur_.lines.size() >= kMaxLines) malformed("too many lines", line);

  bool last = line.size() == 3 || line[3] == ' ';
  std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view{};
  if (!started_) {
    started_ = true;
    cur_.code = code;
    // RFC 2034 4: the enhanced code follows the reply code; its class matches the first digit.
    std::size_t n = enhanced_length(text);
    if (n > 0 && text[0] == line[0]) cur_.enhanced = std::string(text.substr(0, n));
  }
  cur_.lines.emplace_back(text);
  complete_ = last;
  return last;
}

Reply ReplyParser::take() {
  Reply r = std::move(cur_);
  cur_ = Reply{};
  started_ = false;
  complete_ = false;
  return r;
}

bool Extensions::has_auth(std::string_view mech) const {
  return std::any_of(auth.begin(), auth.end(), [&](const std::string& m) { return text::iequals(m, mech); });
}

namespace {

void add_auth(Extensions& ext, std::string_view mech) {
  if (mech.empty() || ext.has_auth(mech)) return;
  ext.auth.push_back(text::to_upper(mech));
}

// RFC 1870 3: "SIZE" [SP number]; no number or 0 means no fixed limit.
std::uint64_t size_param(const std::vector<std::string_view>& words) {
  if (words.size() < 2) return 0;
  std::string_view n = words[1];
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), value);
  if (ec != std::errc() || end != n.data() + n.size()) return 0;
  return value;
}

}  // namespace

Extensions parse_ehlo(const Reply& r) {
  Extensions ext;
  if (r.code != 250) return ext;
  // RFC 5321 4.1.1.1: line 1 is the greeting; each further line is "keyword *(SP param)".
  for (std::size_t i = 1; i < r.lines.size(); ++i) {
    auto words = text::split_ws(r.lines[i]);
    if (words.empty()) continue;
    std::string_view kw = words.front();
    if (text::iequals(kw, "PIPELINING")) ext.pipelining = true;        // RFC 2920
    else if (text::iequals(kw, "8BITMIME")) ext.eightbitmime = true;   // RFC 6152
    else if (text::iequals(kw, "SMTPUTF8")) ext.smtputf8 = true;       // RFC 6531
    else if (text::iequals(kw, "STARTTLS")) ext.starttls = true;       // RFC 3207
    else if (text::iequals(kw, "CHUNKING")) ext.chunking = true;       // RFC 3030
    else if (text::iequals(kw, "ENHANCEDSTATUSCODES")) ext.enhancedstatuscodes = true;  // RFC 2034
    else if (text::iequals(kw, "DSN")) ext.dsn = true;                 // RFC 3461
    else if (text::iequals(kw, "SIZE")) ext.size = size_param(words);  // RFC 1870
    else if (text::iequals(kw, "AUTH")) {                              // RFC 4954 3
      for (std::size_t w = 1; w < words.size(); ++w) add_auth(ext, words[w]);
    } else if (text::istarts_with(kw, "AUTH=")) {  // pre-standard form still sent by Postfix
      add_auth(ext, kw.substr(5));
      for (std::size_t w = 1; w < words.size(); ++w) add_auth(ext, words[w]);
    }
  }
  return ext;
}

}  // namespace pb::smtp
