// Fuzz target: the builders that turn peer text into mail we send: the RFC 3464 DSN, our
// Received: stamp and the From:/Reply-To: rewrite. Promises checked: CRLF-only, bounded lines,
// 7-bit where promised, and no value can add a header field or a MIME part of its own.
//
// Input: NUL-separated fields (fuzz.hpp), in this order:
//   reporting_mta, postmaster, to, envid, original_headers, explanation, arrival, now,
//   then per recipient: original (ORCPT), final_recipient, action, status, remote_mta,
//   diagnostic, will_retry_until.
// The Received: stamp takes its clauses from the same fields; the rewrite takes original_headers.
// As in the service, envid and the first recipient's ORCPT are what the SMTP listener parsed out
// of "MAIL ... ENVID=" and "RCPT ... ORCPT=" (xtext-decoded) whenever the field is a valid
// parameter value; then the report must show exactly that value.
#include <algorithm>
#include <charconv>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>

#include "fuzz.hpp"
#include "mail/addrlist.hpp"
#include "mail/address.hpp"
#include "mail/dsn.hpp"
#include "mail/headers.hpp"
#include "mail/rewrite.hpp"
#include "smtp/command.hpp"
#include "util/text.hpp"

using namespace pb;
using fuzz::Line;

namespace {

std::int64_t number(std::string_view s) {
  std::int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

std::vector<std::string_view> crlf_lines(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start < s.size()) {
    std::size_t end = s.find("\r\n", start);
    if (end == std::string_view::npos) end = s.size();
    out.push_back(s.substr(start, end - start));
    start = end + 2;
  }
  return out;
}

bool digit(char c) { return c >= '0' && c <= '9'; }

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

// ---- DSN ---------------------------------------------------------------------------------------

// A field value as the report shows it: unfolded, white space runs as one space.
std::string collapsed(std::string_view s) {
  std::string out;
  for (std::string_view w : text::split_ws(s)) out += (out.empty() ? "" : " ") + std::string(w);
  return out;
}

bool printable_ascii(std::string_view s) {
  for (char c : s)
    if (c < 0x20 || c > 0x7e) return false;
  return true;
}

// The unfolded value of the first field `name` in the delivery-status lines, or nullopt.
std::optional<std::string> status_field(const std::vector<std::string_view>& lines, std::string_view name) {
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (!lines[i].starts_with(std::string(name) + ": ")) continue;
    std::string v(lines[i].substr(name.size() + 2));
    for (std::size_t k = i + 1; k < lines.size() && lines[k].starts_with(" "); ++k) v += lines[k];
    return collapsed(v);
  }
  return std::nullopt;
}

// What the listener hands on: the report names these values as they were decoded.
struct Parsed {
  std::optional<std::string> envid, orcpt;
};

void check_dsn(const mail::DsnInput& in, const Parsed& parsed = {}) {
  const std::string msg = mail::build_dsn(in);
  PB_FUZZ_CHECK(fuzz::crlf_only(msg), msg);
  PB_FUZZ_CHECK(fuzz::longest_line(msg) <= 998, msg);
  auto lines = crlf_lines(msg);

  // The header section: exactly our fields, in order; only Content-Type is folded.
  static constexpr std::string_view kFields[] = {"From: ", "To: ", "Subject: ", "Date: ", "Message-ID: ",
                                                 "MIME-Version: ", "Content-Type: ", "Auto-Submitted: "};
  std::size_t i = 0, field = 0;
  for (; i < lines.size() && !lines[i].empty(); ++i) {
    std::string_view l = lines[i];
    if (l.front() == '\t' || l.front() == ' ') {
      PB_FUZZ_CHECK(field > 0 && kFields[field - 1] == "Content-Type: ", l);
      continue;
    }
    PB_FUZZ_CHECK(field < std::size(kFields) && l.starts_with(kFields[field]), l);
    // 7-bit everywhere except the two addresses copied as they are (dsn.hpp).
    if (field > 1) PB_FUZZ_CHECK(fuzz::is_ascii(l), l);
    ++field;
  }
  PB_FUZZ_CHECK(field == std::size(kFields), msg);
  bool any_failed = in.recipients.empty();
  for (const auto& r : in.recipients) any_failed = any_failed || !text::iequals(text::trim(r.action), "delayed");
  PB_FUZZ_CHECK(lines[2] == (any_failed ? "Subject: Undelivered Mail Returned to Sender"
                                        : "Subject: Delayed Mail (still being retried)"),
                lines[2]);

  // The body: 7-bit; the boundary (from Content-Type) delimits 2 or 3 parts and occurs nowhere else.
  constexpr std::string_view kParam = "\r\n\tboundary=\"";  // Content-Type's continuation line
  std::size_t b = msg.find(kParam);
  PB_FUZZ_CHECK(b != std::string::npos, msg);
  b += kParam.size();
  std::string boundary = "--" + msg.substr(b, msg.find('"', b) - b);
  std::size_t delimiters = 0, closes = 0, mentions = 0;
  for (std::size_t pos = msg.find(boundary); pos != std::string::npos; pos = msg.find(boundary, pos + 1)) ++mentions;
  std::vector<std::string_view> status_part;
  int part = 0;
  for (++i; i < lines.size(); ++i) {
    std::string_view l = lines[i];
    PB_FUZZ_CHECK(fuzz::is_ascii(l), l);
    if (l == boundary) {
      ++delimiters;
      ++part;
      continue;
    }
    if (l == boundary + "--") {
      ++closes;
      part = -1;
      continue;
    }
    if (part == 2) status_part.push_back(l);
  }
  PB_FUZZ_CHECK(closes == 1 && (delimiters == 2 || delimiters == 3), msg);
  PB_FUZZ_CHECK(mentions == delimiters + closes, boundary);

  // message/delivery-status (RFC 3464 2.2, 2.3): after its MIME headers and their empty line,
  // only known fields and continuation lines; one empty line before each recipient's group.
  static constexpr std::string_view kStatusFields[] = {
      "Reporting-MTA", "Original-Envelope-Id", "Arrival-Date", "Original-Recipient", "Final-Recipient", "Action",
      "Status", "Remote-MTA", "Diagnostic-Code", "Last-Attempt-Date", "Will-Retry-Until"};
  std::size_t k = 0;
  while (k < status_part.size() && !status_part[k].empty()) ++k;  // the part's own MIME headers
  std::size_t groups = 0, finals = 0;
  for (++k; k < status_part.size(); ++k) {
    std::string_view l = status_part[k];
    if (l.empty()) {
      ++groups;
      continue;
    }
    if (l.front() == ' ') continue;
    std::string_view name = l.substr(0, l.find(':'));
    PB_FUZZ_CHECK(l.find(':') != std::string_view::npos &&
                      std::find(std::begin(kStatusFields), std::end(kStatusFields), name) != std::end(kStatusFields),
                  l);
    if (name == "Final-Recipient") ++finals;
    if (name == "Action") PB_FUZZ_CHECK(l == "Action: failed" || l == "Action: delayed", l);
    // Any valid RFC 3463 code: a caller's "2.0.0" for a failed recipient passes through on
    // purpose (dsn_test "RFC 3463 status syntax decides whether the caller's status is used").
    if (name == "Status") PB_FUZZ_CHECK(valid_status(l.substr(8)), l);
  }
  // The last group is followed by the empty line before the closing delimiter.
  PB_FUZZ_CHECK(finals == in.recipients.size(), msg);
  PB_FUZZ_CHECK(groups == in.recipients.size() + 1, msg);

  if (parsed.envid && printable_ascii(*parsed.envid) && !collapsed(*parsed.envid).empty()) {
    auto shown = status_field(status_part, "Original-Envelope-Id");
    PB_FUZZ_CHECK(shown && *shown == collapsed(*parsed.envid), *parsed.envid);
  }
  if (parsed.orcpt && printable_ascii(*parsed.orcpt) && text::istarts_with(*parsed.orcpt, "rfc822;")) {
    auto shown = status_field(status_part, "Original-Recipient");
    std::string expected = collapsed("rfc822; " + parsed.orcpt->substr(7));
    PB_FUZZ_CHECK(shown && *shown == expected, *parsed.orcpt);
  }
}

// ---- Received ------------------------------------------------------------------------------------

void check_received(const mail::ReceivedInfo& info, std::int64_t when) {
  const std::string r = mail::build_received(info, when);
  PB_FUZZ_CHECK(r.starts_with("Received: ") && r.ends_with("\r\n"), r);
  PB_FUZZ_CHECK(fuzz::crlf_only(r), r);
  PB_FUZZ_CHECK(fuzz::longest_line(r) <= 998, r);
  // Folded: every line break but the last is followed by a TAB; no other control bytes.
  for (std::size_t i = 0; i + 2 < r.size(); ++i)
    if (r[i] == '\r') PB_FUZZ_CHECK(r[i + 2] == '\t', r);
  for (char c : r) {
    auto u = static_cast<unsigned char>(c);
    PB_FUZZ_CHECK(u >= 0x20 || c == '\r' || c == '\n' || c == '\t', r);
    PB_FUZZ_CHECK(c != '\\', r);  // nothing can escape our ")" or a quote
  }
  // Comments are balanced, and outside them there is exactly one ";": the one before the date.
  // No quoted string either, and "<" only in "for <addr>".
  int depth = 0, semicolons = 0, angles = 0;
  for (char c : r) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    PB_FUZZ_CHECK(depth >= 0, r);
    if (depth > 0) continue;
    semicolons += c == ';';
    angles += c == '<';
    PB_FUZZ_CHECK(c != '"', r);
  }
  PB_FUZZ_CHECK(depth == 0 && semicolons == 1, r);
  PB_FUZZ_CHECK(angles == (text::trim(info.for_addr).empty() ? 0 : 1), r);

  // Read back like any other header field: the "for" clause names the recipient we stamped.
  mail::HeaderCollector h;
  for (const Line& l : fuzz::lines(r)) h.feed_line(l.text);
  auto value = h.get("Received");
  PB_FUZZ_CHECK(value && h.fields().size() == 1, r);
  auto stamped = mail::Address::parse(text::trim(info.for_addr));
  // Only an address that survives clean_token as it is, and a by-host without "@" (ours never
  // has one: config checks hostname) can be expected back.
  bool plain = stamped && stamped->str().size() <= 255 &&
               stamped->str().find_first_of("()<>;\\\" ") == std::string::npos &&
               text::trim(info.by_host).find('@') == std::string_view::npos;
  if (plain) {
    auto got = mail::received_for(*value);
    PB_FUZZ_CHECK(got && *got == *stamped, r);
  }
}

// ---- From rewrite --------------------------------------------------------------------------------

struct Field {
  std::string_view name, text;
};

// Header fields up to the empty line, as rewrite.cpp delimits them (LF line ends, WSP continues).
std::vector<Field> header_fields(std::string_view block) {
  std::size_t end = mail::header_block_end(block);
  std::string_view head = block.substr(0, end == std::string_view::npos ? block.size() : end);
  std::vector<Field> out;
  for (std::size_t pos = 0; pos < head.size();) {
    std::size_t nl = head.find('\n', pos);
    std::size_t next = nl == std::string_view::npos ? head.size() : nl + 1;
    std::string_view line = head.substr(pos, next - pos);
    if (line == "\r\n" || line == "\n") break;
    if ((line.front() == ' ' || line.front() == '\t') && !out.empty()) {
      out.back().text = std::string_view(out.back().text.data(), out.back().text.size() + line.size());
    } else {
      std::size_t colon = line.find(':');
      std::string_view name = colon == std::string_view::npos ? std::string_view{} : text::trim(line.substr(0, colon));
      if (line.front() == ' ' || line.front() == '\t') name = {};
      out.push_back({name, line});
    }
    pos = next;
  }
  return out;
}

std::string_view without_line_end(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

void check_rewrite(std::string_view block, const std::string& new_from) {
  std::string out;
  try {
    out = mail::rewrite_from_header(block, new_from);
  } catch (const std::invalid_argument&) {
    // Only for a new_from that is not a plain addr-spec.
    auto a = mail::Address::parse(new_from);
    PB_FUZZ_CHECK(!a || new_from.find_first_of(" \t\r\n<>,;()") != std::string::npos || fuzz::has_control(new_from),
                  new_from);
    return;
  }
  auto before = header_fields(block);
  auto after = header_fields(out);
  if (out == block) {  // the From address already was new_from: nothing to rewrite
    PB_FUZZ_CHECK(std::any_of(before.begin(), before.end(), [](const Field& f) { return text::iequals(f.name, "From"); }),
                  out);
    return;
  }
  // Everything after the header section is untouched.
  std::size_t body_in = mail::header_block_end(block), body_out = mail::header_block_end(out);
  PB_FUZZ_CHECK((body_in == std::string_view::npos) == (body_out == std::string_view::npos), out);
  if (body_in != std::string_view::npos)
    PB_FUZZ_CHECK(std::string_view(out).substr(body_out) == block.substr(body_in), out);

  bool had_reply_to = false;
  for (const Field& f : before) had_reply_to = had_reply_to || text::iequals(f.name, "Reply-To");
  // Exactly one From, naming new_from and nobody else (a display name cannot add a mailbox).
  std::vector<std::string_view> kept_in, kept_out;
  int froms = 0;
  for (const Field& f : after) {
    if (text::iequals(f.name, "From")) {
      ++froms;
      PB_FUZZ_CHECK(f.text.ends_with("\r\n"), f.text);
      std::string value(f.text.substr(f.text.find(':') + 1));
      auto list = mail::parse_address_list(value);
      PB_FUZZ_CHECK(list.mailboxes.size() == 1 && list.mailboxes[0].address.str() == new_from, f.text);
    } else if (!(text::iequals(f.name, "Reply-To") && !had_reply_to)) {
      kept_out.push_back(without_line_end(f.text));
    }
  }
  PB_FUZZ_CHECK(froms == 1, out);
  for (const Field& f : before)
    if (!text::iequals(f.name, "From")) kept_in.push_back(without_line_end(f.text));
  // Every other field is kept byte for byte, in order.
  PB_FUZZ_CHECK(kept_in == kept_out, out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto f = fuzz::fields(fuzz::view(data, size));
  auto at = [&](std::size_t i) { return i < f.size() ? std::string(f[i]) : std::string(); };

  mail::DsnInput in;
  in.reporting_mta = at(0);
  // Copied into From/To as they are (dsn.hpp): bounded like a path in SMTP (RFC 5321 4.5.3.1.3).
  in.postmaster = at(1).substr(0, 256);
  in.to = at(2).substr(0, 256);
  in.envid = at(3);
  in.original_headers = at(4);
  in.explanation = at(5);
  in.arrival = number(at(6));
  in.now = number(at(7));
  for (std::size_t r = 8; r < f.size() && in.recipients.size() < 20; r += 7) {
    mail::DsnRecipient d;
    d.original = at(r);
    d.final_recipient = at(r + 1);
    d.action = at(r + 2);
    d.status = at(r + 3);
    d.remote_mta = at(r + 4);
    d.diagnostic = at(r + 5);
    d.will_retry_until = number(at(r + 6));
    d.last_attempt = in.now;
    in.recipients.push_back(std::move(d));
  }
  Parsed parsed;
  auto mail = smtp::parse_mail("FROM:<a@b.example> ENVID=" + in.envid);
  if (auto* m = std::get_if<smtp::MailCommand>(&mail)) parsed.envid = in.envid = m->envid;
  if (!in.recipients.empty()) {
    auto rcpt = smtp::parse_rcpt("TO:<r@b.example> ORCPT=" + in.recipients[0].original, false);
    if (auto* r = std::get_if<smtp::RcptCommand>(&rcpt)) parsed.orcpt = in.recipients[0].original = r->orcpt;
  }
  check_dsn(in, parsed);

  mail::ReceivedInfo info;
  info.from_host = at(0);
  info.from_addr = at(3);
  info.by_host = at(1);
  info.protocol = at(7);
  info.id = at(6);
  info.for_addr = at(2);
  info.extra = at(5);
  check_received(info, in.now);

  check_rewrite(in.original_headers, at(2));
  check_rewrite(in.original_headers, "info@firma.de");
  return 0;
}
