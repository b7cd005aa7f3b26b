// Fuzz target: what an SMTP/LMTP server answers, as the client reads it: the reply parser
// (multi-line, enhanced codes), EHLO keywords, Reply::text() and the outcome classifier.
//
// The input is a server byte stream, one reply line per line. A malformed line (runtime_error)
// starts a new reply, as a client would after giving up on the connection.
#include <stdexcept>
#include <string>

#include "fuzz.hpp"
#include "smtp/classify.hpp"
#include "smtp/reply.hpp"
#include "util/text.hpp"

using namespace pb;

namespace {

constexpr smtp::Stage kStages[] = {smtp::Stage::connect, smtp::Stage::greeting, smtp::Stage::ehlo,
                                   smtp::Stage::starttls, smtp::Stage::auth, smtp::Stage::mail,
                                   smtp::Stage::rcpt, smtp::Stage::data, smtp::Stage::data_end};

bool digit(char c) { return c >= '0' && c <= '9'; }

// RFC 3463 2: class "." 1*3digit "." 1*3digit.
bool valid_status(std::string_view s) {
  if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return false;
  std::size_t i = 2, n = 0;
  while (i < s.size() && digit(s[i])) ++i, ++n;
  if (n == 0 || n > 3 || i >= s.size() || s[i] != '.') return false;
  ++i;
  n = 0;
  while (i < s.size() && digit(s[i])) ++i, ++n;
  return n > 0 && n <= 3 && i == s.size();
}

void check_reply(const smtp::Reply& r) {
  std::string shown = std::to_string(r.code) + " " + (r.lines.empty() ? "" : r.lines.front());
  PB_FUZZ_CHECK(r.code >= 200 && r.code <= 599, shown);
  PB_FUZZ_CHECK(!r.lines.empty() && r.lines.size() <= smtp::ReplyParser::kMaxLines, shown);
  PB_FUZZ_CHECK(r.positive() + r.transient() + r.permanent() == 1, shown);
  if (!r.enhanced.empty()) {
    PB_FUZZ_CHECK(valid_status(r.enhanced), r.enhanced);
    PB_FUZZ_CHECK(r.enhanced[0] - '0' == r.code / 100, r.enhanced);
    PB_FUZZ_CHECK(r.lines.front().starts_with(r.enhanced), r.lines.front());
  }
  // One line for logs and the page: starts with the code, no control bytes, bounded.
  std::string t = r.text();
  PB_FUZZ_CHECK(t.starts_with(std::to_string(r.code)), t);
  PB_FUZZ_CHECK(!fuzz::has_control(t), t);
  PB_FUZZ_CHECK(t.size() <= 2000 + 8, t);

  smtp::Extensions ext = smtp::parse_ehlo(r);
  if (r.code != 250) {
    PB_FUZZ_CHECK(!ext.pipelining && !ext.starttls && ext.auth.empty() && !ext.size, shown);
  }
  for (std::size_t i = 0; i < ext.auth.size(); ++i) {
    const std::string& m = ext.auth[i];
    PB_FUZZ_CHECK(!m.empty() && text::to_upper(m) == m, m);
    PB_FUZZ_CHECK(m.find_first_of(" \t") == std::string::npos, m);
    PB_FUZZ_CHECK(ext.has_auth(text::to_lower(m)), m);
    for (std::size_t k = 0; k < i; ++k) PB_FUZZ_CHECK(ext.auth[k] != m, m);
  }

  for (smtp::Stage stage : kStages) {
    smtp::Verdict v = smtp::classify(stage, r, "smtp.example.net");
    PB_FUZZ_CHECK(valid_status(v.status), v.status);
    PB_FUZZ_CHECK(v.status[0] == (v.permanence == smtp::Permanence::permanent ? '5' : '4'), v.status);
    PB_FUZZ_CHECK(v.problem == smtp::RouteProblem::none || v.scope == smtp::Scope::route, shown);
    PB_FUZZ_CHECK(v.problem != smtp::RouteProblem::quota || v.permanence == smtp::Permanence::temporary, shown);
    PB_FUZZ_CHECK(!v.advice.empty() && !fuzz::has_control(v.advice), v.advice);
    // A positive reply where a failure was expected is never a reason to bounce or pause.
    if (r.positive())
      PB_FUZZ_CHECK(v.scope == smtp::Scope::message && v.permanence == smtp::Permanence::temporary, shown);
    // A recipient-scoped verdict only makes sense where recipients are answered.
    if (v.scope == smtp::Scope::recipient)
      PB_FUZZ_CHECK(stage == smtp::Stage::rcpt || stage == smtp::Stage::data_end, shown);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  smtp::ReplyParser parser;
  for (const fuzz::Line& l : fuzz::lines(fuzz::view(data, size))) {
    std::string_view line = l.text;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    bool complete = false;
    try {
      complete = parser.feed(line);
    } catch (const std::logic_error&) {
      PB_FUZZ_CHECK(false, "logic_error: feed() after a complete reply");
    } catch (const std::runtime_error& e) {
      // Malformed: the line has no code 2xx-5xx, a bad separator, or changes the code.
      std::string_view why = e.what();
      PB_FUZZ_CHECK(why.starts_with("malformed reply: ") && !fuzz::has_control(why), why);
      parser.take();
      continue;
    }
    PB_FUZZ_CHECK(line.size() >= 3 && line[0] >= '2' && line[0] <= '5' && digit(line[1]) && digit(line[2]), line);
    if (complete) check_reply(parser.take());
  }
  return 0;
}
